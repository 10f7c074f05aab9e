package oidc_test

import (
	"context"
	"testing"

	"github.com/pivauth/pivauth/flows/assertion/assertiontest"
	"github.com/pivauth/pivauth/flows/oidc"
	"github.com/pivauth/pivauth/hw-test/oidc/oidctest"
)

// BenchmarkClientCredentials reports card signatures per token (fresh tokens, no cache) for each
// client authentication method, with a software key: private_key_jwt signs once per token, the
// TLS methods once per TLS session.
func BenchmarkClientCredentials(b *testing.B) {
	k := newKey(b, assertiontest.RSA2048)
	p := startProvider(b, oidctest.Config{Clients: []oidctest.Client{
		oidctest.PrivateKeyJWT("pkjwt", k.cert),
		oidctest.SelfSignedTLSClientAuth("selfsigned", k.cert).Bound(),
	}})
	for _, tc := range []struct {
		client string
		method oidc.AuthMethod
	}{{"pkjwt", oidc.PrivateKeyJWT}, {"selfsigned", oidc.SelfSignedTLSClientAuth}} {
		b.Run(string(tc.method), func(b *testing.B) {
			c := newClient(b, p, oidc.Config{ClientID: tc.client, AuthMethod: tc.method, Identity: k.identity()})
			before := k.signer.Count()
			for b.Loop() {
				if _, err := c.ClientCredentials(context.Background(), oidc.TokenRequest{Resources: []string{api}}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(k.signer.Count()-before)/float64(b.N), "signatures/token")
		})
	}
}
