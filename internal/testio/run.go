package testio

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"sync/atomic"
	"time"
)

// ErrTimeout is wrapped by the error of Run, Output and CombinedOutput when
// the process was still running at its deadline and had to be killed.
var ErrTimeout = errors.New("killed: still running at its deadline")

// WaitDelay is what Run sets as cmd.WaitDelay when the caller did not set
// one: once the process has exited, output pipes that a grandchild still
// holds open are closed after it instead of keeping Wait waiting (a test
// would otherwise spend CI's whole time limit on it).
const WaitDelay = 2 * time.Second

// Run starts cmd and waits for it, at most timeout: a process still
// running then is killed, and the error names the command, wrapping
// ErrTimeout and what Wait returned. It sets cmd.WaitDelay to WaitDelay
// unless the caller set one. cmd may also come from exec.CommandContext;
// whichever ends first, the context or the timeout, stops the process.
func Run(cmd *exec.Cmd, timeout time.Duration) error {
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = WaitDelay
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	var killed atomic.Bool
	timer := time.AfterFunc(timeout, func() {
		killed.Store(true)
		_ = cmd.Process.Kill()
	})
	err := cmd.Wait()
	timer.Stop()
	// A process that ends on its own just as the timer fires is no timeout.
	if err != nil && killed.Load() {
		return fmt.Errorf("%s: %w after %v (%w)", cmd, ErrTimeout, timeout, err)
	}
	return err
}

// Output is Run collecting the standard output, as cmd.Output does: when
// the caller left cmd.Stderr nil, a failed process's standard error is in
// the *exec.ExitError's Stderr.
func Output(cmd *exec.Cmd, timeout time.Duration) ([]byte, error) {
	if cmd.Stdout != nil {
		return nil, errors.New("testio: Stdout already set")
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	captureErr := cmd.Stderr == nil
	if captureErr {
		cmd.Stderr = &stderr
	}
	err := Run(cmd, timeout)
	if ee, ok := errors.AsType[*exec.ExitError](err); ok && captureErr {
		ee.Stderr = stderr.Bytes()
	}
	return stdout.Bytes(), err
}

// CombinedOutput is Run collecting standard output and standard error
// together, as cmd.CombinedOutput does.
func CombinedOutput(cmd *exec.Cmd, timeout time.Duration) ([]byte, error) {
	if cmd.Stdout != nil || cmd.Stderr != nil {
		return nil, errors.New("testio: Stdout or Stderr already set")
	}
	var out SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := Run(cmd, timeout)
	return []byte(out.String()), err
}
