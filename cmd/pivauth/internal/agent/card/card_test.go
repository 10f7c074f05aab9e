//go:build linux

package card

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/cmd/pivauth/internal/agent"
	"github.com/pivauth/pivauth/cmd/pivauth/internal/audit"
	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/internal/testio"
	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer/purpose"
)

const benchPIN = "123456" // the bench cards' factory PIN

// TestMain lets the test binary be a separate pivauth process using the agent (CARD_TEST_CHILD).
func TestMain(m *testing.M) {
	if os.Getenv("CARD_TEST_CHILD") == "sign" {
		os.Exit(childSign())
	}
	os.Exit(m.Run())
}

// printPrompter answers the agent's PIN prompts with CARD_TEST_PIN and reports each prompt on
// stdout, where the parent counts them.
type printPrompter struct{}

func (printPrompter) PIN(_ context.Context, req agent.PINRequest) ([]byte, error) {
	fmt.Printf("PROMPT slot %s, %d tries left\n", req.Slot, req.Retries)
	return []byte(os.Getenv("CARD_TEST_PIN")), nil
}
func (printPrompter) Touch() { fmt.Println("TOUCH") }

// childSign makes CARD_TEST_N signatures with the card in CARD_TEST_READER through the agent at
// CARD_TEST_SOCKET (other test binaries may have cards on other readers), with purposes
// whose jti is CARD_TEST_JTI-<i>, and checks each against the certificate.
func childSign() int {
	ctx := context.Background()
	c, err := agent.DialPath(ctx, os.Getenv("CARD_TEST_SOCKET"), printPrompter{})
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	defer c.Close()
	k, err := c.Key(ctx, agent.KeyRef{Reader: os.Getenv("CARD_TEST_READER"), Slot: "9a"})
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	n, _ := strconv.Atoi(os.Getenv("CARD_TEST_N"))
	for i := range n {
		jti := fmt.Sprintf("%s-%d", os.Getenv("CARD_TEST_JTI"), i)
		digest := sha256.Sum256([]byte(jti))
		pctx := purpose.With(ctx, purpose.Purpose{TokenEndpoint: "https://login.example/t/oauth2/v2.0/token", ClientID: "bench-app", JTI: jti})
		var opts crypto.SignerOpts = crypto.SHA256
		if _, ok := k.Public().(*rsa.PublicKey); ok {
			opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
		}
		sig, err := purpose.Bind(pctx, k).Sign(nil, digest[:], opts)
		if err == nil {
			err = verify(k.Public(), digest[:], sig, opts)
		}
		if err != nil {
			fmt.Println("ERROR", err)
			return 1
		}
	}
	fmt.Println("OK")
	return 0
}

// verify checks a signature of digest.
func verify(pub crypto.PublicKey, digest, sig []byte, opts crypto.SignerOpts) error {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		return rsa.VerifyPSS(pub, crypto.SHA256, digest, sig, opts.(*rsa.PSSOptions))
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("unexpected key %T", pub)
}

// benchAgent is an agent with the card backend serving a bench card, in the test process.
type benchAgent struct {
	bench    *benchtest.Bench
	socket   string
	auditDir string
}

func startBenchAgent(t *testing.T, profile vcard.Profile) *benchAgent {
	t.Helper()
	b := benchtest.Start(t, profile)
	dir := t.TempDir()
	ba := &benchAgent{bench: b, socket: filepath.Join(dir, "run", "agent.sock"), auditDir: filepath.Join(dir, "state")}
	rec, err := audit.Open(ba.auditDir, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	l, err := agent.Listen(ba.socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := agent.NewServer(agent.Config{Backend: &Backend{Audit: rec}, Monitor: agent.PCSCMonitor{}, Audit: rec})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
		_ = l.Close()
	})
	return ba
}

// client runs a separate process that signs n times through the agent and returns how many
// times it was asked for the PIN.
func (ba *benchAgent) client(t *testing.T, jti string, n int) int {
	t.Helper()
	return strings.Count(ba.clientOutput(t, jti, n), "PROMPT")
}

// clientOutput runs the signing process and returns its output.
func (ba *benchAgent) clientOutput(t *testing.T, jti string, n int) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CARD_TEST_CHILD=sign", "CARD_TEST_SOCKET="+ba.socket, "CARD_TEST_READER="+ba.bench.Reader, "CARD_TEST_PIN="+benchPIN,
		"CARD_TEST_JTI="+jti, "CARD_TEST_N="+strconv.Itoa(n))
	// Bounded: n signatures through pcscd+vpcd take seconds, a hung client must not take CI's time.
	out, err := testio.CombinedOutput(cmd, 2*time.Minute)
	if err != nil || !bytes.Contains(out, []byte("OK")) {
		t.Fatalf("client %s: %v\n%s", jti, err, out)
	}
	return string(out)
}

func (ba *benchAgent) locked(t *testing.T) bool {
	t.Helper()
	c, err := agent.DialPath(context.Background(), ba.socket, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Locked
}

// The acceptance test: the PIN typed once serves several processes, the card is never
// left verified between their operations, a removal locks and the reinserted card asks again, and
// every operation is in the audit log with its purpose and nothing secret.
func TestAgentOnBenchCard(t *testing.T) {
	ba := startBenchAgent(t, vcard.ProfilePIV)
	b := ba.bench
	if b.Real() {
		t.Skip("pulls the card and reads its counters: virtual card only")
	}
	b.ResetStats()

	if n := ba.client(t, "first", 2); n != 1 {
		t.Fatalf("first process asked for the PIN %d times, want 1", n)
	}
	if sw := b.PINStatusFromOutside(t); sw&0xFFF0 != 0x63C0 {
		t.Fatalf("empty VERIFY from another context between operations = %04X, want 63Cx (card left verified?)", sw)
	}
	if n := ba.client(t, "second", 2); n != 0 {
		t.Fatalf("second process asked for the PIN %d times, want 0 (PIN typed once)", n)
	}
	if sw := b.PINStatusFromOutside(t); sw&0xFFF0 != 0x63C0 {
		t.Fatalf("empty VERIFY after the second process = %04X, want 63Cx", sw)
	}
	st := b.Stats()
	if st.Signatures != 4 || st.PINVerifies != 4 {
		t.Errorf("card: %d signatures, %d PIN verifications; want 4 and 4 (verified inside each operation)", st.Signatures, st.PINVerifies)
	}

	b.Pull()
	for deadline := time.Now().Add(15 * time.Second); !ba.locked(t); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("agent did not lock when the card was pulled")
		}
	}
	b.Insert()
	if n := ba.client(t, "third", 1); n != 1 {
		t.Fatalf("after reinsertion the PIN was asked %d times, want 1", n)
	}

	evs, skipped, err := audit.Read(ba.auditDir, audit.Filter{})
	if err != nil || skipped != 0 {
		t.Fatalf("audit: %v, %d damaged", err, skipped)
	}
	var jtis []string
	pids := map[int]bool{}
	for _, ev := range evs {
		if ev.Operation != audit.OpSign || ev.Result != audit.ResultOK || ev.Slot != "9a" ||
			!strings.HasPrefix(ev.Card, "guid:") || ev.Reader != b.Reader || ev.CertSHA256 == "" ||
			ev.Purpose.ClientID != "bench-app" || ev.Requester == nil {
			t.Errorf("audit event %+v", ev)
			continue
		}
		jtis = append(jtis, ev.Purpose.JTI)
		pids[ev.Requester.PID] = true
	}
	if want := "first-0 first-1 second-0 second-1 third-0"; strings.Join(jtis, " ") != want {
		t.Errorf("audited jtis %q, want %q", strings.Join(jtis, " "), want)
	}
	if len(pids) != 3 {
		t.Errorf("audit names %d requesting processes, want 3", len(pids))
	}
	raw, err := os.ReadFile(filepath.Join(ba.auditDir, audit.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(benchPIN)) {
		t.Error("the PIN is in the audit log")
	}
}

// factoryManagementKey is the bench YubiKey's management key (3DES by default).
var factoryManagementKey = []byte{1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8}

// A key with a touch policy makes the requesting process, not the agent, tell its user to touch.
func TestAgentRelaysTouch(t *testing.T) {
	ba := startBenchAgent(t, vcard.ProfileYubiKey)
	b := ba.bench
	if b.Real() {
		t.Skip("imports a key: virtual card only")
	}
	ctx := context.Background()
	c, err := piv.Open(ctx, piv.Selector{Reader: b.Reader})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "touch"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	cert, _ := x509.ParseCertificate(der)
	err = c.ImportKey(ctx, factoryManagementKey, piv.SlotAuthentication, key, cert,
		piv.KeyOptions{PINPolicy: piv.PINPolicyNever, TouchPolicy: piv.TouchPolicyAlways})
	_ = c.Close()
	if err != nil {
		t.Fatal(err)
	}
	b.Card.SetTouchDelay(1500 * time.Millisecond) // the signer's notice comes after about a second

	out := ba.clientOutput(t, "touch", 1)
	if n := strings.Count(out, "TOUCH"); n != 1 {
		t.Errorf("requesting process got %d touch notices, want 1:\n%s", n, out)
	}
	if strings.Contains(out, "PROMPT") {
		t.Errorf("PIN asked for a PIN-policy-never key:\n%s", out)
	}
}
