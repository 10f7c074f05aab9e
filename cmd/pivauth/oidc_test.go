//go:build linux

package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/oidc/oidctest"
	"github.com/pivauth/pivauth/hw-test/oidc/tlstest"
	"github.com/pivauth/pivauth/hw-test/vcard"
)

const apiIndicator = "https://api.pivauth.test"

// oidcBench is a piv-profile card and an oidc-provider knowing it as three clients: pkjwt
// (private_key_jwt, 9A), tls (tls_client_auth, 9A, bound tokens) and self
// (self_signed_tls_client_auth, 9E, which needs no PIN).
type oidcBench struct {
	b       *benchtest.Bench
	p       *oidctest.Provider
	c       *cli
	cert9a  *x509.Certificate
	pin, ca string
}

func startOIDCBench(t *testing.T) *oidcBench {
	t.Helper()
	b := benchtest.Start(t, vcard.ProfilePIV)
	if b.CA == nil {
		t.Skip("needs the bench CA")
	}
	c := newCLI(t)
	slotCert := func(slot string) *x509.Certificate {
		block, _ := pem.Decode([]byte(c.ok("certs", "--reader", b.Reader, "--slot", slot, "--output", "pem").stdout))
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	cert9a, cert9e := slotCert("9a"), slotCert("9e")
	p := oidctest.Start(t, oidctest.Config{
		Clients: []oidctest.Client{
			oidctest.PrivateKeyJWT("pkjwt", cert9a),
			oidctest.TLSClientAuth("tls", cert9a).Bound(),
			oidctest.SelfSignedTLSClientAuth("self", cert9e),
		},
		ClientCAs: []*x509.Certificate{b.CA.Cert},
		Resources: map[string]string{apiIndicator: "api:read"},
	})
	return &oidcBench{b: b, p: p, c: c, cert9a: cert9a,
		pin: writeFile(t, c.dir, "pin", factoryPIN+"\n", 0o600),
		ca:  writeFile(t, c.dir, "oidc-ca.pem", string(tlstest.PEM(p.CA.Cert)), 0o644),
	}
}

func (o *oidcBench) args(clientID string, extra ...string) []string {
	return append([]string{"--reader", o.b.Reader, "--pin-file", o.pin, "--issuer", o.p.Issuer, "--client-id", clientID, "--ca-file", o.ca}, extra...)
}

func x5tS256(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// TestTokenOIDC: client credentials with each client authentication method a card backs.
func TestTokenOIDC(t *testing.T) {
	o := startOIDCBench(t)
	c := o.c
	resource := []string{"--resource", apiIndicator, "--scope", "api:read", "--no-cache"}

	var tj tokenJSON
	decodeJSON(t, c.ok(append(append([]string{"token"}, o.args("pkjwt", resource...)...), "--output", "json")...), &tj)
	claims := jwtClaims(t, tj.AccessToken)
	if claims["aud"] != apiIndicator || claims["client_id"] != "pkjwt" || claims["scope"] != "api:read" || tj.Scope != "api:read" {
		t.Errorf("private_key_jwt token: %+v claims %v", tj, claims)
	}

	raw := c.ok(append([]string{"token"}, o.args("tls", append(resource, "--client-auth", "tls_client_auth")...)...)...).stdout
	claims = jwtClaims(t, raw)
	if cnf, _ := claims["cnf"].(map[string]any); claims["client_id"] != "tls" || cnf["x5t#S256"] != x5tS256(o.cert9a) {
		t.Errorf("tls_client_auth token not bound to the card's certificate: %v", claims)
	}

	// 9E needs no PIN: an unattended job with no PIN source at all.
	raw = c.ok("token", "--reader", o.b.Reader, "--slot", "9e", "--issuer", o.p.Issuer, "--client-id", "self", "--ca-file", o.ca,
		"--client-auth", "self_signed_tls_client_auth", "--resource", apiIndicator, "--scope", "api:read", "--no-cache").stdout
	if jwtClaims(t, raw)["client_id"] != "self" {
		t.Errorf("self_signed_tls_client_auth token: %s", raw)
	}

	// The assertion's audience is the discovered token endpoint.
	var aj assertionJSON
	decodeJSON(t, c.ok(append([]string{"assertion"}, o.args("pkjwt", "--output", "json")...)...), &aj)
	if !strings.HasPrefix(aj.Audience, o.p.Issuer) || jwtClaims(t, aj.Assertion)["aud"] != aj.Audience || aj.Algorithm == "" {
		t.Errorf("oidc assertion: %+v", aj)
	}

	c.fails(ExitRejected, []string{"invalid_client"}, append([]string{"token"}, o.args("nobody", resource...)...)...)
	c.fails(ExitUsage, []string{`--client-auth "client_secret_basic"`}, append([]string{"token"}, o.args("pkjwt", append(resource, "--client-auth", "client_secret_basic")...)...)...)
}

// TestRequestOIDCBound calls a protected resource with a certificate-bound token over the card's
// TLS identity, and fails with -f without the token.
func TestRequestOIDCBound(t *testing.T) {
	o := startOIDCBench(t)
	res := o.p.StartResource(t, apiIndicator)
	args := append([]string{"request", "--bearer"}, o.args("tls", "--client-auth", "tls_client_auth", "--resource", apiIndicator, "--scope", "api:read")...)
	r := o.c.ok(append(args, res.URL+"/me")...)
	var claims oidctest.AccessClaims
	if err := json.Unmarshal([]byte(r.stdout), &claims); err != nil {
		t.Fatalf("resource answer: %v\n%s", err, r.stdout)
	}
	if claims.ClientID != "tls" || claims.Cnf.X5TS256 != x5tS256(o.cert9a) {
		t.Errorf("resource saw %+v", claims)
	}
	// Without a token the resource refuses: exit 0 without -f (curl's way), 5 with it.
	plain := []string{"request", "--reader", o.b.Reader, "--pin-file", o.pin, "--ca-file", o.ca, "-i", res.URL + "/me"}
	if r := o.c.ok(plain...); !strings.HasPrefix(r.stdout, "HTTP/1.1 401") {
		t.Errorf("request without token:\n%s", r.stdout)
	}
	o.c.fails(ExitRejected, []string{"401 Unauthorized"}, append(plain, "-f")...)
}

// TestLoginOIDCDevice runs the device grant: pivauth prints the code, the test user approves it.
func TestLoginOIDCDevice(t *testing.T) {
	o := startOIDCBench(t)
	run := o.c.start(append([]string{"login", "--device", "--scope", "openid", "--output", "json"}, o.args("pkjwt")...)...)
	m := run.waitStderr(t, regexp.MustCompile(`open (\S+) and enter the code (\S+)`))
	if err := o.p.User().ApproveDevice(context.Background(), m[1], m[2], true); err != nil {
		t.Fatal(err)
	}
	r := run.wait(t)
	if r.code != 0 {
		t.Fatalf("login --device: exit %d\n%s", r.code, r.stderr)
	}
	var tj tokenJSON
	decodeJSON(t, r, &tj)
	if tj.AccessToken == "" || !strings.Contains(tj.Scope, "openid") {
		t.Errorf("device login: %+v", tj)
	}
}

// TestLoginOIDCAuthCode: $BROWSER receives the sign-in URL; the test user's browser follows it.
func TestLoginOIDCAuthCode(t *testing.T) {
	o := startOIDCBench(t)
	urlFile := filepath.Join(o.c.dir, "auth-url")
	browser := writeFile(t, o.c.dir, "browser", "#!/bin/sh\nprintf '%s' \"$1\" > "+urlFile+".tmp && mv "+urlFile+".tmp "+urlFile+"\n", 0o755)
	run := o.c.with("BROWSER=" + browser).start(append([]string{"login", "--scope", "openid", "--output", "json"}, o.args("pkjwt")...)...)
	run.waitStderr(t, regexp.MustCompile(`To sign in, open this URL`))
	var authURL []byte
	for deadline := time.Now().Add(20 * time.Second); len(authURL) == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		authURL, _ = os.ReadFile(urlFile)
	}
	if _, err := o.p.User().Authorize(context.Background(), string(authURL)); err != nil {
		t.Fatal(err)
	}
	r := run.wait(t)
	if r.code != 0 {
		t.Fatalf("login: exit %d\n%s", r.code, r.stderr)
	}
	var tj tokenJSON
	decodeJSON(t, r, &tj)
	if tj.AccessToken == "" {
		t.Errorf("auth code login: %+v", tj)
	}
}
