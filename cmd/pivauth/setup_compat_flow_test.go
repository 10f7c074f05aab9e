//go:build linux

package main

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/entra"
	"github.com/pivauth/pivauth/hw-test/oidc/oidctest"
	"github.com/pivauth/pivauth/hw-test/oidc/tlstest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/piv"
)

// TestFlowYubicoCompatibleApplet runs the main job on a card that answers Yubico's instructions
// without being a YubiKey and lacks the newer algorithms (quirks yubico-compatible and
// few-algorithms, as the independent Java Card applet of issue 14): setup key (its lax-DER
// attestation reported, not required), a CSR and a self-signed certificate signed by the new key,
// certs, an assertion verified with the certificate, tokens from the Entra stand-in and from an
// OpenID provider (private_key_jwt and self_signed_tls_client_auth), and mTLS requests over TLS
// 1.2 and 1.3. Errors on the way name no Go identifier.
func TestFlowYubicoCompatibleApplet(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey, benchtest.WithQuirks(vcard.QuirkYubicoCompatible, vcard.QuirkFewAlgorithms))
	if b.Real() {
		t.Skip("quirks of the virtual card")
	}
	b.Destructive()
	c := newCLI(t)
	pin := writeFile(t, c.dir, "pin", factoryPIN+"\n", 0o600)
	mk := writeFile(t, c.dir, "mk.hex", hex.EncodeToString(piv.DefaultManagementKey())+"\n", 0o600)

	c.fails(ExitError, []string{"this card does not support Ed25519 keys", "6A80"}, "setup", "key", "--reader", b.Reader, "--algorithm", "ed25519", "--management-key-file", mk)
	// The applet has no touch: refused, nothing generated.
	c.fails(ExitError, []string{"does not support PIN policy once with touch policy always", "6A81", "nothing on the card was changed"},
		"setup", "key", "--reader", b.Reader, "--touch-policy", "always", "--management-key-file", mk)
	if slotKey(t, b, piv.SlotAuthentication) != nil {
		t.Fatal("slot 9a holds a key after the refused generation")
	}
	r := c.ok("setup", "key", "--reader", b.Reader, "--algorithm", "rsa2048", "--management-key-file", mk)
	if !strings.Contains(r.stdout, "Generated a RSA-2048 key in slot 9a of PIV card with Yubico extensions") ||
		!strings.Contains(r.stdout, "Attestation NOT verified") || !strings.Contains(r.stderr, "not a YubiKey by its answer to reset") {
		t.Errorf("setup key:\n%s\n%s", r.stdout, r.stderr)
	}
	key := slotKey(t, b, piv.SlotAuthentication)
	// The applet answers GET METADATA of an empty slot without an algorithm (no 6A88).
	c.fails(ExitError, []string{"slot 9d", "holds no key", "pivauth setup key --slot 9d"}, "setup", "csr", "--reader", b.Reader, "--pin-file", pin,
		"--slot", "9d", "--subject", "CN=x")
	var st pinStatusJSON
	decodeJSON(t, c.ok("pin", "status", "--reader", b.Reader, "--output", "json"), &st)
	if st.PIN.RetriesLeft != 3 || st.PUK == nil || st.PUK.RetriesLeft != 3 || st.ManagementKey == nil || !st.ManagementKey.Default || st.ManagementKey.Algorithm != "3DES" {
		t.Errorf("pin status: %+v", st)
	}

	// Before there is a certificate: the message says what to do, in the CLI's words.
	r = c.fails(ExitError, []string{"holds no certificate", "pivauth setup selfsign"}, "assertion", "--reader", b.Reader, "--pin-file", pin,
		"--client-id", "x", "--audience", "https://idp.example/token")
	if strings.Contains(r.stderr, "Options.") {
		t.Errorf("an API name in a CLI error:\n%s", r.stderr)
	}

	block, _ := pem.Decode([]byte(c.ok("setup", "csr", "--reader", b.Reader, "--pin-file", pin, "--subject", "CN=compat-app").stdout))
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || csr.CheckSignature() != nil || !publicKeysEqual(csr.PublicKey, key) {
		t.Fatalf("CSR: %v, key matches %v", err, err == nil && publicKeysEqual(csr.PublicKey, key))
	}
	cer := filepath.Join(c.dir, "compat.cer")
	c.ok("setup", "selfsign", "--reader", b.Reader, "--pin-file", pin, "--management-key-file", mk, "--subject", "CN=compat-app", "--days", "30", "--cer", cer)
	der, err := os.ReadFile(cer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil || !publicKeysEqual(cert.PublicKey, key) {
		t.Fatalf("self-signed certificate: %v", err)
	}
	var shown certJSON
	decodeJSON(t, c.ok("certs", "--reader", b.Reader, "--output", "json"), &shown)
	if sha1, _ := thumbprints(der); shown.SHA1 != sha1 {
		t.Errorf("certs shows %s, the certificate is %s", shown.SHA1, sha1)
	}

	// An assertion, verified with the certificate.
	jwt := strings.TrimSpace(c.ok("assertion", "--reader", b.Reader, "--pin-file", pin, "--client-id", "x", "--audience", "https://idp.example/token").stdout)
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("assertion %q", jwt)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if err := rsa.VerifyPSS(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig, nil); err != nil {
		t.Errorf("assertion signature: %v", err)
	}

	// Entra stand-in.
	srv, err := entra.Start(entra.Options{Apps: []entra.App{{
		ClientID: "compat-app", Certificates: []entra.Credential{{Cert: cert}},
		Roles: map[string][]string{"https://graph.microsoft.com": {"User.Read.All"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	entraCA := writeFile(t, c.dir, "entra-ca.pem", string(srv.CAPEM()), 0o644)
	tok := c.ok("token", "--reader", b.Reader, "--pin-file", pin, "--authority", srv.Authority(), "--client-id", "compat-app",
		"--ca-file", entraCA, "--scope", graphDefault, "--no-cache").stdout
	if jwtClaims(t, strings.TrimSpace(tok))["appid"] != "compat-app" {
		t.Errorf("Entra token: %s", tok)
	}

	// An OpenID provider.
	p := oidctest.Start(t, oidctest.Config{
		Clients:   []oidctest.Client{oidctest.PrivateKeyJWT("pkjwt", cert), oidctest.SelfSignedTLSClientAuth("self", cert)},
		Resources: map[string]string{apiIndicator: "api:read"},
	})
	oidcCA := writeFile(t, c.dir, "oidc-ca.pem", string(tlstest.PEM(p.CA.Cert)), 0o644)
	for _, auth := range []string{"private_key_jwt", "self_signed_tls_client_auth"} {
		client := map[string]string{"private_key_jwt": "pkjwt", "self_signed_tls_client_auth": "self"}[auth]
		raw := c.ok("token", "--reader", b.Reader, "--pin-file", pin, "--issuer", p.Issuer, "--client-id", client, "--ca-file", oidcCA,
			"--client-auth", auth, "--resource", apiIndicator, "--scope", "api:read", "--no-cache").stdout
		if jwtClaims(t, strings.TrimSpace(raw))["client_id"] != client {
			t.Errorf("%s token: %s", auth, raw)
		}
	}

	// mTLS, TLS 1.2 and 1.3 (the card's RSA key signs PKCS #1 v1.5 or PSS as each asks).
	for _, proto := range []string{"TLSv1.2", "TLSv1.3"} {
		ngx := tlstest.StartNginx(t, tlstest.NginxOptions{ClientCAs: []*x509.Certificate{cert}, Protocols: []string{proto}})
		ca := writeFile(t, c.dir, "nginx-"+proto+".pem", string(tlstest.PEM(ngx.CA.Cert)), 0o644)
		answer := c.ok("request", "--reader", b.Reader, "--pin-file", pin, "--ca-file", ca, "-i", ngx.URL+"/v1/status").stdout
		if !strings.Contains(answer, "verify=SUCCESS") || !strings.Contains(answer, "subject=CN=compat-app") {
			t.Errorf("%s: nginx answered:\n%s", proto, answer)
		}
	}
}
