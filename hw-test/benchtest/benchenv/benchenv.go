// Package benchenv is what the bench's processes share: the card process
// (hw-test/cmd/vcard), the Go test helper (hw-test/benchtest) and the
// hw-test/bench script agree through it on the bench directory, the vpcd
// reader layout and the port locks.
package benchenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/pivauth/pivauth/internal/privfs"
)

// DefaultPort is the port of the first vpcd reader, "Virtual PCD 00 00":
// the reader hw-test/bench up attaches its card to.
const DefaultPort = 35963

// The bench's reader layout. hw-test/bench writes Entries vpcd entries into
// pcscd's configuration; entry e listens on DefaultPort+2e and
// DefaultPort+2e+1 (vpcd gives every entry two slots). vpcd 3.3 keeps its
// slots in a static array shared by every entry that loads the same driver
// file, and pcscd does not number readers with equal names apart, so each
// entry gets its own copy of the driver and its own FRIENDLYNAME (see
// ReaderName). A system pcscd started from Debian's stock configuration has
// only entry 0.
const (
	Entries  = 6
	NumPorts = 2 * Entries
)

// FriendlyName is the FRIENDLYNAME of vpcd entry e in the bench's pcscd
// configuration. Entry 0 keeps Debian's stock name, so port 35963 is
// "Virtual PCD 00 00" whichever configuration pcscd runs.
func FriendlyName(entry int) string {
	if entry == 0 {
		return "Virtual PCD"
	}
	return "Virtual PCD " + strconv.Itoa(entry)
}

// ReaderName is the PC/SC name of the reader whose card connects to port:
// pcscd appends the reader number (00: no other reader has the name) and
// the slot.
func ReaderName(port int) string {
	i := port - DefaultPort
	return fmt.Sprintf("%s 00 %02X", FriendlyName(i/2), i%2)
}

// Ports lists the bench's vpcd ports in order.
func Ports() []int {
	p := make([]int, NumPorts)
	for i := range p {
		p[i] = DefaultPort + i
	}
	return p
}

// Dir is where the bench keeps its state, sockets, logs and locks:
// $PIVAUTH_BENCH_DIR, else $XDG_RUNTIME_DIR/pivauth-bench, else
// /tmp/pivauth-bench. hw-test/bench computes the same.
func Dir() string {
	if d := os.Getenv("PIVAUTH_BENCH_DIR"); d != "" {
		return d
	}
	base := os.Getenv("XDG_RUNTIME_DIR")
	if base == "" {
		base = "/tmp"
	}
	return filepath.Join(base, "pivauth-bench")
}

// ErrPortBusy means another process holds the port's lock.
var ErrPortBusy = errors.New("benchenv: port in use by another process")

// LockPort takes the lock file of port in dir/locks without waiting, so two
// processes (parallel test binaries, the bench's card process) never attach
// cards to the same reader. It returns ErrPortBusy when another process
// holds it. The lock (privfs: flock on Unix, LockFileEx on Windows) goes
// away with its process, so a crashed test never leaves a reader locked.
func LockPort(dir string, port int) (unlock func(), err error) {
	locks := filepath.Join(dir, "locks")
	if err := os.MkdirAll(locks, 0o700); err != nil {
		return nil, fmt.Errorf("benchenv: lock directory: %w", err)
	}
	unlock, err = privfs.TryLock(filepath.Join(locks, fmt.Sprintf("port-%d.lock", port)))
	if errors.Is(err, privfs.ErrLocked) {
		return nil, ErrPortBusy
	}
	if err != nil {
		return nil, fmt.Errorf("benchenv: lock port %d: %w", port, err)
	}
	return unlock, nil
}
