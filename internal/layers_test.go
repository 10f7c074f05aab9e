// Package internal_test holds the check that keeps internal/ the ground layer.
package internal_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/pivauth/pivauth"

// The packages under internal/ are ground helpers (README: Layout): they import the standard
// library, third-party modules and each other, never the layers above them (piv, signer, flows,
// cmd) — not even a leaf public package such as signer/purpose. Code that needs those belongs with
// its user (the agent lives in cmd/pivauth/internal).
func TestInternalImportsNothingAbove(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}`, module+"/internal/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	ground := 0
	for _, pkg := range strings.Fields(string(out)) {
		if !strings.HasPrefix(pkg, module+"/") {
			continue // the standard library and other modules
		}
		if pkg == module+"/internal" {
			continue // this test's own package
		}
		if !strings.HasPrefix(pkg, module+"/internal/") {
			t.Errorf("%s is a dependency of internal/...: ground helpers must not import the layers above", pkg)
			continue
		}
		ground++
	}
	if ground == 0 {
		t.Fatalf("go list found no package under internal/: %q", out)
	}
	// Each package's own imports, to name the offender when the check above fails.
	if t.Failed() {
		out, _ := exec.Command("go", "list", "-f", `{{.ImportPath}}: {{join .Imports " "}}`, module+"/internal/...").Output()
		t.Logf("imports:\n%s", out)
	}
}
