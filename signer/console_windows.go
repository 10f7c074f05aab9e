//go:build windows

package signer

import (
	"os"

	"golang.org/x/sys/windows"
)

// openTerminal opens the console, CONIN$ for input and CONOUT$ for output,
// which reach the person even when the standard handles are redirected; or
// the device at path for both when path is not "".
func openTerminal(path string) (in, out *os.File, name string, err error) {
	if path != "" {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return nil, nil, path, err
		}
		return f, f, path, nil
	}
	in, err = os.OpenFile("CONIN$", os.O_RDWR, 0)
	if err != nil {
		return nil, nil, "the console", err
	}
	out, err = os.OpenFile("CONOUT$", os.O_RDWR, 0)
	if err != nil {
		in.Close()
		return nil, nil, "the console", err
	}
	return in, out, "the console", nil
}

// echoOff turns off echo on the console input in, keeping line input (the
// console does the line editing) and processed input (Ctrl-C arrives as
// os.Interrupt), and returns the function that restores the previous mode.
// A handle that is not a console fails GetConsoleMode.
func echoOff(in *os.File) (restore func(), err error) {
	rc, err := in.SyscallConn()
	if err != nil {
		return nil, err
	}
	var old uint32
	ctlErr := rc.Control(func(fd uintptr) {
		h := windows.Handle(fd)
		if err = windows.GetConsoleMode(h, &old); err != nil {
			return
		}
		err = windows.SetConsoleMode(h, old&^windows.ENABLE_ECHO_INPUT|windows.ENABLE_LINE_INPUT|windows.ENABLE_PROCESSED_INPUT)
	})
	if ctlErr != nil {
		return nil, ctlErr
	}
	if err != nil {
		return nil, err
	}
	return func() {
		rc.Control(func(fd uintptr) { windows.SetConsoleMode(windows.Handle(fd), old) })
	}, nil
}
