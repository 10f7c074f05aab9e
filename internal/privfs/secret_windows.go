//go:build windows

package privfs

import (
	"fmt"
	"os"
)

// OpenSecret opens the file at path that holds a secret (a PIN file, a management key file) for
// reading, and refuses anything but a regular file that is not a reparse point, belongs to the
// current user and that nobody else may change (see checkPrivate). what names the file in the
// errors ("PIN file").
func OpenSecret(path, what string) (*os.File, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %s is not a regular file (%s): %w", what, path, fi.Mode().Type(), ErrNotPrivate)
	}
	if err := checkPrivate(path, fi, false); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if fi2, err := f.Stat(); err != nil || !os.SameFile(fi, fi2) {
		_ = f.Close()
		return nil, fmt.Errorf("%s %s changed while it was opened: %w", what, path, ErrNotPrivate)
	}
	return f, nil
}

// AppendPrivate opens the file at path for appending, creating it when it does not exist: a file
// pivauth writes that may hold card data (an APDU trace). An existing file is refused unless it
// passes OpenSecret's checks (a regular file, not a reparse point, the user's own, nobody else
// may change it). A new file inherits its directory's access control list, which the user's
// profile directories keep private. what names the file in the errors.
func AppendPrivate(path, what string) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s %s is not a regular file (%s): %w", what, path, fi.Mode().Type(), ErrNotPrivate)
		}
		if err := checkPrivate(path, fi, false); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return f, nil
}
