//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pivauth/pivauth/cmd/pivauth/internal/agent"
	"github.com/pivauth/pivauth/internal/testio"
)

// waitFor polls cond until it holds; it fails the test after a generous deadline (it checks that
// something happens, not how fast).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// startAgentProcess runs `pivauth agent` in the background, as a systemd user service would, and
// waits until its socket exists. exited is closed when the process has ended; it is killed at the
// end of the test if still running. The agent serves until told to stop, so it has no deadline of
// its own: every wait for it is bounded instead, Wait's by WaitDelay.
func startAgentProcess(t *testing.T, c *cli, socket string) (cmd *exec.Cmd, stderr *testio.SyncBuffer, exited chan struct{}) {
	t.Helper()
	cmd = exec.Command(binary, "agent")
	cmd.Env, cmd.Dir = c.env, c.dir
	stderr = &testio.SyncBuffer{}
	cmd.Stderr = stderr
	cmd.WaitDelay = testio.WaitDelay
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited = make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(toolTimeout):
			t.Errorf("pivauth agent (pid %d) still running %v after SIGKILL; left behind", cmd.Process.Pid, toolTimeout)
		}
	})
	waitFor(t, "the agent listens", func() bool {
		_, err := os.Stat(socket)
		return err == nil
	})
	return cmd, stderr, exited
}

func TestAgentProcess(t *testing.T) {
	c := newCLI(t)
	runtime := filepath.Join(c.dir, "run")
	if err := os.Mkdir(runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	c = c.with("XDG_RUNTIME_DIR=" + runtime)
	socket := filepath.Join(runtime, "pivauth", "agent.sock")

	if r := c.fails(ExitNoCard, nil, "agent", "status"); !strings.Contains(r.stdout, "not running") || !strings.Contains(r.stdout, "pivauth agent") {
		t.Errorf("agent status without an agent printed %q", r.stdout)
	}
	c.fails(ExitError, []string{"no pivauth agent is running"}, "agent", "lock")

	cmd, stderr, exited := startAgentProcess(t, c, socket)
	if fi, err := os.Stat(socket); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket %v, %v; want mode 0600", fi, err)
	}
	var st agent.Status
	r := c.ok("agent", "status", "--output", "json")
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("status json: %v\n%s", err, r.stdout)
	}
	if st.PID != cmd.Process.Pid || !st.Locked || st.IdleTimeout != 15*time.Minute {
		t.Errorf("status %+v: want the agent's pid %d, locked, 15m idle timeout", st, cmd.Process.Pid)
	}
	if r := c.ok("agent", "status"); !strings.Contains(r.stdout, "locked") || !strings.Contains(r.stdout, socket) {
		t.Errorf("status text:\n%s", r.stdout)
	}
	if r := c.ok("agent", "lock"); !strings.Contains(r.stdout, "agent locked") {
		t.Errorf("lock: %q", r.stdout)
	}
	c.fails(ExitError, []string{"already serving"}, "agent")

	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the agent reports the SIGHUP lock", func() bool { return strings.Contains(stderr.String(), "SIGHUP: locking") })

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		t.Fatal("the agent did not exit on SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("agent exit code %d on SIGTERM, want 0; stderr:\n%s", code, stderr)
	}
	if _, err := os.Stat(socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left after a clean stop: %v", err)
	}
	if !strings.Contains(stderr.String(), "pivauth agent stopped") {
		t.Errorf("agent log:\n%s", stderr)
	}
	// A restarted agent serves again on the same path.
	startAgentProcess(t, c, socket)
	c.ok("agent", "status")
}
