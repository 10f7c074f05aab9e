//go:build linux

package main

import (
	"path/filepath"
	"testing"
)

// TestNoPCSCService: with pcscd not reachable (pcsc-lite aimed at a socket nobody serves; the
// bench's pcscd keeps running), a command that needs a card exits 3 at once and says to start
// pcscd, instead of waiting for a card that cannot come.
func TestNoPCSCService(t *testing.T) {
	c := newCLI(t).with("PCSCLITE_CSOCK_NAME=" + filepath.Join(t.TempDir(), "no-pcscd.comm"))
	c.fails(ExitNoCard, []string{"PC/SC service is not running", "pcscd"}, "certs", "--timeout", "1m")
	c.fails(ExitNoCard, []string{"PC/SC service is not running"}, "cards")
}
