//go:build linux

package agent

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pivauth/pivauth/cmd/pivauth/internal/audit"
)

// softCard is a software stand-in for a PIV card and package signer behind the Backend interface,
// for the tests that run without the card stack. Like the signer, each open key asks for the PIN
// through the agent's hook once per session (again, with Retry, after the card refused it) and
// presents it at every operation, as the signer verifies inside every operation's transaction; the
// card counts tries and can demand a touch.
type softCard struct {
	id, reader string
	key        *ecdsa.PrivateKey
	cert       *x509.Certificate
	touch      bool // call Hooks.Touch before every signature

	mu       sync.Mutex
	pin      string
	retries  int
	verifies int // PINs presented
	signs    int
	hashes   []crypto.Hash // of the signatures made, in order
	inFlight atomic.Int32  // operations running at once: must never exceed 1
	maxIn    atomic.Int32
}

func newSoftCard(t testing.TB, id string) *softCard {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: id},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &softCard{id: id, reader: "Soft Reader 00", key: key, cert: cert, pin: "123456", retries: 3}
}

// wrongPIN is the soft card's AuthError.
type wrongPIN struct{ retries int }

func (e wrongPIN) Error() string { return fmt.Sprintf("PIN incorrect: %d tries left", e.retries) }

func (c *softCard) counts() (verifies, signs int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.verifies, c.signs
}

// softBackend opens the soft card's key, audited like the real backend's.
type softBackend struct {
	card  *softCard
	rec   audit.Recorder
	opens atomic.Int32
}

func (b *softBackend) Open(_ context.Context, ref KeyRef, hooks Hooks) (Key, error) {
	b.opens.Add(1)
	return Audited(&softKey{card: b.card, hooks: hooks, slot: ref.Slot}, ref.Slot, b.rec, b.Classify), nil
}

func (b *softBackend) Classify(err error) string {
	var w wrongPIN
	if errors.As(err, &w) {
		return audit.ResultPINIncorrect
	}
	return audit.Classify(err)
}

type softKey struct {
	card   *softCard
	hooks  Hooks
	slot   string
	pin    []byte // the session's PIN, as the signer keeps it
	retry  bool   // the card refused the previous PIN
	closed bool
}

func (k *softKey) Public() crypto.PublicKey { return k.card.key.Public() }

func (k *softKey) Info() KeyInfo {
	return KeyInfo{Card: k.card.id, Reader: k.card.reader, Certificates: [][]byte{k.card.cert.Raw}}
}

func (k *softKey) Close() error {
	clear(k.pin)
	k.pin, k.closed = nil, true
	return nil
}

func (k *softKey) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.SignContext(context.Background(), rand, digest, opts)
}

func (k *softKey) SignContext(ctx context.Context, _ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	c := k.card
	if n := c.inFlight.Add(1); n > c.maxIn.Load() {
		c.maxIn.Store(n)
	}
	defer c.inFlight.Add(-1)
	if k.closed {
		return nil, errors.New("soft key used after Close")
	}
	if k.pin == nil {
		c.mu.Lock()
		retries := c.retries
		c.mu.Unlock()
		pin, err := k.hooks.PIN(ctx, PINRequest{Reader: c.reader, Card: c.id, Slot: k.slot, Retries: retries, Retry: k.retry})
		if err != nil {
			return nil, err
		}
		k.pin = pin
	}
	c.mu.Lock()
	c.verifies++
	ok := string(k.pin) == c.pin
	if ok {
		c.retries = 3
	} else {
		c.retries--
	}
	retries := c.retries
	c.mu.Unlock()
	if !ok {
		clear(k.pin)
		k.pin, k.retry = nil, true
		return nil, wrongPIN{retries}
	}
	if c.touch {
		k.hooks.Touch()
	}
	c.mu.Lock()
	c.signs++
	if opts != nil {
		c.hashes = append(c.hashes, opts.HashFunc())
	} else {
		c.hashes = append(c.hashes, 0)
	}
	c.mu.Unlock()
	return ecdsa.SignASN1(rand.Reader, c.key, digest)
}

// softMonitor is a Monitor whose readers the test pulls and reinserts by hand.
type softMonitor struct {
	blind   bool // Wait never sees a change: a watcher that has not acted yet
	mu      sync.Mutex
	epoch   uint64
	changed chan struct{} // closed and replaced on every change
}

func newSoftMonitor() *softMonitor { return &softMonitor{epoch: 1, changed: make(chan struct{})} }

func (m *softMonitor) Epoch(string) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.epoch, nil
}

func (m *softMonitor) Wait(ctx context.Context, _ string, epoch uint64) error {
	if m.blind {
		<-ctx.Done()
		return ctx.Err()
	}
	for {
		m.mu.Lock()
		e, ch := m.epoch, m.changed
		m.mu.Unlock()
		if e != epoch {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// bump is a card removal or insertion.
func (m *softMonitor) bump() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.epoch++
	close(m.changed)
	m.changed = make(chan struct{})
}
