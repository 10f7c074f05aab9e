//go:build !unix

package signer

import (
	"errors"
	"os"
)

// ttyOpenFlags opens the terminal device for reading and writing.
const ttyOpenFlags = os.O_RDWR

// echoOff is not implemented where there is no termios: the terminal source
// declines there, and pinentry, a PIN file or PIVAUTH_PIN supply the PIN.
func echoOff(*os.File) (func(), error) {
	return nil, errors.New("terminal PIN entry is not implemented on this system")
}
