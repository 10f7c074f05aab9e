// Package privfs holds the file-system checks and locks for pivauth's private per-user files: the
// audit log directory and the agent's socket directory. A private directory is one that belongs to
// the current user and that nobody else can read, write or enter; anything else is refused with a
// message that says how to fix it, never silently repaired, because a directory someone else could
// write to may already hold a planted file.
//
// What "belongs to" and "nobody else" mean depends on the system: on Unix the owner uid and the
// mode bits (privfs_unix.go); on Windows the owner SID and the access control list
// (privfs_windows.go). Locks are flock on Unix and LockFileEx on Windows; both are released by the
// kernel when their holder dies, so a crashed process never leaves one stale.
package privfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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

// CheckDir checks that dir is a real directory (not a symlink) that belongs to the current user and
// that no other user can read, write or enter.
func CheckDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory (a symlink or file is not accepted): %w", dir, ErrNotPrivate)
	}
	return checkPrivate(dir, fi, true)
}

// CheckFile checks that path (not a symlink) belongs to the current user and that no other user can
// write it: a socket or file inside a private directory that another user placed there earlier is
// refused.
func CheckFile(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symlink: %w", path, ErrNotPrivate)
	}
	return checkPrivate(path, fi, false)
}

// CheckSteering checks a file that steers pivauth (the configuration file, which names the
// pinentry program that receives the PIN, CA files and identity providers) the way ssh checks its
// configuration: path must be a regular file, and it, the file a symlink at path leads to, and the
// directories holding either must belong to the current user (or to root) and be writable by nobody
// else. Anyone who could write one of them could make pivauth hand the PIN or a token to them.
// Errors wrap ErrNotPrivate and say what to run (chmod go-w, chown); a missing file is an
// fs.ErrNotExist error.
func CheckSteering(path string) error {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file: %w", path, ErrNotPrivate)
	}
	if err := checkNotWritable(real, fi); err != nil {
		return err
	}
	dirs := []string{filepath.Dir(real)}
	if d := filepath.Dir(path); d != dirs[0] {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		di, err := os.Stat(d)
		if err != nil {
			return err
		}
		if err := checkNotWritable(d, di); err != nil {
			return err
		}
	}
	return nil
}

// Lock takes an exclusive lock on the file at path (created 0600 if missing), waiting for other
// holders, and returns the function that releases it.
func Lock(path string) (unlock func(), err error) {
	return lock(path, true, true)
}

// RLock takes a shared lock on the file at path, for readers that must not see a writer's half-done
// work (a rotation in progress), waiting for an exclusive holder.
func RLock(path string) (unlock func(), err error) {
	return lock(path, false, true)
}

// TryLock is Lock without waiting: it fails with ErrLocked when another process holds the lock. The
// lock lasts until unlock is called or the process exits, so a crashed holder never leaves it stale.
func TryLock(path string) (unlock func(), err error) {
	return lock(path, true, false)
}
