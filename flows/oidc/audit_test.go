package oidc_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/pivauth/pivauth/flows/assertion/assertiontest"
	"github.com/pivauth/pivauth/flows/mtls"
	"github.com/pivauth/pivauth/flows/oidc"
	"github.com/pivauth/pivauth/hw-test/oidc/oidctest"
	"github.com/pivauth/pivauth/signer/purpose"
)

// What the card signs for a token request is made for the client and the endpoint, and with
// what the caller's context said: for private_key_jwt the assertion (with its jti), for the TLS
// methods the handshake (with the server's name).
func TestTokenRequestsRecordTheirPurpose(t *testing.T) {
	k := newKey(t, assertiontest.RSA2048)
	p := startProvider(t, oidctest.Config{Clients: []oidctest.Client{
		oidctest.PrivateKeyJWT("pkjwt", k.cert),
		oidctest.SelfSignedTLSClientAuth("selfsigned", k.cert),
	}})
	recorded := &assertiontest.PurposeSigner{Signer: k.signer}
	id := mtls.Identity{Signer: recorded, Certificate: k.cert}
	ctx := purpose.With(context.Background(), purpose.Purpose{Command: "token"})
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

	got := recorded.Purposes()
	if len(got) != 2 {
		t.Fatalf("the signer saw %d signatures, want 2", len(got))
	}
	if p := got[0]; p.Command != "token" || p.ClientID != "pkjwt" ||
		p.TokenEndpoint != endpoints["pkjwt"] || p.JTI == "" || p.ServerName != "" {
		t.Errorf("private_key_jwt signed for %+v; want an assertion for pkjwt at %s with a jti", p, endpoints["pkjwt"])
	}
	u, _ := url.Parse(endpoints["selfsigned"])
	want := purpose.Purpose{Command: "token", ClientID: "selfsigned", TokenEndpoint: endpoints["selfsigned"], ServerName: u.Hostname()}
	if got[1] != want {
		t.Errorf("self_signed_tls_client_auth signed for %+v; want a handshake for %+v", got[1], want)
	}
}
