//go:build !linux

package agent

import (
	"errors"
	"net"
)

// ucred mirrors Linux's struct ucred.
type ucred struct {
	Pid      int32
	Uid, Gid uint32
}

// supported is false: Listen refuses, and Dial reports ErrNoAgent so that commands use the card.
const supported = false

// peerCred is only implemented with Linux's SO_PEERCRED; elsewhere the agent refuses every
// connection rather than serve one it cannot attribute to a user.
func peerCred(*net.UnixConn) (*ucred, error) {
	return nil, errors.New("the pivauth agent checks its peers with SO_PEERCRED, which only Linux has")
}

// commandName is not available without /proc.
func commandName(int32) string { return "" }

// executable is not available without /proc.
func executable(int32) string { return "" }
