//go:build !windows

package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
)

// tmuxSession runs pivauth in a tmux pane: a real terminal, where the PIN prompt opens /dev/tty.
type tmuxSession struct {
	t            *testing.T
	socket, name string
}

// startTmux starts `pivauth args` in a new tmux server of its own (so tests never touch the
// user's sessions); the pane stays after pivauth ends and shows its exit code.
func startTmux(t *testing.T, c *cli, args ...string) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed")
	}
	s := &tmuxSession{t: t, socket: fmt.Sprintf("pivauth-test-%d", time.Now().UnixNano()), name: "pin"}
	quoted := []string{"env", "-i"}
	for _, kv := range c.env {
		quoted = append(quoted, shellQuote(kv))
	}
	quoted = append(quoted, shellQuote(binary))
	for _, a := range args {
		quoted = append(quoted, shellQuote(a))
	}
	script := strings.Join(quoted, " ") + "; echo \"EXIT=$?\"; sleep 600"
	cmd := exec.Command("tmux", "-L", s.socket, "new-session", "-d", "-s", s.name, "-x", "200", "-y", "50", "sh", "-c", script)
	cmd.Dir = c.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	return s
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// screen returns the pane's text.
func (s *tmuxSession) screen() string {
	out, err := exec.Command("tmux", "-L", s.socket, "capture-pane", "-p", "-t", s.name).Output()
	if err != nil {
		s.t.Fatalf("capture-pane: %v", err)
	}
	return string(out)
}

// waitFor waits until the pane shows want (the n-th time) and returns the screen. tmux drops
// trailing spaces, so a prompt is matched up to its colon.
func (s *tmuxSession) waitFor(want string, n int) string {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		scr := s.screen()
		if strings.Count(scr, want) >= n {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the terminal never showed %q (%d×); it shows:\n%s", want, n, scr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// typeLine types text and Enter, as a person would.
func (s *tmuxSession) typeLine(text string) {
	if err := exec.Command("tmux", "-L", s.socket, "send-keys", "-t", s.name, "-l", text).Run(); err != nil {
		s.t.Fatal(err)
	}
	if err := exec.Command("tmux", "-L", s.socket, "send-keys", "-t", s.name, "Enter").Run(); err != nil {
		s.t.Fatal(err)
	}
}

// TestPINPromptOnTerminal types PINs at the real prompt: a wrong PIN is refused with the tries
// left (exit 4), the right one works, nothing typed is echoed; at one try left the lockout guard
// refuses before asking, and --allow-last-try asks with a warning.
func TestPINPromptOnTerminal(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	c := newCLI(t)
	assertionArgs := []string{"assertion", "--reader", b.Reader, "--client-id", "c", "--audience", "https://idp.example/token"}

	s := startTmux(t, c, assertionArgs...)
	s.waitFor("PIN for the card in \""+b.Reader+"\", slot 9a (3 tries left):", 1)
	s.typeLine("999999")
	scr := s.waitFor("EXIT=4", 1)
	if !strings.Contains(scr, "PIN incorrect: 2 tries left") || strings.Contains(scr, "999999") {
		t.Errorf("wrong PIN:\n%s", scr)
	}
	s = startTmux(t, c, assertionArgs...)
	s.waitFor("PIN for the card in \""+b.Reader+"\", slot 9a (2 tries left):", 1)
	s.typeLine(factoryPIN)
	scr = s.waitFor("EXIT=0", 1)
	if strings.Contains(scr, factoryPIN) {
		t.Errorf("a typed PIN was echoed:\n%s", scr)
	}
	if !strings.Contains(scr, "eyJ") { // the assertion, a JWT
		t.Errorf("no assertion printed:\n%s", scr)
	}

	// Two wrong PINs from a file leave one try.
	wrong := writeFile(t, c.dir, "wrong", "999999\n", 0o600)
	for _, left := range []string{"2 tries left", "1 try left"} {
		c.fails(ExitPIN, []string{left}, append(assertionArgs, "--pin-file", wrong)...)
	}
	s = startTmux(t, c, assertionArgs...)
	scr = s.waitFor("EXIT=4", 1)
	if !strings.Contains(scr, "only 1 PIN try left") || strings.Contains(scr, "PIN for the card") {
		t.Errorf("the lockout guard did not refuse before prompting:\n%s", scr)
	}
	s = startTmux(t, c, append(assertionArgs, "--allow-last-try")...)
	s.waitFor("slot 9a (LAST try before the PIN blocks):", 1)
	s.typeLine(factoryPIN)
	s.waitFor("EXIT=0", 1)
	if left := c.pinStatus(b.Reader).PIN.RetriesLeft; left != 3 {
		t.Errorf("after the right PIN: %d tries left", left)
	}
}

// TestPINChangeOnTerminal changes the PIN interactively: current PIN, new PIN twice (a mismatch
// asks again), then the new PIN works.
func TestPINChangeOnTerminal(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	c := newCLI(t)
	s := startTmux(t, c, "pin", "change", "--reader", b.Reader)
	s.waitFor("(3 tries left):", 1)
	s.typeLine(factoryPIN)
	s.waitFor("Enter the new PIN:", 1)
	s.typeLine("11112222")
	s.waitFor("Repeat the new PIN:", 1)
	s.typeLine("11113333")
	s.waitFor("The two entries differ", 1)
	s.waitFor("Enter the new PIN:", 2)
	s.typeLine("11112222")
	s.waitFor("Repeat the new PIN:", 2)
	s.typeLine("11112222")
	scr := s.waitFor("EXIT=0", 1)
	if !strings.Contains(scr, "PIN changed") || strings.Contains(scr, "11112222") {
		t.Errorf("pin change screen:\n%s", scr)
	}
	c.ok("assertion", "--reader", b.Reader, "--client-id", "c", "--audience", "https://x/token", "--pin-file", writeFile(t, c.dir, "new", "11112222\n", 0o600))
}
