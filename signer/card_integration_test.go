//go:build linux

package signer_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/hw-test/vpcd"
	"github.com/pivauth/pivauth/hw-test/vpcd/pcscstate"
	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
)

// TestConcurrentSigners: 32 goroutines sign at once through one Signer while
// another process (yubico-piv-tool) uses the card between the operations;
// every signature verifies and the PIN is asked once.
func TestConcurrentSigners(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	provision(t, b, keySpec{piv.SlotAuthentication, piv.AlgRSA2048, piv.PINPolicyOnce, piv.TouchPolicyNever})
	pins := &pinCounter{pin: defaultPIN}
	s := openSigner(t, b, signer.Options{PIN: pins})

	ctx, stop := context.WithCancel(testContext(t))
	var other sync.WaitGroup
	var otherRuns atomic.Int32
	if _, err := exec.LookPath("yubico-piv-tool"); err == nil {
		other.Go(func() {
			for ctx.Err() == nil {
				out, err := exec.CommandContext(ctx, "yubico-piv-tool", "-r", b.Reader, "-a", "status").CombinedOutput()
				if ctx.Err() != nil {
					return
				}
				if err != nil || !strings.Contains(string(out), "Slot 9a") {
					t.Errorf("yubico-piv-tool -a status: %v\n%s", err, out)
					return
				}
				otherRuns.Add(1)
			}
		})
	}

	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			d := digest(crypto.SHA256, fmt.Appendf(nil, "goroutine %d", i))
			sig, err := s.SignContext(ctx, rand.Reader, d, crypto.SHA256)
			if err != nil {
				t.Errorf("goroutine %d: %v", i, err)
				return
			}
			verify(t, s.Certificate(), d, sig)
		})
	}
	wg.Wait()
	// Let the other process finish a run after the burst, then sign again.
	for deadline := time.Now().Add(30 * time.Second); otherRuns.Load() < 2 && time.Now().Before(deadline) && !t.Failed(); {
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	other.Wait()
	d := digest(crypto.SHA256, []byte("after the other process"))
	sig, err := s.Sign(rand.Reader, d, crypto.SHA256)
	if err != nil {
		t.Fatalf("after yubico-piv-tool ran %d times: %v", otherRuns.Load(), err)
	}
	verify(t, s.Certificate(), d, sig)
	if n := pins.asked.Load(); n != 1 {
		t.Errorf("PIN asked %d times, want 1", n)
	}
	t.Logf("yubico-piv-tool -a status ran %d times alongside", otherRuns.Load())
}

// TestCardPulledAndSwapped: a card pulled in the middle of a signature is an
// error naming the reader; put back, it signs again; another card in its
// place is refused, before it gets the PIN when the signer saw the removal.
func TestCardPulledAndSwapped(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	s := openSigner(t, b, signer.Options{PIN: &pinCounter{pin: defaultPIN}})
	sign := func() error {
		d := digest(crypto.SHA256, []byte("pull"))
		sig, err := s.Sign(rand.Reader, d, crypto.SHA256)
		if err == nil {
			verify(t, s.Certificate(), d, sig)
		}
		return err
	}
	if err := sign(); err != nil {
		t.Fatal(err)
	}

	b.PullDuring(0x87) // GENERAL AUTHENTICATE
	err := sign()
	if !errors.Is(err, piv.ErrCardRemoved) || !strings.Contains(err.Error(), b.Reader) {
		t.Fatalf("pulled mid-signature: %v, want ErrCardRemoved naming %q", err, b.Reader)
	}
	b.Insert()
	if err := sign(); err != nil {
		t.Fatalf("same card put back: %v", err)
	}

	// Another card, pulled mid-operation first: checked before the PIN.
	b.PullDuring(0x87)
	if err := sign(); !errors.Is(err, piv.ErrCardRemoved) {
		t.Fatalf("pulled: %v", err)
	}
	other := attachOther(t, b)
	err = sign()
	if !errors.Is(err, signer.ErrKeyChanged) || !strings.Contains(err.Error(), fmt.Sprintf("the card in %q is not the one this signer was opened on (public key changed)", b.Reader)) {
		t.Fatalf("other card: %v, want ErrKeyChanged", err)
	}
	if st := other.card.Stats(); st.PINVerifies != 0 || st.Signatures != 0 {
		t.Errorf("the other card got %d PINs and made %d signatures", st.PINVerifies, st.Signatures)
	}
	if err := sign(); !errors.Is(err, signer.ErrKeyChanged) {
		t.Errorf("other card, again: %v", err)
	}

	// The right card back: signing resumes.
	other.detach()
	b.Insert()
	if err := sign(); err != nil {
		t.Fatalf("original card back: %v", err)
	}

	// Swapped between two operations, unseen: the signature is refused.
	b.Pull()
	other = attachOther(t, b)
	if err := sign(); !errors.Is(err, signer.ErrKeyChanged) {
		t.Fatalf("card swapped between operations: %v, want ErrKeyChanged", err)
	}
}

// otherCard is a second virtual card attached to a bench's reader.
type otherCard struct {
	card   *vcard.Card
	detach func()
}

// attachOther puts a fresh card of the same profile into the bench's reader
// (whose own card must be out) and waits until PC/SC sees it.
func attachOther(t *testing.T, b *benchtest.Bench) otherCard {
	t.Helper()
	card, err := vcard.OpenWithCA(filepath.Join(t.TempDir(), fmt.Sprintf("other-%d.json", time.Now().UnixNano())), b.Card.Profile(), b.CA)
	if err != nil {
		t.Fatal(err)
	}
	a := vpcd.Attach(card, b.Port, vpcd.Options{})
	var once sync.Once
	detach := func() {
		once.Do(func() {
			a.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := pcscstate.Wait(ctx, b.Reader, false); err != nil {
				t.Errorf("detaching the other card: %v", err)
			}
		})
	}
	t.Cleanup(detach)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := pcscstate.Wait(ctx, b.Reader, true); err != nil {
		t.Fatalf("other card: %v", err)
	}
	return otherCard{card, detach}
}

// TestTouchNotice: Options.Touch is called when a touch-policy key keeps the
// card busy past a second, and not for a quick operation.
func TestTouchNotice(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	provision(t, b,
		keySpec{piv.SlotAuthentication, piv.AlgECCP256, piv.PINPolicyNever, piv.TouchPolicyAlways},
		keySpec{piv.SlotCardAuthentication, piv.AlgECCP256, piv.PINPolicyNever, piv.TouchPolicyNever},
	)
	b.Card.SetTouchDelay(2 * time.Second)
	for _, tc := range []struct {
		slot  piv.Slot
		calls int32
	}{{piv.SlotAuthentication, 1}, {piv.SlotCardAuthentication, 0}} {
		var touched atomic.Int32
		s := openSigner(t, b, signer.Options{Slot: tc.slot, PIN: noPIN(t), Touch: func() { touched.Add(1) }})
		d := digest(crypto.SHA256, []byte("touch"))
		sig, err := s.Sign(rand.Reader, d, crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		verify(t, s.Certificate(), d, sig)
		if n := touched.Load(); n != tc.calls {
			t.Errorf("slot %s: Touch called %d times, want %d", tc.slot, n, tc.calls)
		}
	}
}
