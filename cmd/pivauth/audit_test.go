package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/cmd/pivauth/internal/audit"
	"github.com/pivauth/pivauth/signer/purpose"
)

func TestParseTimeFlag(t *testing.T) {
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.Local)
	for in, want := range map[string]time.Time{
		"":                     {},
		"90m":                  now.Add(-90 * time.Minute),
		"7d":                   now.AddDate(0, 0, -7),
		"2025-03-01":           time.Date(2025, 3, 1, 0, 0, 0, 0, time.Local),
		"2025-03-01 14:30":     time.Date(2025, 3, 1, 14, 30, 0, 0, time.Local),
		"2025-03-01T14:30:00Z": time.Date(2025, 3, 1, 14, 30, 0, 0, time.UTC),
	} {
		got, err := parseTimeFlag(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseTimeFlag(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"yesterday", "-5m", "2025-13-01", "xd"} {
		if _, err := parseTimeFlag(bad, now); err == nil {
			t.Errorf("parseTimeFlag(%q) accepted", bad)
		}
	}
}

// runAudit runs `pivauth audit` in-process with the given flags against the log in stateHome.
func runAudit(t *testing.T, stateHome string, output string, args ...string) string {
	t.Helper()
	t.Setenv("XDG_STATE_HOME", stateHome)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // no profile
	var stdout, stderr bytes.Buffer
	a := newApp(nil, &stdout, &stderr)
	cmd := a.rootCommand()
	args = append([]string{"audit"}, args...)
	if output != "" {
		args = append(args, "--output", output)
	}
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		t.Fatalf("audit %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

func TestAuditCommand(t *testing.T) {
	state := t.TempDir()
	log, err := audit.Open(filepath.Join(state, "pivauth"), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	events := []audit.Event{
		{Time: now.Add(-48 * time.Hour), Card: "serial:111", Slot: "9a", Operation: audit.OpSign, Result: audit.ResultOK,
			Purpose: purpose.Purpose{TokenEndpoint: "https://login.example/t/oauth2/v2.0/token", ClientID: "app-old", JTI: "jti-old"}},
		{Time: now.Add(-time.Hour), Card: "serial:222", Slot: "9c", Operation: audit.OpTLSHandshake, Result: audit.ResultOK,
			Purpose: purpose.Purpose{ServerName: "api.example"}, Requester: &audit.Requester{PID: 42, UID: 1000, Command: "pivauth"}},
		{Time: now.Add(-time.Minute), Card: "serial:111", Slot: "9a", Operation: audit.OpSign, Result: audit.ResultPINIncorrect,
			Purpose: purpose.Purpose{ClientID: "app-new", JTI: "jti-new"}},
	}
	for _, ev := range events {
		if err := log.Record(ev); err != nil {
			t.Fatal(err)
		}
	}

	table := runAudit(t, state, "")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "TIME") {
		t.Fatalf("table:\n%s", table)
	}
	for i, want := range []string{"jti-old", "server api.example", "pin-incorrect"} {
		if !strings.Contains(lines[i+1], want) {
			t.Errorf("table row %d lacks %q: %s", i+1, want, lines[i+1])
		}
	}
	if !strings.Contains(lines[2], "agent for pivauth (pid 42, uid 1000)") {
		t.Errorf("table row 2 does not name the requester: %s", lines[2])
	}

	var got []audit.Event
	out := runAudit(t, state, "json", "--since", "24h", "--card", "111")
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("json output: %v\n%s", err, out)
	}
	if len(got) != 1 || got[0].Purpose.JTI != "jti-new" {
		t.Errorf("--since 24h --card 111: %+v, want only the newest event of card 111", got)
	}

	out = runAudit(t, state, "json", "--until", now.Add(-2*time.Hour).Format(time.RFC3339))
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 || got[0].Purpose.JTI != "jti-old" {
		t.Errorf("--until: %v %+v", err, got)
	}

	if out := runAudit(t, t.TempDir(), "json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("empty log as JSON: %q, want []", out)
	}
}
