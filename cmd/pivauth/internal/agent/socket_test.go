//go:build linux

package agent

import (
	"bufio"
	"context"
	"crypto"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pivauth/pivauth/cmd/pivauth/internal/audit"
	"github.com/pivauth/pivauth/internal/privfs"
	"github.com/pivauth/pivauth/internal/testio"
)

// TestMain lets the test binary play a client process (AGENT_TEST_CHILD): the tests need clients
// that are separate processes, run as another user or die in the middle of a request.
func TestMain(m *testing.M) {
	switch os.Getenv("AGENT_TEST_CHILD") {
	case "":
		os.Exit(m.Run())
	case "raw-dial":
		os.Exit(childRawDial(os.Getenv("AGENT_TEST_SOCKET")))
	case "crash-at-prompt":
		os.Exit(childCrashAtPrompt(os.Getenv("AGENT_TEST_SOCKET")))
	}
	os.Exit(2)
}

// childRawDial connects without DialPath's checks (as an attacker would), says hello and prints
// the agent's answer; then prints what DialPath itself says.
func childRawDial(path string) int {
	nc, err := net.Dial("unix", path)
	if err != nil {
		fmt.Println("connect:", err)
		return 1
	}
	fmt.Fprintf(nc, `{"op":"hello","version":%d}`+"\n", protocolVersion)
	line, _ := bufio.NewReader(nc).ReadString('\n')
	fmt.Print("agent: ", line)
	_, err = DialPath(context.Background(), path, nil)
	fmt.Println("DialPath:", err)
	return 0
}

// exitPrompter kills its own process when asked for the PIN.
type exitPrompter struct{}

func (exitPrompter) PIN(context.Context, PINRequest) ([]byte, error) { os.Exit(3); return nil, nil }
func (exitPrompter) Touch()                                          {}

func childCrashAtPrompt(path string) int {
	c, err := DialPath(context.Background(), path, exitPrompter{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	k, err := c.Key(context.Background(), KeyRef{Slot: "9a"})
	if err == nil {
		digest := make([]byte, 32)
		_, err = k.Sign(nil, digest, crypto.SHA256)
	}
	fmt.Fprintln(os.Stderr, "no crash:", err)
	return 1
}

// childTimeout bounds a client process: one request to the agent, generous
// for a loaded CI machine.
const childTimeout = time.Minute

func child(t *testing.T, mode, socket string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "AGENT_TEST_CHILD="+mode, "AGENT_TEST_SOCKET="+socket)
	return cmd
}

func TestCrashedClientLeavesAgentHealthy(t *testing.T) {
	h := startAgent(t, nil)
	cmd := child(t, "crash-at-prompt", h.path)
	out, err := testio.CombinedOutput(cmd, childTimeout)
	if ee, ok := errors.AsType[*exec.ExitError](err); !ok || ee.ExitCode() != 3 {
		t.Fatalf("child did not die at the prompt: %v\n%s", err, out)
	}
	p := &testPrompter{answers: []string{"123456"}}
	if err := h.sign(h.dial(p), "after-crash"); err != nil {
		t.Fatalf("agent unhealthy after a client died at the PIN prompt: %v", err)
	}
	if n := p.prompts(); n != 1 {
		t.Errorf("PIN asked %d times, want 1", n)
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "agent.sock")
	if err := privfs.EnsureDir(filepath.Dir(path)); err != nil {
		t.Fatal(err)
	}
	// An agent that died: its socket file stays, nobody listens.
	dead, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	dead.SetUnlinkOnClose(false)
	_ = dead.Close()
	if _, err := DialPath(context.Background(), path, nil); !errors.Is(err, ErrNoAgent) {
		t.Fatalf("Dial to a stale socket = %v, want ErrNoAgent", err)
	}

	l, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v (%v), want 0600", fi.Mode(), err)
	}
	// A second agent on the same path is refused while the first one runs.
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("second Listen = %v, want 'already serving'", err)
	}
	srv := NewServer(Config{Backend: &softBackend{}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- srv.Serve(ctx, l) }()
	c, err := DialPath(context.Background(), path, nil)
	if err != nil {
		t.Fatalf("Dial to the new agent: %v", err)
	}
	_ = c.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	_ = l.Close()
}

func TestSocketNotPrivateRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "agent.sock")
	if _, err := Listen(path); !errors.Is(err, privfs.ErrNotPrivate) {
		t.Errorf("Listen in a 0755 directory = %v, want ErrNotPrivate", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := DialPath(context.Background(), path, nil); !errors.Is(err, privfs.ErrNotPrivate) {
		t.Errorf("Dial into a 0755 directory = %v, want ErrNotPrivate", err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(path, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if _, err := DialPath(context.Background(), path, nil); !errors.Is(err, privfs.ErrNotPrivate) {
			t.Errorf("Dial to another user's socket = %v, want ErrNotPrivate", err)
		}
	}
}

// A process of another user that reaches the socket (the test opens the directory for it) is
// refused by the peer-credential check and recorded in the audit log; DialPath in that process
// refuses the directory of another user on its own.
func TestOtherUserRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client as another user")
	}
	const nobody = 65534
	// The test binary and the socket must be reachable for the other user: a world-traversable
	// directory outside t.TempDir (which is 0700).
	base, err := os.MkdirTemp("", "agent-uid-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "agent.test")
	if err := copyFile(os.Args[0], bin, 0o755); err != nil {
		t.Fatal(err)
	}
	h := startAgentAt(t, filepath.Join(base, "run", "agent.sock"))
	if err := os.Chmod(filepath.Dir(h.path), 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(h.path, 0o666); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = []string{"AGENT_TEST_CHILD=raw-dial", "AGENT_TEST_SOCKET=" + h.path}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := testio.CombinedOutput(cmd, childTimeout)
	if err != nil {
		t.Fatalf("client as uid %d: %v\n%s", nobody, err, out)
	}
	agentSaid, dialSaid, _ := strings.Cut(string(out), "DialPath:")
	if !strings.Contains(agentSaid, `"class":"refused"`) || !strings.Contains(agentSaid, "serves uid 0 only") {
		t.Errorf("agent's answer to another user: %s", agentSaid)
	}
	if !strings.Contains(dialSaid, "not to you") {
		t.Errorf("DialPath as another user: %s", dialSaid)
	}
	var refused []audit.Event
	for _, ev := range h.events() {
		if ev.Operation == audit.OpAgentConnect {
			refused = append(refused, ev)
		}
	}
	if len(refused) != 1 || refused[0].Result != audit.ResultRefused || refused[0].Requester == nil || refused[0].Requester.UID != nobody {
		t.Errorf("audit records of the refusal: %+v", refused)
	}
	if !strings.Contains(h.log.String(), "refused a connection from another user") {
		t.Errorf("agent log does not report the refusal:\n%s", h.log)
	}
}

func copyFile(from, to string, mode os.FileMode) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, mode)
}
