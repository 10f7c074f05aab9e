package signer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pivauth/pivauth/internal/testio"
)

type pinResult struct {
	pin []byte
	err error
}

// readUntil reads the master side of a terminal until want appears and
// returns everything read. The deadline only keeps a broken test from
// hanging; it asserts nothing about speed.
func readUntil(t *testing.T, m *os.File, want string) string {
	t.Helper()
	m.SetReadDeadline(time.Now().Add(20 * time.Second))
	defer m.SetReadDeadline(time.Time{})
	var out []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(out, []byte(want)) {
		n, err := m.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			t.Fatalf("waiting for %q on the terminal: %v; got %q", want, err, out)
		}
	}
	return string(out)
}

// drain returns what the master side has to read right now.
func drain(m *os.File) string {
	m.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	defer m.SetReadDeadline(time.Time{})
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := m.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return string(out)
		}
	}
}

func startPrompt(ctx context.Context, src PINSource) chan pinResult {
	return startRequest(ctx, src, testReq)
}

// startRequest is startPrompt with a request of the test's own.
func startRequest(ctx context.Context, src PINSource, req PINRequest) chan pinResult {
	ch := make(chan pinResult, 1)
	go func() {
		pin, err := src.PIN(ctx, req)
		ch <- pinResult{pin, err}
	}()
	return ch
}

func TestTerminalPromptsWithoutEcho(t *testing.T) {
	m, slave := openPTY(t)
	before := termiosOf(t, slave)
	if before.Lflag&unix.ECHO == 0 {
		t.Fatal("premise: a new terminal echoes")
	}
	res := startPrompt(context.Background(), &TerminalSource{Path: slave})
	prompt := readUntil(t, m, "tries left): ")
	if !strings.Contains(prompt, testReq.Description()) {
		t.Errorf("prompt %q does not name the card, slot and tries", prompt)
	}
	m.Write([]byte("123456\r"))
	r := <-res
	if r.err != nil || string(r.pin) != "123456" {
		t.Fatalf("PIN() = %q, %v", r.pin, r.err)
	}
	// Asked again after a wrong PIN: a line says so, with the tries left, then the prompt.
	retry := testReq
	retry.Retry, retry.Retries = true, 2
	res = startRequest(context.Background(), &TerminalSource{Path: slave}, retry)
	if prompt := readUntil(t, m, "slot 9a: "); !strings.Contains(prompt, "Wrong PIN: 2 tries left.\r\nPIN for the card in") {
		t.Errorf("retry prompt %q", prompt)
	}
	m.Write([]byte("123456\r"))
	if r = <-res; r.err != nil {
		t.Fatalf("retry: %v", r.err)
	}
	if rest := drain(m); strings.Contains(rest, "123456") {
		t.Errorf("the PIN was echoed: %q", rest)
	}
	if after := termiosOf(t, slave); after.Lflag != before.Lflag {
		t.Errorf("terminal flags not restored: %#x, were %#x", after.Lflag, before.Lflag)
	}
}

func TestTerminalCancel(t *testing.T) {
	m, slave := openPTY(t)
	before := termiosOf(t, slave)

	ctx, cancel := context.WithCancel(context.Background())
	res := startPrompt(ctx, &TerminalSource{Path: slave})
	readUntil(t, m, "): ")
	cancel()
	if r := <-res; !errors.Is(r.err, context.Canceled) {
		t.Errorf("context canceled: %q, %v", r.pin, r.err)
	}

	res = startPrompt(context.Background(), &TerminalSource{Path: slave})
	readUntil(t, m, "): ")
	m.Write([]byte{0x04}) // Ctrl-D
	if r := <-res; !errors.Is(r.err, ErrPINCanceled) {
		t.Errorf("Ctrl-D: %q, %v", r.pin, r.err)
	}
	if after := termiosOf(t, slave); after.Lflag != before.Lflag {
		t.Errorf("terminal flags not restored: %#x, were %#x", after.Lflag, before.Lflag)
	}
}

// TestReadSecret: the prompt as given, a line without echo, Ctrl-D as
// ErrCanceled, no terminal as ErrNoTerminal — what pivauth's PUK, new-PIN
// and management-key prompts rely on.
func TestReadSecret(t *testing.T) {
	m, slave := openPTY(t)
	type secret struct {
		b   []byte
		err error
	}
	read := func() chan secret {
		ch := make(chan secret, 1)
		go func() {
			b, err := ReadSecret(context.Background(), slave, "PUK for the card: ")
			ch <- secret{b, err}
		}()
		readUntil(t, m, "PUK for the card: ")
		return ch
	}
	res := read()
	m.Write([]byte("1234 5678\r"))
	if r := <-res; r.err != nil || string(r.b) != "1234 5678" {
		t.Fatalf("ReadSecret = %q, %v", r.b, r.err)
	}
	if rest := drain(m); strings.Contains(rest, "5678") {
		t.Errorf("the secret was echoed: %q", rest)
	}
	res = read()
	m.Write([]byte{0x04})
	if r := <-res; !errors.Is(r.err, ErrCanceled) {
		t.Errorf("Ctrl-D: %q, %v, want ErrCanceled", r.b, r.err)
	}
	if _, err := ReadSecret(context.Background(), os.DevNull, "x: "); !errors.Is(err, ErrNoTerminal) {
		t.Errorf("%s: %v, want ErrNoTerminal", os.DevNull, err)
	}
}

func TestTerminalMissing(t *testing.T) {
	_, err := (&TerminalSource{Path: "/nonexistent/tty"}).PIN(context.Background(), testReq)
	if !errors.Is(err, ErrNoPIN) {
		t.Errorf("no terminal: %v, want ErrNoPIN", err)
	}
	_, err = (&TerminalSource{Path: os.DevNull}).PIN(context.Background(), testReq)
	if !errors.Is(err, ErrNoPIN) {
		t.Errorf("%s is not a terminal: %v, want ErrNoPIN", os.DevNull, err)
	}
}

func TestPinentry(t *testing.T) {
	if _, err := exec.LookPath("pinentry"); err != nil {
		t.Skip("pinentry not installed")
	}
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	t.Setenv("TERM", "vt100")
	m, slave := openPTY(t)
	src := &PinentrySource{Program: "pinentry", TTY: slave}

	res := startPrompt(context.Background(), src)
	readUntil(t, m, "PIN:")
	m.Write([]byte("12%4 6\r")) // '%' and ' ' come back %-escaped in the D line
	r := <-res
	if r.err != nil || string(r.pin) != "12%4 6" {
		t.Fatalf("PIN() = %q, %v", r.pin, r.err)
	}
	drain(m) // the rest of the first dialog

	// Asked again after a wrong PIN, the dialog says so with the tries left.
	retry := testReq
	retry.Retry, retry.Retries = true, 2
	res = startRequest(context.Background(), src, retry)
	// curses draws the dialog in any order: the prompt may come before the notice.
	if scr := readUntil(t, m, "Wrong PIN: 2 tries left."); !strings.Contains(strings.ReplaceAll(scr, "Wrong PIN:", ""), "PIN:") {
		readUntil(t, m, "PIN:")
	}
	m.Write([]byte("654321\r"))
	if r := <-res; r.err != nil || string(r.pin) != "654321" {
		t.Fatalf("retry: PIN() = %q, %v", r.pin, r.err)
	}
	drain(m)

	res = startPrompt(context.Background(), src)
	readUntil(t, m, "PIN:")
	m.Write([]byte("\t\t\r")) // Tab to <Cancel>, Enter
	if r := <-res; !errors.Is(r.err, ErrPINCanceled) {
		t.Errorf("Cancel button: %q, %v, want ErrPINCanceled", r.pin, r.err)
	}
	drain(m)

	ctx, cancel := context.WithCancel(context.Background())
	res = startPrompt(ctx, src)
	readUntil(t, m, "PIN:")
	cancel()
	if r := <-res; !errors.Is(r.err, context.Canceled) {
		t.Errorf("context canceled: %q, %v", r.pin, r.err)
	}
}

func TestPinentryUnavailable(t *testing.T) {
	_, err := (&PinentrySource{Program: "pinentry-does-not-exist"}).PIN(context.Background(), testReq)
	if !errors.Is(err, ErrNoPIN) {
		t.Errorf("missing program: %v, want ErrNoPIN", err)
	}
}

// TestDefaultSourceWithoutTerminal runs DefaultPINSource in a child process
// that has no controlling terminal (setsid), no display, no PIVAUTH_PIN, and
// a standard input that never delivers anything: it must fail with a clear
// error instead of waiting.
func TestDefaultSourceWithoutTerminal(t *testing.T) {
	if os.Getenv("PIVAUTH_TEST_CHILD") == "no-terminal" {
		_, err := DefaultPINSource().PIN(context.Background(), testReq)
		os.Stdout.WriteString(fmt.Sprint(errors.Is(err, ErrNoPIN), " ", err))
		return
	}
	stdin, keep, err := os.Pipe() // keep stays open: a read of stdin would block
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	defer stdin.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDefaultSourceWithoutTerminal$")
	cmd.Env = []string{"PIVAUTH_TEST_CHILD=no-terminal", "PATH=" + os.Getenv("PATH")}
	cmd.Stdin = stdin
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// The timeout only stops a hung child; a pass takes milliseconds.
	out, err := testio.Output(cmd, 30*time.Second)
	if errors.Is(err, testio.ErrTimeout) {
		t.Fatalf("DefaultPINSource hung without a terminal: %v", err)
	}
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	for _, want := range []string{"true ", "PIVAUTH_PIN is not set", "no terminal", "pinentry has no display", "--pin-file"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("error %q does not say %q", out, want)
		}
	}
}
