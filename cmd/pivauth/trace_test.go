//go:build linux

package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/piv"
)

// TestTraceAPDUs: --trace-apdus appends the commands' APDUs to a 0600 file that shows the PIN
// verification, the management-key authentication and the import happened, and holds none of
// their secrets: not the PINs, not the management key, not the imported private key, in any form.
// A file that is a symlink or open to others is refused before any APDU (exit 2).
func TestTraceAPDUs(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	b.Destructive()
	c := newCLI(t)
	trace := filepath.Join(c.dir, "apdus.txt")

	// Refused files: nothing reaches the card.
	if err := os.Symlink(filepath.Join(c.dir, "elsewhere"), filepath.Join(c.dir, "link")); err != nil {
		t.Fatal(err)
	}
	open := writeFile(t, c.dir, "open.txt", "", 0o644)
	b.ResetStats()
	c.fails(ExitUsage, []string{"is a symlink"}, "cards", "--reader", b.Reader, "--trace-apdus", filepath.Join(c.dir, "link"))
	c.fails(ExitUsage, []string{"open to group or others", "chmod 600"}, "certs", "--reader", b.Reader, "--trace-apdus", open)
	c.fails(ExitUsage, []string{"open to group or others"}, "assertion", "--reader", b.Reader, "--client-id", "c", "--audience", "https://x/token", "--trace-apdus", open)
	if n := b.Stats().APDUs; n != 0 {
		t.Errorf("%d APDUs sent with a refused trace file", n)
	}
	if _, err := os.Lstat(filepath.Join(c.dir, "elsewhere")); err == nil {
		t.Error("the symlink was followed")
	}

	// An import (management key), a signature (PIN) and a PIN change, all traced to one file.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	bundle := writeFile(t, c.dir, "bundle.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))+
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: issue(t, key.Public(), "traced").Raw})), 0o600)
	mk := writeFile(t, c.dir, "mk.hex", hex.EncodeToString(piv.DefaultManagementKey())+"\n", 0o600)
	c.ok("setup", "import", "--reader", b.Reader, "--management-key-file", mk, "--pin-policy", "once", "--trace-apdus", trace, bundle)
	// The key went in through piv-go, which the trace does not see; a certificate alone goes
	// through the engine, after the management-key authentication.
	c.ok("setup", "import", "--reader", b.Reader, "--management-key-file", mk, "--trace-apdus", trace,
		pemFile(t, c.dir, "renewed.pem", issue(t, key.Public(), "renewed")))
	c.ok("assertion", "--reader", b.Reader, "--client-id", "c", "--audience", "https://x/token",
		"--pin-file", writeFile(t, c.dir, "pin", factoryPIN, 0o600), "--trace-apdus", trace)
	const newPIN = "86427531"
	c.ok("pin", "change", "--reader", b.Reader, "--pin-file", writeFile(t, c.dir, "old", factoryPIN, 0o600),
		"--new-pin-file", writeFile(t, c.dir, "new", newPIN, 0o600), "--trace-apdus", trace)

	fi, err := os.Lstat(trace)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("trace file mode %04o, want 0600", fi.Mode().Perm())
	}
	data, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for what, re := range map[string]string{
		"3 runs":                        `(?m)^# pivauth [a-z]+, pid \d+`,
		"a redacted VERIFY":             `> 0020008008(2A){8}\n`,
		"a redacted CHANGE REFERENCE":   `> 0024008010(2A){16}\n`,
		"management-key authentication": `> 0087..9B`,
		"a signature":                   `> 0087..9A`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("the trace shows no %s (%s):\n%s", what, re, text)
		}
	}
	if n := strings.Count(text, "# pivauth "); n != 4 {
		t.Errorf("%d runs in the trace, want 4 (appended)", n)
	}
	// setup csr signs with the card too: its signature is in its trace.
	csrTrace := filepath.Join(c.dir, "csr-apdus.txt")
	c.ok("setup", "csr", "--reader", b.Reader, "--subject", "CN=traced", "--pin-file", writeFile(t, c.dir, "pin2", newPIN, 0o600), "--trace-apdus", csrTrace)
	csrData, err := os.ReadFile(csrTrace)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`> 0087..9A`).Match(csrData) || strings.Contains(string(csrData), hex.EncodeToString([]byte(newPIN))) {
		t.Errorf("setup csr's trace: no signature, or the PIN in it:\n%s", csrData)
	}
	secrets := map[string][]byte{
		"PIN": []byte(factoryPIN), "new PIN": []byte(newPIN), "management key": piv.DefaultManagementKey(),
		"private key": key.D.FillBytes(make([]byte, 32)), "PKCS#8 key": der,
	}
	for name, s := range secrets {
		for _, form := range []string{strings.ToUpper(hex.EncodeToString(s)), hex.EncodeToString(s), string(s)} {
			if len(form) >= 6 && strings.Contains(text, form) {
				t.Errorf("the trace holds the %s (%q)", name, form)
			}
		}
	}
}
