package signer

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/pivauth/pivauth/internal/pinbuf"
)

// File returns a source that reads the PIN from the file at path (the
// --pin-file flag), each time one is needed. The file must not be readable
// or writable by group or others; such a file is refused with a message that
// says how to fix it, because a PIN other users could read protects nothing.
// One trailing newline (LF or CRLF) is removed.
func File(path string) PINSource { return fileSource(path) }

type fileSource string

func (path fileSource) PIN(_ context.Context, req PINRequest) ([]byte, error) {
	if req.Retry {
		return nil, noPIN("the card refused the PIN in %s; correct the file", string(path))
	}
	f, err := os.Open(string(path))
	if err != nil {
		return nil, fmt.Errorf("PIN file: %w", err)
	}
	defer f.Close()
	// Check the opened file, not the path, so a rename in between cannot
	// swap in another file after the check.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("PIN file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("PIN file %s is not a regular file", string(path))
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("PIN file %s is open to group or others (mode %04o): run chmod 600 %s", string(path), perm, string(path))
	}
	buf := make([]byte, pinbuf.MaxLen+2) // room for the longest PIN and CRLF
	defer pinbuf.Wipe(buf)
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, fmt.Errorf("PIN file %s: %w", string(path), err)
	}
	if n == len(buf) {
		return nil, fmt.Errorf("PIN file %s is longer than any PIN: it must hold the PIN alone", string(path))
	}
	pin := buf[:n]
	if len(pin) > 0 && pin[len(pin)-1] == '\n' {
		pin = pin[:len(pin)-1]
		if len(pin) > 0 && pin[len(pin)-1] == '\r' {
			pin = pin[:len(pin)-1]
		}
	}
	if len(pin) == 0 {
		return nil, fmt.Errorf("PIN file %s is empty", string(path))
	}
	return append([]byte(nil), pin...), nil
}
