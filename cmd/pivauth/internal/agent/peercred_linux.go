//go:build linux

package agent

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// supported is true: Linux has SO_PEERCRED, which the agent needs to know who asks.
const supported = true

// ucred is the kernel's record of a socket peer: Pid, Uid, Gid.
type ucred = unix.Ucred

// peerCred returns the credentials of the process at the other end of c, as the kernel recorded
// them when it connected (SO_PEERCRED): they cannot be forged by the peer.
func peerCred(c *net.UnixConn) (*ucred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	if credErr != nil {
		return nil, fmt.Errorf("SO_PEERCRED: %w", credErr)
	}
	return cred, nil
}

// executable returns the path of the executable of process pid (/proc/PID/exe), which the audit
// log names as the requester: unlike the command name, the process cannot choose it.
func executable(pid int32) string {
	path, err := os.Readlink("/proc/" + strconv.Itoa(int(pid)) + "/exe")
	if err != nil {
		return ""
	}
	return path
}

// commandName returns the executable name of process pid (/proc/PID/comm, at most 15 bytes): it
// says which program asked without exposing its arguments, which could hold anything.
func commandName(pid int32) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
