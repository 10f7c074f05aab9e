//go:build linux

package main

import (
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/cmd/pivauth/internal/audit"
	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/internal/certinfo"
	"github.com/pivauth/pivauth/internal/testio"
	"github.com/pivauth/pivauth/piv"
)

// TestSetupCSRAndSelfsign: after `setup key`, a CSR and a self-signed certificate are signed by
// the card's new key (checked with Go's crypto and OpenSSL), the CSR writes nothing to the card
// (no management key), the certificate is stored and exported, and renewing keeps the key.
func TestSetupCSRAndSelfsign(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	b.Destructive()
	c := newCLI(t)
	pin := writeFile(t, c.dir, "pin", factoryPIN+"\n", 0o600)
	mk := writeFile(t, c.dir, "mk.hex", hex.EncodeToString(piv.DefaultManagementKey())+"\n", 0o600)
	var k setupKeyJSON
	pubPath := filepath.Join(c.dir, "pub.pem")
	decodeJSON(t, c.ok("setup", "key", "--reader", b.Reader, "--attestation-roots", benchRootsFile(t, b, c.dir), "--management-key-file", mk, "--output", "json", "-o", pubPath), &k)
	if written, err := os.ReadFile(pubPath); err != nil || string(written) != k.PublicKeyPEM {
		t.Errorf("setup key -o wrote %q (%v), want the public key %q", written, err, k.PublicKeyPEM)
	}
	block, _ := pem.Decode([]byte(k.PublicKeyPEM))
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}

	// The CSR, with a UPN, for the key without a certificate: signed with nothing written to the card.
	b.ResetStats()
	r := c.ok("setup", "csr", "--reader", b.Reader, "--pin-file", pin, "--subject", "CN=build-bot,O=Contoso", "--upn", "bot@contoso.test")
	if st := b.Stats(); st.Instructions["DB"] != 0 || st.Signatures != 1 {
		t.Errorf("setup csr: %d PUT DATA, %d signatures; want none and one", st.Instructions["DB"], st.Signatures)
	}
	block, _ = pem.Decode([]byte(r.stdout))
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		t.Fatalf("setup csr printed:\n%s", r.stdout)
	}
	// -o, and --out, its hidden old name, write the request instead (the same key, the same subject).
	for _, flag := range []string{"-o", "--out"} {
		csrPath := filepath.Join(c.dir, "req"+flag+".csr")
		if r := c.ok("setup", "csr", "--reader", b.Reader, "--pin-file", pin, "--subject", "CN=build-bot,O=Contoso", flag, csrPath); r.stdout != "" {
			t.Errorf("setup csr %s printed %q", flag, r.stdout)
		}
		if written, err := os.ReadFile(csrPath); err != nil || !strings.Contains(string(written), "BEGIN CERTIFICATE REQUEST") {
			t.Errorf("setup csr %s wrote %q (%v)", flag, written, err)
		}
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := csr.CheckSignature(); err != nil || !publicKeysEqual(csr.PublicKey, pub) || csr.Subject.String() != "CN=build-bot,O=Contoso" {
		t.Errorf("CSR: signature %v, subject %q, same key %v", err, csr.Subject, publicKeysEqual(csr.PublicKey, pub))
	}
	// certinfo reads UPNs from certificates; the CSR's extension is the same bytes.
	upns, err := certinfo.UPNs(&x509.Certificate{Extensions: csr.Extensions})
	if err != nil || len(upns) != 1 || upns[0] != "bot@contoso.test" {
		t.Errorf("CSR UPNs: %q %v", upns, err)
	}
	c.fails(ExitError, []string{"holds no certificate"}, "certs", "--reader", b.Reader)

	// The self-signed certificate.
	cer, pemPath := filepath.Join(c.dir, "app.cer"), filepath.Join(c.dir, "app.pem")
	var v certJSON
	decodeJSON(t, c.ok("setup", "selfsign", "--reader", b.Reader, "--pin-file", pin, "--management-key-file", mk,
		"--subject", "CN=exo-automation", "--days", "30", "-o", cer, "--pem", pemPath, "--output", "json"), &v)
	der, err := os.ReadFile(cer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	wantSHA1, wantSHA256 := thumbprints(der)
	if v.SHA1 != wantSHA1 || v.SHA256 != wantSHA256 || !v.SelfSigned || v.Subject != "CN=exo-automation" || v.KeyType != "RSA-2048" {
		t.Errorf("selfsign output %+v, want SHA-1 %s", v, wantSHA1)
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil || !publicKeysEqual(cert.PublicKey, pub) {
		t.Errorf("self-signed certificate: signature %v, same key %v", err, publicKeysEqual(cert.PublicKey, pub))
	}
	if d := time.Until(cert.NotAfter); d < 29*24*time.Hour || d > 31*24*time.Hour {
		t.Errorf("valid for %v, want 30 days", d)
	}
	if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("extended key usage %v", cert.ExtKeyUsage)
	}
	// OpenSSL agrees on the thumbprint and the signature.
	out, err := testio.Output(exec.Command("openssl", "x509", "-in", pemPath, "-noout", "-fingerprint", "-sha1"), toolTimeout)
	if err != nil {
		t.Fatal(err)
	}
	_, fp, _ := strings.Cut(strings.TrimSpace(string(out)), "=") // "sha1 Fingerprint=AB:CD:…"
	if got := strings.ReplaceAll(fp, ":", ""); got != wantSHA1 {
		t.Errorf("openssl SHA-1 %s, pivauth %s", got, wantSHA1)
	}
	if out, err := testio.CombinedOutput(exec.Command("openssl", "verify", "-CAfile", pemPath, pemPath), toolTimeout); err != nil {
		t.Errorf("openssl verify: %v\n%s", err, out)
	}
	var shown certJSON
	decodeJSON(t, c.ok("certs", "--reader", b.Reader, "--output", "json"), &shown)
	if shown.SHA1 != wantSHA1 {
		t.Errorf("certs shows %s after selfsign, want %s", shown.SHA1, wantSHA1)
	}

	// Renewal: same key, new certificate.
	text := c.ok("setup", "selfsign", "--reader", b.Reader, "--pin-file", pin, "--management-key-file", mk, "--subject", "CN=exo-automation 2").stdout
	decodeJSON(t, c.ok("certs", "--reader", b.Reader, "--output", "json"), &shown)
	if shown.SHA1 == wantSHA1 || shown.Subject != "CN=exo-automation 2" || !strings.Contains(text, shown.SHA1) || !strings.Contains(text, shown.SHA256) {
		t.Errorf("renewal: %+v\n%s", shown, text)
	}

	// Without a PIN source the card cannot sign: exit 4 at once, and the slot keeps its certificate.
	c.fails(ExitPIN, []string{"no PIN available"}, "setup", "selfsign", "--reader", b.Reader, "--management-key-file", mk, "--subject", "CN=x")
	decodeJSON(t, c.ok("certs", "--reader", b.Reader, "--output", "json"), &v)
	if v.SHA1 != shown.SHA1 {
		t.Errorf("a failed selfsign changed the slot: %s, was %s", v.SHA1, shown.SHA1)
	}
	c.fails(ExitUsage, []string{"--subject is required"}, "setup", "selfsign", "--reader", b.Reader)
	c.fails(ExitUsage, []string{"unknown attribute"}, "setup", "csr", "--reader", b.Reader, "--subject", "XX=1")

	// Every signature is in the audit log as made for setup: the three CSRs' and the first
	// certificate's by the key without a certificate, the renewal's by the key with the one it
	// replaced, and the one the missing PIN stopped.
	want := []struct{ result, cert string }{{audit.ResultOK, ""}, {audit.ResultOK, ""}, {audit.ResultOK, ""}, {audit.ResultOK, ""},
		{audit.ResultOK, wantSHA256}, {audit.ResultNoPIN, shown.SHA256}}
	evs := auditEvents(t, c)
	if len(evs) != len(want) {
		t.Fatalf("%d audit events, want %d: %+v", len(evs), len(want), evs)
	}
	for i, w := range want {
		if ev := evs[i]; ev.Operation != audit.OpSign || ev.Purpose.Command != "setup" || ev.Result != w.result || ev.CertSHA256 != w.cert ||
			ev.Slot != "9a" || ev.Reader != b.Reader || !strings.HasPrefix(ev.Card, "serial:") {
			t.Errorf("audit event %d: %+v; want a signature for setup (%s) by the key with certificate %q", i, ev, w.result, w.cert)
		}
	}
}

// TestSetupSelfsignFreshSlotFailsCleanly: a signature that fails on a slot without a certificate
// leaves the card as it was: nothing is written before the certificate is made.
func TestSetupSelfsignFreshSlotFailsCleanly(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	b.Destructive()
	c := newCLI(t)
	c.ok("setup", "key", "--reader", b.Reader, "--slot", "9c", "--algorithm", "eccp256", "--attestation-roots", benchRootsFile(t, b, c.dir))
	b.ResetStats()
	c.fails(ExitPIN, []string{"no PIN available"}, "setup", "selfsign", "--reader", b.Reader, "--slot", "9c", "--subject", "CN=x")
	if st := b.Stats(); st.Instructions["DB"] != 0 || st.Signatures != 0 {
		t.Errorf("failed selfsign: %d PUT DATA, %d signatures; want none", st.Instructions["DB"], st.Signatures)
	}
	c.fails(ExitError, []string{"holds no certificate"}, "certs", "--reader", b.Reader, "--slot", "9c")
}

// TestSetupCSRPIVCard: a card that does not report public keys signs a request with the key
// --public-key names, and without it a slot lacking a certificate says to give it.
func TestSetupCSRPIVCard(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	c := newCLI(t)
	c.fails(ExitError, []string{"slot 82", "has no certificate", "--public-key FILE"}, "setup", "csr", "--reader", b.Reader, "--slot", "82", "--subject", "CN=x")

	block, _ := pem.Decode([]byte(c.ok("certs", "--reader", b.Reader, "--output", "pem").stdout))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(cert.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubFile := writeFile(t, c.dir, "9a.pub", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})), 0o644)
	pin := writeFile(t, c.dir, "pin", factoryPIN+"\n", 0o600)
	r := c.ok("setup", "csr", "--reader", b.Reader, "--pin-file", pin, "--public-key", pubFile, "--subject", "CN=bench user")
	block, _ = pem.Decode([]byte(r.stdout))
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := csr.CheckSignature(); err != nil || !publicKeysEqual(csr.PublicKey, cert.PublicKey) {
		t.Errorf("CSR: signature %v, same key %v", err, publicKeysEqual(csr.PublicKey, cert.PublicKey))
	}
}

// publicKeysEqual compares two public keys of any type.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}
