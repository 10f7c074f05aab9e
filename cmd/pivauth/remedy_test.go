package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestLibrariesNameNoCommand enforces that the libraries' messages and remedies name no pivauth
// command: only this command line words a remedy as one of its commands (remedy). It parses every
// non-test Go file of piv, signer and flows and looks in each string literal for "pivauth"
// followed by the name of one of pivauth's commands, the command tree walked for the names.
func TestLibrariesNameNoCommand(t *testing.T) {
	names := map[string]bool{}
	root := newApp(strings.NewReader(""), io.Discard, io.Discard).rootCommand()
	for _, c := range root.Commands() {
		names[regexp.QuoteMeta(c.Name())] = true
		for _, alias := range c.Aliases {
			names[regexp.QuoteMeta(alias)] = true
		}
	}
	if !names["pin"] || !names["setup"] || !names["certs"] {
		t.Fatalf("command names %v lack pin, setup or certs", names)
	}
	var alt []string
	for n := range names {
		alt = append(alt, n)
	}
	command := regexp.MustCompile(`(?i)\bpivauth\s+(` + strings.Join(alt, "|") + `)\b`)

	files := 0
	for _, dir := range []string{"../../piv", "../../signer", "../../flows"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			files++
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					s = lit.Value
				}
				if m := command.FindString(s); m != "" {
					t.Errorf("%s: a library string names the command %q: give the error a Remedy in plain words and word it as a command in cmd/pivauth (remedy.go)", fset.Position(lit.Pos()), m)
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if files < 50 {
		t.Fatalf("parsed %d files of piv, signer and flows: the walk missed them", files)
	}
}
