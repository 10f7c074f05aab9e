// Package serverproc runs a server (node, nginx) as a child process of a test and stops it when
// the test ends, in bounded time: a test must never wait on a child process forever, since CI
// would spend its whole time limit on it.
package serverproc

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// grace is how long a server has to shut down after SIGTERM before it is killed, and how long a
// killed one has to be gone (a variable so that the test need not wait for it).
var grace = 10 * time.Second

// waitDelay is set as cmd.WaitDelay: once the process has exited, output pipes that a grandchild
// still holds open are closed after it instead of keeping Wait waiting.
const waitDelay = time.Second

// Process is a server started by Start.
type Process struct {
	exited chan struct{}
	err    error
}

// Start starts cmd and stops it when the test ends: SIGTERM (Kill where signals are not
// supported, as on Windows), then Kill if it has not exited within 10 s. It sets cmd.WaitDelay
// unless the caller did. A test needing output after the stop registers its Cleanup before
// calling Start, since cleanups run last-registered first.
func Start(t testing.TB, cmd *exec.Cmd) (*Process, error) {
	t.Helper()
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = waitDelay
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			_ = cmd.Process.Kill()
		}
		select {
		case <-p.exited:
			return
		case <-time.After(grace):
		}
		_ = cmd.Process.Kill()
		select {
		case <-p.exited:
		case <-time.After(grace):
			t.Errorf("serverproc: %s (pid %d) still runs %v after SIGKILL; left behind", cmd.Path, cmd.Process.Pid, grace)
		}
	})
	return p, nil
}

// Exited is closed when the process has exited and Wait has returned (output copied).
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err is what Wait returned: read it only after Exited is closed.
func (p *Process) Err() error { return p.err }
