//go:build unix

package privfs

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// OpenSecret opens the file at path that holds a secret (a PIN file, a management key file) for
// reading, and refuses anything but a regular file of the current user's own that group and others
// can neither read nor write. what names the file in the errors ("PIN file").
//
// The file is opened with O_NOFOLLOW, so a symlink is refused rather than followed wherever it
// leads, and with O_NONBLOCK, so that a FIFO or a device fails the check instead of blocking an
// unattended job on open; the checks are made on the opened descriptor, so the file cannot be
// swapped between check and read.
func OpenSecret(path, what string) (*os.File, error) {
	return openPrivate(path, what, unix.O_RDONLY, 0)
}

// openPrivate opens path with flags, never following a symlink nor blocking on a FIFO or device,
// and checks the opened descriptor with checkSecretFile.
func openPrivate(path, what string, flags int, perm uint32) (*os.File, error) {
	fd, err := unix.Open(path, flags|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, perm)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("%s %s is a symlink: name the file itself: %w", what, path, ErrNotPrivate)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, &os.PathError{Op: "open", Path: path, Err: err})
	}
	f := os.NewFile(uintptr(fd), path)
	if err := checkSecretFile(f, path, what); err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// checkSecretFile refuses an opened file that is not a regular file of the current user's own
// that group and others can neither read nor write.
func checkSecretFile(f *os.File, path, what string) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch uid := os.Geteuid(); {
	case !fi.Mode().IsRegular():
		err = fmt.Errorf("%s %s is not a regular file (%s): %w", what, path, fi.Mode().Type(), ErrNotPrivate)
	case st == nil:
		err = fmt.Errorf("%s %s: cannot read its owner: %w", what, path, ErrNotPrivate)
	case int(st.Uid) != uid:
		err = fmt.Errorf("%s %s belongs to uid %d, not to you (uid %d): use a file of your own: %w", what, path, st.Uid, uid, ErrNotPrivate)
	case fi.Mode().Perm()&0o077 != 0:
		err = fmt.Errorf("%s %s is open to group or others (mode %04o): run chmod 600 %s: %w", what, path, fi.Mode().Perm(), path, ErrNotPrivate)
	}
	return err
}

// AppendPrivate opens the file at path for appending, creating it with mode 0600 when it does
// not exist: a file pivauth writes that may hold card data (an APDU trace). An existing file is
// refused unless it is a regular file of the current user's own that group and others can neither
// read nor write; a symlink is refused rather than followed (O_NOFOLLOW), so that nobody can aim
// the write at another file. The checks are made on the opened descriptor. what names the file in
// the errors ("APDU trace file").
func AppendPrivate(path, what string) (*os.File, error) {
	return openPrivate(path, what, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT, 0o600)
}
