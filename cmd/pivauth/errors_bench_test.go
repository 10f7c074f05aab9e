//go:build linux

package main

import (
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
