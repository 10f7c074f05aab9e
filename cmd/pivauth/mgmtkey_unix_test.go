//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The management key file is read as the PIN file is: a FIFO does not hang the command, a symlink
// is not followed, another user's file is refused; each with exit code 4 (as a file open to
// others) and the file named.
func TestManagementKeyFileRefused(t *testing.T) {
	dir := t.TempDir()
	key := strings.Repeat("01", 24) + "\n"
	good := writeFile(t, dir, "mk.hex", key, 0o600)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct{ path, want string }{
		"fifo":    {fifo, "not a regular file"},
		"symlink": {link, "symlink"},
		"open":    {writeFile(t, dir, "open.hex", key, 0o644), "chmod 600"},
	}
	if os.Geteuid() == 0 {
		other := writeFile(t, dir, "other.hex", key, 0o600)
		if err := os.Chown(other, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		cases["other owner"] = struct{ path, want string }{other, "belongs to uid 65534"}
	}
	if mk, err := readManagementKeyFile(good); err != nil || len(mk) != 24 {
		t.Fatalf("own 0600 file: %x, %v", mk, err)
	}
	for name, tc := range cases {
		done := make(chan error, 1)
		go func() { _, err := readManagementKeyFile(tc.path); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) || exitCode(t.Context(), err) != ExitPIN {
				t.Errorf("%s: err = %v (exit %d), want exit %d naming %s and saying %q", name, err, exitCode(t.Context(), err), ExitPIN, tc.path, tc.want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: reading the management key file hangs", name)
		}
	}
}
