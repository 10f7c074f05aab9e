package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/pivauth/pivauth/internal/privfs"
)

// SocketPath returns where the agent listens: $XDG_RUNTIME_DIR/pivauth/agent.sock, or
// /tmp/pivauth-<uid>/agent.sock where no runtime directory is set (a cron job, a root shell). Either
// directory must be the user's own with mode 0700; Listen and Dial refuse it otherwise.
func SocketPath() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(d) {
		return filepath.Join(d, "pivauth", "agent.sock")
	}
	return filepath.Join(os.TempDir(), "pivauth-"+strconv.Itoa(os.Geteuid()), "agent.sock")
}

// ErrUnsupported is returned by Listen where the agent cannot run: everywhere but Linux, the only
// system here whose sockets name the peer's uid and pid (SO_PEERCRED).
var ErrUnsupported = errors.New("the pivauth agent runs on Linux only (it identifies each client process with SO_PEERCRED); " +
	"pivauth commands use the card directly here")

// Listener is the agent's listening socket plus the lock that makes it the only agent on that path.
type Listener struct {
	*net.UnixListener
	unlock func()
}

// Listen creates the socket directory (0700) if needed, makes sure no other agent serves path,
// replaces a stale socket left by an agent that died, and listens on path with mode 0600.
//
// A lock file beside the socket, held for the agent's lifetime, decides who owns the path: flock is
// released by the kernel when its holder dies, so a socket file found while holding the lock is
// stale by construction and can be removed without the race of "try to connect, then remove".
func Listen(path string) (*Listener, error) {
	if !supported {
		return nil, ErrUnsupported
	}
	dir := filepath.Dir(path)
	if err := privfs.EnsureDir(dir); err != nil {
		return nil, fmt.Errorf("agent socket directory: %w", err)
	}
	unlock, err := privfs.TryLock(path + ".lock")
	if errors.Is(err, privfs.ErrLocked) {
		return nil, fmt.Errorf("another pivauth agent is already serving %s (stop it first, or use `pivauth agent lock`)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("agent lock: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			unlock()
			return nil, fmt.Errorf("%s exists and is not a socket; remove it and start the agent again", path)
		}
		if err := os.Remove(path); err != nil {
			unlock()
			return nil, fmt.Errorf("remove stale agent socket: %w", err)
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		unlock()
		return nil, fmt.Errorf("agent: %w", err)
	}
	// The directory already keeps others out; the mode is a second fence should it ever be opened.
	if err := os.Chmod(path, 0o600); err != nil {
		_ = ln.Close()
		unlock()
		return nil, fmt.Errorf("agent socket: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	return &Listener{UnixListener: ln, unlock: unlock}, nil
}

// Close stops listening, removes the socket and releases the lock.
func (l *Listener) Close() error {
	err := l.UnixListener.Close()
	l.unlock()
	return err
}
