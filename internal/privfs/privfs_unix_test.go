//go:build unix

package privfs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCheckDirRefuses(t *testing.T) {
	base := t.TempDir()
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o750); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	private := filepath.Join(base, "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(private, link); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{"group-readable": open, "symlink": link}
	if os.Geteuid() == 0 {
		foreign := filepath.Join(base, "foreign")
		if err := os.Mkdir(foreign, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(foreign, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		cases["another user's"] = foreign
	}
	for name, dir := range cases {
		if err := CheckDir(dir); !errors.Is(err, ErrNotPrivate) {
			t.Errorf("%s directory: CheckDir = %v, want ErrNotPrivate", name, err)
		}
	}
	if err := CheckDir(private); err != nil {
		t.Errorf("private directory refused: %v", err)
	}
}

// TestAppendPrivate: a new file is created 0600 and appended to; an existing file of one's own
// and private is appended to; a symlink (even to a private file) and a file open to others are
// refused.
func TestAppendPrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trace")
	for _, line := range []string{"one\n", "two\n"} {
		f, err := AppendPrivate(path, "trace file")
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(line)
		f.Close()
	}
	if b, _ := os.ReadFile(path); string(b) != "one\ntwo\n" {
		t.Errorf("file holds %q, want both lines appended", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", fi.Mode().Perm())
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if _, err := AppendPrivate(link, "trace file"); !errors.Is(err, ErrNotPrivate) {
		t.Errorf("symlink: %v, want ErrNotPrivate", err)
	}
	open := filepath.Join(dir, "open")
	if err := os.WriteFile(open, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o644)
	if _, err := AppendPrivate(open, "trace file"); !errors.Is(err, ErrNotPrivate) {
		t.Errorf("mode 0644: %v, want ErrNotPrivate", err)
	}
}
