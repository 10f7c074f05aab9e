package managedidentity

import (
	"net/netip"
	"testing"
)

// Lines as the kernel writes them (net/ipv4/tcp_ipv4.c: the address as a 32-bit word in host
// order, %08X, then :%04X for the port; IPv6 as four such words).
func TestParseProcAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:1F90":                         "127.0.0.1:8080",
		"00000000:0016":                         "0.0.0.0:22",
		"00000000000000000000000001000000:0050": "[::1]:80",
		"0000000000000000FFFF00000100007F:A1B2": "[::ffff:127.0.0.1]:41394",
	} {
		got, ok := parseProcAddr(in)
		if !ok || got.String() != want {
			t.Errorf("parseProcAddr(%q) = %v, %v; want %s", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "0100007F", "0100007:1F90", "0100007F:XYZ", "01000:1F90"} {
		if _, ok := parseProcAddr(bad); ok {
			t.Errorf("parseProcAddr(%q) accepted", bad)
		}
	}
	mapped, _ := parseProcAddr("0000000000000000FFFF00000100007F:A1B2")
	if !sameAddrPort(mapped, netip.MustParseAddrPort("127.0.0.1:41394")) {
		t.Error("an IPv4-mapped address is not the IPv4 one")
	}
}
