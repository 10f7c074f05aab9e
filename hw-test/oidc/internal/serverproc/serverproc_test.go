//go:build unix

package serverproc

import (
	"bufio"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// run starts sh -c script under a subtest, waits for its first line, and returns its process
// once the subtest (and so the stop in its cleanup) has ended.
func run(t *testing.T, script string) *Process {
	t.Helper()
	var p *Process
	t.Run("server", func(t *testing.T) {
		cmd := exec.Command("sh", "-c", script)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if p, err = Start(t, cmd); err != nil {
			t.Fatal(err)
		}
		// The first line says the script is set up (trap installed, grandchild started).
		if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
			t.Fatalf("read the first line: %v", err)
		}
	})
	return p
}

func TestStopTerminates(t *testing.T) {
	p := run(t, "echo ready; exec sleep 600")
	select {
	case <-p.Exited():
	default:
		t.Fatal("the server still runs after the test's cleanup")
	}
	var exit *exec.ExitError
	if !errors.As(p.Err(), &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Errorf("Wait: %v, want the process ended by SIGTERM", p.Err())
	}
}

// A server that ignores SIGTERM is killed once the grace period is over.
func TestStopKillsServerIgnoringTerm(t *testing.T) {
	defer func(g time.Duration) { grace = g }(grace)
	grace = 100 * time.Millisecond
	p := run(t, "trap '' TERM; echo ready; exec sleep 600")
	select {
	case <-p.Exited():
	default:
		t.Fatal("the server still runs after the test's cleanup")
	}
	var exit *exec.ExitError
	if !errors.As(p.Err(), &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("Wait: %v, want the process killed", p.Err())
	}
}

// A grandchild that keeps the output pipe open does not keep Wait waiting once the child exited.
func TestGrandchildHoldingOutput(t *testing.T) {
	var out strings.Builder
	cmd := exec.Command("sh", "-c", "sleep 600 & echo $!")
	cmd.Stdout = &out
	p, err := Start(t, cmd)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Exited():
	case <-time.After(time.Minute):
		t.Fatal("Wait still waits a minute after the shell exited")
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(out.String())); err != nil {
		t.Errorf("the shell printed %q, not the pid of its sleep (left running)", out.String())
	} else {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if !errors.Is(p.Err(), exec.ErrWaitDelay) {
		t.Errorf("Wait: %v, want %v (the pipe closed after WaitDelay)", p.Err(), exec.ErrWaitDelay)
	}
}
