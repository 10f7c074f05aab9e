//go:build !windows

// Windows needs no cgo for PC/SC, so there is nothing to test there.

package piv_test

import (
	"debug/buildinfo"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/internal/testio"
)

// TestBuildWithoutCgo builds a program over piv with CGO_ENABLED=0 (scard
// and piv-go need cgo on this system) and runs it: every entry point must
// fail at once with ErrNoPCSC and its rebuild advice, and the program must
// exit with its own status, not crash.
func TestBuildWithoutCgo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program without cgo")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	bin := filepath.Join(t.TempDir(), "nocgo")
	build := exec.Command(goTool, "build", "-o", bin, "./testdata/nocgo")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := testio.CombinedOutput(build, 5*time.Minute); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range info.Settings {
		if s.Key == "CGO_ENABLED" && s.Value != "0" {
			t.Fatalf("the program was built with CGO_ENABLED=%s", s.Value)
		}
	}

	// WaitForCard would wait for a card for ever if it did not fail at once.
	var stderr strings.Builder
	run := exec.Command(bin)
	run.Stderr = &stderr
	err = testio.Run(run, 30*time.Second)
	if errors.Is(err, testio.ErrTimeout) {
		t.Fatalf("the program did not fail at once: %v\n%s", err, stderr.String())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	want := []string{"Readers", "Cards", "WaitForCard", "Open", "VerifyAttestation"}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), stderr.String())
	}
	for i, name := range want {
		prefix := name + ": ErrNoPCSC=true: "
		if !strings.HasPrefix(lines[i], prefix) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], prefix)
			continue
		}
		if msg := lines[i]; !strings.Contains(msg, "built without cgo") || !strings.Contains(msg, "rebuild with CGO_ENABLED=1") {
			t.Errorf("%s: message does not say how to rebuild: %q", name, msg)
		}
	}
}
