package oidc_test

import (
	"context"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/pivauth/pivauth/flows/assertion/assertiontest"
	"github.com/pivauth/pivauth/flows/mtls"
	"github.com/pivauth/pivauth/flows/oidc"
	"github.com/pivauth/pivauth/hw-test/oidc/oidctest"
	"github.com/pivauth/pivauth/internal/audit"
)

// What the card signs for a token request is recorded with the client and the endpoint, and with
// what the caller's context said: for private_key_jwt the assertion (with its jti), for the TLS
// methods the handshake (with the server's name).
func TestTokenRequestsRecordTheirPurpose(t *testing.T) {
	k := newKey(t, assertiontest.RSA2048)
	p := startProvider(t, oidctest.Config{Clients: []oidctest.Client{
		oidctest.PrivateKeyJWT("pkjwt", k.cert),
		oidctest.SelfSignedTLSClientAuth("selfsigned", k.cert),
	}})
	dir := filepath.Join(t.TempDir(), "audit")
	log, err := audit.Open(dir, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	id := mtls.Identity{Signer: audit.Wrap(k.signer, audit.Key{Slot: "9a", Certificate: k.cert.Raw}, log, nil), Certificate: k.cert}
	ctx := audit.WithPurpose(context.Background(), audit.Purpose{Command: "token"})
	endpoints := map[string]string{}
	for _, tc := range []struct {
		client string
		method oidc.AuthMethod
	}{{"pkjwt", oidc.PrivateKeyJWT}, {"selfsigned", oidc.SelfSignedTLSClientAuth}} {
		c := newClient(t, p, oidc.Config{ClientID: tc.client, AuthMethod: tc.method, Identity: id})
		if _, err := c.ClientCredentials(ctx, oidc.TokenRequest{Scopes: []string{"read"}, Resources: []string{api}}); err != nil {
			t.Fatalf("%s: %v", tc.client, err)
		}
		endpoints[tc.client] = c.Metadata().TokenEndpoint
		if tc.method != oidc.PrivateKeyJWT {
			endpoints[tc.client] = c.Metadata().MTLSEndpointAliases["token_endpoint"]
		}
	}

	evs, _, err := audit.Read(dir, audit.Filter{})
	if err != nil || len(evs) != 2 {
		t.Fatalf("audit: %d events, %v; want 2", len(evs), err)
	}
	if e := evs[0]; e.Operation != audit.OpSign || e.Purpose.Command != "token" || e.Purpose.ClientID != "pkjwt" ||
		e.Purpose.TokenEndpoint != endpoints["pkjwt"] || e.Purpose.JTI == "" || e.Purpose.ServerName != "" {
		t.Errorf("private_key_jwt recorded as %+v; want a sign for pkjwt at %s with a jti", e, endpoints["pkjwt"])
	}
	u, _ := url.Parse(endpoints["selfsigned"])
	want := audit.Purpose{Command: "token", ClientID: "selfsigned", TokenEndpoint: endpoints["selfsigned"], ServerName: u.Hostname()}
	if e := evs[1]; e.Operation != audit.OpTLSHandshake || e.Purpose != want {
		t.Errorf("self_signed_tls_client_auth recorded as %+v; want a tls-handshake with purpose %+v", e, want)
	}
}
