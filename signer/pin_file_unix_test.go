//go:build unix

package signer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A PIN file is opened so that nothing but a regular file of the user's own is read: a FIFO
// (which would block a job forever on open), a symlink (which could lead anywhere) and a file of
// another user (who could change the PIN the job presents) are refused with a message naming
// the file.
func TestFileRefusesWhatIsNotTheUsersOwnRegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(writePINFile(t, "123456\n", 0o600), link); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct{ path, want string }{
		"fifo":    {fifo, "not a regular file"},
		"symlink": {link, "symlink"},
	}
	if os.Geteuid() == 0 {
		other := writePINFile(t, "123456\n", 0o600)
		if err := os.Chown(other, 65534, 65534); err != nil { // nobody
			t.Fatal(err)
		}
		cases["other owner"] = struct{ path, want string }{other, "belongs to uid 65534"}
	} else {
		t.Log("not root: the other-owner case needs chown")
	}
	for name, tc := range cases {
		done := make(chan error, 1)
		go func() {
			_, err := File(tc.path).PIN(context.Background(), testReq)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
				t.Errorf("%s: err = %v, want it to name %s and say %q", name, err, tc.path, tc.want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: reading the PIN file hangs", name)
		}
	}
}
