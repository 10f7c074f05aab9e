//go:build linux

package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestAzureEnvironment: AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_AUTHORITY_HOST name the Entra
// app as the Azure SDKs read them, when no flag or profile does; a flag wins.
func TestAzureEnvironment(t *testing.T) {
	e := startEntraBench(t)
	host, tenant := filepath.Dir(e.srv.Authority()), filepath.Base(e.srv.Authority())
	host = strings.Replace(host, "https:/", "https://", 1)
	c := e.c.with("AZURE_TENANT_ID="+tenant, "AZURE_CLIENT_ID="+e.clientID, "AZURE_AUTHORITY_HOST="+host)
	args := []string{"token", "--reader", e.b.Reader, "--pin-file", e.pin, "--ca-file", e.ca, "--scope", graphDefault, "--no-cache", "--output", "json"}
	var tok tokenJSON
	decodeJSON(t, c.ok(args...), &tok)
	if tok.AccessToken == "" {
		t.Errorf("no token: %+v", tok)
	}
	// A flag wins over the environment: another client id is refused by the stand-in.
	c.fails(ExitRejected, []string{"AADSTS700016"}, append(args, "--client-id", "no-such-app")...)
}
