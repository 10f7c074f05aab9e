//go:build !unix && !windows

package signer

import (
	"errors"
	"os"
)

// openTerminal opens the terminal device at path ("" is /dev/tty).
func openTerminal(path string) (in, out *os.File, name string, err error) {
	if path == "" {
		path = "/dev/tty"
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, path, err
	}
	return f, f, path, nil
}

// echoOff is not implemented where there is neither termios nor a Windows
// console: ReadSecret reports no terminal there, and pinentry, a PIN file
// or PIVAUTH_PIN supply the PIN.
func echoOff(*os.File) (func(), error) {
	return nil, errors.New("reading without echo is not implemented on this system")
}
