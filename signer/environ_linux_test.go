package signer

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// envHelper marks the test binary re-executed by TestEnvLeavesNoTraceInProcEnviron as the process
// under test.
const envHelper = "PIVAUTH_TEST_ENV_HELPER"

// TestEnvHelperProcess is the process under test: it reads the PIN with Env, says so, and waits
// for its parent to close stdin. It does nothing in a normal test run.
func TestEnvHelperProcess(t *testing.T) {
	if os.Getenv(envHelper) == "" {
		t.Skip("helper process only")
	}
	src := Env()
	pin, err := src.PIN(t.Context(), testReq)
	fmt.Printf("ready %d %v\n", len(pin), err)
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
}

// Env removes PIVAUTH_PIN not only from Go's copy of the environment but from the process's
// initial environment block, which the kernel shows in /proc/PID/environ to the user's other
// processes (and root) for the life of the process: an outsider reading it finds no PIN.
func TestEnvLeavesNoTraceInProcEnviron(t *testing.T) {
	const pin = "736251"
	cmd := exec.Command(os.Args[0], "-test.run=^TestEnvHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envHelper+"=1", PINEnv+"="+pin)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready 6 <nil>\n" {
		t.Fatalf("helper: %q, %v (want it to have read the 6-digit PIN)", line, err)
	}
	environ, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(environ, []byte(pin)) {
		t.Errorf("/proc/%d/environ still holds the PIN after Env()", cmd.Process.Pid)
	}
	if !bytes.Contains(environ, []byte(envHelper+"=1")) {
		t.Errorf("/proc/%d/environ lost the other variables", cmd.Process.Pid)
	}
}
