//go:build !linux

package vpcd

import "net"

// quickAck does nothing where there is no TCP_QUICKACK: vpcd and pcscd on
// such a system pay the delayed-ACK stall described in quickack_linux.go.
func quickAck(*net.TCPConn) {}
