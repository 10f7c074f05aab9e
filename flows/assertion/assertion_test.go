package assertion_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"

	"github.com/pivauth/pivauth/flows/assertion"
	"github.com/pivauth/pivauth/flows/assertion/assertiontest"
)

const (
	aud      = "https://login.example.test/tenant/oauth2/v2.0/token"
	clientID = "11111111-2222-3333-4444-555555555555"
)

var allAlgs = []jose.SignatureAlgorithm{jose.PS256, jose.RS256, jose.ES256, jose.ES384, jose.EdDSA}

// parse splits a compact assertion, verifies it with pub and returns its header and claims.
func parse(t *testing.T, token string, pub crypto.PublicKey) (jose.Header, map[string]any, assertion.Claims) {
	t.Helper()
	obj, err := jose.ParseSigned(token, allAlgs)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	payload, err := obj.Verify(pub)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	var c assertion.Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	var hdr map[string]any
	if err := json.Unmarshal(raw, &hdr); err != nil {
		t.Fatal(err)
	}
	return obj.Signatures[0].Protected, hdr, c
}

func TestNewSignsEveryAlgorithm(t *testing.T) {
	cases := []struct{ kind, alg, want string }{
		{assertiontest.RSA2048, "", assertion.PS256},
		{assertiontest.RSA2048, assertion.RS256, assertion.RS256},
		{assertiontest.P256, "", assertion.ES256},
		{assertiontest.P384, "", assertion.ES384},
		{assertiontest.Ed25519, "", assertion.EdDSA},
	}
	for _, tc := range cases {
		t.Run(tc.kind+"/"+tc.want, func(t *testing.T) {
			key, cert := assertiontest.Key(t, tc.kind)
			cs := &assertiontest.CountingSigner{Signer: key}
			tok, err := assertion.New(cs, cert, assertion.Options{Audience: aud, ClientID: clientID, Algorithm: tc.alg})
			if err != nil {
				t.Fatal(err)
			}
			if cs.Count() != 1 {
				t.Errorf("Sign calls = %d, want 1", cs.Count())
			}
			h, raw, _ := parse(t, tok, cert.PublicKey)
			if h.Algorithm != tc.want {
				t.Errorf("alg = %q, want %q", h.Algorithm, tc.want)
			}
			if raw["typ"] != "JWT" {
				t.Errorf("typ = %v", raw["typ"])
			}
			if raw["x5t#S256"] != assertion.X5TS256(cert) {
				t.Errorf("x5t#S256 = %v, want %s", raw["x5t#S256"], assertion.X5TS256(cert))
			}
			for _, absent := range []string{"x5t", "x5c", "jwk", "kid"} {
				if _, ok := raw[absent]; ok {
					t.Errorf("header has %q unasked", absent)
				}
			}
		})
	}
}

// TestPS256SaltLength checks the RFC 7518 salt length (= hash size) with a verifier that does not
// auto-detect it, as .NET's does not.
func TestPS256SaltLength(t *testing.T) {
	key, cert := assertiontest.Key(t, assertiontest.RSA2048)
	tok, err := assertion.New(key, cert, assertion.Options{Audience: aud, ClientID: clientID})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPSS(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: 32}); err != nil {
		t.Fatalf("PSS with salt length 32: %v", err)
	}
}

func TestClaims(t *testing.T) {
	key, cert := assertiontest.Key(t, assertiontest.P256)
	now := time.Unix(1_800_000_000, 0)
	opts := assertion.Options{Audience: aud, ClientID: clientID, Now: func() time.Time { return now }}
	tok1, err := assertion.New(key, cert, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Lifetime = assertion.MaxLifetime
	tok2, err := assertion.New(key, cert, opts)
	if err != nil {
		t.Fatal(err)
	}
	_, _, c1 := parse(t, tok1, cert.PublicKey)
	_, _, c2 := parse(t, tok2, cert.PublicKey)
	if c1.Audience != aud || c1.Issuer != clientID || c1.Subject != clientID {
		t.Errorf("aud/iss/sub = %q/%q/%q", c1.Audience, c1.Issuer, c1.Subject)
	}
	if c1.NotBefore != now.Unix() || c1.IssuedAt != now.Unix() {
		t.Errorf("nbf/iat = %d/%d, want %d", c1.NotBefore, c1.IssuedAt, now.Unix())
	}
	if c1.Expiry != now.Add(assertion.DefaultLifetime).Unix() || c2.Expiry != now.Add(10*time.Minute).Unix() {
		t.Errorf("exp = %d, %d", c1.Expiry, c2.Expiry)
	}
	if _, err := uuid.Parse(c1.ID); err != nil || c1.ID == c2.ID {
		t.Errorf("jti %q, %q: want distinct UUIDs (%v)", c1.ID, c2.ID, err)
	}
}

func TestX5TAndX5C(t *testing.T) {
	key, cert := assertiontest.Key(t, assertiontest.RSA2048)
	_, ca := assertiontest.Key(t, assertiontest.P256)
	tok, err := assertion.New(key, cert, assertion.Options{Audience: aud, ClientID: clientID, X5T: true, X5C: true, Chain: []*x509.Certificate{ca}})
	if err != nil {
		t.Fatal(err)
	}
	_, raw, _ := parse(t, tok, cert.PublicKey)
	if raw["x5t"] != assertion.X5T(cert) {
		t.Errorf("x5t = %v, want %s", raw["x5t"], assertion.X5T(cert))
	}
	x5c, _ := raw["x5c"].([]any)
	want := []string{base64.StdEncoding.EncodeToString(cert.Raw), base64.StdEncoding.EncodeToString(ca.Raw)}
	if len(x5c) != 2 || x5c[0] != want[0] || x5c[1] != want[1] {
		t.Errorf("x5c = %d certificates, want leaf then chain (standard base64 DER)", len(x5c))
	}
}

func TestThumbprints(t *testing.T) {
	data, err := os.ReadFile("testdata/rsa-cert.pem")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	// openssl x509 -noout -fingerprint -sha1 / -sha256 on testdata/rsa-cert.pem
	const wantSHA1 = "831FCDC0CDE47A01902810E704E037C6A129899C"
	const wantSHA256 = "0F6481F18956C41EFB7EB8592434998A4C4DACC11ED703EFF410D1729AF581F6"
	s1, s256 := assertion.Thumbprints(cert)
	if s1 != wantSHA1 || s256 != wantSHA256 {
		t.Errorf("Thumbprints = %s, %s", s1, s256)
	}
	if got, want := assertion.X5T(cert), hexToB64(t, wantSHA1); got != want {
		t.Errorf("X5T = %s, want %s", got, want)
	}
	if got, want := assertion.X5TS256(cert), hexToB64(t, wantSHA256); got != want {
		t.Errorf("X5TS256 = %s, want %s", got, want)
	}
}

func hexToB64(t *testing.T, h string) string {
	b, ok := new(big.Int).SetString(h, 16)
	if !ok {
		t.Fatal(h)
	}
	return base64.RawURLEncoding.EncodeToString(b.FillBytes(make([]byte, len(h)/2)))
}

func TestRefusesMismatchedCertificate(t *testing.T) {
	key, _ := assertiontest.Key(t, assertiontest.RSA2048)
	_, other := assertiontest.Key(t, assertiontest.RSA2048)
	cs := &assertiontest.CountingSigner{Signer: key}
	_, err := assertion.New(cs, other, assertion.Options{Audience: aud, ClientID: clientID})
	if !errors.Is(err, assertion.ErrKeyMismatch) {
		t.Fatalf("err = %v, want ErrKeyMismatch", err)
	}
	if cs.Count() != 0 {
		t.Errorf("signed %d times despite the mismatch", cs.Count())
	}
	if !strings.Contains(err.Error(), "slot") {
		t.Errorf("error does not say what to do: %v", err)
	}
}

// lyingSigner reports one public key and signs with another, as a card whose slot key was
// regenerated while the old certificate stayed.
type lyingSigner struct {
	pub crypto.PublicKey
	crypto.Signer
}

func (l lyingSigner) Public() crypto.PublicKey { return l.pub }

func TestRefusesSignatureFromAnotherKey(t *testing.T) {
	key, cert := assertiontest.Key(t, assertiontest.P256)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, err := assertion.New(lyingSigner{key.Public(), other}, cert, assertion.Options{Audience: aud, ClientID: clientID})
	if !errors.Is(err, assertion.ErrKeyMismatch) {
		t.Fatalf("err = %v, want ErrKeyMismatch", err)
	}
}

func TestRejectsBadOptions(t *testing.T) {
	key, cert := assertiontest.Key(t, assertiontest.RSA2048)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	p521cert := assertiontest.Certificate(t, p521, assertiontest.CertOptions{})
	cases := map[string]struct {
		s    crypto.Signer
		c    *x509.Certificate
		opts assertion.Options
	}{
		"no audience":   {key, cert, assertion.Options{ClientID: clientID}},
		"no client":     {key, cert, assertion.Options{Audience: aud}},
		"long lifetime": {key, cert, assertion.Options{Audience: aud, ClientID: clientID, Lifetime: 11 * time.Minute}},
		"wrong alg":     {key, cert, assertion.Options{Audience: aud, ClientID: clientID, Algorithm: assertion.ES256}},
		"P-521 key":     {p521, p521cert, assertion.Options{Audience: aud, ClientID: clientID}},
		"no cert":       {key, nil, assertion.Options{Audience: aud, ClientID: clientID}},
	}
	for name, tc := range cases {
		cs := &assertiontest.CountingSigner{Signer: tc.s}
		if _, err := assertion.New(cs, tc.c, tc.opts); err == nil {
			t.Errorf("%s: no error", name)
		}
		if cs.Count() != 0 {
			t.Errorf("%s: signed before refusing", name)
		}
	}
}

func TestChoose(t *testing.T) {
	rsaKey, _ := assertiontest.Key(t, assertiontest.RSA2048)
	ecKey, _ := assertiontest.Key(t, assertiontest.P384)
	cases := []struct {
		pub        crypto.PublicKey
		advertised []string
		want       string
	}{
		{rsaKey.Public(), nil, assertion.PS256},
		{rsaKey.Public(), []string{"RS256", "ES256"}, assertion.RS256},
		{rsaKey.Public(), []string{"ES256", "RS256", "PS256"}, assertion.PS256},
		{ecKey.Public(), []string{"ES256", "ES384"}, assertion.ES384},
		{ecKey.Public(), []string{"RS256"}, ""},
	}
	for _, tc := range cases {
		got, err := assertion.Choose(tc.pub, tc.advertised)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("Choose(%s, %v) = %q, %v; want %q", assertion.KeyType(tc.pub), tc.advertised, got, err, tc.want)
		}
	}
}

// rawSigner returns fixed bytes as its signature, as a misbehaving card might.
type rawSigner struct {
	crypto.Signer
	out []byte
}

func (s rawSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) { return s.out, nil }

func TestRejectsMalformedECDSASignature(t *testing.T) {
	key, cert := assertiontest.Key(t, assertiontest.P256)
	for _, der := range [][]byte{{0x01}, {0x30, 0x03, 0x02, 0x01, 0x01}, {0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01}} {
		_, err := assertion.New(rawSigner{key, der}, cert, assertion.Options{Audience: aud, ClientID: clientID})
		if err == nil || !strings.Contains(err.Error(), "malformed ECDSA") {
			t.Errorf("DER %x: err = %v, want malformed ECDSA signature", der, err)
		}
	}
}
