//go:build linux

package main

import (
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
)

// Factory secrets of the virtual card (hw-test/vcard).
const (
	factoryPIN = "123456"
	factoryPUK = "12345678"
)

// pinStatus runs `pin status --output json` on the card in reader.
func (c *cli) pinStatus(reader string) pinStatusJSON {
	c.t.Helper()
	var st pinStatusJSON
	decodeJSON(c.t, c.ok("pin", "status", "--reader", reader, "--output", "json"), &st)
	return st
}

func TestPINStatusYubiKey(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	c := newCLI(t)
	st := c.pinStatus(b.Reader)
	if st.Reader != b.Reader || !strings.HasPrefix(st.Card, "YubiKey ") || st.PIN.RetriesLeft != 3 || st.PIN.RetriesTotal != 3 ||
		st.PIN.Default == nil || !*st.PIN.Default || st.PUK == nil || st.PUK.RetriesLeft != 3 || !*st.PUK.Default ||
		st.ManagementKey == nil || !st.ManagementKey.Default || st.ManagementKey.Algorithm != "3DES" {
		t.Errorf("pin status: %+v puk %+v mgm %+v", st, st.PUK, st.ManagementKey)
	}
	text := c.ok("pin", "status", "--reader", b.Reader).stdout
	for _, want := range []string{"PIN:            3 of 3 tries left (FACTORY DEFAULT", "Management key: 3DES (FACTORY DEFAULT"} {
		if !strings.Contains(text, want) {
			t.Errorf("pin status text lacks %q:\n%s", want, text)
		}
	}
}

// TestPINLifecycle changes the PIN from files, shows the tries left after wrong PINs, stops at
// the lockout guard with one try left (sending nothing), blocks the PIN and unblocks it with the
// PUK — on the government-style profile, whose PIN state is read with the empty VERIFY only.
func TestPINLifecycle(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	c := newCLI(t)
	file := func(name, content string) string { return writeFile(t, c.dir, name, content+"\n", 0o600) }
	oldPIN, newPIN, wrongPIN, puk := file("old.pin", factoryPIN), file("new.pin", "24681357"), file("wrong.pin", "000000"), file("puk", factoryPUK)

	st := c.pinStatus(b.Reader)
	if st.PIN.RetriesLeft != 3 || st.PUK != nil || st.ManagementKey != nil || !strings.HasPrefix(st.Card, "PIV card") {
		t.Fatalf("piv profile status: %+v", st)
	}
	c.ok("pin", "change", "--reader", b.Reader, "--pin-file", oldPIN, "--new-pin-file", newPIN)

	// The old PIN is wrong now: each failure names the tries left.
	c.fails(ExitPIN, []string{"PIN incorrect: 2 tries left"}, "pin", "change", "--reader", b.Reader, "--pin-file", oldPIN, "--new-pin-file", newPIN)
	c.fails(ExitPIN, []string{"PIN incorrect: 1 try left"}, "pin", "change", "--reader", b.Reader, "--pin-file", wrongPIN, "--new-pin-file", newPIN)
	b.ResetStats()
	c.fails(ExitPIN, []string{"lockout guard", "1 PIN try left", "--allow-last-try"}, "pin", "change", "--reader", b.Reader, "--pin-file", newPIN, "--new-pin-file", oldPIN)
	if n := b.Stats().PINVerifies; n != 0 {
		t.Errorf("the lockout guard let %d PIN verifications through", n)
	}
	if left := c.pinStatus(b.Reader).PIN.RetriesLeft; left != 1 {
		t.Fatalf("after the guard: %d tries left, want 1", left)
	}

	// The last try, allowed explicitly, with the wrong PIN blocks the PIN.
	c.fails(ExitPIN, []string{"PIN", "blocked", "\n  fix: unblock it with the PUK: pivauth pin unblock"}, "pin", "change", "--reader", b.Reader, "--pin-file", wrongPIN, "--new-pin-file", oldPIN, "--allow-last-try")
	// Blocked is blocked: the right PIN, guard off, is not sent either.
	c.fails(ExitPIN, []string{"blocked"}, "pin", "change", "--reader", b.Reader, "--pin-file", newPIN, "--new-pin-file", oldPIN, "--allow-last-try")
	if left := c.pinStatus(b.Reader).PIN.RetriesLeft; left != 0 {
		t.Fatalf("blocked PIN shows %d tries left", left)
	}
	if text := c.ok("pin", "status", "--reader", b.Reader).stdout; !strings.Contains(text, "BLOCKED") {
		t.Errorf("pin status text for a blocked PIN:\n%s", text)
	}

	c.ok("pin", "unblock", "--reader", b.Reader, "--puk-file", puk, "--new-pin-file", oldPIN)
	if left := c.pinStatus(b.Reader).PIN.RetriesLeft; left != 3 {
		t.Errorf("after unblock: %d tries left, want 3", left)
	}
	// The PIN from the environment works too, and the new PIN from a file must be 6-8 long.
	c.with("PIVAUTH_PIN="+factoryPIN).fails(ExitUsage, []string{"6 to 8 characters"}, "pin", "change", "--reader", b.Reader, "--new-pin-file", file("short.pin", "12"))
	c.with("PIVAUTH_PIN="+factoryPIN).ok("pin", "change", "--reader", b.Reader, "--new-pin-file", newPIN)
}

// TestPINUnattendedFailsFast: no terminal and no PIN source is an immediate, clear error, never
// a wait on stdin (stdin here is an open pipe that never ends).
func TestPINUnattendedFailsFast(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	c := newCLI(t)
	start := time.Now()
	r := c.fails(ExitPIN, []string{"no PIN available", "--pin-file", "PIVAUTH_PIN"}, "pin", "change", "--reader", b.Reader, "--new-pin-file", writeFile(t, c.dir, "n", "654321", 0o600))
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
	if strings.Contains(r.stderr, factoryPIN) {
		t.Errorf("stderr shows a PIN")
	}
	// A PIN file open to others is a usage error, found before the card is opened.
	c.fails(ExitUsage, []string{"open to group or others", "chmod 600"}, "pin", "change", "--reader", b.Reader,
		"--pin-file", writeFile(t, c.dir, "open.pin", factoryPIN, 0o644), "--new-pin-file", writeFile(t, c.dir, "n2", "654321", 0o600))
	c.fails(ExitPIN, []string{"no terminal", "--puk-file"}, "pin", "unblock", "--reader", b.Reader, "--new-pin-file", writeFile(t, c.dir, "n3", "654321", 0o600))
	c.fails(ExitPIN, []string{"no terminal", "new PIN"}, "pin", "change", "--reader", b.Reader, "--pin-file", writeFile(t, c.dir, "p", factoryPIN, 0o600))
}

// TestPINGuardAfterPrompt: pin change (through the engine) and pin retries (through piv-go)
// read, in the transaction that presents the PIN, the tries another program used while the
// person typed; with one left they refuse, and the card keeps that try.
func TestPINGuardAfterPrompt(t *testing.T) {
	for _, tc := range []struct {
		command string
		profile vcard.Profile
		args    func(c *cli) []string
	}{
		{"change", vcard.ProfilePIV, func(c *cli) []string {
			return []string{"--new-pin-file", writeFile(t, c.dir, "new.pin", "24681357\n", 0o600)}
		}},
		{"retries", vcard.ProfileYubiKey, func(*cli) []string { return []string{"--pin-tries", "5", "--puk-tries", "5"} }},
	} {
		t.Run(tc.command, func(t *testing.T) {
			b := benchtest.Start(t, tc.profile)
			if b.Real() {
				t.Skip("uses PIN tries behind pivauth's back: virtual card only")
			}
			c := newCLI(t)
			s := startTmux(t, c, append([]string{"pin", tc.command, "--reader", b.Reader}, tc.args(c)...)...)
			s.waitFor("(3 tries left)", 1)
			for _, want := range []uint16{0x63C2, 0x63C1} { // another program, with a wrong PIN
				resp := b.Card.Transmit(append([]byte{0x00, 0x20, 0x00, 0x80, 0x08}, "000000\xff\xff"...))
				if sw := uint16(resp[0])<<8 | uint16(resp[1]); sw != want {
					t.Fatalf("outsider's VERIFY: %04X, want %04X", sw, want)
				}
			}
			s.typeLine("654321") // wrong too: sending it would block the PIN
			if scr := s.waitFor("EXIT=", 1); !strings.Contains(scr, "EXIT=4") || !strings.Contains(scr, "lockout guard") {
				t.Fatalf("pin %s after the tries went down to one:\n%s", tc.command, scr)
			}
			if left := c.pinStatus(b.Reader).PIN.RetriesLeft; left != 1 {
				t.Errorf("%d tries left, want 1: the PIN went to the card", left)
			}
		})
	}
}

// TestPINRetriesUsage: a count out of range is a usage error before any card operation.
func TestPINRetriesUsage(t *testing.T) {
	c := newCLI(t)
	c.fails(ExitUsage, []string{"--pin-tries 0", "1 to 255"}, "pin", "retries", "--reader", "nowhere", "--pin-tries", "0", "--puk-tries", "3")
	c.fails(ExitUsage, []string{"--puk-tries 256"}, "pin", "retries", "--reader", "nowhere", "--pin-tries", "3", "--puk-tries", "256")
	c.fails(ExitUsage, []string{"puk-tries"}, "pin", "retries", "--reader", "nowhere", "--pin-tries", "3")
}
