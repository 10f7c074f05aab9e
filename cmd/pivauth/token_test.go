//go:build linux

package main

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/cmd/pivauth/internal/audit"
	"github.com/pivauth/pivauth/flows/assertion"
	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/entra"
	"github.com/pivauth/pivauth/hw-test/vcard"
)

const graphDefault = "https://graph.microsoft.com/.default"

// entraBench is a piv-profile card whose 9A certificate is registered on app "app-card" of an
// Entra stand-in, with the files the CLI needs (PIN, the stand-in's CA).
type entraBench struct {
	b        *benchtest.Bench
	srv      *entra.Server
	c        *cli
	cert     *x509.Certificate
	pin, ca  string
	clientID string
}

func startEntraBench(t *testing.T) *entraBench {
	t.Helper()
	b := benchtest.Start(t, vcard.ProfilePIV)
	c := newCLI(t)
	block, _ := pem.Decode([]byte(c.ok("certs", "--reader", b.Reader, "--output", "pem").stdout))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	e := startEntra(t, cert)
	e.b, e.c = b, c
	e.writeFiles(t)
	return e
}

// startEntra starts an Entra stand-in with cert registered on app "app-card"; the caller fills in
// the card and the CLI (and calls writeFiles).
func startEntra(t *testing.T, cert *x509.Certificate) *entraBench {
	t.Helper()
	srv, err := entra.Start(entra.Options{Apps: []entra.App{{
		ClientID:     "app-card",
		Certificates: []entra.Credential{{Cert: cert}},
		Roles:        map[string][]string{"https://graph.microsoft.com": {"User.Read.All"}},
		Scopes:       map[string][]string{"https://graph.microsoft.com": {"User.Read"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return &entraBench{srv: srv, cert: cert, clientID: "app-card"}
}

// writeFiles writes the PIN and the stand-in's CA into the CLI's directory.
func (e *entraBench) writeFiles(t *testing.T) {
	e.pin = writeFile(t, e.c.dir, "pin", factoryPIN+"\n", 0o600)
	e.ca = writeFile(t, e.c.dir, "entra-ca.pem", string(e.srv.CAPEM()), 0o644)
}

// args are the flags of a token request for the card's app.
func (e *entraBench) args(extra ...string) []string {
	return append([]string{"--reader", e.b.Reader, "--pin-file", e.pin, "--authority", e.srv.Authority(),
		"--client-id", e.clientID, "--ca-file", e.ca}, extra...)
}

// jwtClaims decodes a JWT's claims without verifying it (the stand-in signed it; the test checks
// what was asked for arrived).
func jwtClaims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(strings.TrimSpace(jwt), ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// TestTokenEntra gets app-only tokens from the Entra stand-in with the card: raw, JSON (schema
// and thumbprints), cached (no card operation), ExecCredential, and through a profile.
func TestTokenEntra(t *testing.T) {
	e := startEntraBench(t)
	c := e.c

	raw := c.ok(append([]string{"token"}, e.args("--scope", graphDefault, "--no-cache")...)...).stdout
	claims := jwtClaims(t, raw)
	if claims["aud"] != "https://graph.microsoft.com" || claims["appid"] != e.clientID || !strings.Contains(toJSON(claims["roles"]), "User.Read.All") {
		t.Errorf("token claims: %v", claims)
	}

	b := e.b
	b.ResetStats()
	var tj tokenJSON
	decodeJSON(t, c.ok(append([]string{"token"}, e.args("--scope", graphDefault, "--output", "json")...)...), &tj)
	wantSHA1, wantSHA256 := thumbprints(e.cert.Raw)
	exp, err := time.Parse(time.RFC3339, tj.ExpiresOn)
	if err != nil || time.Until(exp) < 50*time.Minute || tj.TokenType != "Bearer" || tj.Thumbprint != wantSHA1 ||
		tj.ThumbprintSHA256 != wantSHA256 || tj.Slot != "9a" || tj.Reader != b.Reader || tj.Card != "card in "+b.Reader || tj.Cached ||
		tj.Scope != graphDefault || jwtClaims(t, tj.AccessToken)["appid"] != e.clientID {
		t.Errorf("token --output json: %+v (expiry %v)", tj, err)
	}
	// A cold process whose card the card cache knows (the --no-cache token above filled it): SELECT,
	// GET DATA certificate, then in the signature's transaction the empty VERIFY (the lockout guard
	// reads the tries there; the PIN file shows nobody a count, so none is read before it), VERIFY,
	// GENERAL AUTHENTICATE, VERIFY P1=FF. The audit record names the card from the cache.
	if st := b.Stats(); st.Signatures != 1 || st.PINVerifies != 1 || st.APDUs != 6 {
		t.Errorf("first token: %d signatures, %d PIN verifications, %d APDUs %v; want 1, 1 and 6", st.Signatures, st.PINVerifies, st.APDUs, st.Instructions)
	}
	// The first process read the card's identity from the card, this one from the cache, and its
	// record says so.
	var signs []audit.Event
	for _, ev := range auditEvents(t, c) {
		if ev.Operation == audit.OpSign {
			signs = append(signs, ev)
		}
	}
	if n := len(signs); n != 2 || signs[0].CardCached || !signs[1].CardCached || signs[0].Card == "" || signs[1].Card != signs[0].Card {
		t.Errorf("audit records of the two signatures: %+v; want the same card, the second from the cache", signs)
	}

	// The second token comes from the cache: same token, no card signature, no PIN.
	b.ResetStats()
	issued := e.srv.Stats().Issued
	var again tokenJSON
	decodeJSON(t, c.ok(append([]string{"token"}, e.args("--scope", graphDefault, "--output", "json")...)...), &again)
	if !again.Cached || again.AccessToken != tj.AccessToken || e.srv.Stats().Issued != issued {
		t.Errorf("second token not from the cache: cached=%v same=%v", again.Cached, again.AccessToken == tj.AccessToken)
	}
	// The card is opened (SELECT, GET DATA certificate: the cache is keyed by it) and, nothing
	// being signed, not identified for the audit log.
	if st := b.Stats(); st.Signatures != 0 || st.PINVerifies != 0 || st.APDUs != 2 {
		t.Errorf("cached token cost %d signatures, %d PIN verifications, %d APDUs %v; want 0, 0 and 2", st.Signatures, st.PINVerifies, st.APDUs, st.Instructions)
	}

	var ec execCredential
	decodeJSON(t, c.ok(append([]string{"token"}, e.args("--scope", graphDefault, "--output", "exec-credential")...)...), &ec)
	if ec.Kind != "ExecCredential" || ec.APIVersion != "client.authentication.k8s.io/v1" || ec.Status.Token != tj.AccessToken || ec.Status.ExpirationTimestamp != tj.ExpiresOn {
		t.Errorf("exec-credential: %+v", ec)
	}

	// A profile holds the same settings; flags override it.
	writeFile(t, c.dir, "config/pivauth/config.json", `{"profiles": {"graph": {"authority": "`+e.srv.Authority()+`", "client_id": "`+e.clientID+
		`", "scopes": ["`+graphDefault+`"], "reader": "`+b.Reader+`", "pin_file": "`+e.pin+`", "ca_file": "`+e.ca+`"}}}`, 0o600)
	if got := strings.TrimSpace(c.ok("token", "--profile", "graph").stdout); got != tj.AccessToken {
		t.Errorf("token --profile graph gave another token")
	}
	c.fails(ExitRejected, []string{"AADSTS700016"}, "token", "--profile", "graph", "--client-id", "no-such-app", "--no-cache")
}

// toJSON renders a decoded claim for a substring check.
func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestTokenEntraErrors: each failure exits with its code and says what to do.
func TestTokenEntraErrors(t *testing.T) {
	e := startEntraBench(t)
	c := e.c
	// Another app whose registered certificate is not the card's.
	other := issue(t, e.cert.PublicKey, "someone else")
	if err := e.srv.Register(entra.App{ClientID: "app-other", Certificates: []entra.Credential{{Cert: other}},
		Roles: map[string][]string{"https://graph.microsoft.com": {"User.Read.All"}}}); err != nil {
		t.Fatal(err)
	}
	sha1Hex, _ := thumbprints(e.cert.Raw)
	c.fails(ExitRejected, []string{"AADSTS700027", sha1Hex, "\n  fix: upload the card's certificate to the app: pivauth certs --output pem"},
		"token", "--reader", e.b.Reader, "--pin-file", e.pin, "--authority", e.srv.Authority(), "--client-id", "app-other", "--ca-file", e.ca, "--scope", graphDefault)

	// The stand-in's CA is not trusted without --ca-file or SSL_CERT_FILE.
	noCA := []string{"token", "--reader", e.b.Reader, "--pin-file", e.pin, "--authority", e.srv.Authority(), "--client-id", e.clientID, "--scope", graphDefault, "--no-cache"}
	c.fails(ExitNetwork, []string{"certificate"}, noCA...)
	c.with("SSL_CERT_FILE=" + e.ca).ok(noCA...)

	// Entra takes RSA keys only: the piv profile's 9D holds an EC key, refused before any request.
	before := e.srv.Stats().Token
	c.fails(ExitError, []string{"only RSA keys"}, append([]string{"token"}, e.args("--slot", "9d", "--scope", graphDefault, "--no-cache")...)...)
	if e.srv.Stats().Token != before {
		t.Errorf("an EC key reached the token endpoint")
	}

	// No PIN source and no terminal: exit 4 at once.
	c.fails(ExitPIN, []string{"no PIN available", "--pin-file", "PIVAUTH_PIN"}, "token", "--reader", e.b.Reader, "--authority", e.srv.Authority(),
		"--client-id", e.clientID, "--ca-file", e.ca, "--scope", graphDefault, "--no-cache")
	// A wrong PIN shows the tries left.
	c.fails(ExitPIN, []string{"PIN incorrect: 2 tries left"}, append([]string{"token"}, e.args("--pin-file", writeFile(t, c.dir, "wrong", "999999", 0o600), "--scope", graphDefault, "--no-cache")...)...)

	c.fails(ExitUsage, []string{"--client-id is required"}, "token", "--reader", e.b.Reader, "--authority", e.srv.Authority())
	c.fails(ExitUsage, []string{"either --tenant/--authority"}, "token", "--tenant", "t", "--issuer", "https://i", "--client-id", "c")
	c.fails(ExitUsage, []string{"name the identity provider"}, "token", "--client-id", "c")
}

// TestAssertionEntra: the assertion is a PS256 JWT for the token endpoint, verified here with the
// certificate's public key.
func TestAssertionEntra(t *testing.T) {
	e := startEntraBench(t)
	var aj assertionJSON
	decodeJSON(t, e.c.ok(append([]string{"assertion"}, e.args("--output", "json")...)...), &aj)
	parts := strings.Split(aj.Assertion, ".")
	if len(parts) != 3 {
		t.Fatalf("assertion: %q", aj.Assertion)
	}
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h map[string]any
	if err := json.Unmarshal(header, &h); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(e.cert.Raw)
	if h["alg"] != "PS256" || h["typ"] != "JWT" || h["x5t#S256"] != base64.RawURLEncoding.EncodeToString(sum[:]) {
		t.Errorf("assertion header %v", h)
	}
	claims := jwtClaims(t, aj.Assertion)
	if claims["aud"] != e.srv.TokenEndpoint() || claims["iss"] != e.clientID || claims["sub"] != e.clientID || aj.Audience != e.srv.TokenEndpoint() {
		t.Errorf("assertion claims %v, output %+v", claims, aj)
	}
	if life := claims["exp"].(float64) - claims["iat"].(float64); life <= 0 || life > 600 {
		t.Errorf("assertion lifetime %v s", life)
	}
	if exp, err := time.Parse(time.RFC3339, aj.ExpiresOn); err != nil || exp.Unix() != int64(claims["exp"].(float64)) {
		t.Errorf("expires_on %q does not match exp %v", aj.ExpiresOn, claims["exp"])
	}
	checkPS256(t, aj.Assertion, e.cert)
	// --audience needs no provider.
	raw := e.c.ok("assertion", "--reader", e.b.Reader, "--pin-file", e.pin, "--client-id", "x", "--audience", "https://idp.example/token").stdout
	if c := jwtClaims(t, raw); c["aud"] != "https://idp.example/token" || c["iss"] != "x" {
		t.Errorf("assertion --audience: %v", c)
	}
	if alg, _ := assertion.DefaultAlgorithm(e.cert.PublicKey); alg != "PS256" {
		t.Errorf("default algorithm %s", alg)
	}
}

// checkPS256 verifies a PS256 JWT's signature with the certificate's RSA key.
func checkPS256(t *testing.T, jwt string, cert *x509.Certificate) {
	t.Helper()
	parts := strings.Split(strings.TrimSpace(jwt), ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if err := rsa.VerifyPSS(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig, nil); err != nil {
		t.Errorf("assertion signature: %v", err)
	}
}

// TestExecEntra: the command gets the token in its environment, never the PIN, and pivauth
// exits with the command's code.
func TestExecEntra(t *testing.T) {
	e := startEntraBench(t)
	out := filepath.Join(e.c.dir, "env.out")
	script := `printf '%s\n%s\n%s\n%s\n' "$PIVAUTH_ACCESS_TOKEN" "$PIVAUTH_TOKEN_TYPE" "$MY_TOKEN" "${PIVAUTH_PIN:-no pin}" > ` + out + `; exit 7`
	args := []string{"exec", "--reader", e.b.Reader, "--authority", e.srv.Authority(), "--client-id", e.clientID, "--ca-file", e.ca,
		"--scope", graphDefault, "--env", "MY_TOKEN", "--", "sh", "-c", script}
	r := e.c.with("PIVAUTH_PIN=" + factoryPIN).run(args...)
	if r.code != 7 {
		t.Fatalf("exec: exit %d, want the command's 7\n%s", r.code, r.stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 4 || jwtClaims(t, lines[0])["appid"] != e.clientID || lines[1] != "Bearer" || lines[2] != lines[0] || lines[3] != "no pin" {
		t.Errorf("the command saw: %q", lines)
	}
	e.c.fails(ExitUsage, []string{"after --"}, "exec", "--authority", e.srv.Authority(), "--client-id", e.clientID, "true")
}

// TestLoginEntra signs the stand-in's automatic user in through a "browser" that follows the
// redirects (curl), the card authenticating the app when the code is redeemed.
func TestLoginEntra(t *testing.T) {
	e := startEntraBench(t)
	browser := writeFile(t, e.c.dir, "browser", "#!/bin/sh\nexec curl -sS --cacert "+e.ca+" -L -o /dev/null \"$1\"\n", 0o755)
	var tj tokenJSON
	decodeJSON(t, e.c.with("BROWSER="+browser).ok(append([]string{"login"}, e.args("--scope", "https://graph.microsoft.com/User.Read", "--output", "json")...)...), &tj)
	claims := jwtClaims(t, tj.AccessToken)
	if tj.Account == "" || !strings.Contains(toJSON(claims), e.srv.User().UPN) || !strings.Contains(toJSON(claims["scp"]), "User.Read") {
		t.Errorf("login: %+v claims %v", tj, claims)
	}
	e.c.fails(ExitUsage, []string{"--device works with --issuer"}, append([]string{"login", "--device"}, e.args("--scope", "x")...)...)
}
