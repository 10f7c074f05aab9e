//go:build linux

package main

import (
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/internal/testio"
	"github.com/pivauth/pivauth/piv"
)

// BenchmarkWallTime is the wall-time view of issue 13: one PIN-protected RSA-2048 signature with
// the 9A key, each by a new process, on a card as slow as a YubiKey 5 (benchtest.WithYubiKey5Timing:
// ~150 ms per RSA-2048 signature, 4 ms per APDU), made in one run by
//
//   - pivauth cold, first: `pivauth assertion --pin-file` with an empty card cache;
//   - pivauth cold, cached: the same with the card cache filled (every later run);
//   - pivauth agent: the same through a running, unlocked agent;
//   - yubico-piv-tool -a verify-pin -a test-signature (certificate from a file);
//   - pkcs11-tool --sign through OpenSC's PKCS #11 module.
//
// Each iteration runs all five once; the metrics are milliseconds per process and each one's ratio
// to pivauth cached (>1: slower). It times, so it is a benchmark, never a test:
//
//	go test ./cmd/pivauth -run '^$' -bench WallTime -benchtime 5x
func BenchmarkWallTime(b *testing.B) {
	bench := benchtest.Start(b, vcard.ProfileYubiKey, benchtest.WithYubiKey5Timing())
	if bench.Real() || bench.CA == nil {
		b.Skip("the YubiKey 5 timing is the virtual card's")
	}
	for _, tool := range []string{"yubico-piv-tool", "pkcs11-tool"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("%s is not installed", tool)
		}
	}
	const module = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
	if _, err := os.Stat(module); err != nil {
		b.Skip("OpenSC's PKCS#11 module is not installed")
	}
	dir := b.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			b.Fatal(err)
		}
		return path
	}
	pin := write("pin", factoryPIN+"\n")
	mk := write("mk.hex", hex.EncodeToString(piv.DefaultManagementKey())+"\n")
	roots := write("roots.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: bench.CA.Cert.Raw})))
	data := write("data", "benchmark")
	conf := write("opensc.conf", "app opensc-pkcs11 {\n pkcs11 {\n  slots_per_card = 1;\n  max_virtual_slots = 64;\n }\n}\n")
	runtime := filepath.Join(dir, "run")
	if err := os.Mkdir(runtime, 0o700); err != nil {
		b.Fatal(err)
	}
	env := []string{"HOME=" + dir, "XDG_CONFIG_HOME=" + filepath.Join(dir, "config"), "XDG_CACHE_HOME=" + filepath.Join(dir, "cache"),
		"XDG_STATE_HOME=" + filepath.Join(dir, "state"), "PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8"}
	if v, ok := os.LookupEnv("PCSCLITE_CSOCK_NAME"); ok {
		env = append(env, "PCSCLITE_CSOCK_NAME="+v)
	}
	// run runs a command; the PIN reaches yubico-piv-tool on stdin, never argv.
	run := func(env []string, name string, args ...string) time.Duration {
		cmd := exec.Command(name, args...)
		cmd.Env, cmd.Dir = env, dir
		cmd.Stdin = strings.NewReader(factoryPIN + "\n")
		start := time.Now()
		out, err := testio.CombinedOutput(cmd, runTimeout)
		took := time.Since(start)
		if err != nil {
			b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return took
	}

	run(env, binary, "setup", "key", "--reader", bench.Reader, "--algorithm", "rsa2048", "--pin-policy", "once",
		"--attestation-roots", roots, "--management-key-file", mk)
	cert := filepath.Join(dir, "9a.cer")
	run(env, binary, "setup", "selfsign", "--reader", bench.Reader, "--pin-file", pin, "--management-key-file", mk, "--subject", "CN=wall time", "--cer", cert)
	der, err := os.ReadFile(cert)
	if err != nil {
		b.Fatal(err)
	}
	certPEM := write("9a.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))

	assertion := []string{"assertion", "--reader", bench.Reader, "--pin-file", pin, "--tenant", "bench", "--client-id", "app"}
	cardCache := filepath.Join(dir, "cache", "pivauth", "cards")
	agentEnv := append(append([]string(nil), env...), "XDG_RUNTIME_DIR="+runtime)
	agent := exec.Command(binary, "agent")
	agent.Env, agent.Dir = agentEnv, dir
	if err := agent.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = agent.Process.Kill(); _ = agent.Wait() }()
	socket := filepath.Join(runtime, "pivauth", "agent.sock")
	for deadline := time.Now().Add(runTimeout); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(socket); err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the agent does not listen")
		}
	}
	run(agentEnv, binary, assertion...) // the agent opens the key and gets the PIN once

	tools := []struct {
		name string
		run  func() time.Duration
	}{
		{"pivauth-first", func() time.Duration {
			if err := os.RemoveAll(cardCache); err != nil {
				b.Fatal(err)
			}
			return run(env, binary, assertion...)
		}},
		{"pivauth-cached", func() time.Duration { return run(env, binary, assertion...) }},
		{"pivauth-agent", func() time.Duration { return run(agentEnv, binary, assertion...) }},
		{"yubico-piv-tool", func() time.Duration {
			return run(env, "yubico-piv-tool", "-r", bench.Reader, "-a", "verify-pin", "-a", "test-signature", "-s", "9a", "-i", certPEM)
		}},
		{"pkcs11-tool", func() time.Duration {
			return run(append(append([]string(nil), env...), "OPENSC_CONF="+conf, "BENCH_PIN="+factoryPIN), "pkcs11-tool", "--module", module,
				"--slot-description", bench.Reader, "--pin", "env:BENCH_PIN", "--sign", "-m", "SHA256-RSA-PKCS", "--id", "01", "-i", data, "-o", filepath.Join(dir, "sig"))
		}},
	}
	total := make([]time.Duration, len(tools))
	for b.Loop() {
		for i, tool := range tools {
			total[i] += tool.run()
		}
	}
	ms := func(i int) float64 { return float64(total[i].Milliseconds()) / float64(b.N) }
	for i, tool := range tools {
		b.ReportMetric(ms(i), tool.name+"-ms")
		if i != 1 {
			b.ReportMetric(ms(i)/ms(1), fmt.Sprintf("%s/cached", tool.name))
		}
	}
}
