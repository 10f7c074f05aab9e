package entra

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/flows/assertion"
	"github.com/pivauth/pivauth/flows/assertion/assertiontest"
)

const clientID = "0a0a0a0a-1111-4222-8333-444444444444"

type env struct {
	srv  *Server
	key  crypto.Signer
	cert *x509.Certificate
	now  time.Time
}

func start(t *testing.T) *env {
	t.Helper()
	key, cert := assertiontest.Key(t, assertiontest.RSA2048)
	e := &env{key: key, cert: cert, now: time.Now()}
	srv, err := Start(Options{
		Apps: []App{{ClientID: clientID, Certificates: []Credential{{Cert: cert}}, Scopes: map[string][]string{graphResource: {"User.Read", "Mail.Read"}}}},
		Now:  func() time.Time { return e.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	e.srv = srv
	return e
}

// post sends a token request and decodes the JSON answer.
func (e *env) post(t *testing.T, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.TokenEndpoint(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("client-request-id", "corr-1")
	resp, err := e.srv.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, m
}

func (e *env) assertion(t *testing.T, o assertion.Options) string {
	t.Helper()
	if o.Audience == "" {
		o.Audience = e.srv.TokenEndpoint()
	}
	if o.ClientID == "" {
		o.ClientID = clientID
	}
	if o.Now == nil {
		o.Now = func() time.Time { return e.now }
	}
	a, err := assertion.New(e.key, e.cert, o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func clientCredentials(a string) url.Values {
	return url.Values{
		"grant_type": {"client_credentials"}, "client_id": {clientID}, "scope": {graphResource + "/.default"},
		"client_assertion_type": {assertionType}, "client_assertion": {a},
	}
}

func code(m map[string]any) int {
	codes, _ := m["error_codes"].([]any)
	if len(codes) != 1 {
		return 0
	}
	return int(codes[0].(float64))
}

func TestDiscoveryAndErrorShape(t *testing.T) {
	e := start(t)
	resp, err := e.srv.HTTPClient().Get(e.srv.Authority() + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if doc["token_endpoint"] != e.srv.TokenEndpoint() || doc["issuer"] != e.srv.Issuer() || doc["jwks_uri"] != e.srv.Authority()+"/discovery/v2.0/keys" {
		t.Errorf("discovery %v", doc)
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL()+"/contoso.example/v2.0/.well-known/openid-configuration", nil)
	req.Header.Set("client-request-id", "corr-2")
	resp, err = e.srv.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body errorBody
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 400 || body.Error != "invalid_tenant" || !slices.Equal(body.ErrorCodes, []int{90002}) ||
		!strings.HasPrefix(body.ErrorDescription, "AADSTS90002: Tenant 'contoso.example' not found.") ||
		!strings.Contains(body.ErrorDescription, "\r\nTrace ID: "+body.TraceID) || body.CorrelationID != "corr-2" ||
		body.Timestamp == "" || !strings.HasSuffix(body.ErrorURI, "/error?code=90002") {
		t.Errorf("error body %d %+v", resp.StatusCode, body)
	}
}

func TestAssertionChecks(t *testing.T) {
	e := start(t)
	// MSAL sends x5t#S256 in standard base64; Entra takes it, and an x5t (SHA-1) alone.
	std := func(t *testing.T) string {
		parts := strings.Split(e.assertion(t, assertion.Options{}), ".")
		return resign(t, e, parts[1], map[string]any{"alg": "PS256", "typ": "JWT", "x5t#S256": stdThumb(e.cert)}, crypto.Hash(0))
	}
	sha1Only := func(t *testing.T) string {
		parts := strings.Split(e.assertion(t, assertion.Options{}), ".")
		return resign(t, e, parts[1], map[string]any{"alg": "RS256", "x5t": assertion.X5T(e.cert)}, crypto.SHA256)
	}
	// PS256 with the maximum salt length verifies with Go's auto-detect but not with .NET's
	// fixed salt length (= hash size), so Entra refuses it.
	bigSalt := func(t *testing.T) string {
		parts := strings.Split(e.assertion(t, assertion.Options{}), ".")
		return resign(t, e, parts[1], map[string]any{"alg": "PS256", "x5t#S256": assertion.X5TS256(e.cert)}, crypto.SHA512)
	}
	cases := []struct {
		name   string
		make   func(t *testing.T) string
		status int
		code   int
	}{
		{"PS256 x5t#S256", func(t *testing.T) string { return e.assertion(t, assertion.Options{}) }, 200, 0},
		{"x5t#S256 in standard base64", std, 200, 0},
		{"RS256 with x5t only", sha1Only, 200, 0},
		{"PS256 with a long salt", bigSalt, 401, 700027},
		{"nbf inside the skew", func(t *testing.T) string {
			return e.assertion(t, assertion.Options{Now: func() time.Time { return e.now.Add(4 * time.Minute) }})
		}, 200, 0},
		{"nbf beyond the skew", func(t *testing.T) string {
			return e.assertion(t, assertion.Options{Now: func() time.Time { return e.now.Add(6 * time.Minute) }})
		}, 401, 700024},
		{"expired beyond the skew", func(t *testing.T) string {
			return e.assertion(t, assertion.Options{Now: func() time.Time { return e.now.Add(-11 * time.Minute) }})
		}, 401, 700024},
		{"v1 token endpoint audience", func(t *testing.T) string {
			return e.assertion(t, assertion.Options{Audience: e.srv.Authority() + "/oauth2/token"})
		}, 200, 0},
		{"not a JWT", func(*testing.T) string { return "abc.def" }, 400, 50027},
	}
	for _, tc := range cases {
		status, m := e.post(t, clientCredentials(tc.make(t)))
		if status != tc.status || code(m) != tc.code {
			t.Errorf("%s: %d %v, want %d AADSTS%d", tc.name, status, m["error_description"], tc.status, tc.code)
		}
	}
	form := clientCredentials("")
	form.Del("client_assertion")
	if status, m := e.post(t, form); status != 401 || code(m) != 7000218 {
		t.Errorf("no credential: %d %v", status, m)
	}
}

// resign signs payload under a custom header with the env's key: PKCS#1 v1.5 for crypto.SHA256,
// PSS with salt = hash size for crypto.Hash(0), PSS with the longest salt for crypto.SHA512.
func resign(t *testing.T, e *env, payload string, hdr map[string]any, mode crypto.Hash) string {
	t.Helper()
	h, _ := json.Marshal(hdr)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + payload
	d := sha256.Sum256([]byte(input))
	key := e.key.(*rsa.PrivateKey)
	var sig []byte
	var err error
	switch mode {
	case crypto.SHA256:
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
	case crypto.SHA512:
		sig, err = rsa.SignPSS(rand.Reader, key, crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	default:
		sig, err = rsa.SignPSS(rand.Reader, key, crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func stdThumb(c *x509.Certificate) string {
	d := sha256.Sum256(c.Raw)
	return base64.StdEncoding.EncodeToString(d[:])
}

// TestAuthorizationCodeFlow walks authorize -> code -> token -> refresh with PKCE and checks
// Entra's code rules: single use, verifier, redirect URI, S256 only.
func TestAuthorizationCodeFlow(t *testing.T) {
	e := start(t)
	hc := e.srv.HTTPClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	verifier := strings.Repeat("v", 43)
	authorize := func(method string) url.Values {
		q := url.Values{
			"client_id": {clientID}, "response_type": {"code"}, "redirect_uri": {"http://localhost:5555"},
			"scope": {"https://graph.microsoft.com/.default openid profile offline_access"}, "state": {"st"},
			"code_challenge": {pkceS256(verifier)}, "code_challenge_method": {method},
		}
		resp, err := hc.Get(e.srv.Authority() + "/oauth2/v2.0/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || err != nil || loc.Host != "localhost:5555" || loc.Query().Get("state") != "st" {
			t.Fatalf("authorize: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		return loc.Query()
	}
	if q := authorize("plain"); q.Get("error") != "invalid_request" {
		t.Errorf("plain PKCE accepted: %v", q)
	}
	c := authorize("S256").Get("code")
	redeem := func(verifier, redirect string) (int, map[string]any) {
		f := url.Values{
			"grant_type": {"authorization_code"}, "client_id": {clientID}, "code": {c}, "redirect_uri": {redirect},
			"code_verifier": {verifier}, "scope": {"https://graph.microsoft.com/.default openid profile offline_access"},
			"client_assertion_type": {assertionType}, "client_assertion": {e.assertion(t, assertion.Options{})},
		}
		return e.post(t, f)
	}
	if status, m := redeem("wrong", "http://localhost:5555"); status != 400 || code(m) != 501481 {
		t.Errorf("wrong verifier: %d %v", status, m)
	}
	c = authorize("S256").Get("code")
	if status, m := redeem(verifier, "http://localhost:6666"); status != 400 || code(m) != 70000 {
		t.Errorf("other redirect: %d %v", status, m)
	}
	c = authorize("S256").Get("code")
	status, m := redeem(verifier, "http://localhost:5555")
	if status != 200 || m["refresh_token"] == nil || m["id_token"] == nil || m["client_info"] == nil {
		t.Fatalf("redeem: %d %v", status, m)
	}
	if status, m := redeem(verifier, "http://localhost:5555"); status != 400 || code(m) != 54005 {
		t.Errorf("second redemption: %d %v", status, m)
	}
	claims := decodeClaims(t, m["access_token"].(string))
	if claims["scp"] != "User.Read Mail.Read" || claims["upn"] != e.srv.User().UPN {
		t.Errorf("delegated claims %v", claims)
	}
	rt := m["refresh_token"].(string)
	refresh := url.Values{
		"grant_type": {"refresh_token"}, "client_id": {clientID}, "refresh_token": {rt}, "scope": {"https://outlook.office365.com/.default"},
		"client_assertion_type": {assertionType}, "client_assertion": {e.assertion(t, assertion.Options{})},
	}
	if status, m := e.post(t, refresh); status != 200 || decodeClaims(t, m["access_token"].(string))["aud"] != "https://outlook.office365.com" {
		t.Errorf("refresh: %d %v", status, m)
	}
	refresh.Set("client_assertion", e.assertion(t, assertion.Options{}))
	if status, m := e.post(t, refresh); status != 400 || code(m) != 70000 {
		t.Errorf("rotated refresh token reused: %d %v", status, m)
	}
	// A code expires after ten minutes.
	c = authorize("S256").Get("code")
	e.now = e.now.Add(11 * time.Minute)
	if status, m := redeem(verifier, "http://localhost:5555"); status != 400 || code(m) != 70008 {
		t.Errorf("expired code: %d %v", status, m)
	}
}

func TestAuthorizeErrorPages(t *testing.T) {
	e := start(t)
	hc := e.srv.HTTPClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for name, q := range map[string]url.Values{
		"unknown app":         {"client_id": {"nope"}, "response_type": {"code"}, "redirect_uri": {"http://localhost:1"}},
		"foreign redirect":    {"client_id": {clientID}, "response_type": {"code"}, "redirect_uri": {"https://evil.example/"}},
		"loopback other path": {"client_id": {clientID}, "response_type": {"code"}, "redirect_uri": {"http://localhost:1/cb"}},
	} {
		resp, err := hc.Get(e.srv.Authority() + "/oauth2/v2.0/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
			t.Errorf("%s: %d, location %q; want an error page, no redirect", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	got := e.srv.Stats().Rejections
	slices.Sort(got)
	if !slices.Equal(got, []int{50011, 50011, 700016}) {
		t.Errorf("rejections %v", got)
	}
}

func decodeClaims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}
