package oidctest

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Resource is an RFC 8705 protected resource: it accepts a JWT access token from the provider
// for its indicator only over a TLS connection whose client certificate the token is bound to.
type Resource struct {
	// URL is the resource's https base; GET on any path answers with the token's claims.
	URL string
	// Indicator is the resource indicator (the tokens' aud).
	Indicator string
}

// AccessClaims are what the resource answers for an accepted token.
type AccessClaims struct {
	Subject  string `json:"sub"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	Cnf      struct {
		X5TS256 string `json:"x5t#S256"`
	} `json:"cnf"`
}

// StartResource starts a protected resource for indicator (which must be in Config.Resources),
// trusting the provider's signing keys. Its server certificate is issued by p.CA.
func (p *Provider) StartResource(t testing.TB, indicator string) *Resource {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, err := p.checkBoundToken(r, indicator)
		if err != nil {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf("Bearer error=%q, error_description=%q", "invalid_token", err.Error()))
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(claims)
	}))
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{p.CA.Server(t, "127.0.0.1")},
		// The binding is the check, not the chain: any certificate is requested and accepted.
		ClientAuth: tls.RequestClientCert,
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &Resource{URL: srv.URL, Indicator: indicator}
}

// checkBoundToken verifies the bearer token of r: signature by the provider, issuer, audience,
// expiry, and cnf.x5t#S256 = SHA-256 of the TLS client certificate.
func (p *Provider) checkBoundToken(r *http.Request, indicator string) (*AccessClaims, error) {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return nil, fmt.Errorf("no bearer token")
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.PS256})
	if err != nil {
		return nil, fmt.Errorf("not a signed JWT: %w", err)
	}
	keys, err := p.keys(r.Context())
	if err != nil {
		return nil, err
	}
	var std jwt.Claims
	var claims AccessClaims
	if err := tok.Claims(keys, &std, &claims); err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: p.Issuer, Time: time.Now()}, 5*time.Second); err != nil {
		return nil, err
	}
	if !slices.Contains([]string(std.Audience), indicator) {
		return nil, fmt.Errorf("audience %v is not %s", std.Audience, indicator)
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, fmt.Errorf("no TLS client certificate to check the token's binding against")
	}
	sum := sha256.Sum256(r.TLS.PeerCertificates[0].Raw)
	if want := base64.RawURLEncoding.EncodeToString(sum[:]); claims.Cnf.X5TS256 != want {
		return nil, fmt.Errorf("token bound to x5t#S256 %q, TLS client certificate is %q", claims.Cnf.X5TS256, want)
	}
	claims.Subject = std.Subject
	return &claims, nil
}

// keys fetches the provider's JWK Set.
func (p *Provider) keys(ctx context.Context) (*jose.JSONWebKeySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Issuer+"/jwks", nil)
	if err != nil {
		return nil, err
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.Roots()}}}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("provider keys: %w", err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return nil, fmt.Errorf("provider keys: %w", err)
	}
	return &set, nil
}
