//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package signer

import "golang.org/x/sys/unix"

const (
	ioctlGetTermios = unix.TIOCGETA
	ioctlSetTermios = unix.TIOCSETA
)
