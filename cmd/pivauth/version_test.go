package main

import (
	"regexp"
	"runtime"
	"testing"
)

// TestVersionString: the linker-flag values (make install, make dist) appear as version, commit
// (abbreviated) and build date.
func TestVersionString(t *testing.T) {
	defer func(v, c, d string) { version, commit, buildDate = v, c, d }(version, commit, buildDate)
	version, commit, buildDate = "1.2.3-4-g0123456789ab", "0123456789abcdef0123456789abcdef01234567", "2026-12-03T07:00:00Z"
	want := "pivauth 1.2.3-4-g0123456789ab (commit 0123456789ab, built 2026-12-03T07:00:00Z) " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	if got := versionString(); got != want {
		t.Errorf("versionString: %q, want %q", got, want)
	}
	bi := readBuildInfo()
	if bi.Version != version || bi.Commit != commit || bi.BuildDate != buildDate {
		t.Errorf("readBuildInfo: %+v", bi)
	}
}

// TestVersionPseudo: `go install …@latest` of an untagged module records a pseudo-version; its
// last part is the commit, which --version then shows.
func TestVersionPseudo(t *testing.T) {
	defer func(v, c, d string) { version, commit, buildDate = v, c, d }(version, commit, buildDate)
	version, commit, buildDate = "v0.0.0-20261203070000-0123456789ab", "", ""
	bi := readBuildInfo()
	if bi.Commit != "0123456789ab" {
		t.Errorf("commit from pseudo-version: %q", bi.Commit)
	}
	if got := versionString(); !regexp.MustCompile(`^pivauth v0\.0\.0-20261203070000-0123456789ab \(commit 0123456789ab, built (unknown|from a commit of \S+)\) `).MatchString(got) {
		t.Errorf("versionString: %q", got)
	}
	for _, v := range []string{"v1.2.3", "v1.2.3-rc.1", "devel"} {
		if m := pseudoVersionCommit.FindStringSubmatch(v); m != nil {
			t.Errorf("%q taken for a pseudo-version: %v", v, m)
		}
	}
}
