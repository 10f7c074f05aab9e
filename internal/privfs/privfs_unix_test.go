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
