//go:build unix

package privfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// checkPrivate checks the owner uid and the mode: a directory must give group and others nothing
// (not even x, which would let them reach a file whose name they know), a file must not be
// writable by them.
func checkPrivate(path string, fi fs.FileInfo, dir bool) error {
	forbidden, fix := fs.FileMode(0o022), "chmod go-w"
	if dir {
		forbidden, fix = 0o077, "chmod 700"
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: cannot read its owner: %w", path, ErrNotPrivate)
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		return fmt.Errorf("%s belongs to uid %d, not to you (uid %d); remove it or use your own directory: %w",
			path, st.Uid, uid, ErrNotPrivate)
	}
	if perm := fi.Mode().Perm(); perm&forbidden != 0 {
		return fmt.Errorf("%s has mode %04o, open to other users; run `%s %s`: %w", path, perm, fix, path, ErrNotPrivate)
	}
	return nil
}

// checkNotWritable refuses a file or directory that belongs to someone other than the user or
// root, or that group or others can write.
func checkNotWritable(path string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: cannot read its owner: %w", path, ErrNotPrivate)
	}
	if uid := os.Geteuid(); int(st.Uid) != uid && st.Uid != 0 {
		return fmt.Errorf("%s belongs to uid %d, not to you (uid %d) or root; run `chown %d %s` if it is yours: %w",
			path, st.Uid, uid, uid, path, ErrNotPrivate)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("%s has mode %04o, writable by other users; run `chmod go-w %s`: %w", path, perm, path, ErrNotPrivate)
	}
	return nil
}

func lock(path string, exclusive, wait bool) (func(), error) {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	if !wait {
		how |= unix.LOCK_NB
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { _ = f.Close() }, nil // closing the descriptor releases the flock
}
