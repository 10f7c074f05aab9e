//go:build linux

package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
)

// TestPINChangeForgetsAgentPIN: the agent holds the PIN of slot 9a; `pin change` and `pin unblock`
// tell it to close its sessions of the card first, so that its next signature asks for the PIN
// again instead of spending one of the card's tries with the old PIN: the card keeps every try.
func TestPINChangeForgetsAgentPIN(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	if b.Real() {
		t.Skip("changes the PIN")
	}
	b.Destructive()
	runtime := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	c := newCLI(t).with("XDG_RUNTIME_DIR=" + runtime)
	file := func(name, content string) string { return writeFile(t, c.dir, name, content+"\n", 0o600) }
	pin, newPIN, puk := file("pin", factoryPIN), file("new.pin", "24682468"), file("puk", factoryPUK)
	c.ok("setup", "key", "--reader", b.Reader, "--algorithm", "eccp256", "--attestation-roots", benchRootsFile(t, b, c.dir))
	c.ok("setup", "selfsign", "--reader", b.Reader, "--pin-file", pin, "--subject", "CN=agent-pin")
	startAgentProcess(t, c, filepath.Join(runtime, "pivauth", "agent.sock"))
	sign := func(pinValue string) {
		t.Helper()
		c.with("PIVAUTH_PIN="+pinValue).ok("assertion", "--reader", b.Reader, "--client-id", "x", "--audience", "https://idp.example/token")
		b.CheckNotLeftOpen(t, "a signature by the agent")
	}
	fullTries := func(after string) {
		t.Helper()
		if st := c.pinStatus(b.Reader); st.PIN.RetriesLeft != st.PIN.RetriesTotal {
			t.Errorf("after %s: %d of %d PIN tries left: the agent spent one with the old PIN", after, st.PIN.RetriesLeft, st.PIN.RetriesTotal)
		}
	}

	sign(factoryPIN) // the agent now holds the factory PIN
	c.ok("pin", "change", "--reader", b.Reader, "--pin-file", pin, "--new-pin-file", newPIN)
	b.ResetStats()
	sign("24682468")
	if v := b.Stats().PINVerifies; v != 1 {
		t.Errorf("the signature after pin change presented %d PINs, want 1 (the new one)", v)
	}
	fullTries("pin change")

	c.ok("pin", "unblock", "--reader", b.Reader, "--puk-file", puk, "--new-pin-file", pin)
	b.ResetStats()
	sign(factoryPIN)
	if v := b.Stats().PINVerifies; v != 1 {
		t.Errorf("the signature after pin unblock presented %d PINs, want 1 (the new one)", v)
	}
	fullTries("pin unblock")
}
