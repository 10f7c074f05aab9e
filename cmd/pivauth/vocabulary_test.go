package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestOneVocabulary: the default format is "text" everywhere (the old names raw and table still
// accepted where they were), curl's -k is refused with what to do instead, and a command's help
// shows only the global flags that apply to it.
func TestOneVocabulary(t *testing.T) {
	c := newCLI(t)
	for _, cmd := range []string{"token", "assertion", "login", "audit", "version", "cards", "certs"} {
		if r := c.ok(cmd, "--help"); !strings.Contains(r.stdout, "--output: text (default)") {
			t.Errorf("%s --help does not name text the default format:\n%s", cmd, r.stdout)
		}
	}
	c.ok("audit", "--output", "table")
	c.ok("audit", "--output", "text")
	c.fails(ExitUsage, []string{`--output "raw" is not offered`}, "version", "--output", "raw")

	r := c.fails(ExitUsage, []string{"-k/--insecure: pivauth has no insecure mode", "--ca-file"}, "request", "-k", "https://example.invalid/")
	if strings.Contains(r.stderr, "unknown shorthand") {
		t.Errorf("request -k:\n%s", r.stderr)
	}
	if r := c.ok("request", "--help"); strings.Contains(r.stdout, "insecure") || !strings.Contains(r.stdout, "-o, --output-file") {
		t.Errorf("request --help offers -k or lacks -o:\n%s", r.stdout)
	}
	for _, tc := range []struct {
		args         []string
		shown, unset []string
	}{
		{[]string{"version", "--help"}, []string{"--verbose", "--output"}, []string{"--reader", "--pin-file", "--slot", "--http-timeout", "--profile"}},
		{[]string{"cards", "--help"}, []string{"--reader", "--serial", "--timeout"}, []string{"--pin-file", "--slot", "--http-timeout", "--allow-last-try"}},
		{[]string{"pin", "change", "--help"}, []string{"--reader", "--pin-file", "--allow-last-try"}, []string{"--slot", "--http-timeout"}},
		{[]string{"setup", "selfsign", "--help"}, []string{"--slot", "--pin-file", "-o, --output-file"}, []string{"--http-timeout", "--cer ", "--pem "}},
		{[]string{"setup", "key", "--help"}, []string{"-o, --output-file"}, []string{"--public-key"}},
		{[]string{"setup", "csr", "--help"}, []string{"-o, --output-file"}, []string{"--out "}},
		{[]string{"token", "--help"}, []string{"--reader", "--slot", "--pin-file", "--http-timeout", "--profile"}, nil},
		{[]string{"agent", "status", "--help"}, []string{"Exit code: 0 when an agent runs, 3 when none does"}, []string{"--reader", "--pin-file"}},
	} {
		r := c.ok(tc.args...)
		for _, s := range tc.shown {
			if !strings.Contains(r.stdout, s) {
				t.Errorf("pivauth %v lacks %q:\n%s", tc.args, s, r.stdout)
			}
		}
		for _, s := range tc.unset {
			if strings.Contains(r.stdout, s) {
				t.Errorf("pivauth %v shows %q, which does not apply:\n%s", tc.args, s, r.stdout)
			}
		}
	}
	// The root's own help still lists every global flag.
	if r := c.ok("--help"); !strings.Contains(r.stdout, "--pin-file") || !strings.Contains(r.stdout, "--reader") {
		t.Errorf("pivauth --help lost global flags:\n%s", r.stdout)
	}
}

// TestAgentStatusExitCodes: agent status exits 3 when no agent runs, saying so on stdout (text and
// JSON), not as an error.
func TestAgentStatusExitCodes(t *testing.T) {
	c := newCLI(t)
	r := c.run("agent", "status")
	if r.code != ExitNoCard || !strings.Contains(r.stdout, "not running") || r.stderr != "" {
		t.Errorf("agent status without an agent: exit %d, stdout %q, stderr %q; want 3 and not running on stdout", r.code, r.stdout, r.stderr)
	}
	r = c.run("agent", "status", "--output", "json")
	var st struct {
		Running *bool `json:"running"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); r.code != ExitNoCard || err != nil || st.Running == nil || *st.Running {
		t.Errorf("agent status --output json without an agent: exit %d, %q (%v)", r.code, r.stdout, err)
	}
}
