// Package privfs holds the file-system checks and locks for pivauth's private per-user files: the
// audit log directory and the agent's socket directory. A private directory is one that belongs to
// the current user and that nobody else can read, write or enter; anything else is refused with a
// message that says how to fix it, never silently repaired, because a directory someone else could
// write to may already hold a planted file.
package privfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrNotPrivate is wrapped by the errors of CheckDir and EnsureDir for a directory (or file) that
// belongs to another user, is a symlink, or is open to other users.
var ErrNotPrivate = errors.New("not private")

// ErrLocked is returned by TryLock when another process holds the lock.
var ErrLocked = errors.New("locked by another process")

// EnsureDir creates dir (and missing parents) with mode 0700 and checks it with CheckDir.
func EnsureDir(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(dir), err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return CheckDir(dir)
}

// CheckDir checks that dir is a real directory (not a symlink) owned by the effective user with no
// permissions for group or others.
func CheckDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory (a symlink or file is not accepted): %w", dir, ErrNotPrivate)
	}
	return checkOwnerMode(dir, fi, 0o077, "chmod 700")
}

// CheckFile checks that path (not a symlink) is owned by the effective user and not writable by
// group or others: a socket or file inside a private directory that another user placed there
// earlier is refused.
func CheckFile(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symlink: %w", path, ErrNotPrivate)
	}
	return checkOwnerMode(path, fi, 0o022, "chmod go-w")
}

func checkOwnerMode(path string, fi fs.FileInfo, forbidden fs.FileMode, fix string) error {
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

// Lock takes an exclusive lock on the file at path (created 0600 if missing), waiting for other
// holders, and returns the function that releases it.
func Lock(path string) (unlock func(), err error) {
	return lock(path, unix.LOCK_EX)
}

// RLock takes a shared lock on the file at path, for readers that must not see a writer's half-done
// work (a rotation in progress), waiting for an exclusive holder.
func RLock(path string) (unlock func(), err error) {
	return lock(path, unix.LOCK_SH)
}

// TryLock is Lock without waiting: it fails with ErrLocked when another process holds the lock. The
// lock lasts until unlock is called or the process exits, so a crashed holder never leaves it stale.
func TryLock(path string) (unlock func(), err error) {
	return lock(path, unix.LOCK_EX|unix.LOCK_NB)
}

func lock(path string, how int) (func(), error) {
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
