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
