package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestVersion(t *testing.T) {
	c := newCLI(t)
	r := c.ok("version")
	if want := "pivauth v0.0.0-test "; !strings.HasPrefix(r.stdout, want) {
		t.Errorf("version: %q, want prefix %q", r.stdout, want)
	}
	if r2 := c.ok("--version"); r2.stdout != r.stdout {
		t.Errorf("--version %q differs from version %q", r2.stdout, r.stdout)
	}
	var bi buildInfo
	r = c.ok("version", "--output", "json")
	if err := json.Unmarshal([]byte(r.stdout), &bi); err != nil {
		t.Fatalf("version json: %v\n%s", err, r.stdout)
	}
	if bi.Version != "v0.0.0-test" || bi.GoVersion != runtime.Version() || bi.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("version json: %+v", bi)
	}
}

func TestExitCodesHelp(t *testing.T) {
	r := newCLI(t).ok("help", "exit-codes")
	for _, e := range exitCodeTable {
		if line := fmt.Sprintf("%3d  %s", e.Code, e.Text); !strings.Contains(r.stdout, line) {
			t.Errorf("help exit-codes lacks %q", line)
		}
	}
	root := newCLI(t).ok("--help")
	for _, topic := range []string{"exit-codes", "environment", "config"} {
		if !strings.Contains(root.stdout, "pivauth "+topic) {
			t.Errorf("root help does not list the topic %q", topic)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	c := newCLI(t)
	c.fails(ExitUsage, []string{`unknown command "frobnicate"`, "pivauth --help"}, "frobnicate")
	c.fails(ExitUsage, []string{"unknown flag: --frobnicate"}, "version", "--frobnicate")
	c.fails(ExitUsage, []string{`--output "pem" is not offered`, "text, json"}, "version", "--output", "pem")
	c.fails(ExitUsage, []string{`unknown command "extra" for "pivauth version"`}, "version", "extra")
	c.fails(ExitUsage, []string{"invalid argument"}, "version", "--timeout", "soon")
	// Every command refuses an --output it does not offer, before it does anything.
	c.fails(ExitUsage, []string{`pivauth pin change: --output "json" is not offered`}, "pin", "change", "--output", "json")
}

// TestEveryCommandHasExamples walks the command tree: each runnable command documents itself
// with a short text and at least one example, as `--help` promises.
func TestEveryCommandHasExamples(t *testing.T) {
	a := newApp(nil, nil, nil)
	var walk func(path string, cmds []*cobra.Command)
	walk = func(path string, cmds []*cobra.Command) {
		for _, c := range cmds {
			if c.Hidden || c.Name() == "help" || c.Name() == "completion" || strings.HasPrefix(c.Name(), "__") {
				continue
			}
			name := path + " " + c.Name()
			if c.Short == "" {
				t.Errorf("%s: no short description", name)
			}
			if c.Runnable() && c.Example == "" {
				t.Errorf("%s: no example", name)
			}
			walk(name, c.Commands())
		}
	}
	walk("pivauth", a.rootCommand().Commands())
}

func TestCompletion(t *testing.T) {
	c := newCLI(t)
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		r := c.ok("completion", sh)
		if !strings.Contains(r.stdout, "pivauth") {
			t.Errorf("completion %s: no script", sh)
		}
	}
	r := c.ok("__complete", "version", "--slot", "")
	if !strings.Contains(r.stdout, "9a\tPIV authentication") || !strings.Contains(r.stdout, "9e\tcard authentication") {
		t.Errorf("slot completion:\n%s", r.stdout)
	}
	r = c.ok("__complete", "version", "--output", "")
	if !strings.HasPrefix(r.stdout, "text\njson\n") {
		t.Errorf("output completion for version:\n%s", r.stdout)
	}
}

// TestRedactSecrets: whoever logs an attribute named like a secret, its value never reaches the
// verbose log.
func TestRedactSecrets(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: redactSecrets}))
	log.Info("x", "pin", "123456", "access_token", "eyJsecret", "New_PUK", "87654321", "reader", "R1")
	out := buf.String()
	for _, secret := range []string{"123456", "eyJsecret", "87654321"} {
		if strings.Contains(out, secret) {
			t.Errorf("log shows %q: %s", secret, out)
		}
	}
	if !strings.Contains(out, "reader=R1") || strings.Count(out, "[redacted]") != 3 {
		t.Errorf("log: %s", out)
	}
}
