//go:build linux

package agent

import (
	"context"
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/cmd/pivauth/internal/audit"
)

// blockingPrompter is a client whose user never answers the PIN prompt until release is closed.
func blockingPrompter(t *testing.T) (p *testPrompter, asked chan struct{}, release chan struct{}) {
	asked, release = make(chan struct{}, 10), make(chan struct{})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	p = &testPrompter{answers: []string{"123456"}, onAsk: func() { asked <- struct{}{}; <-release }}
	return p, asked, release
}

// within fails the test unless done is closed before a generous deadline: what it waits for must
// not wait on the pending PIN prompt (which is never answered in time).
func within(t *testing.T, what string, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s waits for the pending PIN prompt", what)
	}
}

// Lock (agent lock, SIGHUP), the idle timeout, a card removal and setup's forget act at once while
// a client's PIN prompt is pending: the pending operation is abandoned, no signature is made with the PIN that
// arrives later, and the client's connection stays usable.
func TestLockActsWhilePINPromptPending(t *testing.T) {
	for _, how := range []string{"lock", "idle", "removal", "forget"} {
		t.Run(how, func(t *testing.T) {
			h := startAgent(t, func(c *Config) {
				if how == "idle" {
					c.IdleTimeout = 200 * time.Millisecond
				}
			})
			p, asked, release := blockingPrompter(t)
			c := h.dial(p)
			errc := make(chan error, 1)
			go func() { errc <- h.sign(c, "pending") }()
			<-asked
			locked := make(chan struct{})
			go func() {
				switch how {
				case "lock":
					h.srv.Lock("test")
				case "removal":
					h.monitor.bump()
				case "forget": // pivauth setup is about to change the card
					h.srv.forget(h.card.id, "", "")
				}
				close(locked)
			}()
			within(t, how, locked)
			status := make(chan struct{})
			go func() {
				defer close(status)
				eventually(t, "the agent is locked", func() bool { return h.locked(h.dial(nil)) })
			}()
			within(t, "the agent's status after "+how, status)
			close(release) // the PIN arrives, too late
			if err := <-errc; err == nil {
				t.Fatal("the operation pending at the lock went on to sign")
			}
			if _, signs := h.card.counts(); signs != 0 {
				t.Fatalf("%d signatures after the lock", signs)
			}
			if err := h.sign(c, "after"); err != nil { // the same connection, in step again
				t.Fatalf("signing on the same connection after the lock: %v", err)
			}
		})
	}
}

// A connection that starts a request and never finishes it is closed after the read timeout, and
// so is one that never says hello; connections beyond MaxConns are refused; the token cache holds
// at most MaxTokens profiles.
func TestConnectionAndTokenLimits(t *testing.T) {
	h := startAgent(t, func(c *Config) { c.ReadTimeout = 200 * time.Millisecond; c.MaxConns = 3; c.MaxTokens = 4 })
	for name, send := range map[string]string{"silent": "", "half a line": `{"op":"hel`} {
		nc, err := net.Dial("unix", h.path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = nc.Write([]byte(send))
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := nc.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) && err.Error() != "EOF" {
			t.Errorf("%s connection: read %v, want the agent to close it (EOF)", name, err)
		}
		nc.Close()
	}

	var open []*Client
	for range 3 {
		open = append(open, h.dial(nil))
	}
	if _, err := DialPath(context.Background(), h.path, nil); err == nil || !strings.Contains(err.Error(), "too many connections") {
		t.Errorf("connection beyond the limit: %v, want refused", err)
	}
	_ = open[0].Close()
	var c *Client
	eventually(t, "a connection is accepted again", func() bool {
		var err error
		c, err = DialPath(context.Background(), h.path, nil)
		return err == nil
	})
	defer c.Close()
	for i := range 10 {
		if err := c.PutToken(context.Background(), fmt.Sprint("profile-", i), Token{Data: []byte("t"), Expires: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := c.Status(context.Background()); err != nil || st.Tokens > 4 {
		t.Errorf("token cache holds %d tokens (%v), want at most 4", st.Tokens, err)
	}
	if tok, _ := c.Token(context.Background(), "profile-9"); tok == nil {
		t.Error("the newest token was not kept")
	}
}

// Token reads and stores are in the audit log with the requesting process (its executable's path),
// and a signature's purpose is marked as declared by the client.
func TestTokenAccessAuditedAndRequesterNamed(t *testing.T) {
	h := startAgent(t, nil)
	c := h.dial(&testPrompter{answers: []string{"123456"}})
	ctx := context.Background()
	if err := c.PutToken(ctx, "exo", Token{Data: []byte("tok"), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Token(ctx, "exo"); err != nil {
		t.Fatal(err)
	}
	if err := h.sign(c, "j"); err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	evs := h.events()
	ops := map[audit.Operation]audit.Event{}
	for _, ev := range evs {
		ops[ev.Operation] = ev
		if ev.Requester == nil || ev.Requester.Executable != exe {
			t.Errorf("%s event requester %+v, want executable %s", ev.Operation, ev.Requester, exe)
		}
	}
	if ev, ok := ops[audit.OpTokenPut]; !ok || ev.Purpose.Profile != "exo" {
		t.Errorf("token store not audited with its profile: %+v", evs)
	}
	if ev, ok := ops[audit.OpTokenGet]; !ok || ev.Purpose.Profile != "exo" || ev.Result != audit.ResultOK {
		t.Errorf("token read not audited with its profile: %+v", evs)
	}
	if ev := ops[audit.OpSign]; !ev.Purpose.ClientDeclared {
		t.Errorf("signature purpose not marked as declared by the client: %+v", ev)
	}
	if strings.Contains(h.log.String(), "tok\"") {
		t.Error("token in the agent's log")
	}
}

// The agent makes only the signatures pivauth itself asks for: SHA-256/384/512 (ECDSA, RSA
// PKCS #1 v1.5 and PSS) and Ed25519; MD5, SHA-1 and raw (hash 0) signatures are refused unless
// Config.AllowLegacySignatures says otherwise.
func TestSignatureAllowList(t *testing.T) {
	for _, allow := range []bool{false, true} {
		h := startAgent(t, func(c *Config) { c.AllowLegacySignatures = allow })
		c := h.dial(&testPrompter{answers: []string{"123456"}})
		k, err := c.Key(context.Background(), KeyRef{Slot: "9a"})
		if err != nil {
			t.Fatal(err)
		}
		s1, s256 := sha1.Sum([]byte("m")), sha256.Sum256([]byte("m"))
		if _, err := k.Sign(nil, s256[:], crypto.SHA256); err != nil {
			t.Errorf("SHA-256: %v", err)
		}
		for name, tc := range map[string]struct {
			digest []byte
			hash   crypto.Hash
		}{"SHA-1": {s1[:], crypto.SHA1}, "raw": {s256[:], 0}} {
			_, err := k.Sign(nil, tc.digest, tc.hash)
			if allow && err != nil {
				t.Errorf("%s with AllowLegacySignatures: %v", name, err)
			}
			if !allow && (err == nil || !strings.Contains(err.Error(), "--allow-legacy-signatures")) {
				t.Errorf("%s: %v, want refused naming --allow-legacy-signatures", name, err)
			}
		}
	}
	for _, tc := range []struct {
		pub  string
		hash crypto.Hash
		pss  bool
		ok   bool
	}{
		{"rsa", crypto.SHA256, false, true}, {"rsa", crypto.SHA384, true, true}, {"rsa", crypto.SHA512, false, true},
		{"rsa", 0, false, false}, {"rsa", crypto.MD5, false, false}, {"rsa", crypto.SHA1, true, false}, {"rsa", crypto.MD5SHA1, false, false},
		{"ecdsa", crypto.SHA384, false, true}, {"ecdsa", 0, false, false}, {"ecdsa", crypto.SHA224, false, false},
		{"ed25519", 0, false, true}, {"ed25519", crypto.SHA512, false, false},
	} {
		if err := checkSignatureKind(tc.pub, tc.hash, tc.pss); (err == nil) != tc.ok {
			t.Errorf("%s %v pss=%v: %v, want allowed=%v", tc.pub, tc.hash, tc.pss, err, tc.ok)
		}
	}
}
