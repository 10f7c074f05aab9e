//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pivauth/pivauth/internal/testio"
)

// TestBuildWithoutCgo: a CGO_ENABLED=0 build compiles, and a command that needs PC/SC fails at
// once with exit code 3 and how to rebuild, while commands that need no card still work.
func TestBuildWithoutCgo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds pivauth a second time")
	}
	bin := filepath.Join(t.TempDir(), "pivauth-nocgo")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := testio.CombinedOutput(build, buildTimeout); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	c := newCLI(t)
	saved := binary
	binary = bin
	defer func() { binary = saved }()
	c.fails(ExitNoCard, []string{"built without cgo", "CGO_ENABLED=1"}, "cards")
	c.fails(ExitNoCard, []string{"built without cgo"}, "token", "--tenant", "t", "--client-id", "c", "--scope", "s")
	if r := c.ok("version", "--output", "json"); r.stdout == "" {
		t.Error("version printed nothing")
	}
}
