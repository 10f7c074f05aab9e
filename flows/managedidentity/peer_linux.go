package managedidentity

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// peerProcess names the local process at the other end of r's connection, "EXECUTABLE (pid N)",
// from the kernel's socket table: the connection's client-side entry in /proc/net/tcp{,6} gives
// the socket's inode, the process holding a descriptor on that inode is the client, and
// /proc/PID/exe its executable. Processes of other users are not readable (without root): then,
// or when the client is on another machine, it returns "".
func peerProcess(r *http.Request) string {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return ""
	}
	server, err := netip.ParseAddrPort(local.String())
	if err != nil {
		return ""
	}
	client, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	inode := socketInode(client, server)
	if inode == "" {
		return ""
	}
	pid := socketOwner(inode)
	if pid == 0 {
		return ""
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return fmt.Sprintf("pid %d", pid)
	}
	return fmt.Sprintf("%s (pid %d)", exe, pid)
}

// socketInode finds the TCP socket whose local end is client and remote end server, and returns
// its inode number ("" when there is none).
func socketInode(client, server netip.AddrPort) string {
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 {
				continue
			}
			l, lok := parseProcAddr(fields[1])
			rem, rok := parseProcAddr(fields[2])
			if lok && rok && sameAddrPort(l, client) && sameAddrPort(rem, server) && fields[9] != "0" {
				f.Close()
				return fields[9]
			}
		}
		f.Close()
	}
	return ""
}

// parseProcAddr parses an address of /proc/net/tcp{,6}: the IP as 32-bit words in host (little-
// endian) order, in hex, a colon, and the port in hex.
func parseProcAddr(s string) (netip.AddrPort, bool) {
	ipHex, portHex, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, false
	}
	raw, err := hex.DecodeString(ipHex)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, false
	}
	for i := 0; i < len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	ip, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(ip, uint16(port)), true
}

func sameAddrPort(a, b netip.AddrPort) bool {
	return a.Port() == b.Port() && a.Addr().Unmap() == b.Addr().Unmap()
}

// socketOwner returns a process holding a descriptor of the socket inode, other than this one
// (0 when none is visible).
func socketOwner(inode string) int {
	want := "socket:[" + inode + "]"
	self := os.Getpid()
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		pid, err := strconv.Atoi(filepath.Base(p))
		if err != nil || pid == self {
			continue
		}
		fds, err := os.ReadDir(p + "/fd")
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if link, err := os.Readlink(p + "/fd/" + fd.Name()); err == nil && link == want {
				return pid
			}
		}
	}
	return 0
}
