//go:build unix

package signer

import (
	"os"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// openTerminal opens the terminal at path, "" meaning the controlling
// terminal, for reading and writing. O_NOCTTY keeps it from becoming the
// controlling terminal of a process that has none. Opened with os.OpenFile,
// a terminal is registered with the runtime poller, so a read of it can be
// ended by a deadline.
func openTerminal(path string) (in, out *os.File, name string, err error) {
	if path == "" {
		path = "/dev/tty"
	}
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, path, err
	}
	return f, f, path, nil
}

// echoOff turns off echo on the terminal tty, keeping canonical line
// editing, and returns the function that restores the previous settings.
// It works on the file's raw descriptor through SyscallConn, because
// os.File.Fd would switch the file to blocking mode and disable deadlines.
func echoOff(tty *os.File) (restore func(), err error) {
	rc, err := tty.SyscallConn()
	if err != nil {
		return nil, err
	}
	var state *term.State
	ctlErr := rc.Control(func(fd uintptr) {
		state, err = term.GetState(int(fd))
		if err != nil {
			return
		}
		var t *unix.Termios
		t, err = unix.IoctlGetTermios(int(fd), ioctlGetTermios)
		if err != nil {
			return
		}
		t.Lflag &^= unix.ECHO
		t.Lflag |= unix.ICANON | unix.ISIG
		t.Iflag |= unix.ICRNL
		err = unix.IoctlSetTermios(int(fd), ioctlSetTermios, t)
	})
	if ctlErr != nil {
		return nil, ctlErr
	}
	if err != nil {
		return nil, err
	}
	return func() {
		rc.Control(func(fd uintptr) { term.Restore(int(fd), state) })
	}, nil
}
