package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/internal/testio"
)

// nobody is the uid and gid the agent runs as in TestAgentProcessState, so that the test, as
// root, is an outsider to it.
const nobody = 65534

// TestAgentProcessState looks at a running agent from outside, as another process of the machine
// would through /proc: the PIVAUTH_PIN it was started with is gone from /proc/PID/environ, its core
// size limit is 0, and it is not dumpable (the kernel then makes /proc/PID/mem and the like root's, so the user's
// other processes cannot read its memory or attach to it). The agent runs as nobody, which needs
// root; without root the uid-dependent check is skipped.
func TestAgentProcessState(t *testing.T) {
	const pin = "736251"
	root := os.Geteuid() == 0
	dir, err := os.MkdirTemp("", "pivauth-agent-proc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "pivauth")
	copyFile(t, binary, bin, 0o755)
	home := filepath.Join(dir, "home")
	runtime := filepath.Join(home, "run")
	for _, d := range []string{home, runtime} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if root {
			if err := os.Chown(d, nobody, nobody); err != nil {
				t.Fatal(err)
			}
		}
	}
	cmd := exec.Command(bin, "agent")
	cmd.Env = []string{"HOME=" + home, "XDG_RUNTIME_DIR=" + runtime, "XDG_STATE_HOME=" + filepath.Join(home, "state"),
		"PATH=" + os.Getenv("PATH"), "PIVAUTH_PIN=" + pin}
	if root {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}
	stderr := &testio.SyncBuffer{}
	cmd.Stderr = stderr
	cmd.WaitDelay = testio.WaitDelay
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	socket := filepath.Join(runtime, "pivauth", "agent.sock")
	waitFor(t, "the agent listens", func() bool {
		_, err := os.Stat(socket)
		return err == nil
	})
	proc := "/proc/" + strconv.Itoa(cmd.Process.Pid)

	environ, err := os.ReadFile(proc + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(environ, []byte(pin)) {
		t.Errorf("%s/environ of the running agent holds PIVAUTH_PIN's value", proc)
	}
	limits, err := os.ReadFile(proc + "/limits")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^Max core file size\s+0\s+0\s`).Match(limits) {
		t.Errorf("agent's core file size limit is not 0:\n%s", limits)
	}
	if root {
		fi, err := os.Stat(proc + "/mem")
		if err != nil {
			t.Fatal(err)
		}
		if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != 0 {
			t.Errorf("%s/mem belongs to uid %d, the agent's own: the agent is dumpable (its memory is open to its user's processes); log:\n%s", proc, uid, stderr)
		}
	}
	if bytes.Contains([]byte(stderr.String()), []byte(pin)) {
		t.Error("the agent's log holds the PIN")
	}
}

// copyFile copies src to dst with mode.
func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestAgentPinentryInheritsNoPIN: an agent started with PIVAUTH_PIN in its environment asks its
// --pinentry for the PIN of a command that cannot prompt; the pinentry it starts does not
// inherit the variable.
func TestAgentPinentryInheritsNoPIN(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	runtime := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	c := newCLI(t).with("XDG_RUNTIME_DIR=" + runtime)
	envDump := filepath.Join(c.dir, "pinentry.env")
	// A pinentry that records its environment and answers the Assuan dialogue with the PIN.
	pinentry := writeFile(t, c.dir, "fake-pinentry", "#!/bin/sh\nenv > "+envDump+"\necho 'OK ready'\n"+
		"while read cmd rest; do case \"$cmd\" in GETPIN) echo 'D "+factoryPIN+"'; echo OK;; BYE) echo OK; exit 0;; *) echo OK;; esac; done\n", 0o700)
	agentEnv := c.with("PIVAUTH_PIN=736251", "DISPLAY=:99")
	cmd := exec.Command(binary, "agent", "--pinentry", pinentry)
	cmd.Env, cmd.Dir = agentEnv.env, c.dir
	stderr := &testio.SyncBuffer{}
	cmd.Stderr, cmd.WaitDelay = stderr, testio.WaitDelay
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitFor(t, "the agent listens", func() bool {
		_, err := os.Stat(filepath.Join(runtime, "pivauth", "agent.sock"))
		return err == nil
	})
	c.ok("assertion", "--reader", b.Reader, "--client-id", "c", "--audience", "https://idp.example/token")
	env, err := os.ReadFile(envDump)
	if err != nil {
		t.Fatalf("the agent did not use its pinentry: %v\n%s", err, stderr)
	}
	if bytes.Contains(env, []byte("PIVAUTH_PIN")) || bytes.Contains(env, []byte("736251")) {
		t.Errorf("the agent's pinentry inherited PIVAUTH_PIN:\n%s", env)
	}
}
