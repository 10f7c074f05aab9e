package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestErrorIsOneLine: a failure deep in the stack (a wrong PIN met while Entra's client assertion
// is signed) prints as one line, "pivauth: <what>: <why>", without the packages' names stacked
// on it (entra: client assertion: assertion: sign: signer: slot 9a: …), and the lockout guard's
// refusal with its remedy on a line of its own.
func TestErrorIsOneLine(t *testing.T) {
	e := startEntraBench(t)
	wrong := writeFile(t, t.TempDir(), "wrong", "999999\n", 0o600)
	args := []string{"token", "--reader", e.b.Reader, "--pin-file", wrong, "--authority", e.srv.Authority(),
		"--client-id", e.clientID, "--ca-file", e.ca, "--scope", graphDefault, "--no-cache"}
	r := e.c.fails(ExitPIN, nil, args...)
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	want := regexp.MustCompile(`^pivauth: client assertion: wrong PIN for .+: PIN incorrect: 2 tries left$`)
	if len(lines) != 1 || !want.MatchString(lines[0]) {
		t.Errorf("wrong PIN:\n%s\nwant one line matching %s", r.stderr, want)
	}
	stacked := regexp.MustCompile(`(: )(piv|signer|entra|oidc|assertion|mtls): `)
	if m := stacked.FindString(r.stderr); m != "" {
		t.Errorf("a package name %q is stacked on the message:\n%s", m, r.stderr)
	}
	// The second wrong PIN leaves one try: the remedy names this command line's ways on.
	r = e.c.fails(ExitPIN, nil, args...)
	lines = strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "PIN incorrect: 1 try left; the lockout guard will not present a PIN again unless the last try is allowed explicitly") ||
		lines[1] != "  fix: run again with --allow-last-try, once sure of the PIN; or restore the tries with pivauth pin unblock" {
		t.Errorf("wrong PIN, one try left:\n%s", r.stderr)
	}
}

// TestArgumentErrors: wrong argument counts are said in pivauth's words with an example (never
// cobra's "accepts 1 arg(s), received 0"), help for what does not exist exits 2, and no command
// uses cobra's stock argument checks, whose texts those are.
func TestArgumentErrors(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"request"}, "pivauth: request: give the URL to request, e.g. pivauth request https://"},
		{[]string{"request", "https://a.example", "https://b.example"}, `pivauth: request: unexpected argument "https://b.example"`},
		{[]string{"exec"}, "pivauth: exec: give the command after --, e.g. pivauth exec -- "},
		{[]string{"setup", "import"}, "pivauth: setup import: give the file to load"},
		{[]string{"profile", "show", "a", "b"}, `pivauth: profile show: unexpected argument "b"`},
		{[]string{"help", "nosuch"}, `pivauth: help: no command or topic "nosuch"`},
		{[]string{"help", "setup", "nosuch"}, `pivauth: help: no command or topic "setup nosuch"`},
	} {
		r := c.fails(ExitUsage, []string{tc.want}, tc.args...)
		if strings.Contains(r.stderr, "arg(s)") {
			t.Errorf("pivauth %v: cobra's text:\n%s", tc.args, r.stderr)
		}
	}
	if r := c.ok("help", "setup", "key"); !strings.Contains(r.stdout, "pivauth setup key") {
		t.Errorf("help setup key:\n%s", r.stdout)
	}
	if r := c.ok("help", "exit-codes"); !strings.Contains(r.stdout, "exit codes") && !strings.Contains(r.stdout, "codes") {
		t.Errorf("help exit-codes:\n%s", r.stdout)
	}

	stock := regexp.MustCompile(`cobra\.(ExactArgs|MinimumNArgs|MaximumNArgs|RangeArgs)\(`)
	files, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".go") || strings.HasSuffix(f.Name(), "_test.go") {
			continue
		}
		src, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if m := stock.Find(src); m != nil {
			t.Errorf("%s uses %s, whose error text is cobra's: use positional", f.Name(), m)
		}
	}
}

// TestReportOneLine: whatever an error carries (a server's words with newlines and escapes), the
// report prints it on one line, and its remedy on the next.
func TestReportOneLine(t *testing.T) {
	var stderr bytes.Buffer
	a := newApp(strings.NewReader(""), &bytes.Buffer{}, &stderr)
	a.started = true
	err := fmt.Errorf("server said: %w", errors.New("bad\nthing\x1b[31m happened"))
	if code := a.report(context.Background(), err); code != ExitError {
		t.Errorf("exit %d", code)
	}
	if got := stderr.String(); strings.Count(got, "\n") != 1 || strings.Contains(got, "\x1b") || !strings.HasPrefix(got, "pivauth: server said: bad thing") {
		t.Errorf("report: %q", got)
	}
}
