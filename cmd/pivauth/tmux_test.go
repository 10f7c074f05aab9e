//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/cmd/pivauth/internal/audit"
	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/internal/testio"
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
	// After pivauth: its exit code, and whether the terminal echoes again (a prompt must restore it).
	// The shell catches Ctrl-C (a trap, not an ignore, which pivauth would inherit) so that it
	// outlives pivauth and reports.
	script := "trap true INT; " + strings.Join(quoted, " ") + `; echo "EXIT=$?"; echo "ECHO=$(stty -a | tr ' ;' '\n\n' | grep -x -e echo -e -echo)"; sleep 600`
	cmd := s.tmux("new-session", "-d", "-s", s.name, "-x", "200", "-y", "50", "sh", "-c", script)
	cmd.Dir = c.dir
	if out, err := testio.CombinedOutput(cmd, toolTimeout); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		// An error is expected when the server is gone already; a hung tmux is not.
		if err := testio.Run(s.tmux("kill-server"), toolTimeout); errors.Is(err, testio.ErrTimeout) {
			t.Error(err)
		}
	})
	return s
}

// tmux returns the command `tmux args` aimed at the session's own server. Run it through testio,
// with toolTimeout: tmux answers at once, a hung one must not hold the test.
func (s *tmuxSession) tmux(args ...string) *exec.Cmd {
	return exec.Command("tmux", append([]string{"-L", s.socket}, args...)...)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// screen returns the pane's text, lines the pane wrapped joined again (a long message is
// matched whole).
func (s *tmuxSession) screen() string {
	out, err := testio.Output(s.tmux("capture-pane", "-p", "-J", "-t", s.name), toolTimeout)
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

// key sends a key such as "C-c".
func (s *tmuxSession) key(k string) {
	if err := testio.Run(s.tmux("send-keys", "-t", s.name, k), toolTimeout); err != nil {
		s.t.Fatal(err)
	}
}

// typeLine types text and Enter, as a person would.
func (s *tmuxSession) typeLine(text string) {
	if err := testio.Run(s.tmux("send-keys", "-t", s.name, "-l", text), toolTimeout); err != nil {
		s.t.Fatal(err)
	}
	if err := testio.Run(s.tmux("send-keys", "-t", s.name, "Enter"), toolTimeout); err != nil {
		s.t.Fatal(err)
	}
}

// TestPINPromptOnTerminal types PINs at the real prompt, which names the card by its holder: a
// wrong PIN is asked again in the same run ("Wrong PIN: 2 tries left.") and the right one then
// works (exit 0), nothing typed is echoed; a second wrong PIN leaves one try, where the run stops
// with the way on (--allow-last-try, pivauth pin unblock); the next run's lockout guard refuses
// before asking, and --allow-last-try asks with no count. A PIN from a file or PIVAUTH_PIN is
// never asked again, not even on a terminal.
func TestPINPromptOnTerminal(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	c := newCLI(t)
	assertionArgs := []string{"assertion", "--reader", b.Reader, "--client-id", "c", "--audience", "https://idp.example/token"}
	const card = "PIV card of Bench User (" + vcard.BenchUPN + ")"
	const hint = "fix: run again with --allow-last-try, once sure of the PIN; or restore the tries with pivauth pin unblock"

	s := startTmux(t, c, assertionArgs...)
	s.waitFor("PIN for "+card+", slot 9a (3 tries left):", 1)
	s.typeLine("999999")
	s.waitFor("Wrong PIN: 2 tries left.\nPIN for "+card+", slot 9a:", 1)
	s.typeLine(factoryPIN)
	scr := s.waitFor("EXIT=0", 1)
	if strings.Contains(scr, factoryPIN) || strings.Contains(scr, "999999") {
		t.Errorf("a typed PIN was echoed:\n%s", scr)
	}
	if !strings.Contains(scr, "eyJ") { // the assertion, a JWT
		t.Errorf("no assertion printed:\n%s", scr)
	}

	// Two wrong PINs in one run: the second leaves one try, and the run stops there.
	s = startTmux(t, c, assertionArgs...)
	s.waitFor("(3 tries left):", 1)
	s.typeLine("999999")
	s.waitFor("Wrong PIN: 2 tries left.", 1)
	s.typeLine("999999")
	scr = s.waitFor("EXIT=4", 1)
	if !strings.Contains(scr, "wrong PIN for "+card+": PIN incorrect: 1 try left") || !strings.Contains(scr, hint) ||
		strings.Count(scr, "PIN for "+card+", slot 9a") != 2 {
		t.Errorf("at one try left the run did not stop after two prompts with the way on:\n%s", scr)
	}
	s = startTmux(t, c, assertionArgs...)
	scr = s.waitFor("EXIT=4", 1)
	if !strings.Contains(scr, "only 1 PIN try left") || !strings.Contains(scr, hint) || strings.Contains(scr, card+", slot") {
		t.Errorf("the lockout guard did not refuse before prompting, naming --allow-last-try:\n%s", scr)
	}
	// With the guard off, signer asks without reading the tries left first (one APDU less), so
	// the prompt shows no count; the certificate still names the holder.
	s = startTmux(t, c, append(assertionArgs, "--allow-last-try")...)
	s.waitFor("PIN for "+card+", slot 9a:", 1)
	s.typeLine(factoryPIN)
	s.waitFor("EXIT=0", 1)
	if left := c.pinStatus(b.Reader).PIN.RetriesLeft; left != 3 {
		t.Errorf("after the right PIN: %d tries left", left)
	}

	// A wrong PIN from a file or the environment fails the run at once, terminal or not.
	wrong := writeFile(t, c.dir, "wrong", "999999\n", 0o600)
	s = startTmux(t, c, append(assertionArgs, "--pin-file", wrong)...)
	scr = s.waitFor("EXIT=4", 1)
	if !strings.Contains(scr, "PIN incorrect: 2 tries left") || strings.Contains(scr, card+", slot") {
		t.Errorf("a wrong PIN file was followed by a prompt:\n%s", scr)
	}
	s = startTmux(t, c.with("PIVAUTH_PIN=999999"), assertionArgs...)
	scr = s.waitFor("EXIT=4", 1)
	if !strings.Contains(scr, "PIN incorrect: 1 try left") || !strings.Contains(scr, hint) || strings.Contains(scr, card+", slot") {
		t.Errorf("a wrong PIVAUTH_PIN was followed by a prompt:\n%s", scr)
	}
	if r := c.fails(ExitPIN, []string{"only 1 PIN try left", "the lockout guard sent no PIN\n  " + hint}, append(assertionArgs, "--pin-file", wrong)...); strings.Contains(r.stderr, card+", slot") {
		t.Errorf("prompted:\n%s", r.stderr)
	}
}

// TestAgentPINPromptOnTerminal: through the agent, a wrong PIN typed at the command's terminal is
// asked again there in the same run, and the right one then works; a wrong PIN from a file is
// not asked again (the agent's reply names the tries left). The audit log holds the one operation.
func TestAgentPINPromptOnTerminal(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	runtime := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	c := newCLI(t).with("XDG_RUNTIME_DIR=" + runtime)
	startAgentProcess(t, c, filepath.Join(runtime, "pivauth", "agent.sock"))
	args := []string{"assertion", "--reader", b.Reader, "--client-id", "c", "--audience", "https://idp.example/token"}
	const card = "PIV card of Bench User (" + vcard.BenchUPN + ")"

	s := startTmux(t, c, args...)
	s.waitFor("PIN for "+card+", slot 9a (3 tries left):", 1)
	s.typeLine("999999")
	s.waitFor("Wrong PIN: 2 tries left.\nPIN for "+card+", slot 9a:", 1)
	s.typeLine(factoryPIN)
	scr := s.waitFor("EXIT=0", 1)
	if !strings.Contains(scr, "eyJ") || strings.Contains(scr, "999999") {
		t.Errorf("through the agent, wrong then right PIN:\n%s", scr)
	}
	var status agentStatusJSON
	decodeJSON(t, c.ok("agent", "status", "--output", "json"), &status)
	if len(status.Keys) != 1 || !status.Keys[0].PINHeld || status.Keys[0].CardName != card {
		t.Errorf("agent status %+v: want the key of %s, holding the right PIN", status, card)
	}
	if text := c.ok("agent", "status").stdout; !strings.Contains(text, "key:     slot 9a of "+card+" in \""+b.Reader+"\", PIN held") {
		t.Errorf("agent status:\n%s", text)
	}
	c.ok("agent", "lock")

	wrong := writeFile(t, c.dir, "wrong", "999999\n", 0o600)
	r := c.fails(ExitPIN, []string{"PIN incorrect: 2 tries left"}, append(args, "--pin-file", wrong)...)
	if strings.Contains(r.stderr, "not asked again") {
		t.Errorf("a wrong PIN file through the agent:\n%s", r.stderr)
	}
	evs := auditEvents(t, c)
	if len(evs) != 2 || evs[0].Result != audit.ResultOK || evs[1].Result != audit.ResultPINIncorrect || evs[0].CardName != card {
		t.Errorf("audit log %+v: want one signature, then one wrong PIN, naming %s", evs, card)
	}
	if text := c.ok("audit").stdout; strings.Count(text, card) != 2 {
		t.Errorf("the audit table does not name the card as %s:\n%s", card, text)
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

// TestInterruptOnTerminal: Ctrl-C at the PIN prompt and while waiting for a card leaves with exit
// code 130 and the terminal echoing again.
func TestInterruptOnTerminal(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	c := newCLI(t)
	s := startTmux(t, c, "assertion", "--reader", b.Reader, "--client-id", "c", "--audience", "https://x/token")
	s.waitFor("(3 tries left):", 1)
	s.key("C-c")
	scr := s.waitFor("ECHO=", 1)
	if !strings.Contains(scr, "EXIT=130") || !strings.Contains(scr, "ECHO=echo") {
		t.Errorf("echo not restored after Ctrl-C at the PIN prompt:\n%s", scr)
	}

	b.Pull()
	s = startTmux(t, c, "certs", "--reader", b.Reader)
	s.waitFor("Insert the PIV card (reader \""+b.Reader+"\")… (Ctrl-C to cancel)", 1)
	s.key("C-c")
	s.waitFor("EXIT=130", 1)

	// The spinner goes away when the card arrives, and the command goes on.
	s = startTmux(t, c, "certs", "--reader", b.Reader)
	s.waitFor("Insert the PIV card", 1)
	b.Insert()
	scr = s.waitFor("EXIT=0", 1)
	if !strings.Contains(scr, "Slot 9a (PIV authentication)") || strings.Contains(scr, "Insert the PIV card") {
		t.Errorf("after insertion:\n%s", scr)
	}
}

// TestChooseCard: with two cards and no selector, pivauth lists them (no terminal: exit 2 with the
// flag for each) or asks which one (terminal).
func TestChooseCard(t *testing.T) {
	b1 := benchtest.Start(t, vcard.ProfilePIV)
	b2 := benchtest.Start(t, vcard.ProfilePIV)
	c := newCLI(t)
	guid := func(b *benchtest.Bench) string {
		var cards cardsJSON
		decodeJSON(t, c.ok("cards", "--reader", b.Reader, "--output", "json"), &cards)
		return cards.Readers[0].Card.GUID
	}
	g1, g2 := guid(b1), guid(b2)
	r := c.fails(ExitUsage, []string{"cards are present; choose one", "--guid " + g1, "--guid " + g2}, "certs")
	if !strings.Contains(r.stderr, b1.Reader) || !strings.Contains(r.stderr, b2.Reader) {
		t.Errorf("the list does not name the readers:\n%s", r.stderr)
	}

	s := startTmux(t, c, "certs", "--output", "json")
	scr := s.waitFor("Which card [1-", 1)
	choice := ""
	for _, line := range strings.Split(scr, "\n") {
		if strings.Contains(line, g2) {
			choice, _, _ = strings.Cut(strings.TrimSpace(line), ")")
		}
	}
	if choice == "" {
		t.Fatalf("card %s not offered:\n%s", g2, scr)
	}
	s.typeLine(choice)
	scr = s.waitFor("EXIT=0", 1)
	if !strings.Contains(scr, g2) || !strings.Contains(scr, `"slot": "9a"`) {
		t.Errorf("after choosing %s:\n%s", choice, scr)
	}
}

// TestProgressOnTerminal: a key generation the card takes its time over (as a real card does for
// RSA) shows a spinner naming the step on a terminal, gone once the key is there; with stderr not
// a terminal nothing is drawn.
func TestProgressOnTerminal(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	if b.Real() {
		t.Skip("sets the card's generation delay: virtual card only")
	}
	b.Destructive()
	b.Card.SetGenerateDelay(1500 * time.Millisecond)
	c := newCLI(t)
	roots := benchRootsFile(t, b, c.dir)

	s := startTmux(t, c, "setup", "key", "--reader", b.Reader, "--slot", "9a", "--attestation-roots", roots)
	scr := s.waitFor("Generating the RSA-2048 key in slot 9a of YubiKey ", 1)
	if !strings.ContainsAny(scr, "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏") {
		t.Errorf("no spinner:\n%s", scr)
	}
	scr = s.waitFor("EXIT=0", 1)
	if strings.Contains(scr, "Generating") {
		t.Errorf("the spinner stayed after the key was generated:\n%s", scr)
	}

	r := c.ok("setup", "key", "--reader", b.Reader, "--slot", "9c", "--attestation-roots", roots)
	if strings.Contains(r.stderr, "Generating") || strings.ContainsAny(r.stderr, "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏\r") {
		t.Errorf("progress drawn with stderr not a terminal:\n%q", r.stderr)
	}
}
