//go:build linux

package oidc_test

import (
	"context"
	"crypto/x509"
	"net/http"
	"testing"
	"time"

	"github.com/pivauth/pivauth/flows/assertion"
	"github.com/pivauth/pivauth/flows/assertion/assertiontest"
	"github.com/pivauth/pivauth/flows/mtls"
	"github.com/pivauth/pivauth/flows/oidc"
	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/oidc/oidctest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
)

// cardIdentity is the card signer as a flows identity, the way the CLI makes it.
func cardIdentity(t testing.TB, s *signer.Signer) mtls.Identity {
	id, err := mtls.FromTLSCertificate(s.TLSCertificate())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestCardClientCredentials runs every client authentication method with the card's RSA-2048
// key (piv profile) through PC/SC: PS256 assertions, one card signature per private_key_jwt
// token, one per TLS session for the TLS methods, bound tokens accepted by the resource.
func TestCardClientCredentials(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	s := oidctest.CardSigner(t, b)
	cert := s.Certificate()
	clients := []oidctest.Client{
		oidctest.PrivateKeyJWT("card-pkjwt", cert),
		oidctest.SelfSignedTLSClientAuth("card-selfsigned", cert).Bound(),
	}
	var cas []*x509.Certificate
	if b.CA != nil { // the bench CA issued the virtual card's certificate
		cas = append(cas, b.CA.Cert)
		clients = append(clients, oidctest.TLSClientAuth("card-tls", cert).Bound())
	}
	p := startProvider(t, oidctest.Config{Clients: clients, ClientCAs: cas})
	resource := p.StartResource(t, api)
	for _, tc := range []struct {
		client string
		method oidc.AuthMethod
		// card operations for two tokens and, for the bound tokens, two resource calls
		want int64
	}{
		{"card-pkjwt", oidc.PrivateKeyJWT, 2},
		{"card-selfsigned", oidc.SelfSignedTLSClientAuth, 2}, // one TLS session each at provider and resource
		{"card-tls", oidc.TLSClientAuth, 2},
	} {
		t.Run(string(tc.method), func(t *testing.T) {
			if b.CA == nil && tc.method == oidc.TLSClientAuth {
				t.Skip("tls_client_auth needs the CA of the real card's certificate")
			}
			c := newClient(t, p, oidc.Config{ClientID: tc.client, AuthMethod: tc.method, Identity: cardIdentity(t, s)})
			if tc.method == oidc.PrivateKeyJWT && c.Algorithm() != assertion.PS256 {
				t.Errorf("RSA card key signs %s, want PS256", c.Algorithm())
			}
			ops := s.Operations()
			for range 2 {
				t1, err := c.ClientCredentials(context.Background(), oidc.TokenRequest{Scopes: []string{"read"}, Resources: []string{api}})
				if err != nil {
					t.Fatal(err)
				}
				cnf, _ := claims(t, t1)["cnf"].(map[string]any)
				if tc.method != oidc.PrivateKeyJWT {
					if cnf["x5t#S256"] != assertion.X5TS256(cert) {
						t.Fatalf("token not bound to the card's certificate: %v", cnf)
					}
					if ac, status := callResource(t, c, resource, t1); status != http.StatusOK || ac.ClientID != tc.client {
						t.Fatalf("resource answered %d %+v", status, ac)
					}
				}
			}
			if got := s.Operations() - ops; got != tc.want {
				t.Errorf("card operations %d, want %d", got, tc.want)
			}
		})
	}
}

// BenchmarkCardClientCredentials reports, for fresh client credentials tokens with
// private_key_jwt, the card signatures and APDUs per token and the end-to-end time per token
// relative to the same flow with a software RSA-2048 key.
func BenchmarkCardClientCredentials(b *testing.B) {
	bench := benchtest.Start(b, vcard.ProfilePIV)
	if bench.Real() {
		b.Skip("APDU counts need the virtual card")
	}
	s := oidctest.CardSigner(b, bench)
	soft := newKey(b, assertiontest.RSA2048)
	p := startProvider(b, oidctest.Config{Clients: []oidctest.Client{
		oidctest.PrivateKeyJWT("card", s.Certificate()),
		oidctest.PrivateKeyJWT("soft", soft.cert),
	}})
	card := newClient(b, p, oidc.Config{ClientID: "card", Identity: cardIdentity(b, s)})
	software := newClient(b, p, oidc.Config{ClientID: "soft", Identity: soft.identity()})
	req := oidc.TokenRequest{Resources: []string{api}}
	// One token each first, so connection set-up and the first PIN verification are not timed.
	for _, c := range []*oidc.Client{software, card} {
		if _, err := c.ClientCredentials(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
	var softTime, cardTime time.Duration
	before := bench.Stats()
	for b.Loop() {
		start := time.Now()
		if _, err := software.ClientCredentials(context.Background(), req); err != nil {
			b.Fatal(err)
		}
		softTime += time.Since(start)
		start = time.Now()
		if _, err := card.ClientCredentials(context.Background(), req); err != nil {
			b.Fatal(err)
		}
		cardTime += time.Since(start)
	}
	after := bench.Stats()
	b.ReportMetric(float64(after.Signatures-before.Signatures)/float64(b.N), "signatures/token")
	b.ReportMetric(float64(after.APDUs-before.APDUs)/float64(b.N), "APDUs/token")
	b.ReportMetric(float64(cardTime)/float64(b.N)/1e6, "card-ms/token")
	b.ReportMetric(float64(cardTime)/float64(softTime), "card/software")
}

// TestCardYubiKeyKeys runs private_key_jwt and tls_client_auth with keys generated on the
// YubiKey profile: ES256 for P-256, ES384 for P-384, EdDSA for Ed25519.
func TestCardYubiKeyKeys(t *testing.T) {
	for _, tc := range []struct {
		alg piv.Algorithm
		jws string
	}{{piv.AlgECCP256, assertion.ES256}, {piv.AlgECCP384, assertion.ES384}, {piv.AlgEd25519, assertion.EdDSA}} {
		t.Run(tc.alg.String(), func(t *testing.T) {
			b := benchtest.Start(t, vcard.ProfileYubiKey)
			oidctest.ProvisionKey(t, b, tc.alg)
			s := oidctest.CardSigner(t, b)
			p := startProvider(t, oidctest.Config{
				ClientCAs: []*x509.Certificate{b.CA.Cert},
				Clients: []oidctest.Client{
					oidctest.PrivateKeyJWT("yk-pkjwt", s.Certificate()),
					oidctest.TLSClientAuth("yk-tls", s.Certificate()).Bound(),
				},
			})
			pkjwt := newClient(t, p, oidc.Config{ClientID: "yk-pkjwt", Identity: cardIdentity(t, s)})
			if pkjwt.Algorithm() != tc.jws {
				t.Errorf("%s key signs %s, want %s", tc.alg, pkjwt.Algorithm(), tc.jws)
			}
			if _, err := pkjwt.ClientCredentials(context.Background(), oidc.TokenRequest{Resources: []string{api}}); err != nil {
				t.Fatal(err)
			}
			tlsClient := newClient(t, p, oidc.Config{ClientID: "yk-tls", AuthMethod: oidc.TLSClientAuth, Identity: cardIdentity(t, s)})
			tok, err := tlsClient.ClientCredentials(context.Background(), oidc.TokenRequest{Resources: []string{api}})
			if err != nil {
				t.Fatal(err)
			}
			if cnf, _ := claims(t, tok)["cnf"].(map[string]any); cnf["x5t#S256"] != assertion.X5TS256(s.Certificate()) {
				t.Errorf("token not bound to the card's certificate: %v", cnf)
			}
			if n := s.Operations(); n != 2 {
				t.Errorf("one assertion and one TLS handshake cost %d card operations, want 2", n)
			}
		})
	}
}
