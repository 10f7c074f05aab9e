package signer

import (
	"context"
	"fmt"
	"io"

	"github.com/pivauth/pivauth/internal/pinbuf"
	"github.com/pivauth/pivauth/internal/privfs"
)

// File returns a source that reads the PIN from the file at path (the
// --pin-file flag), each time one is needed. The file must be a regular file
// of the user's own that group and others can neither read nor write (a
// symlink, a FIFO or another user's file is refused, see privfs.OpenSecret),
// with a message that says how to fix it: a PIN other users could read or
// change protects nothing, and a FIFO would hang an unattended job.
// One trailing newline (LF or CRLF) is removed.
func File(path string) PINSource { return fileSource(path) }

type fileSource string

func (path fileSource) PIN(_ context.Context, req PINRequest) ([]byte, error) {
	if req.Retry {
		return nil, noPIN("the card refused the PIN in %s; correct the file", string(path))
	}
	f, err := privfs.OpenSecret(string(path), "PIN file")
	if err != nil {
		return nil, err
	}
	defer f.Close()
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
