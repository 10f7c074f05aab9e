//go:build linux

package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/piv"
)

// benchRootsFile writes the bench attestation CA, the root of the virtual YubiKey's attestation,
// to a PEM file for --attestation-roots.
func benchRootsFile(t *testing.T, b *benchtest.Bench, dir string) string {
	t.Helper()
	if b.CA == nil {
		t.Skip("no bench CA (real card)")
	}
	return writeFile(t, dir, "bench-ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.CA.Cert.Raw})), 0o644)
}

// issue makes a certificate for pub signed by a throwaway CA (as an internal CA would for a CSR).
func issue(t *testing.T, pub any, cn string) *x509.Certificate {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert
}

func pemFile(t *testing.T, dir, name string, cert *x509.Certificate) string {
	return writeFile(t, dir, name, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})), 0o644)
}

// TestSetupKeyAndImport generates an attested key, imports the certificate a CA issued for it,
// refuses a certificate for another key, and imports a PFX (key and certificate) into another slot.
func TestSetupKeyAndImport(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	b.Destructive()
	c := newCLI(t)
	roots := benchRootsFile(t, b, c.dir)
	var cards cardsJSON
	decodeJSON(t, c.ok("cards", "--reader", b.Reader, "--output", "json"), &cards)
	serial := cards.Readers[0].Card.Serial

	r := c.ok("setup", "key", "--reader", b.Reader, "--attestation-roots", roots, "--output", "json")
	var k setupKeyJSON
	decodeJSON(t, r, &k)
	if !strings.Contains(r.stderr, "factory-default management key") {
		t.Errorf("no warning about the default management key:\n%s", r.stderr)
	}
	at := k.Attestation
	if k.Slot != "9a" || k.Algorithm != "RSA-2048" || at == nil || at.Roots != roots || at.Serial != serial || at.PINPolicy != "once" || at.TouchPolicy != "never" ||
		len(at.Certificate.SHA1) != 40 || len(at.Certificate.SHA256) != 64 || len(k.PublicKeySHA256) != 64 {
		t.Fatalf("setup key: %+v attestation %+v", k, at)
	}
	block, _ := pem.Decode([]byte(k.PublicKeyPEM))
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := pub.(*rsa.PublicKey); !ok {
		t.Fatalf("public key %T", pub)
	}

	// A certificate issued for the card's key goes into the slot; its thumbprints are the ones
	// `certs` shows afterwards.
	issued := issue(t, pub, "build-bot")
	wantSHA1, wantSHA256 := thumbprints(issued.Raw)
	var imp importJSON
	mk := writeFile(t, c.dir, "mk.hex", hex.EncodeToString(piv.DefaultManagementKey())+"\n", 0o600)
	r = c.ok("setup", "import", "--reader", b.Reader, "--management-key-file", mk, "--output", "json", pemFile(t, c.dir, "issued.pem", issued))
	decodeJSON(t, r, &imp)
	if imp.KeyImported || imp.SHA1 != wantSHA1 || imp.SHA256 != wantSHA256 || strings.Contains(r.stderr, "factory-default") {
		t.Errorf("setup import: %+v\nstderr: %s", imp, r.stderr)
	}
	var shown certJSON
	decodeJSON(t, c.ok("certs", "--reader", b.Reader, "--output", "json"), &shown)
	if shown.SHA1 != wantSHA1 {
		t.Errorf("certs after import: SHA-1 %s, want %s", shown.SHA1, wantSHA1)
	}

	// A certificate for another key is refused before anything is written.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	c.fails(ExitError, []string{"not for the key in slot 9a", "nothing was written"}, "setup", "import", "--reader", b.Reader, pemFile(t, c.dir, "other.pem", issue(t, other.Public(), "other")))
	c.fails(ExitError, []string{"slot 9d", "holds no key"}, "setup", "import", "--reader", b.Reader, "--slot", "9d", pemFile(t, c.dir, "other2.pem", issue(t, other.Public(), "other")))

	// A PFX (key and certificate) goes into slot 9c, with its password from a file.
	pfxCert := issue(t, other.Public(), "pfx-app")
	pfx, err := pkcs12.Modern.Encode(other, pfxCert, nil, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	pfxPath := filepath.Join(c.dir, "app.pfx")
	if err := os.WriteFile(pfxPath, pfx, 0o600); err != nil {
		t.Fatal(err)
	}
	c.fails(ExitUsage, []string{"no terminal", "--password-file"}, "setup", "import", "--reader", b.Reader, "--slot", "9c", pfxPath)
	c.fails(ExitUsage, []string{"wrong password"}, "setup", "import", "--reader", b.Reader, "--slot", "9c", "--password-file", writeFile(t, c.dir, "bad.pass", "nope\n", 0o600), pfxPath)
	decodeJSON(t, c.ok("setup", "import", "--reader", b.Reader, "--slot", "9c", "--password-file", writeFile(t, c.dir, "pfx.pass", "s3cret\n", 0o600), "--output", "json", pfxPath), &imp)
	wantSHA1, _ = thumbprints(pfxCert.Raw)
	if !imp.KeyImported || imp.Slot != "9c" || imp.SHA1 != wantSHA1 {
		t.Errorf("PFX import: %+v", imp)
	}
	text := c.ok("certs", "--reader", b.Reader, "--slot", "9c").stdout
	if !strings.Contains(text, wantSHA1) {
		t.Errorf("certs --slot 9c after the PFX import:\n%s", text)
	}

	// Usage errors and an unsafe key file.
	c.fails(ExitUsage, []string{"--algorithm \"rsa512\""}, "setup", "key", "--reader", b.Reader, "--algorithm", "rsa512")
	c.fails(ExitUsage, []string{"--touch-policy \"sometimes\""}, "setup", "key", "--reader", b.Reader, "--touch-policy", "sometimes")
	c.fails(ExitPIN, []string{"open to group or others"}, "setup", "key", "--reader", b.Reader, "--force", "--management-key-file", writeFile(t, c.dir, "open.hex", "00", 0o644))
}

// TestSetupOnPIVCard: a government-style card gets its keys from its issuer.
func TestSetupOnPIVCard(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	c := newCLI(t)
	c.fails(ExitError, []string{"is not a YubiKey"}, "setup", "key", "--reader", b.Reader)
	// Its management key is the issuer's: the factory key is refused (exit 4) and the slot
	// keeps the issuer's certificate.
	var before certJSON
	decodeJSON(t, c.ok("certs", "--reader", b.Reader, "--output", "json"), &before)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mk := writeFile(t, c.dir, "mk.hex", hex.EncodeToString(piv.DefaultManagementKey())+"\n", 0o600)
	c.fails(ExitPIN, []string{"management key incorrect", "no 3DES or AES-192 management key", "issuer"},
		"setup", "import", "--reader", b.Reader, "--management-key-file", mk, pemFile(t, c.dir, "cert.pem", issue(t, key.Public(), "x")))
	var after certJSON
	decodeJSON(t, c.ok("certs", "--reader", b.Reader, "--output", "json"), &after)
	if after.SHA256 != before.SHA256 {
		t.Errorf("the refused import changed slot 9a: %s, was %s", after.SHA256, before.SHA256)
	}
}
