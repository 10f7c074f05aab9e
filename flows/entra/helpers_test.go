package entra

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/pivauth/pivauth/flows/assertion"
	"github.com/pivauth/pivauth/flows/assertion/assertiontest"
	standin "github.com/pivauth/pivauth/hw-test/entra"
)

const (
	testClientID = "6f1d2c3b-0000-4000-8000-0000000000aa"
	graphDefault = "https://graph.microsoft.com/.default"
	exoDefault   = "https://outlook.office365.com/.default"
)

// fixture is a stand-in tenant with one app whose certificate is a software RSA key, and an
// entra.Client for it whose Sign calls are counted.
type fixture struct {
	srv    *standin.Server
	signer *assertiontest.CountingSigner
	cert   *x509.Certificate
	client *Client
}

func newFixture(t *testing.T, edit func(*standin.Options, *Options)) *fixture {
	t.Helper()
	key, cert := assertiontest.Key(t, assertiontest.RSA2048)
	f := &fixture{signer: &assertiontest.CountingSigner{Signer: key}, cert: cert}
	so := standin.Options{Domain: "pivauth.test", Apps: []standin.App{{
		ClientID:     testClientID,
		Name:         "pivauth test app",
		Certificates: []standin.Credential{{Cert: cert}},
		Roles: map[string][]string{
			"https://graph.microsoft.com":   {"Mail.Read", "User.Read.All"},
			"https://outlook.office365.com": {"Exchange.ManageAsApp"},
		},
		Scopes: map[string][]string{"https://graph.microsoft.com": {"User.Read"}},
	}}}
	f.start(t, so, edit)
	return f
}

// start runs the stand-in tenant so (after edit) and makes f.client for it, signing with
// f.signer and f.cert.
func (f *fixture) start(t *testing.T, so standin.Options, edit func(*standin.Options, *Options)) {
	t.Helper()
	co := Options{ClientID: testClientID, Signer: f.signer, Certificate: f.cert}
	if edit != nil {
		edit(&so, &co)
	}
	srv, err := standin.Start(so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	f.srv = srv
	if co.Authority == "" {
		co.Authority = srv.Authority()
	}
	co.HTTPClient = srv.HTTPClient()
	if f.client, err = New(co); err != nil {
		t.Fatal(err)
	}
}

// replayFirstAssertion makes f.client send its first client assertion again on every later
// request, as a replay would (the stand-in must answer AADSTS50013).
func (f *fixture) replayFirstAssertion() {
	var first string
	f.client.mint = func(ctx context.Context, aud, cid string) (string, error) {
		if first == "" {
			var err error
			first, err = f.client.sign(ctx, aud, cid)
			return first, err
		}
		return first, nil
	}
}

// verifyToken checks an access token's signature with the keys the stand-in publishes (fetched
// over HTTPS as a resource server would) and returns its claims.
func (f *fixture) verifyToken(t *testing.T, token string) map[string]any {
	t.Helper()
	resp, err := f.srv.HTTPClient().Get(f.srv.Authority() + "/discovery/v2.0/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("keys: %v (%d keys)", err, len(set.Keys))
	}
	obj, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	if obj.Signatures[0].Header.KeyID != set.Keys[0].KeyID {
		t.Errorf("token kid %q, published %q", obj.Signatures[0].Header.KeyID, set.Keys[0].KeyID)
	}
	payload, err := obj.Verify(set.Keys[0].Key)
	if err != nil {
		t.Fatalf("access token does not verify with the published key: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// wantAADSTS asserts err is an *Error with the code and a hint containing each of the strings.
func wantAADSTS(t *testing.T, err error, code int, hint ...string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *entra.Error AADSTS%d", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("code = %d, want %d: %v", e.Code, code, err)
	}
	t.Log(err)
	for _, h := range hint {
		if !strings.Contains(err.Error(), h) {
			t.Errorf("message lacks %q:\n%v", h, err)
		}
	}
	if e.TraceID == "" || e.CorrelationID == "" || e.Description == "" {
		t.Errorf("trace/correlation id or description missing: %+v", e)
	}
	return e
}

// browserUser plays the user's browser: it follows the authorize URL through the stand-in's
// redirects to the loopback listener.
func browserUser(srv *standin.Server) func(context.Context, string) error {
	return func(ctx context.Context, u string) error {
		hc := srv.HTTPClient()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		go func() {
			resp, err := hc.Do(req)
			if err == nil {
				resp.Body.Close()
			}
		}()
		return nil
	}
}

// signClaims signs arbitrary claims as a client assertion with the fixture's key (PS256,
// x5t#S256), for assertions package assertion refuses to make.
func signClaims(f *fixture, claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.PS256, Key: f.signer.Signer.(*rsa.PrivateKey)},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("x5t#S256", assertion.X5TS256(f.cert)))
	if err != nil {
		return "", err
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// decodePart decodes a JWT header or payload.
func decodePart(t *testing.T, part string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
