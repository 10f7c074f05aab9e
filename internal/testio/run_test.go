//go:build unix

package testio

import (
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunKillsAtDeadline(t *testing.T) {
	start := time.Now()
	err := Run(exec.Command("sleep", "600"), 100*time.Millisecond)
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "sleep 600") {
		t.Fatalf("Run(sleep 600) = %v, want ErrTimeout naming the command", err)
	}
	if ee, ok := errors.AsType[*exec.ExitError](err); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("Run(sleep 600) = %v, want the process killed", err)
	}
	if d := time.Since(start); d > time.Minute {
		t.Errorf("Run returned after %v", d)
	}
}

// A process that finishes in time reports its own result, not a timeout.
func TestRunInTime(t *testing.T) {
	if err := Run(exec.Command("true"), time.Minute); err != nil {
		t.Errorf("Run(true) = %v", err)
	}
	err := Run(exec.Command("false"), time.Minute)
	if ee, ok := errors.AsType[*exec.ExitError](err); !ok || ee.ExitCode() != 1 || errors.Is(err, ErrTimeout) {
		t.Errorf("Run(false) = %v, want exit status 1", err)
	}
}

// A grandchild that keeps the output pipe open does not keep Run waiting
// once the child has exited.
func TestRunGrandchildHoldingOutput(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 600 & echo $!")
	cmd.WaitDelay = 100 * time.Millisecond
	done := make(chan struct{})
	var out []byte
	var err error
	go func() {
		defer close(done)
		out, err = CombinedOutput(cmd, time.Hour)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("CombinedOutput still waits a minute after the shell exited")
	}
	if !errors.Is(err, exec.ErrWaitDelay) {
		t.Errorf("CombinedOutput = %v, want exec.ErrWaitDelay", err)
	}
	pid, perr := strconv.Atoi(strings.TrimSpace(string(out)))
	if perr != nil {
		t.Fatalf("the shell printed %q, not the pid of its sleep (left running)", out)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

func TestOutput(t *testing.T) {
	out, err := Output(exec.Command("sh", "-c", "echo out; echo err >&2; exit 3"), time.Minute)
	if string(out) != "out\n" {
		t.Errorf("stdout %q", out)
	}
	if ee, ok := errors.AsType[*exec.ExitError](err); !ok || ee.ExitCode() != 3 || string(ee.Stderr) != "err\n" {
		t.Errorf("Output = %v, want exit status 3 with stderr %q", err, "err\n")
	}
	out, err = CombinedOutput(exec.Command("sh", "-c", "echo out; echo err >&2"), time.Minute)
	if err != nil || string(out) != "out\nerr\n" {
		t.Errorf("CombinedOutput = %q, %v", out, err)
	}
}
