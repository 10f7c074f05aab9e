//go:build linux

package main

import (
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/entra"
	"github.com/pivauth/pivauth/hw-test/vcard"
)

// TestDemoExchangeOnline is the admin's whole job, as the README quickstart tells it: a blank
// YubiKey, `pivauth setup key` and `setup selfsign`, the .cer uploaded to the app registration
// (registered on the Entra stand-in, with Exchange.ManageAsApp), then a token for Exchange Online
// and a shell with the token in its environment.
func TestDemoExchangeOnline(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	b.Destructive()
	c := newCLI(t)
	cer := filepath.Join(c.dir, "exo-automation.cer")
	c.ok("setup", "key", "--reader", b.Reader, "--algorithm", "rsa2048", "--attestation-roots", benchRootsFile(t, b, c.dir))
	pin := writeFile(t, c.dir, "pin", factoryPIN+"\n", 0o600)
	c.ok("setup", "selfsign", "--reader", b.Reader, "--pin-file", pin, "--subject", "CN=exo-automation", "--days", "365", "--cer", cer)

	der, err := os.ReadFile(cer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := entra.Start(entra.Options{Domain: "contoso.onmicrosoft.com", Apps: []entra.App{{
		ClientID: "11111111-2222-3333-4444-555555555555", Name: "exo-automation",
		Certificates: []entra.Credential{{Cert: cert}},
		Roles:        map[string][]string{"https://outlook.office365.com": {"Exchange.ManageAsApp"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ca := writeFile(t, c.dir, "standin-ca.pem", string(srv.CAPEM()), 0o644)
	writeFile(t, c.dir, "config/pivauth/config.json", `{"default_profile": "exo", "profiles": {"exo": {
		"authority": "`+srv.URL()+`/contoso.onmicrosoft.com", "client_id": "11111111-2222-3333-4444-555555555555",
		"scopes": ["https://outlook.office365.com/.default"], "reader": "`+b.Reader+`", "pin_file": "`+pin+`"}}}`, 0o600)
	exo := c.with("SSL_CERT_FILE=" + ca)

	var claims map[string]any
	if err := json.Unmarshal([]byte(exo.ok("token", "--output", "claims").stdout), &claims); err != nil {
		t.Fatal(err)
	}
	if claims["aud"] != "https://outlook.office365.com" || !strings.Contains(toJSON(claims["roles"]), "Exchange.ManageAsApp") || claims["tid"] != srv.Tenant() {
		t.Errorf("Exchange Online token claims: %v", claims)
	}
	// Connect-ExchangeOnline -AccessToken $env:PIVAUTH_ACCESS_TOKEN, with sh standing in for pwsh.
	r := exo.ok("exec", "--", "sh", "-c", `test -n "$PIVAUTH_ACCESS_TOKEN" && echo "token for ${#PIVAUTH_ACCESS_TOKEN} characters"`)
	if !strings.HasPrefix(r.stdout, "token for ") {
		t.Errorf("exec: %q", r.stdout)
	}
}
