//go:build linux

package signer_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
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
	"github.com/pivauth/pivauth/internal/testio"
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
				out, err := testio.CombinedOutput(exec.CommandContext(ctx, "yubico-piv-tool", "-r", b.Reader, "-a", "status"), 30*time.Second)
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
// place is refused before it gets the PIN, whether the signer saw the
// removal or the card was swapped between two operations unseen.
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
	refused := func(what string, other otherCard) {
		t.Helper()
		err := sign()
		if !errors.Is(err, signer.ErrKeyChanged) || !strings.Contains(err.Error(), fmt.Sprintf("the card in %q is not the one this signer was opened on (public key changed)", b.Reader)) {
			t.Fatalf("%s: %v, want ErrKeyChanged", what, err)
		}
		if st := other.card.Stats(); st.PINVerifies != 0 || st.Signatures != 0 {
			t.Errorf("%s: the other card got %d PINs and made %d signatures", what, st.PINVerifies, st.Signatures)
		}
	}
	other := attachOther(t, b)
	refused("other card after a removal the signer saw", other)
	refused("other card, again", other)

	// The right card back: signing resumes.
	other.detach()
	b.Insert()
	if err := sign(); err != nil {
		t.Fatalf("original card back: %v", err)
	}

	// Swapped between two operations, unseen: no operation failed, the
	// engine reconnected on its own; the new connection makes the signer
	// compare the slot's key before anything else.
	b.Pull()
	other = attachOther(t, b)
	refused("card swapped between two operations", other)
	if st := other.card.Stats(); st.APDUs != 2 || st.Instructions["CB"] != 1 {
		t.Errorf("swapped card: %d APDUs %v, want SELECT and one GET DATA", st.APDUs, st.Instructions)
	}

	// The same card out and back between two operations: one GET DATA
	// confirms its key; before the PIN it holds goes to it, its identity
	// (GET DATA CHUID, GET VERSION: 6D00) shows it is the card that accepted
	// the PIN, and an empty VERIFY gives the lockout guard the tries left in
	// the VERIFY's transaction. Then it signs.
	other.detach()
	b.Insert()
	b.ResetStats()
	if err := sign(); err != nil {
		t.Fatalf("original card back after the unseen swap: %v", err)
	}
	if st := b.Stats(); st.APDUs != 8 || st.Instructions["CB"] != 2 || st.Instructions["FD"] != 1 || st.Instructions["20"] != 3 || st.PINVerifies != 1 {
		t.Errorf("same card back: %d APDUs %v, want SELECT, GET DATA certificate, GET DATA CHUID, GET VERSION, empty VERIFY, VERIFY, GENERAL AUTHENTICATE, clear", st.APDUs, st.Instructions)
	}
	b.ResetStats()
	if err := sign(); err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.APDUs != 3 {
		t.Errorf("next signature: %d APDUs %v, want 3 (no check on a known connection)", st.APDUs, st.Instructions)
	}
}

// TestIdentity: the signer names its card from its own connection (no SELECT
// of its own, later calls from the cache), the same identity piv.Open finds;
// another card in the reader is refused, not identified; a closed signer says
// so.
func TestIdentity(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	ctx := testContext(t)
	s := openSigner(t, b, signer.Options{PIN: noPIN(t)})
	b.ResetStats()
	id, err := s.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// GET VERSION was answered (6D00) when Open asked for the key's PIN policy.
	if st := b.Stats(); st.APDUs != 1 || st.Instructions["CB"] != 1 {
		t.Errorf("first Identity: %d APDUs %v, want GET DATA CHUID alone, no SELECT", st.APDUs, st.Instructions)
	}
	c, err := piv.Open(ctx, piv.Selector{Reader: b.Reader})
	if err != nil {
		t.Fatal(err)
	}
	want, err := c.Identity(ctx)
	c.Close()
	if err != nil || id.GUID == "" || id.GUID != want.GUID || id.YubiKey || id.Reader != b.Reader {
		t.Fatalf("Identity %+v, piv.Open's %+v (%v)", id, want, err)
	}
	b.ResetStats()
	if again, err := s.Identity(ctx); err != nil || again.GUID != id.GUID || b.Stats().APDUs != 0 {
		t.Errorf("second Identity: %+v, %v, %d APDUs; want the same from the cache", again, err, b.Stats().APDUs)
	}

	b.Pull()
	other := attachOther(t, b)
	if got, err := s.Identity(ctx); !errors.Is(err, signer.ErrKeyChanged) {
		t.Fatalf("another card in the reader: %+v, %v; want ErrKeyChanged", got, err)
	}
	if st := other.card.Stats(); st.Instructions["CB"] != 1 {
		t.Errorf("the other card got %v; want one GET DATA (the certificate), not identified", st.Instructions)
	}
	other.detach()
	b.Insert()
	if back, err := s.Identity(ctx); err != nil || back.GUID != id.GUID {
		t.Errorf("own card back: %+v, %v", back, err)
	}
	s.Close()
	if _, err := s.Identity(ctx); !errors.Is(err, signer.ErrClosed) {
		t.Errorf("closed signer: %v, want ErrClosed", err)
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
	return attachCard(t, b, filepath.Join(t.TempDir(), fmt.Sprintf("other-%d.json", time.Now().UnixNano())))
}

// attachCard is attachOther with the card's state file at path (created
// when missing).
func attachCard(t *testing.T, b *benchtest.Bench, path string) otherCard {
	t.Helper()
	card, err := vcard.OpenWithCA(path, b.Card.Profile(), b.CA)
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

// TestPublicKeyWithoutCertificate: a key without its certificate (just
// generated) opens with Options.PublicKey: Certificate is nil, signatures
// are checked against that key, and after the card was out of the reader a
// YubiKey proves the key with its metadata while another card is refused
// before it gets the PIN. A card that cannot show its keys is refused too.
func TestPublicKeyWithoutCertificate(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	certs := provision(t, b, keySpec{piv.SlotAuthentication, piv.AlgECCP256, piv.PINPolicyOnce, piv.TouchPolicyNever})
	// 9A gets a new key and keeps the old key's certificate; 9C a key alone.
	pubA := generate(t, b, keySpec{piv.SlotAuthentication, piv.AlgECCP256, piv.PINPolicyOnce, piv.TouchPolicyNever})
	pubC := generate(t, b, keySpec{piv.SlotSignature, piv.AlgECCP256, piv.PINPolicyAlways, piv.TouchPolicyNever})

	if _, err := signer.Open(testContext(t), signer.Options{Card: piv.Selector{Reader: b.Reader}, Slot: piv.SlotSignature}); !errors.Is(err, piv.ErrNotFound) || !strings.Contains(err.Error(), "holds no certificate") {
		t.Fatalf("opening a slot without certificate and without PublicKey: %v", err)
	}

	pins := &pinCounter{pin: defaultPIN}
	sign := func(s *signer.Signer, pub crypto.PublicKey) error {
		t.Helper()
		d := digest(crypto.SHA256, []byte("no certificate"))
		sig, err := s.Sign(rand.Reader, d, crypto.SHA256)
		if err == nil && !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), d, sig) {
			t.Fatal("the signature does not verify with Options.PublicKey")
		}
		return err
	}
	stale := openSigner(t, b, signer.Options{PIN: pins, PublicKey: pubA})
	if stale.Certificate() != nil || certs[0].PublicKey.(*ecdsa.PublicKey).Equal(pubA) {
		t.Fatalf("9A with the previous key's certificate: Certificate() = %v, want nil", stale.Certificate())
	}
	if err := sign(stale, pubA); err != nil {
		t.Fatalf("9A, new key, old certificate: %v", err)
	}

	s := openSigner(t, b, signer.Options{Slot: piv.SlotSignature, PIN: pins, PublicKey: pubC})
	if s.Certificate() != nil || s.Chain() != nil || !pubC.(*ecdsa.PublicKey).Equal(s.Public()) {
		t.Fatalf("9C without certificate: Certificate %v, Chain %v, Public %v", s.Certificate(), s.Chain(), s.Public())
	}
	if err := sign(s, pubC); err != nil {
		t.Fatalf("9C without certificate: %v", err)
	}

	// Out and back between two operations: the certificate is missing, so
	// the key's metadata proves it.
	b.Pull()
	b.Insert()
	b.ResetStats()
	if err := sign(s, pubC); err != nil {
		t.Fatalf("same card back: %v", err)
	}
	// The identity before the PIN: GET SERIAL (GET VERSION was asked for the metadata).
	if st := b.Stats(); st.Instructions["CB"] != 1 || st.Instructions["FD"] != 1 || st.Instructions["F7"] != 1 || st.Instructions["F8"] != 1 || st.PINVerifies != 1 {
		t.Errorf("same card back: %v, want GET DATA certificate, GET VERSION, GET METADATA, GET SERIAL, one PIN", st.Instructions)
	}

	// Another YubiKey in its place: refused before the PIN.
	b.Pull()
	other := attachOther(t, b)
	if err := sign(s, pubC); !errors.Is(err, signer.ErrKeyChanged) {
		t.Fatalf("another YubiKey: %v, want ErrKeyChanged", err)
	}
	if st := other.card.Stats(); st.PINVerifies != 0 || st.Signatures != 0 {
		t.Errorf("the other YubiKey got %d PINs and made %d signatures", st.PINVerifies, st.Signatures)
	}
	if n := pins.asked.Load(); n != 2 {
		t.Errorf("PIN asked %d times, want once per signer", n)
	}

	// A card that does not report public keys, and has no certificate for
	// the key, cannot be confirmed after a reconnection: refused before the
	// PIN is even asked.
	pv := benchtest.Start(t, vcard.ProfilePIV)
	asked := &pinCounter{pin: defaultPIN}
	u := openSigner(t, pv, signer.Options{Slot: piv.SlotKeyManagement, PIN: asked, PublicKey: pubC})
	pv.Pull()
	pv.Insert()
	pv.ResetStats()
	if err := sign(u, pubC); !errors.Is(err, signer.ErrKeyChanged) || !strings.Contains(err.Error(), "cannot show that it is the one") {
		t.Fatalf("piv card without certificate after a reconnection: %v", err)
	}
	if asked.asked.Load() != 0 || pv.Stats().PINVerifies != 0 {
		t.Errorf("the PIN was asked (%d) or sent (%d)", asked.asked.Load(), pv.Stats().PINVerifies)
	}
}
