//go:build linux

package agent

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pivauth/pivauth/cmd/pivauth/internal/audit"
	"github.com/pivauth/pivauth/internal/testio"
	"github.com/pivauth/pivauth/signer/purpose"
)

// harness runs an agent with a soft card on a socket in a private temporary directory.
type harness struct {
	t        testing.TB
	path     string
	card     *softCard
	backend  *softBackend
	monitor  *softMonitor
	srv      *Server
	auditDir string
	log      *testio.SyncBuffer // the agent's log output
	stop     context.CancelFunc
	done     chan error
	stopped  sync.Once
}

func startAgent(t *testing.T, configure func(*Config)) *harness {
	t.Helper()
	return startAgentWith(t, filepath.Join(t.TempDir(), "run", "agent.sock"), configure)
}

// startAgentAt starts an agent with the default configuration on the socket path.
func startAgentAt(t *testing.T, path string) *harness {
	t.Helper()
	return startAgentWith(t, path, nil)
}

func startAgentWith(t testing.TB, path string, configure func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, path: path, card: newSoftCard(t, "serial:4242"), monitor: newSoftMonitor(),
		auditDir: filepath.Join(t.TempDir(), "state"), log: &testio.SyncBuffer{}, done: make(chan error, 1)}
	rec, err := audit.Open(h.auditDir, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	h.backend = &softBackend{card: h.card, rec: rec}
	cfg := Config{Backend: h.backend, Monitor: h.monitor, Audit: rec,
		Log: slog.New(slog.NewTextHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if configure != nil {
		configure(&cfg)
	}
	h.srv = NewServer(cfg)
	l, err := Listen(h.path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	go func() { h.done <- h.srv.Serve(ctx, l); _ = l.Close() }()
	t.Cleanup(h.shutdown)
	return h
}

// shutdown stops the agent (idempotent) and checks that it stopped cleanly.
func (h *harness) shutdown() {
	h.stopped.Do(func() {
		h.stop()
		select {
		case err := <-h.done:
			if err != nil {
				h.t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			h.t.Error("agent did not stop")
		}
	})
}

// testPrompter answers PIN prompts from a list (the last answer repeats) and counts touches.
type testPrompter struct {
	mu      sync.Mutex
	answers []string
	asked   []PINRequest
	touches int
	onAsk   func() // runs at each prompt, before the answer
}

func (p *testPrompter) PIN(_ context.Context, req PINRequest) ([]byte, error) {
	p.mu.Lock()
	p.asked = append(p.asked, req)
	n := len(p.asked)
	onAsk := p.onAsk
	p.mu.Unlock()
	if onAsk != nil {
		onAsk()
	}
	a := p.answers[min(n, len(p.answers))-1]
	if a == "" {
		return nil, errors.New("prompt dismissed")
	}
	return []byte(a), nil
}

func (p *testPrompter) Touch() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.touches++
}

func (p *testPrompter) prompts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.asked)
}

func (h *harness) dial(p Prompter) *Client {
	h.t.Helper()
	c, err := DialPath(context.Background(), h.path, p)
	if err != nil {
		h.t.Fatalf("DialPath: %v", err)
	}
	h.t.Cleanup(func() { _ = c.Close() })
	return c
}

// sign signs a fresh digest through c with purpose jti and checks the signature.
func (h *harness) sign(c *Client, jti string) error {
	h.t.Helper()
	k, err := c.Key(context.Background(), KeyRef{Slot: "9a"})
	if err != nil {
		return err
	}
	digest := sha256.Sum256([]byte(jti))
	ctx := purpose.With(context.Background(), purpose.Purpose{TokenEndpoint: "https://idp.example/token", ClientID: "app", JTI: jti})
	sig, err := purpose.Bind(ctx, k).Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		return err
	}
	if !ecdsa.VerifyASN1(h.card.key.Public().(*ecdsa.PublicKey), digest[:], sig) {
		h.t.Fatalf("signature for %s does not verify", jti)
	}
	return nil
}

func (h *harness) events() []audit.Event {
	h.t.Helper()
	evs, skipped, err := audit.Read(h.auditDir, audit.Filter{})
	if err != nil || skipped != 0 {
		h.t.Fatalf("audit.Read: %v (%d damaged lines)", err, skipped)
	}
	return evs
}

// eventually polls cond (for the agent's asynchronous locks) and fails after a generous deadline;
// it asserts that something happens, not how fast.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting until %s", what)
}

func (h *harness) locked(c *Client) bool {
	st, err := c.Status(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return st.Locked
}

func TestPINOnceForManyClients(t *testing.T) {
	h := startAgent(t, nil)
	p := &testPrompter{answers: []string{"123456"}}
	for i, jti := range []string{"jti-1", "jti-2", "jti-3"} {
		c := h.dial(p) // a separate connection each time, as separate commands make
		if err := h.sign(c, jti); err != nil {
			t.Fatalf("signature %d: %v", i, err)
		}
		_ = c.Close()
	}
	if n := p.prompts(); n != 1 {
		t.Errorf("PIN asked %d times, want once", n)
	}
	if verifies, signs := h.card.counts(); verifies != 3 || signs != 3 {
		t.Errorf("card saw %d PIN presentations and %d signatures, want 3 and 3 (PIN presented at every operation)", verifies, signs)
	}
	if n := h.backend.opens.Load(); n != 1 {
		t.Errorf("key opened %d times, want once for the session", n)
	}
	evs := h.events()
	if len(evs) != 3 {
		t.Fatalf("audit has %d events, want 3", len(evs))
	}
	for i, ev := range evs {
		if ev.Purpose.JTI != []string{"jti-1", "jti-2", "jti-3"}[i] || ev.Purpose.ClientID != "app" ||
			ev.Card != "serial:4242" || ev.Slot != "9a" || ev.Result != audit.ResultOK || ev.CertSHA256 == "" {
			t.Errorf("event %d: %+v", i, ev)
		}
		if ev.Requester == nil || ev.Requester.PID != os.Getpid() || ev.Requester.UID != os.Geteuid() {
			t.Errorf("event %d requester %+v, want this process", i, ev.Requester)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(h.auditDir, audit.FileName))
	if bytes.Contains(raw, []byte("123456")) || strings.Contains(h.log.String(), "123456") {
		t.Error("the PIN reached the audit log or the agent's log")
	}
}

func TestLockForgetsPIN(t *testing.T) {
	h := startAgent(t, nil)
	p := &testPrompter{answers: []string{"123456"}}
	c := h.dial(p)
	if err := h.sign(c, "a"); err != nil {
		t.Fatal(err)
	}
	if h.locked(c) {
		t.Fatal("status says locked right after an unlocked operation")
	}
	if err := h.dial(nil).Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !h.locked(c) {
		t.Fatal("status not locked after Lock")
	}
	if err := h.sign(c, "b"); err != nil {
		t.Fatal(err)
	}
	if n := p.prompts(); n != 2 {
		t.Errorf("PIN asked %d times, want again after the lock (2)", n)
	}
	if !strings.Contains(h.log.String(), "locked") {
		t.Errorf("agent log does not mention the lock:\n%s", h.log)
	}
}

func TestIdleTimeoutLocks(t *testing.T) {
	h := startAgent(t, func(c *Config) { c.IdleTimeout = 50 * time.Millisecond })
	p := &testPrompter{answers: []string{"123456"}}
	c := h.dial(p)
	if err := h.sign(c, "a"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the idle agent locks", func() bool { return h.locked(c) })
	if err := h.sign(c, "b"); err != nil {
		t.Fatal(err)
	}
	if n := p.prompts(); n != 2 {
		t.Errorf("PIN asked %d times, want again after the idle lock (2)", n)
	}
}

func TestRemovalLocks(t *testing.T) {
	h := startAgent(t, nil)
	p := &testPrompter{answers: []string{"123456"}}
	c := h.dial(p)
	if err := h.sign(c, "a"); err != nil {
		t.Fatal(err)
	}
	h.monitor.bump() // pulled: the watcher locks on its own
	eventually(t, "the agent locks on removal", func() bool { return h.locked(c) })
	h.monitor.bump() // reinserted
	if err := h.sign(c, "b"); err != nil {
		t.Fatal(err)
	}
	if n := p.prompts(); n != 2 {
		t.Fatalf("PIN asked %d times, want again after reinsertion (2)", n)
	}
}

// A pull and reinsert between two operations is caught by the check before use, even when the
// watcher has not acted yet: the reinserted card asks for the PIN.
func TestRemovalBetweenOperationsCaughtBeforeUse(t *testing.T) {
	h := startAgent(t, nil)
	h.monitor.blind = true
	p := &testPrompter{answers: []string{"123456"}}
	c := h.dial(p)
	if err := h.sign(c, "a"); err != nil {
		t.Fatal(err)
	}
	h.monitor.bump()
	h.monitor.bump()
	if err := h.sign(c, "b"); err != nil {
		t.Fatal(err)
	}
	if n := p.prompts(); n != 2 {
		t.Fatalf("PIN asked %d times, want 2", n)
	}
}

func TestWrongPINIsForgottenAndReported(t *testing.T) {
	h := startAgent(t, nil)
	p := &testPrompter{answers: []string{"999999", "123456"}}
	c := h.dial(p)
	err := h.sign(c, "a")
	var re *RemoteError
	if !errors.As(err, &re) || re.Class != audit.ResultPINIncorrect || !strings.Contains(re.Message, "2 tries left") {
		t.Fatalf("sign with a wrong PIN = %v, want a pin-incorrect error naming the tries left", err)
	}
	if err := h.sign(c, "b"); err != nil {
		t.Fatalf("sign after a wrong PIN: %v", err)
	}
	if n := p.prompts(); n != 2 {
		t.Fatalf("PIN asked %d times, want 2 (the wrong one is not reused)", n)
	}
	if p.asked[0].Retries != 3 || p.asked[1].Retries != 2 {
		t.Errorf("prompts showed %d and %d tries left, want 3 and 2", p.asked[0].Retries, p.asked[1].Retries)
	}
	evs := h.events()
	if len(evs) != 2 || evs[0].Result != audit.ResultPINIncorrect || evs[1].Result != audit.ResultOK {
		t.Errorf("audit events %+v, want pin-incorrect then ok", evs)
	}
}

func TestTouchNoticeReachesClient(t *testing.T) {
	h := startAgent(t, nil)
	h.card.touch = true
	p := &testPrompter{answers: []string{"123456"}}
	if err := h.sign(h.dial(p), "a"); err != nil {
		t.Fatal(err)
	}
	if p.touches != 1 {
		t.Errorf("touch notices %d, want 1", p.touches)
	}
}

func TestClientWithoutPrompter(t *testing.T) {
	h := startAgent(t, nil)
	err := h.sign(h.dial(nil), "a")
	var re *RemoteError
	if !errors.As(err, &re) || re.Class != audit.ResultNoPIN {
		t.Fatalf("sign without a prompter = %v, want class %s", err, audit.ResultNoPIN)
	}

	fallback := 0
	h2 := startAgent(t, func(c *Config) {
		c.FallbackPIN = func(context.Context, PINRequest) ([]byte, error) { fallback++; return []byte("123456"), nil }
	})
	if err := h2.sign(h2.dial(nil), "b"); err != nil {
		t.Fatal(err)
	}
	if fallback != 1 {
		t.Errorf("fallback PIN source asked %d times, want 1", fallback)
	}

	// A client that has a prompter but no way to use it (no terminal) leaves it to the fallback.
	h3 := startAgent(t, func(c *Config) {
		c.FallbackPIN = func(context.Context, PINRequest) ([]byte, error) { fallback++; return []byte("123456"), nil }
	})
	if err := h3.sign(h3.dial(cannotPrompt{}), "c"); err != nil {
		t.Fatal(err)
	}
	if fallback != 2 {
		t.Errorf("fallback PIN source not asked for a client that cannot prompt")
	}
	// Without a fallback the client reports its own reason.
	if err := h.sign(h.dial(cannotPrompt{}), "d"); !errors.Is(err, ErrCannotPrompt) {
		t.Errorf("sign from a client that cannot prompt, no fallback = %v, want its ErrCannotPrompt", err)
	}
}

// cannotPrompt is a command without a terminal or PIN file.
type cannotPrompt struct{}

func (cannotPrompt) PIN(context.Context, PINRequest) ([]byte, error) {
	return nil, fmt.Errorf("no terminal: %w", ErrCannotPrompt)
}
func (cannotPrompt) Touch() {}

// A dismissed prompt fails the operation with the prompter's own error and leaves the agent locked.
func TestDismissedPrompt(t *testing.T) {
	h := startAgent(t, nil)
	p := &testPrompter{answers: []string{"", "123456"}}
	c := h.dial(p)
	if err := h.sign(c, "a"); err == nil || !strings.Contains(err.Error(), "prompt dismissed") {
		t.Fatalf("sign with a dismissed prompt = %v, want the prompter's error", err)
	}
	if err := h.sign(c, "b"); err != nil {
		t.Fatal(err)
	}
	if evs := h.events(); len(evs) != 2 || evs[0].Result != audit.ResultCanceled {
		t.Errorf("audit events %+v, want canceled then ok", evs)
	}
}

func TestClientsServedInTurn(t *testing.T) {
	h := startAgent(t, nil)
	p := &testPrompter{answers: []string{"123456"}}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for w := range 4 {
		c := h.dial(p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				k, err := c.Key(context.Background(), KeyRef{Slot: "9a"})
				if err == nil {
					d := sha256.Sum256([]byte{byte(w), byte(i)})
					_, err = k.Sign(nil, d[:], crypto.SHA256)
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if m := h.card.maxIn.Load(); m != 1 {
		t.Errorf("%d card operations ran at once, want 1", m)
	}
	if n := p.prompts(); n != 1 {
		t.Errorf("PIN asked %d times by concurrent clients, want once", n)
	}
	if _, signs := h.card.counts(); signs != 20 {
		t.Errorf("%d signatures, want 20", signs)
	}
}

func TestTokenCache(t *testing.T) {
	h := startAgent(t, nil)
	c := h.dial(nil)
	ctx := context.Background()
	if tok, err := c.Token(ctx, "exo"); err != nil || tok != nil {
		t.Fatalf("empty cache: %v, %v", tok, err)
	}
	if err := c.PutToken(ctx, "exo", Token{Data: []byte("tok-exo"), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := c.PutToken(ctx, "old", Token{Data: []byte("tok-old"), Expires: time.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	tok, err := h.dial(nil).Token(ctx, "exo") // another command
	if err != nil || tok == nil || string(tok.Data) != "tok-exo" {
		t.Fatalf("cached token: %v, %v", tok, err)
	}
	if tok, _ := c.Token(ctx, "old"); tok != nil {
		t.Error("expired token served")
	}
	if tok, _ := c.Token(ctx, "other"); tok != nil {
		t.Error("token of another profile served")
	}
	if err := c.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if tok, _ := c.Token(ctx, "exo"); tok != nil {
		t.Error("token survived the lock")
	}
	if strings.Contains(h.log.String(), "tok-exo") {
		t.Error("token reached the agent's log")
	}
}

func TestStopLocksAndClientsSeeIt(t *testing.T) {
	h := startAgent(t, nil)
	p := &testPrompter{answers: []string{"123456"}}
	p.onAsk = h.shutdown // the agent stops while the client is at the PIN prompt
	c := h.dial(p)
	err := h.sign(c, "a")
	if !errors.Is(err, ErrAgentGone) && !errors.Is(err, ErrNoAgent) {
		t.Fatalf("sign while the agent stops = %v, want ErrAgentGone", err)
	}
	if _, err := os.Stat(h.path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left behind after a clean stop: %v", err)
	}
	if _, err := DialPath(context.Background(), h.path, nil); !errors.Is(err, ErrNoAgent) {
		t.Errorf("Dial after stop = %v, want ErrNoAgent", err)
	}
}

// The agent's key describes itself as the card's own signer does: the certificate, the chain
// starting with it, the reader.
func TestRemoteKeyDescribesTheKey(t *testing.T) {
	h := startAgent(t, nil)
	k, err := h.dial(nil).Key(context.Background(), KeyRef{Slot: "9a"})
	if err != nil {
		t.Fatal(err)
	}
	chain := k.Chain()
	if !k.Certificate().Equal(h.card.cert) || len(chain) != 1 || !chain[0].Equal(h.card.cert) {
		t.Errorf("certificate %v, chain %v: want the card's certificate, and a chain of it alone", k.Certificate().Subject, chain)
	}
	if k.Reader() != h.card.reader || !h.card.key.PublicKey.Equal(k.Public()) {
		t.Errorf("reader %q, public key %v: want %q and the card's key", k.Reader(), k.Public(), h.card.reader)
	}
}
