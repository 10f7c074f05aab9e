package oidc_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/pivauth/pivauth/flows/adapters"
	"github.com/pivauth/pivauth/flows/assertion"
	"github.com/pivauth/pivauth/flows/assertion/assertiontest"
	"github.com/pivauth/pivauth/flows/cache"
	"github.com/pivauth/pivauth/flows/mtls"
	"github.com/pivauth/pivauth/flows/oidc"
	"github.com/pivauth/pivauth/hw-test/oidc/oidctest"
	"github.com/pivauth/pivauth/hw-test/oidc/tlstest"
)

// api is the resource indicator the test provider issues JWT access tokens for.
const api = "https://api.pivauth.test"

// key is a software stand-in for a card slot: a counting signer and its certificate.
type key struct {
	signer *assertiontest.CountingSigner
	cert   *x509.Certificate
}

func (k key) identity() mtls.Identity {
	return mtls.Identity{Signer: k.signer, Certificate: k.cert}
}

func newKey(t testing.TB, kind string) key {
	s, cert := assertiontest.KeyWith(t, kind, assertiontest.CertOptions{CommonName: "oidc " + kind})
	return key{&assertiontest.CountingSigner{Signer: s}, cert}
}

// startProvider starts oidc-provider with the clients and the api resource.
func startProvider(t testing.TB, cfg oidctest.Config) *oidctest.Provider {
	cfg.Resources = map[string]string{api: "read write"}
	return oidctest.Start(t, cfg)
}

// newClient makes a flows client for the provider.
func newClient(t testing.TB, p *oidctest.Provider, cfg oidc.Config) *oidc.Client {
	t.Helper()
	cfg.Issuer = p.Issuer
	cfg.TLS.RootCAs = p.Roots()
	c, err := oidc.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("oidc.New: %v", err)
	}
	return c
}

// claims decodes the payload of a JWT access token (the resource verifies signatures).
func claims(t testing.TB, tok *oauth2.Token) map[string]any {
	t.Helper()
	parts := strings.Split(tok.AccessToken, ".")
	if len(parts) != 3 {
		t.Fatalf("access token is not a JWT: %q", tok.AccessToken)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// callResource calls the resource with the token over the client's card TLS identity.
func callResource(t testing.TB, c *oidc.Client, r *oidctest.Resource, tok *oauth2.Token) (*oidctest.AccessClaims, int) {
	t.Helper()
	resp, err := c.ResourceClient(oauth2.StaticTokenSource(tok)).Get(r.URL + "/whoami")
	if err != nil {
		t.Fatalf("resource: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode
	}
	var ac oidctest.AccessClaims
	if err := json.NewDecoder(resp.Body).Decode(&ac); err != nil {
		t.Fatal(err)
	}
	return &ac, resp.StatusCode
}

// TestClientCredentialsPrivateKeyJWT: each key type signs the algorithm its type and the
// provider's list call for, one card signature per token.
func TestClientCredentialsPrivateKeyJWT(t *testing.T) {
	want := map[string]string{
		assertiontest.RSA2048: assertion.PS256,
		assertiontest.P256:    assertion.ES256,
		assertiontest.P384:    assertion.ES384,
		assertiontest.Ed25519: assertion.EdDSA,
	}
	keys := map[string]key{}
	var clients []oidctest.Client
	for kind := range want {
		keys[kind] = newKey(t, kind)
		clients = append(clients, oidctest.PrivateKeyJWT("pkjwt-"+kind, keys[kind].cert))
	}
	p := startProvider(t, oidctest.Config{Clients: clients})
	for kind, alg := range want {
		t.Run(kind, func(t *testing.T) {
			k := keys[kind]
			c := newClient(t, p, oidc.Config{ClientID: "pkjwt-" + kind, Identity: k.identity()})
			if c.Algorithm() != alg {
				t.Errorf("algorithm %s, want %s", c.Algorithm(), alg)
			}
			for i := 1; i <= 2; i++ {
				tok, err := c.ClientCredentials(context.Background(), oidc.TokenRequest{Scopes: []string{"read"}, Resources: []string{api}})
				if err != nil {
					t.Fatal(err)
				}
				if k.signer.Count() != i {
					t.Errorf("%d tokens cost %d signatures, want %d", i, k.signer.Count(), i)
				}
				cl := claims(t, tok)
				if cl["client_id"] != "pkjwt-"+kind || cl["aud"] != api || cl["scope"] != "read" || !tok.Valid() {
					t.Errorf("token claims %v", cl)
				}
				if _, bound := cl["cnf"]; bound {
					t.Errorf("token bound without CertificateBound: %v", cl)
				}
			}
		})
	}
}

// TestClientCredentialsOverTLS: tls_client_auth and self_signed_tls_client_auth get tokens over
// the mTLS alias, bound to the certificate, usable at the resource over the same identity; three
// tokens and three resource calls cost one signature per server (provider and resource).
func TestClientCredentialsOverTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "client CA")
	issued := newKey(t, assertiontest.P256)
	issued.cert = ca.Client(t, issued.signer.Public(), pkix.Name{CommonName: "bench.user", Organization: []string{"pivauth"}})
	self := newKey(t, assertiontest.RSA2048)
	p := startProvider(t, oidctest.Config{
		ClientCAs: []*x509.Certificate{ca.Cert},
		Clients: []oidctest.Client{
			oidctest.TLSClientAuth("tls", issued.cert).Bound(),
			oidctest.SelfSignedTLSClientAuth("selfsigned", self.cert).Bound(),
		},
	})
	resource := p.StartResource(t, api)
	for _, tc := range []struct {
		id     string
		method oidc.AuthMethod
		key    key
	}{{"tls", oidc.TLSClientAuth, issued}, {"selfsigned", oidc.SelfSignedTLSClientAuth, self}} {
		t.Run(tc.id, func(t *testing.T) {
			c := newClient(t, p, oidc.Config{ClientID: tc.id, AuthMethod: tc.method, Identity: tc.key.identity()})
			for range 3 {
				tok, err := c.ClientCredentials(context.Background(), oidc.TokenRequest{Scopes: []string{"write"}, Resources: []string{api}})
				if err != nil {
					t.Fatal(err)
				}
				cnf, _ := claims(t, tok)["cnf"].(map[string]any)
				if cnf["x5t#S256"] != assertion.X5TS256(tc.key.cert) {
					t.Fatalf("token not bound to the certificate: cnf %v", cnf)
				}
				ac, status := callResource(t, c, resource, tok)
				if status != http.StatusOK || ac.ClientID != tc.id {
					t.Fatalf("resource answered %d %+v", status, ac)
				}
			}
			if n := tc.key.signer.Count(); n != 2 {
				t.Errorf("3 tokens and 3 resource calls cost %d signatures, want 2 (one TLS session per server)", n)
			}
		})
	}
}

// TestBoundTokenPrivateKeyJWT: private_key_jwt with CertificateBound asks over mTLS; the token
// is refused at the resource over another TLS identity.
func TestBoundTokenPrivateKeyJWT(t *testing.T) {
	k := newKey(t, assertiontest.P256)
	other := newKey(t, assertiontest.P256)
	p := startProvider(t, oidctest.Config{Clients: []oidctest.Client{
		oidctest.PrivateKeyJWT("bound", k.cert).Bound(),
		oidctest.PrivateKeyJWT("other", other.cert),
	}})
	resource := p.StartResource(t, api)
	c := newClient(t, p, oidc.Config{ClientID: "bound", Identity: k.identity(), CertificateBound: true})
	tok, err := c.ClientCredentials(context.Background(), oidc.TokenRequest{Resources: []string{api}})
	if err != nil {
		t.Fatal(err)
	}
	if ac, status := callResource(t, c, resource, tok); status != http.StatusOK || ac.Cnf.X5TS256 != assertion.X5TS256(k.cert) {
		t.Fatalf("resource answered %d %+v", status, ac)
	}
	// The same token presented over another certificate is refused: it is bound.
	thief := newClient(t, p, oidc.Config{ClientID: "other", Identity: other.identity()})
	if _, status := callResource(t, thief, resource, tok); status != http.StatusUnauthorized {
		t.Fatalf("bound token over another certificate: status %d, want 401", status)
	}

	// Without CertificateBound the request goes to the plain endpoint without a certificate,
	// and the provider refuses to issue a token it cannot bind.
	unbound := newClient(t, p, oidc.Config{ClientID: "bound", Identity: k.identity()})
	_, err = unbound.ClientCredentials(context.Background(), oidc.TokenRequest{Resources: []string{api}})
	var oe *oidc.Error
	if !errors.As(err, &oe) || oe.Code != oidc.ErrCodeInvalidGrant {
		t.Fatalf("bound client without certificate: got %v, want invalid_grant", err)
	}
}

// TestInvalidClientExplained: a provider that knows another key, or another subject, answers
// invalid_client; the error says which certificate to register.
func TestInvalidClientExplained(t *testing.T) {
	k := newKey(t, assertiontest.RSA2048)
	registered := newKey(t, assertiontest.RSA2048)
	ca := tlstest.NewCA(t, "client CA")
	issued := newKey(t, assertiontest.P256)
	issued.cert = ca.Client(t, issued.signer.Public(), pkix.Name{CommonName: "someone else"})
	p := startProvider(t, oidctest.Config{
		ClientCAs: []*x509.Certificate{ca.Cert},
		Clients: []oidctest.Client{
			oidctest.PrivateKeyJWT("pkjwt", registered.cert),
			oidctest.TLSClientAuth("tls", ca.Client(t, issued.signer.Public(), pkix.Name{CommonName: "bench.user"})),
			oidctest.SelfSignedTLSClientAuth("selfsigned", registered.cert),
		},
	})
	_, sha256Hex := assertion.Thumbprints(k.cert)
	for _, tc := range []struct {
		id     string
		method oidc.AuthMethod
		key    key
		want   string
	}{
		{"pkjwt", oidc.PrivateKeyJWT, k, sha256Hex},
		{"tls", oidc.TLSClientAuth, issued, `tls_client_auth_subject_dn "CN=someone else"`},
		// Right subject, but self-signed: the provider's CAs did not issue it.
		{"tls", oidc.TLSClientAuth, key{k.signer, assertiontest.Certificate(t, k.signer, assertiontest.CertOptions{CommonName: "bench.user"})}, `named the CAs ["CN=client CA,O=pivauth tests"]`},
		{"selfsigned", oidc.SelfSignedTLSClientAuth, k, assertion.X5TS256(k.cert)},
	} {
		t.Run(tc.id, func(t *testing.T) {
			c := newClient(t, p, oidc.Config{ClientID: tc.id, AuthMethod: tc.method, Identity: tc.key.identity()})
			_, err := c.ClientCredentials(context.Background(), oidc.TokenRequest{})
			var oe *oidc.Error
			if !errors.As(err, &oe) || oe.Code != oidc.ErrCodeInvalidClient || oe.Status != http.StatusUnauthorized {
				t.Fatalf("got %v, want invalid_client", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not say %q: %v", tc.want, err)
			}
		})
	}
}

// TestConfigurationCheckedBeforeTokens: what the provider cannot accept is refused by New.
func TestConfigurationCheckedBeforeTokens(t *testing.T) {
	k := newKey(t, assertiontest.RSA2048)
	p := startProvider(t, oidctest.Config{Clients: []oidctest.Client{oidctest.PrivateKeyJWT("pkjwt", k.cert)}})
	cfg := oidc.Config{Issuer: p.Issuer, ClientID: "pkjwt", Identity: k.identity(), TLS: mtls.Options{RootCAs: p.Roots()}}
	ctx := context.Background()

	forced := cfg
	forced.Algorithm = assertion.RS256
	if c, err := oidc.New(ctx, forced); err != nil || c.Algorithm() != assertion.RS256 {
		t.Fatalf("forced RS256: %v", err)
	} else if _, err := c.ClientCredentials(ctx, oidc.TokenRequest{}); err != nil {
		t.Fatalf("RS256 assertion refused: %v", err)
	}
	forced.Algorithm = "PS512"
	if _, err := oidc.New(ctx, forced); err == nil || !strings.Contains(err.Error(), "PS256") {
		t.Errorf("PS512, which the provider does not list: got %v", err)
	}
	wrongIssuer := cfg
	wrongIssuer.Issuer = strings.Replace(p.Issuer, "127.0.0.1", "localhost", 1)
	if _, err := oidc.New(ctx, wrongIssuer); err == nil || !strings.Contains(err.Error(), p.Issuer) {
		t.Errorf("issuer mismatch: got %v", err)
	}
	expired := cfg
	s, cert := assertiontest.KeyWith(t, assertiontest.P256, assertiontest.CertOptions{
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	expired.Identity = mtls.Identity{Signer: s, Certificate: cert}
	expired.Issuer = "https://127.0.0.1:1" // never reached
	if _, err := oidc.New(ctx, expired); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired certificate: got %v", err)
	}
}

// TestOAuthErrorsExplained: grant, scope and resource refusals come back as *Error with the
// code and what to do.
func TestOAuthErrorsExplained(t *testing.T) {
	k := newKey(t, assertiontest.P256)
	codeOnly := oidctest.PrivateKeyJWT("code-only", k.cert)
	codeOnly["grant_types"] = []string{oidctest.GrantAuthorizationCode}
	narrow := oidctest.PrivateKeyJWT("narrow", k.cert)
	narrow["scope"] = "openid"
	p := startProvider(t, oidctest.Config{Clients: []oidctest.Client{codeOnly, narrow}})
	for _, tc := range []struct {
		client string
		req    oidc.TokenRequest
		code   string
		want   string
	}{
		// oidc-provider answers invalid_request (not unauthorized_client) for a grant the client
		// is not registered for; its description must reach the person.
		{"code-only", oidc.TokenRequest{}, oidc.ErrCodeInvalidRequest, "requested grant type is not allowed for this client"},
		{"narrow", oidc.TokenRequest{Scopes: []string{"email"}}, oidc.ErrCodeInvalidScope, "request only the scopes registered"},
		{"narrow", oidc.TokenRequest{Resources: []string{"https://unknown.pivauth.test"}}, oidc.ErrCodeInvalidTarget, "resource indicators"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			c := newClient(t, p, oidc.Config{ClientID: tc.client, Identity: k.identity()})
			_, err := c.ClientCredentials(context.Background(), tc.req)
			var oe *oidc.Error
			if !errors.As(err, &oe) || oe.Code != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %s saying %q", err, tc.code, tc.want)
			}
		})
	}
}

// TestTokenCached: Token through a cache costs one card signature for any number of calls, across
// clients sharing the cache directory (as two processes would), and serves adapters.
func TestTokenCached(t *testing.T) {
	k := newKey(t, assertiontest.P256)
	p := startProvider(t, oidctest.Config{Clients: []oidctest.Client{oidctest.PrivateKeyJWT("app", k.cert)}})
	dir := filepath.Join(t.TempDir(), "cache") // created private by cache.Open
	for i := range 2 {
		store, err := cache.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		c := newClient(t, p, oidc.Config{ClientID: "app", Identity: k.identity(), Resources: []string{api}, Cache: store})
		tok, err := adapters.OAuth2TokenSource(context.Background(), c, "read").Token()
		if err != nil {
			t.Fatal(err)
		}
		if cl := claims(t, tok); cl["aud"] != api || cl["scope"] != "read" {
			t.Errorf("client %d: claims %v", i, cl)
		}
		if again, err := c.Token(context.Background(), "read"); err != nil || !again.Cached || again.AccessToken != tok.AccessToken {
			t.Errorf("client %d: second Token: cached=%v err=%v", i, again.Cached, err)
		}
	}
	if n := k.signer.Count(); n != 1 {
		t.Errorf("tokens through the cache cost %d signatures, want 1", n)
	}
}
