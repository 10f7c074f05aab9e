package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/internal/privfs"
	"github.com/pivauth/pivauth/signer/purpose"
)

// TestMain lets the test binary act as a second writer process (see TestRecordConcurrentProcesses).
func TestMain(m *testing.M) {
	if dir := os.Getenv("AUDIT_TEST_WRITER_DIR"); dir != "" {
		os.Exit(writeEvents(dir))
	}
	os.Exit(m.Run())
}

// writeEvents appends AUDIT_TEST_WRITER_N events tagged with the process id, with a tiny rotation
// size so that writers rotate under each other's feet.
func writeEvents(dir string) int {
	n, _ := strconv.Atoi(os.Getenv("AUDIT_TEST_WRITER_N"))
	l, err := Open(dir, 2048, 1000)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := range n {
		ev := Event{Operation: OpSign, Card: "serial:1", Purpose: purpose.Purpose{JTI: strconv.Itoa(i)}, Result: ResultOK}
		if err := l.Record(ev); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

func TestRecordCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "pivauth")
	l, err := Open(dir, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Record(Event{Operation: OpSign, Slot: "9a", Result: ResultOK}); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, FileName): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", path, got, want)
		}
	}
	evs, skipped, err := Read(dir, Filter{})
	if err != nil || skipped != 0 || len(evs) != 1 {
		t.Fatalf("Read = %d events, %d skipped, %v; want 1, 0, nil", len(evs), skipped, err)
	}
	if evs[0].PID != os.Getpid() || time.Since(evs[0].Time) > time.Minute || evs[0].Slot != "9a" {
		t.Errorf("event not filled in: %+v", evs[0])
	}
}

func TestOpenRefusesDirectoryOpenToOthers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pivauth")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask made of it
		t.Fatal(err)
	}
	_, err := Open(dir, 0, 0)
	if !errors.Is(err, privfs.ErrNotPrivate) || !strings.Contains(err.Error(), "chmod 700") {
		t.Fatalf("Open(0755 dir) = %v, want ErrNotPrivate saying chmod 700", err)
	}
}

func TestRecordRotatesBySize(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pivauth")
	const keep = 2
	l, err := Open(dir, 300, keep)
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	for i := range n {
		if err := l.Record(Event{Operation: OpSign, Purpose: purpose.Purpose{JTI: strconv.Itoa(i)}, Result: ResultOK}); err != nil {
			t.Fatal(err)
		}
	}
	names, _ := filepath.Glob(filepath.Join(dir, FileName+"*"))
	if len(names) != keep+1 {
		t.Fatalf("log files %v, want the current one and %d rotated", names, keep)
	}
	for _, name := range names {
		fi, _ := os.Stat(name)
		if fi.Size() > 300 {
			t.Errorf("%s has %d bytes, more than the rotation size", name, fi.Size())
		}
	}
	evs, _, err := Read(dir, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 || len(evs) >= n {
		t.Fatalf("read %d events: rotation kept everything or nothing", len(evs))
	}
	// What survives is the newest events, oldest first, without gaps.
	first, _ := strconv.Atoi(evs[0].Purpose.JTI)
	for i, ev := range evs {
		if ev.Purpose.JTI != strconv.Itoa(first+i) {
			t.Fatalf("event %d has jti %s, want %d: order or gap wrong", i, ev.Purpose.JTI, first+i)
		}
	}
	if evs[len(evs)-1].Purpose.JTI != strconv.Itoa(n-1) {
		t.Errorf("newest event %s, want %d", evs[len(evs)-1].Purpose.JTI, n-1)
	}
}

// Two processes append at once while rotating: every line must arrive whole, none lost.
func TestRecordConcurrentProcesses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pivauth")
	const procs, each = 3, 60
	// The writers take well under a second; a writer stuck on the lock is killed at the deadline
	// instead of holding CI until its time limit. Stderr is the test's own file, not a pipe, so
	// Wait waits for the process alone.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var cmds []*exec.Cmd
	for range procs {
		cmd := exec.CommandContext(ctx, os.Args[0])
		cmd.Env = append(os.Environ(), "AUDIT_TEST_WRITER_DIR="+dir, "AUDIT_TEST_WRITER_N="+strconv.Itoa(each))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			if ctx.Err() != nil {
				t.Fatalf("writer process killed, not done within a minute: %v", err)
			}
			t.Fatalf("writer process: %v", err)
		}
	}
	evs, skipped, err := Read(dir, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if skipped != 0 || len(evs) != procs*each {
		t.Fatalf("read %d events (%d damaged lines), want %d whole ones", len(evs), skipped, procs*each)
	}
	perPID := map[int]int{}
	for _, ev := range evs {
		if ev.Purpose.JTI != strconv.Itoa(perPID[ev.PID]) {
			t.Fatalf("process %d: event %s after %d: a line was lost or reordered", ev.PID, ev.Purpose.JTI, perPID[ev.PID])
		}
		perPID[ev.PID]++
	}
	if len(perPID) != procs {
		t.Errorf("events from %d processes, want %d", len(perPID), procs)
	}
}

func TestReadFilters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pivauth")
	l, err := Open(dir, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	cards := []string{"serial:12345678", "guid:00112233445566778899AABBCCDDEEFF", "serial:12345678"}
	for i, card := range cards {
		if err := l.Record(Event{Time: t0.Add(time.Duration(i) * time.Hour), Card: card, Operation: OpSign, Result: ResultOK}); err != nil {
			t.Fatal(err)
		}
	}
	// A line cut short by a crash is skipped, not fatal.
	f, _ := os.OpenFile(filepath.Join(dir, FileName), os.O_WRONLY|os.O_APPEND, 0)
	_, _ = f.WriteString(`{"time":"2025-03-01T1`)
	_ = f.Close()

	for _, tc := range []struct {
		name string
		f    Filter
		want []int
	}{
		{"all", Filter{}, []int{0, 1, 2}},
		{"since", Filter{Since: t0.Add(time.Hour)}, []int{1, 2}},
		{"until", Filter{Until: t0.Add(time.Hour)}, []int{0, 1}},
		{"card full", Filter{Card: "serial:12345678"}, []int{0, 2}},
		{"card value", Filter{Card: "00112233445566778899aabbccddeeff"}, []int{1}},
		{"card and time", Filter{Card: "12345678", Since: t0.Add(time.Minute)}, []int{2}},
	} {
		evs, skipped, err := Read(dir, tc.f)
		if err != nil || skipped != 1 {
			t.Fatalf("%s: Read: %v, %d skipped (want 1)", tc.name, err, skipped)
		}
		var got []int
		for _, ev := range evs {
			got = append(got, int(ev.Time.Sub(t0)/time.Hour))
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: events %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestReadMissingDirectory(t *testing.T) {
	evs, skipped, err := Read(filepath.Join(t.TempDir(), "none"), Filter{})
	if err != nil || skipped != 0 || len(evs) != 0 {
		t.Fatalf("Read(missing) = %v, %d, %v; want nothing and no error", evs, skipped, err)
	}
}

// The purpose is sanitized on the way to the file: endpoints lose whatever could carry a
// credential, and no field can grow into a payload.
func TestRecordSanitizesPurpose(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pivauth")
	l, err := Open(dir, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "s3cr3t-value"
	p := purpose.Purpose{
		TokenEndpoint: "https://user:" + secret + "@login.example/tenant/oauth2/v2.0/token?code=" + secret + "#" + secret,
		ClientID:      strings.Repeat("c", 1000),
	}
	if err := l.Record(Event{Operation: OpSign, Purpose: p, Result: ResultOK}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, FileName))
	if bytes.Contains(raw, []byte(secret)) {
		t.Fatalf("log line carries the secret from the endpoint URL: %s", raw)
	}
	var ev Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Purpose.TokenEndpoint != "https://login.example/tenant/oauth2/v2.0/token" {
		t.Errorf("endpoint %q", ev.Purpose.TokenEndpoint)
	}
	if len(ev.Purpose.ClientID) != maxField {
		t.Errorf("client id of %d bytes kept, want it cut to %d", len(ev.Purpose.ClientID), maxField)
	}
}
