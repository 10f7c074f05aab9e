package vpcd

import (
	"net"

	"golang.org/x/sys/unix"
)

// quickAck re-arms TCP_QUICKACK. vpcd writes the 2-byte length and the
// payload with two send() calls on a socket with Nagle's algorithm on: the
// payload waits until the length is acknowledged, and Linux delays that ACK
// by 40 ms unless quick-ACK mode is on. The kernel leaves quick-ACK mode by
// itself, so it is set again before every read: this takes an APDU round
// trip through pcscd from ~48 ms to ~0.15 ms.
func quickAck(conn *net.TCPConn) {
	if rc, err := conn.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
		})
	}
}
