//go:build linux

package signer_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
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
	"github.com/pivauth/pivauth/signer"
)

// The benchmarks count what the virtual card receives per operation
// (apdus/op, and card bytes in and out), not time: on the PC/SC bench an
// APDU's cost is set by the transport, and on a real card by the card.
// BENCHMARKS.md at the repository root has the table and the command.

// reportCard reports the card's counters per operation.
func reportCard(b *testing.B, bench *benchtest.Bench) {
	st := bench.Stats()
	if testing.Verbose() {
		b.Logf("instructions over %d ops: %v", b.N, st.Instructions)
	}
	n := float64(b.N)
	b.ReportMetric(float64(st.APDUs)/n, "apdus/op")
	b.ReportMetric(float64(st.PINVerifies)/n, "pins/op")
	b.ReportMetric(float64(st.BytesIn+st.BytesOut)/n, "cardbytes/op")
}

// signOnce makes one SHA-256 signature of the kind the key's TLS and JWS
// users make (PSS for RSA when pss is set) and fails the benchmark if it
// does not verify.
func signOnce(b *testing.B, s *signer.Signer, pss bool) {
	d := digest(crypto.SHA256, []byte("benchmark"))
	var opts crypto.SignerOpts = crypto.SHA256
	switch {
	case pss:
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	case s.Algorithm() == piv.AlgEd25519:
		d, opts = []byte("benchmark"), crypto.Hash(0) // Ed25519 signs the message
	}
	if _, err := s.Sign(rand.Reader, d, opts); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSign: one signature with an open signer (steady state), per
// algorithm and PIN policy, on the yubikey profile; and the three keys of
// the piv profile.
//
//	go test ./signer -run '^$' -bench 'Sign$' -benchtime 20x
func BenchmarkSign(b *testing.B) {
	yk := benchtest.Start(b, vcard.ProfileYubiKey)
	// Every algorithm without PIN, and the PIN policies on RSA-2048 (Entra) and P-256.
	specs := keyPerAlgorithm()
	n := len(specs)
	specs = append(specs,
		keySpec{retired(n), piv.AlgRSA2048, piv.PINPolicyOnce, piv.TouchPolicyNever},
		keySpec{retired(n + 1), piv.AlgECCP256, piv.PINPolicyOnce, piv.TouchPolicyNever},
		keySpec{retired(n + 2), piv.AlgECCP256, piv.PINPolicyAlways, piv.TouchPolicyNever},
	)
	provision(b, yk, specs...)
	for _, spec := range specs {
		for _, pss := range []bool{false, true} {
			if pss && !spec.alg.IsRSA() {
				continue
			}
			name := fmt.Sprintf("yubikey/%s/pin=%s", spec.alg, spec.pin)
			if pss {
				name += "/PSS"
			}
			b.Run(name, func(b *testing.B) {
				s := openSigner(b, yk, signer.Options{Slot: spec.slot, PIN: &pinCounter{pin: defaultPIN}})
				signOnce(b, s, pss) // the session's PIN and policy are settled
				yk.ResetStats()
				for b.Loop() {
					signOnce(b, s, pss)
				}
				reportCard(b, yk)
			})
		}
	}
	pv := benchtest.Start(b, vcard.ProfilePIV)
	for _, slot := range []piv.Slot{piv.SlotAuthentication, piv.SlotSignature, piv.SlotCardAuthentication} {
		s := openSigner(b, pv, signer.Options{Slot: slot, PIN: &pinCounter{pin: defaultPIN}})
		b.Run(fmt.Sprintf("piv/%s/%s/pin=%s", slot, s.Algorithm(), piv.DefaultPINPolicy(slot)), func(b *testing.B) {
			signOnce(b, s, false)
			pv.ResetStats()
			for b.Loop() {
				signOnce(b, s, false)
			}
			reportCard(b, pv)
		})
	}
}

// BenchmarkCold: what a process starting cold spends: signer.Open (SELECT,
// the certificate), the first signature (with its PIN, from a file, as an
// unattended job or `pivauth --pin-file` gives it), the card's identity for
// the audit record (Signer.CardIdentity), Close. "first" is a process with
// an empty card cache (the first-ever run on this machine), "cached" one
// whose cache holds the certificate's record.
//
//	go test ./signer -run '^$' -bench 'Cold$' -benchtime 10x
func BenchmarkCold(b *testing.B) {
	yk := benchtest.Start(b, vcard.ProfileYubiKey)
	provision(b, yk,
		keySpec{piv.SlotAuthentication, piv.AlgRSA2048, piv.PINPolicyOnce, piv.TouchPolicyNever},
		keySpec{piv.SlotCardAuthentication, piv.AlgECCP256, piv.PINPolicyNever, piv.TouchPolicyNever},
	)
	pv := benchtest.Start(b, vcard.ProfilePIV)
	pinFile := filepath.Join(b.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte(defaultPIN), 0o600); err != nil {
		b.Fatal(err)
	}
	cache, err := signer.OpenCardCache(filepath.Join(b.TempDir(), "cards"))
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		bench *benchtest.Bench
		slot  piv.Slot
		opts  signer.Options
	}{
		{"piv/9a-RSA2048-PIN", pv, piv.SlotAuthentication, signer.Options{}},
		{"piv/9a-RSA2048-PIN/allow-last-try", pv, piv.SlotAuthentication, signer.Options{AllowLastPINTry: true}},
		{"piv/9e-P256", pv, piv.SlotCardAuthentication, signer.Options{}},
		{"yubikey/9a-RSA2048-PIN", yk, piv.SlotAuthentication, signer.Options{}},
		{"yubikey/9a-RSA2048-PIN/allow-last-try", yk, piv.SlotAuthentication, signer.Options{AllowLastPINTry: true}},
		{"yubikey/9e-P256", yk, piv.SlotCardAuthentication, signer.Options{}},
	} {
		for _, warm := range []bool{false, true} {
			name := tc.name + "/first"
			if warm {
				name = tc.name + "/cached"
			}
			b.Run(name, func(b *testing.B) {
				cold := func(cert []byte) []byte {
					if !warm && cert != nil {
						if err := cache.Delete(cert, tc.slot); err != nil {
							b.Fatal(err)
						}
					}
					opts := tc.opts
					opts.Card, opts.Slot, opts.PIN, opts.CardCache = piv.Selector{Reader: tc.bench.Reader}, tc.slot, signer.File(pinFile), cache
					s, err := signer.Open(testContext(b), opts)
					if err != nil {
						b.Fatal(err)
					}
					defer s.Close()
					signOnce(b, s, false)
					if _, _, err := s.CardIdentity(testContext(b)); err != nil {
						b.Fatal(err)
					}
					return s.Certificate().Raw
				}
				cert := cold(nil) // fills the cache, and names the certificate to forget
				tc.bench.ResetStats()
				for b.Loop() {
					cold(cert)
				}
				reportCard(b, tc.bench)
			})
		}
	}
}

// BenchmarkTools: the same PIN-protected RSA-2048 signature by 9A, from a
// cold process, made by yubico-piv-tool (verify-pin, test-signature; it
// takes the certificate from a file, not the card, to check the signature)
// and by OpenSC's PKCS#11 module (pkcs11-tool --sign, which finds the key
// through the card's objects), next to pivauth's signer (BenchmarkCold).
// The PIN reaches the tools on stdin and through the environment, never
// argv.
//
//	go test ./signer -run '^$' -bench 'Tools$' -benchtime 5x
func BenchmarkTools(b *testing.B) {
	yk := benchtest.Start(b, vcard.ProfileYubiKey)
	provision(b, yk, keySpec{piv.SlotAuthentication, piv.AlgRSA2048, piv.PINPolicyOnce, piv.TouchPolicyNever})
	pv := benchtest.Start(b, vcard.ProfilePIV)
	dir := b.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.WriteFile(data, []byte("benchmark"), 0o600); err != nil {
		b.Fatal(err)
	}
	// OpenSC gives 4 PKCS#11 slots to each of 4 readers by default; the
	// bench has more readers, so one slot per reader.
	conf := filepath.Join(dir, "opensc.conf")
	if err := os.WriteFile(conf, []byte("app opensc-pkcs11 {\n pkcs11 {\n  slots_per_card = 1;\n  max_virtual_slots = 64;\n }\n}\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	module := "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"

	for _, bench := range []*benchtest.Bench{pv, yk} {
		profile := bench.Card.Profile()
		certFile := filepath.Join(dir, string(profile)+".pem")
		s := openSigner(b, bench, signer.Options{PIN: noPIN(b)})
		if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o600); err != nil {
			b.Fatal(err)
		}
		s.Close()
		b.Run(fmt.Sprintf("yubico-piv-tool/%s", profile), func(b *testing.B) {
			runTool(b, bench, "123456\n", nil, "yubico-piv-tool", "-r", bench.Reader,
				"-a", "verify-pin", "-a", "test-signature", "-s", "9a", "-i", certFile)
		})
		b.Run(fmt.Sprintf("pkcs11-tool/%s", profile), func(b *testing.B) {
			if _, err := os.Stat(module); err != nil {
				b.Skip("OpenSC's PKCS#11 module is not installed")
			}
			runTool(b, bench, "", []string{"OPENSC_CONF=" + conf, "BENCH_PIN=123456"},
				"pkcs11-tool", "--module", module, "--slot-description", bench.Reader, "--pin", "env:BENCH_PIN",
				"--sign", "-m", "SHA256-RSA-PKCS", "--id", "01", "-i", data, "-o", filepath.Join(dir, "sig"))
		})
	}
}

// runTool runs a command once per iteration and reports the card's counters.
func runTool(b *testing.B, bench *benchtest.Bench, stdin string, env []string, name string, args ...string) {
	if _, err := exec.LookPath(name); err != nil {
		b.Skipf("%s not installed", name)
	}
	bench.ResetStats()
	for b.Loop() {
		cmd := exec.Command(name, args...)
		cmd.Stdin = strings.NewReader(stdin)
		cmd.Env = append(os.Environ(), env...)
		out, err := testio.CombinedOutput(cmd, 30*time.Second)
		if errors.Is(err, testio.ErrTimeout) {
			b.Fatalf("%v\n%s", err, out)
		}
		if err != nil {
			b.Skipf("%s does not work with this card: %v\n%s", name, err, out)
		}
	}
	reportCard(b, bench)
}
