//go:build linux

package main

import (
	"encoding/hex"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	pivgo "github.com/go-piv/piv-go/v2/piv"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/piv"
)

// TestCardAdminYubiKey walks the card management an admin does on a YubiKey: setup key refuses an
// occupied slot (exit 2, nothing changed) and says what --force destroys; setup management-key
// stores a random AES-192 key under the PIN that piv-go reads back in ykman's format, after which
// setup needs only the PIN; --print hands the key out once instead; setup delete removes key and
// certificate; reset needs --yes without a terminal. After every command no other program finds
// the card PIN-verified or management-authenticated.
func TestCardAdminYubiKey(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	if b.Real() {
		t.Skip("resets the card")
	}
	b.Destructive()
	c := newCLI(t)
	file := func(name, content string) string { return writeFile(t, c.dir, name, content+"\n", 0o600) }
	pin := file("pin", factoryPIN)
	roots := benchRootsFile(t, b, c.dir)
	reader := []string{"--reader", b.Reader}
	args := func(a ...string) []string { return append(a, reader...) }

	// Usage errors: nothing reaches the card.
	b.ResetStats()
	c.fails(ExitUsage, []string{"give the slot to delete with --slot"}, args("setup", "delete")...)
	c.fails(ExitUsage, []string{"standard input is not a terminal", "--yes"}, args("reset")...)
	if n := b.Stats().APDUs; n != 0 {
		t.Errorf("usage errors sent %d APDUs", n)
	}

	// setup key: a free slot, then refused while occupied, then --force.
	c.ok(args("setup", "key", "--attestation-roots", roots)...)
	b.CheckNotLeftOpen(t, "setup key")
	c.ok(args("setup", "selfsign", "--pin-file", pin, "--subject", "CN=admin-test")...)
	var cert certJSON
	decodeJSON(t, c.ok(args("certs", "--slot", "9a", "--output", "json")...), &cert)
	before := slotKey(t, b, piv.SlotAuthentication)
	b.ResetStats()
	c.fails(ExitUsage, []string{"slot 9a", "RSA-2048 key", `"CN=admin-test"`, "SHA-1 " + cert.SHA1, "SHA-256 " + cert.SHA256, "--force"},
		args("setup", "key", "--attestation-roots", roots)...)
	if st := b.Stats(); st.Instructions["47"] != 0 || st.Instructions["87"] != 0 || !publicKeysEqual(before, slotKey(t, b, piv.SlotAuthentication)) {
		t.Errorf("a refused setup key changed the slot or authenticated: %v", st.Instructions)
	}
	r := c.ok(args("setup", "key", "--attestation-roots", roots, "--force")...)
	if !strings.Contains(r.stderr, "Replacing the key of slot 9a") || !strings.Contains(r.stderr, cert.SHA256) {
		t.Errorf("setup key --force does not say what it destroys:\n%s", r.stderr)
	}
	if publicKeysEqual(before, slotKey(t, b, piv.SlotAuthentication)) {
		t.Error("setup key --force kept the old key")
	}

	// setup management-key: stored under the PIN, never printed.
	r = c.ok(args("setup", "management-key", "--pin-file", pin)...)
	b.CheckNotLeftOpen(t, "setup management-key")
	if r.stdout != "" || !strings.Contains(r.stderr, "AES-192") || !strings.Contains(r.stderr, "under the PIN") {
		t.Errorf("setup management-key: stdout %q stderr:\n%s", r.stdout, r.stderr)
	}
	if st := c.pinStatus(b.Reader); st.ManagementKey == nil || st.ManagementKey.Default || st.ManagementKey.Algorithm != "AES-192" {
		t.Errorf("after setup management-key: %+v", st.ManagementKey)
	}
	stored := pivgoProtectedKey(t, b)
	if len(stored) != 24 || hex.EncodeToString(stored) == hex.EncodeToString(piv.DefaultManagementKey()) {
		t.Fatalf("piv-go reads a management key of %d bytes from PRINTED", len(stored))
	}
	b.Card.Reset() // piv-go leaves the card PIN-verified; end that before the next outsider check
	yubicoPIVToolReadsProtectedKey(t, b, stored)

	// Later setup commands need only the PIN: no key file, no terminal.
	b.ResetStats()
	c.ok(args("setup", "key", "--slot", "9c", "--algorithm", "eccp256", "--attestation-roots", roots, "--pin-file", pin)...)
	if st := b.Stats(); st.Instructions["47"] != 1 || st.PINVerifies != 1 {
		t.Errorf("setup key with the protected key: %d GENERATE, %d PIN verifies, want 1 and 1", st.Instructions["47"], st.PINVerifies)
	}
	b.CheckNotLeftOpen(t, "setup key with the PIN-protected management key")
	// The key piv-go read is the card's: it authenticates (our engine, from a file).
	mk := file("stored.hex", hex.EncodeToString(stored))
	c.ok(args("setup", "import", "--slot", "9c", "--management-key-file", mk, pemFile(t, c.dir, "9c.pem", issue(t, slotKey(t, b, piv.SlotSignature), "nine-c")))...)
	b.CheckNotLeftOpen(t, "setup import with the key piv-go read")

	// setup delete: key (firmware 5.7) and certificate, with what was deleted.
	r = c.ok(args("setup", "delete", "--slot", "9c", "--pin-file", pin)...)
	b.CheckNotLeftOpen(t, "setup delete")
	if !strings.Contains(r.stderr, "ECC P-256 key") || !strings.Contains(r.stderr, `"CN=nine-c"`) {
		t.Errorf("setup delete does not say what it deleted:\n%s", r.stderr)
	}
	if slotKey(t, b, piv.SlotSignature) != nil {
		t.Error("setup delete left the key in slot 9c")
	}
	if r := c.run(args("certs", "--slot", "9c")...); r.code == ExitOK {
		t.Errorf("setup delete left the certificate of slot 9c:\n%s", r.stdout)
	}

	// --print: shown once on stdout, no longer stored (so the PIN alone no longer does).
	r = c.ok(args("setup", "management-key", "--print", "--pin-file", pin)...)
	b.CheckNotLeftOpen(t, "setup management-key --print")
	printed := strings.TrimSpace(r.stdout)
	if !regexp.MustCompile(`^[0-9A-F]{48}$`).MatchString(printed) || strings.Contains(r.stderr, printed) {
		t.Fatalf("setup management-key --print: stdout %q stderr:\n%s", r.stdout, r.stderr)
	}
	c.fails(ExitPIN, []string{"--management-key-file"}, args("setup", "delete", "--slot", "9a", "--pin-file", pin)...)
	c.ok(args("setup", "delete", "--slot", "9a", "--management-key-file", file("printed.hex", printed))...)
	b.CheckNotLeftOpen(t, "setup delete with the printed key")
	if slotKey(t, b, piv.SlotAuthentication) != nil {
		t.Error("setup delete left the key in slot 9a")
	}

	// reset --yes: PIN and PUK blocked on purpose, then the factory state.
	c.ok(args("reset", "--yes")...)
	b.CheckNotLeftOpen(t, "reset")
	st := c.pinStatus(b.Reader)
	if st.ManagementKey == nil || !st.ManagementKey.Default || st.PIN.Default == nil || !*st.PIN.Default || st.PIN.RetriesLeft != st.PIN.RetriesTotal {
		t.Errorf("after reset: %+v %+v", st.PIN, st.ManagementKey)
	}
}

// pivgoProtectedKey reads the PIN-protected management key with piv-go, an independent reader of
// ykman's format (PRINTED 88{89 key}).
func pivgoProtectedKey(t *testing.T, b *benchtest.Bench) []byte {
	t.Helper()
	yk, err := pivgo.Open(b.Reader)
	if err != nil {
		t.Fatal(err)
	}
	defer yk.Close()
	m, err := yk.Metadata(factoryPIN)
	if err != nil {
		t.Fatal(err)
	}
	if m.ManagementKey == nil {
		t.Fatal("piv-go finds no management key in PRINTED")
	}
	return append([]byte(nil), *m.ManagementKey...)
}

// yubicoPIVToolReadsProtectedKey has yubico-piv-tool, the other independent reader of the format,
// read ADMIN DATA (5FFF00: 80{81 flags} with flag 02, "management key stored") and, after the PIN,
// PRINTED (5FC109: 88{89 key}), and checks that it finds the key piv-go found. (yubico-piv-tool
// 2.2 does not itself authenticate with a stored key, nor know AES management keys.)
func yubicoPIVToolReadsProtectedKey(t *testing.T, b *benchtest.Bench, want []byte) {
	t.Helper()
	tool, err := exec.LookPath("yubico-piv-tool")
	if err != nil {
		t.Log("yubico-piv-tool not installed: its reading of the stored key is not checked")
		return
	}
	read := func(id string, pin bool) string {
		args := []string{"-r", b.Reader, "-a", "read-object", "--id", id, "-f", "hex"}
		if pin {
			args = append([]string{"-r", b.Reader, "-P", factoryPIN, "-a", "verify-pin"}, args[2:]...)
		}
		out, err := exec.Command(tool, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("yubico-piv-tool read-object %s: %v\n%s", id, err, out)
		}
		lines := strings.Fields(string(out))
		return strings.ToLower(lines[len(lines)-1])
	}
	if got := read("0x5fff00", false); got != "8003810102" {
		t.Errorf("yubico-piv-tool reads ADMIN DATA %s, want 8003810102 (flag 02: management key stored)", got)
	}
	if got, wantHex := read("0x5fc109", true), "881a8918"+hex.EncodeToString(want); got != wantHex {
		t.Errorf("yubico-piv-tool reads PRINTED as %d hex digits that are not 88 1A 89 18 and the key piv-go read", len(got))
	}
	b.Card.Reset() // yubico-piv-tool leaves the PIN verified
}

// TestCardAdminRefusedOnPIV: management-key, delete, retries and reset are refused on a
// government card, with nothing sent that changes it, and the card not left open.
func TestCardAdminRefusedOnPIV(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	if b.Real() {
		t.Skip("the piv profile of the virtual card")
	}
	c := newCLI(t)
	pin := writeFile(t, c.dir, "pin", factoryPIN+"\n", 0o600)
	b.ResetStats()
	for _, a := range [][]string{
		{"setup", "management-key", "--pin-file", pin},
		{"setup", "delete", "--slot", "9a", "--pin-file", pin},
		{"reset", "--yes"},
	} {
		c.fails(ExitError, []string{"no Yubico PIV extensions", "nothing on the card was changed"}, append(a, "--reader", b.Reader)...)
		b.CheckNotLeftOpen(t, strings.Join(a, " "))
	}
	c.fails(ExitError, []string{"is not a YubiKey"}, "pin", "retries", "--pin-tries", "5", "--puk-tries", "5", "--pin-file", pin, "--reader", b.Reader)
	st := b.Stats()
	for _, ins := range []string{"DB", "FF", "FB", "F6", "FA", "87", "20"} {
		if st.Instructions[ins] != 0 && !(ins == "20" && st.PINVerifies == 0) {
			t.Errorf("a refused command sent INS %s (%d times)", ins, st.Instructions[ins])
		}
	}
}
