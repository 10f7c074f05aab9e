//go:build unix

package main

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// detachedProcess makes the endpoint's process a session of its own: no controlling terminal, so
// it outlives the shell that started it (as ssh-agent does) and no terminal signal reaches it.
func detachedProcess() (*syscall.SysProcAttr, error) { return &syscall.SysProcAttr{Setsid: true}, nil }

// detachStdio points standard output and error at /dev/null once the environment is printed:
// the command substitution reading them ends, and a later message cannot fail on a closed pipe.
func detachStdio() error {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	for _, fd := range []int{1, 2} {
		if err := unix.Dup2(int(null.Fd()), fd); err != nil {
			return err
		}
	}
	return nil
}
