//go:build linux

// Package packaging_test checks what `make install` and `make dist` produce, the way an admin or
// a package manager would use it: the files at their paths, the binary running from there, the
// manual pages rendering, the systemd unit verifying, the package's metadata and checksums.
package packaging_test

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/internal/testio"
)

// Deadlines for the children: make builds pivauth once (minutes on a loaded CI machine); the
// rest are quick tools.
const (
	makeTimeout = 10 * time.Minute
	toolTimeout = 30 * time.Second
)

// run runs a command with a deadline and returns its combined output, failing the test if it
// does not exit 0.
func run(t *testing.T, timeout time.Duration, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := testio.CombinedOutput(cmd, timeout)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: %v", tool, err)
		}
	}
}

// TestInstallAndDist runs `make install` into a scratch prefix and `make dist` into a scratch
// directory with one shared build directory (one go build for both), and checks every file.
func TestInstallAndDist(t *testing.T) {
	need(t, "make", "git", "install", "sed")
	repo, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	build := t.TempDir()
	version := strings.TrimSpace(run(t, toolTimeout, repo, nil, "cmd/pivauth/packaging/version.sh"))
	debVersion := strings.TrimSpace(run(t, toolTimeout, repo, nil, "cmd/pivauth/packaging/version.sh", "--deb"))
	commit := strings.TrimSpace(run(t, toolTimeout, repo, nil, "git", "rev-parse", "HEAD"))
	if !regexp.MustCompile(`^\d+\.\d+\.\d+(-\d+-g[0-9a-f]+)?(-dirty)?$`).MatchString(version) {
		t.Errorf("packaging/version.sh: %q, want X.Y.Z[-N-gHASH][-dirty]", version)
	}
	if strings.Count(debVersion, "-") != 0 || !strings.HasPrefix(debVersion, strings.SplitN(version, "-", 2)[0]) {
		t.Errorf("packaging/version.sh --deb: %q for %q: a Debian upstream version has no hyphen", debVersion, version)
	}

	t.Run("install", func(t *testing.T) {
		prefix := filepath.Join(t.TempDir(), "usr", "local")
		run(t, makeTimeout, repo, nil, "make", "install", "PREFIX="+prefix, "BUILDDIR="+build)
		checkTree(t, prefix, prefix+"/bin", version, commit)
		verifyUnit(t, filepath.Join(prefix, "lib/systemd/user/pivauth-agent.service"))

		// DESTDIR stages the same files for a package: they land under DESTDIR and name PREFIX.
		dest := t.TempDir()
		run(t, makeTimeout, repo, nil, "make", "install", "PREFIX=/opt/pivauth", "DESTDIR="+dest, "BUILDDIR="+build)
		if got, want := listFiles(t, filepath.Join(dest, "opt/pivauth")), listFiles(t, prefix); !slices.Equal(got, want) {
			t.Errorf("DESTDIR install: %v, want %v", got, want)
		}
		unit := readFile(t, filepath.Join(dest, "opt/pivauth/lib/systemd/user/pivauth-agent.service"))
		if !strings.Contains(unit, "\nExecStart=/opt/pivauth/bin/pivauth agent\n") {
			t.Errorf("DESTDIR install: the unit does not start /opt/pivauth/bin/pivauth:\n%s", unit)
		}
	})

	t.Run("dist", func(t *testing.T) {
		need(t, "dpkg-deb", "dpkg", "tar", "sha256sum")
		dist := t.TempDir()
		run(t, makeTimeout, repo, nil, "make", "dist", "BUILDDIR="+build, "DISTDIR="+dist)
		tarball := "pivauth_" + version + "_linux_amd64.tar.gz"
		deb := "pivauth_" + version + "_amd64.deb"

		// SHA256SUMS names both artifacts with their digests, computed here.
		sums := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(readFile(t, filepath.Join(dist, "SHA256SUMS"))), "\n") {
			sum, name, ok := strings.Cut(line, "  ")
			if !ok {
				t.Fatalf("SHA256SUMS line %q", line)
			}
			sums[name] = sum
		}
		if len(sums) != 2 {
			t.Errorf("SHA256SUMS lists %v, want %s and %s", sums, tarball, deb)
		}
		for _, name := range []string{tarball, deb} {
			data, err := os.ReadFile(filepath.Join(dist, name))
			if err != nil {
				t.Fatal(err)
			}
			d := sha256.Sum256(data)
			if sums[name] != hex.EncodeToString(d[:]) {
				t.Errorf("SHA256SUMS: %s has %q, the file %x", name, sums[name], d)
			}
		}

		// The tarball: one top directory laid out as a prefix (tar -C /usr/local
		// --strip-components=1), owned by root, with the licence and README.
		top := strings.TrimSuffix(tarball, ".tar.gz")
		tarRoot := t.TempDir()
		extractTar(t, filepath.Join(dist, tarball), tarRoot, top)
		checkTree(t, filepath.Join(tarRoot, top), "/usr/local/bin", version, commit)
		for _, doc := range []string{"LICENSE", "NOTICE", "README.md"} {
			if readFile(t, filepath.Join(tarRoot, top, "share/doc/pivauth", doc)) != readFile(t, filepath.Join(repo, doc)) {
				t.Errorf("tarball: share/doc/pivauth/%s differs from the repository's", doc)
			}
		}

		// The Debian package: its metadata, then its files unpacked into a scratch root.
		info := run(t, toolTimeout, "", nil, "dpkg-deb", "-I", filepath.Join(dist, deb))
		for _, want := range []string{"Package: pivauth", "Version: " + debVersion, "Architecture: amd64",
			"Depends: libc6, libpcsclite1", "Recommends: pcscd"} {
			if !strings.Contains(info, "\n "+want+"\n") {
				t.Errorf("dpkg-deb -I lacks %q:\n%s", want, info)
			}
		}
		contents := run(t, toolTimeout, "", nil, "dpkg-deb", "-c", filepath.Join(dist, deb))
		for _, line := range strings.Split(strings.TrimSpace(contents), "\n") {
			if !strings.Contains(line, " root/root ") {
				t.Errorf("deb entry not owned by root: %s", line)
			}
		}
		debRoot := t.TempDir()
		run(t, toolTimeout, "", nil, "dpkg", "-x", filepath.Join(dist, deb), debRoot)
		checkTree(t, filepath.Join(debRoot, "usr"), "/usr/bin", version, commit)
		copyright := readFile(t, filepath.Join(debRoot, "usr/share/doc/pivauth/copyright"))
		if !strings.Contains(copyright, "License: Apache-2.0") {
			t.Errorf("deb: usr/share/doc/pivauth/copyright:\n%s", copyright)
		}
		// Same files in the tarball and the package, apart from the documentation.
		notDoc := func(files []string) []string {
			return slices.DeleteFunc(files, func(f string) bool { return strings.HasPrefix(f, "share/doc/") })
		}
		if got, want := notDoc(listFiles(t, filepath.Join(debRoot, "usr"))), notDoc(listFiles(t, filepath.Join(tarRoot, top))); !slices.Equal(got, want) {
			t.Errorf("deb files %v differ from the tarball's %v", got, want)
		}
		if entries, _ := os.ReadDir(debRoot); len(entries) != 1 {
			t.Errorf("deb installs outside /usr: %v", entries)
		}
	})
}

// checkTree checks an installed prefix: exactly the expected files with their modes, a binary
// that runs and reports the version and commit, a manual page per command that renders, the
// completion scripts, and the agent's unit starting bindir/pivauth.
func checkTree(t *testing.T, prefix, bindir, version, commit string) {
	t.Helper()
	bin := filepath.Join(prefix, "bin/pivauth")
	out := run(t, toolTimeout, "", nil, bin, "--version")
	want := regexp.MustCompile(`^pivauth ` + regexp.QuoteMeta(version) + ` \(commit ` + commit[:12] +
		`, built \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\) go\S+ linux/amd64\n$`)
	if !want.MatchString(out) {
		t.Errorf("%s --version: %q, want %v", bin, out, want)
	}

	// The manual pages: pivauth.1 and, following SEE ALSO, a page for every command, and the
	// help topics' pages; no other.
	man := filepath.Join(prefix, "share/man/man1")
	pages := map[string]bool{}
	var visit func(page string)
	visit = func(page string) {
		if pages[page] {
			return
		}
		pages[page] = true
		text := readFile(t, filepath.Join(man, page+".1"))
		for _, m := range regexp.MustCompile(`\\fB(pivauth(?:-[a-z0-9-]+)?)\(1\)\\fP`).FindAllStringSubmatch(text, -1) {
			visit(m[1])
		}
	}
	visit("pivauth")
	// The help topics (pivauth help config, …) have pages of their own.
	for _, topic := range []string{"pivauth-config", "pivauth-environment", "pivauth-exit-codes"} {
		visit(topic)
	}
	for _, c := range []string{"pivauth-cards", "pivauth-certs", "pivauth-token", "pivauth-setup-key", "pivauth-pin-status",
		"pivauth-agent", "pivauth-agent-status", "pivauth-doctor", "pivauth-version", "pivauth-completion-bash"} {
		if !pages[c] {
			t.Errorf("no manual page reached for %s (SEE ALSO from pivauth.1): %v", c, pages)
		}
	}
	var files []string
	for p := range pages {
		files = append(files, "share/man/man1/"+p+".1")
	}
	files = append(files, "bin/pivauth", "share/bash-completion/completions/pivauth",
		"share/zsh/site-functions/_pivauth", "share/fish/vendor_completions.d/pivauth.fish",
		"lib/systemd/user/pivauth-agent.service")
	slices.Sort(files)
	got := slices.DeleteFunc(listFiles(t, prefix), func(f string) bool { return strings.HasPrefix(f, "share/doc/") })
	if !slices.Equal(got, files) {
		t.Errorf("%s holds\n%v\nwant\n%v", prefix, got, files)
	}
	for _, f := range got {
		fi, err := os.Stat(filepath.Join(prefix, f))
		if err != nil {
			t.Fatal(err)
		}
		mode := fs.FileMode(0o644)
		if f == "bin/pivauth" {
			mode = 0o755
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", f, fi.Mode().Perm(), mode)
		}
	}
	if _, err := exec.LookPath("man"); err != nil {
		t.Logf("man is not installed: the manual pages are not rendered")
	} else {
		page := run(t, toolTimeout, "", []string{"MANWIDTH=80", "MAN_KEEP_FORMATTING=0"}, "man", "-l", filepath.Join(man, "pivauth-cards.1"))
		if !strings.Contains(page, "pivauth-cards - List readers, cards and the certificates in their slots") || !strings.HasPrefix(page, "PIVAUTH-CARDS(1)") || !strings.Contains(page, "--reader") {
			t.Errorf("man -l pivauth-cards.1:\n%s", page)
		}
		topic := run(t, toolTimeout, "", []string{"MANWIDTH=80"}, "man", "-l", filepath.Join(man, "pivauth-exit-codes.1"))
		if !strings.HasPrefix(topic, "PIVAUTH-EXIT-CODES(1)") || !strings.Contains(topic, "pivauth help exit-codes") || !strings.Contains(topic, "130") {
			t.Errorf("man -l pivauth-exit-codes.1:\n%s", topic)
		}
	}

	// Completions: the shells' formats, and the completion the scripts ask the binary for.
	bash := readFile(t, filepath.Join(prefix, "share/bash-completion/completions/pivauth"))
	if !strings.Contains(bash, "__start_pivauth") {
		t.Errorf("bash completion does not define __start_pivauth")
	}
	run(t, toolTimeout, "", nil, "bash", "-n", filepath.Join(prefix, "share/bash-completion/completions/pivauth"))
	if zsh := readFile(t, filepath.Join(prefix, "share/zsh/site-functions/_pivauth")); !strings.HasPrefix(zsh, "#compdef pivauth") {
		t.Errorf("zsh completion does not start with #compdef pivauth")
	}
	if fish := readFile(t, filepath.Join(prefix, "share/fish/vendor_completions.d/pivauth.fish")); !strings.Contains(fish, "complete -c pivauth") {
		t.Errorf("fish completion does not complete pivauth")
	}
	if out := run(t, toolTimeout, "", nil, bin, "__complete", "ca"); !strings.HasPrefix(out, "cards\t") {
		t.Errorf("pivauth __complete ca: %q, want cards", out)
	}

	unit := readFile(t, filepath.Join(prefix, "lib/systemd/user/pivauth-agent.service"))
	for _, want := range []string{"ExecStart=" + bindir + "/pivauth agent", "Restart=on-failure", "WantedBy=default.target"} {
		if !strings.Contains(unit, "\n"+want+"\n") {
			t.Errorf("pivauth-agent.service lacks %q:\n%s", want, unit)
		}
	}
	// Hardening that would cut the agent off from pcscd's socket or the user's runtime directory.
	for _, bad := range []string{"PrivateDevices=", "ProtectSystem=", "PrivateTmp=", "ProtectHome=", "PrivateNetwork=", "InaccessiblePaths="} {
		if strings.Contains(unit, "\n"+bad) {
			t.Errorf("pivauth-agent.service sets %s", bad)
		}
	}
}

// verifyUnit runs systemd-analyze verify on a user unit whose ExecStart exists: it fails on a
// wrong directive or a missing binary, and warns (which fails here) on an unknown key.
func verifyUnit(t *testing.T, unit string) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Logf("systemd-analyze is not installed (Debian package systemd): the unit is not verified")
		return
	}
	runtime := t.TempDir() // --user wants a runtime directory; a CI container has no session
	cmd := exec.Command("systemd-analyze", "--user", "verify", "--man=no", unit)
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+runtime)
	out, err := testio.CombinedOutput(cmd, toolTimeout)
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Errorf("systemd-analyze --user verify %s: %v\n%s", unit, err, out)
	}
}

// listFiles lists the regular files under dir, relative and sorted.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// extractTar unpacks a .tar.gz into dir, checking that every entry lies under top and is owned
// by root (as a tarball unpacked by root into /usr/local must be).
func extractTar(t *testing.T, archive, dir, top string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		if name != top && !strings.HasPrefix(name, top+"/") || strings.Contains(name, "..") {
			t.Fatalf("tarball entry %q is not under %s/", h.Name, top)
		}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("tarball entry %s owned by %d:%d, want root", h.Name, h.Uid, h.Gid)
		}
		p := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			w, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_EXCL, h.FileInfo().Mode().Perm())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(w, tr); err != nil {
				t.Fatal(err)
			}
			w.Close()
		default:
			t.Errorf("tarball entry %s: unexpected type %c", h.Name, h.Typeflag)
		}
	}
}
