package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/internal/testio"
)

// binary is the pivauth executable built once by TestMain; every CLI test runs it as a user would.
var binary string

// Deadlines for child processes, generous for a loaded CI machine: they only end a hung child,
// which would otherwise hold CI until its time limit.
const (
	buildTimeout = 5 * time.Minute  // go build
	runTimeout   = time.Minute      // one pivauth command
	toolTimeout  = 30 * time.Second // tmux, openssl
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pivauth-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "pivauth")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=v0.0.0-test", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := testio.Run(build, buildTimeout); err != nil {
		fmt.Fprintln(os.Stderr, "building pivauth:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one run of the binary produced.
type result struct {
	stdout, stderr string
	code           int
}

// cli runs the built binary with args in a clean environment: no PIN, no profile, a configuration
// directory of the test's own, no terminal (a session of its own without a controlling terminal;
// stdin is empty, not a tty). env adds variables.
type cli struct {
	t     *testing.T
	env   []string
	stdin string
	dir   string // working directory
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	home := t.TempDir()
	c := &cli{t: t, dir: home, env: []string{
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, "config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, "cache"),
		"XDG_STATE_HOME=" + filepath.Join(home, "state"),
		"PATH=" + os.Getenv("PATH"),
		"LANG=C.UTF-8",
	}}
	// pcsc-lite finds pcscd through this variable when the bench runs its own.
	if v, ok := os.LookupEnv("PCSCLITE_CSOCK_NAME"); ok {
		c.env = append(c.env, "PCSCLITE_CSOCK_NAME="+v)
	}
	return c
}

// with returns a copy of c with more environment variables.
func (c *cli) with(env ...string) *cli {
	d := *c
	d.env = append(append([]string(nil), c.env...), env...)
	return &d
}

// run runs pivauth args and returns its output and exit code. It fails the test if the program
// does not finish within runTimeout (it is killed then): nothing here may hang. Nor may a
// grandchild (`pivauth exec`) that keeps stdout open hold the test: testio.Run's WaitDelay.
func (c *cli) run(args ...string) result {
	c.t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = c.env
	cmd.Dir = c.dir
	cmd.Stdin = strings.NewReader(c.stdin)
	cmd.SysProcAttr = detached()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := testio.Run(cmd, runTimeout)
	if errors.Is(err, testio.ErrTimeout) {
		c.t.Fatalf("%v; stderr:\n%s", err, stderr.String())
	}
	r := result{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
	if err != nil && r.code < 0 {
		c.t.Fatalf("pivauth %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// ok runs pivauth and fails the test unless it exits 0.
func (c *cli) ok(args ...string) result {
	c.t.Helper()
	r := c.run(args...)
	if r.code != ExitOK {
		c.t.Fatalf("pivauth %s: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// fails runs pivauth, expects exit code want and a stderr containing every one of msgs.
func (c *cli) fails(want int, msgs []string, args ...string) result {
	c.t.Helper()
	r := c.run(args...)
	if r.code != want {
		c.t.Fatalf("pivauth %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	for _, m := range msgs {
		if !strings.Contains(r.stderr, m) {
			c.t.Errorf("pivauth %s: stderr lacks %q:\n%s", strings.Join(args, " "), m, r.stderr)
		}
	}
	return r
}

// writeFile writes content to name under dir and returns the path.
func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// itoa formats a serial number for a flag.
func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

// running is a pivauth started in the background, for tests that act while it waits (a device
// code to approve, a browser to play).
type running struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr testio.SyncBuffer
	done   chan struct{}
	ctx    context.Context // its deadline kills the program
}

// start starts pivauth args like run does, without waiting for it; it is killed at the end of
// the test or after runTimeout.
func (c *cli) start(args ...string) *running {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	r := &running{done: make(chan struct{}), ctx: ctx}
	r.cmd = exec.CommandContext(ctx, binary, args...)
	r.cmd.Env, r.cmd.Dir, r.cmd.SysProcAttr = c.env, c.dir, detached()
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	r.cmd.WaitDelay = testio.WaitDelay
	if err := r.cmd.Start(); err != nil {
		cancel()
		c.t.Fatal(err)
	}
	go func() { _ = r.cmd.Wait(); close(r.done) }()
	c.t.Cleanup(func() { cancel(); <-r.done })
	return r
}

// waitStderr waits until stderr matches re and returns the submatches.
func (r *running) waitStderr(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(r.stderr.String()); m != nil {
			return m
		}
		select {
		case <-r.done:
			if m := re.FindStringSubmatch(r.stderr.String()); m != nil {
				return m
			}
			t.Fatalf("pivauth ended before printing %v; stderr:\n%s", re, r.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("pivauth did not print %v; stderr:\n%s", re, r.stderr.String())
	return nil
}

// wait waits for the program to end and returns what it produced. It fails the test if the
// program had to be killed at its deadline.
func (r *running) wait(t *testing.T) result {
	t.Helper()
	<-r.done
	if r.ctx.Err() != nil {
		t.Fatalf("%s: killed, still running after %v; stderr:\n%s", r.cmd, runTimeout, r.stderr.String())
	}
	return result{stdout: r.stdout.String(), stderr: r.stderr.String(), code: r.cmd.ProcessState.ExitCode()}
}
