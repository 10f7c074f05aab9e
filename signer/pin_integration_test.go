//go:build linux

package signer_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
)

// TestLockoutGuard walks the PIN down: each wrong PIN is a *PINError with
// the tries left, the source is told the last one was wrong, the last try is
// not used unless allowed, and a blocked PIN says how to unblock it.
func TestLockoutGuard(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	d := digest(crypto.SHA256, []byte("lockout"))
	wrong := &pinCounter{pin: []byte("000000")}
	s := openSigner(t, b, signer.Options{PIN: wrong})

	for _, left := range []int{2, 1} {
		_, err := s.Sign(rand.Reader, d, crypto.SHA256)
		var pe *signer.PINError
		var ae piv.AuthError
		if !errors.As(err, &pe) || pe.Auth.Retries != left || !errors.As(err, &ae) || ae.Retries != left {
			t.Fatalf("wrong PIN: %v, want a PINError with %d tries left", err, left)
		}
		if !strings.Contains(err.Error(), "PIV card of Bench User ("+vcard.BenchUPN+")") {
			t.Errorf("error %q does not name the card by its holder", err)
		}
		if left == 1 && (!strings.Contains(err.Error(), "unless the last try is allowed explicitly") || strings.Contains(err.Error(), "--")) {
			t.Errorf("error %q does not say the guard stops here, or names a command-line flag", err)
		}
		req := wrong.last.Load()
		if req.Retries != left+1 || req.Retry != (left == 1) {
			t.Errorf("PIN request %+v: want %d tries shown, Retry %v", req, left+1, left == 1)
		}
	}

	b.ResetStats()
	_, err := s.Sign(rand.Reader, d, crypto.SHA256)
	var last *piv.LastTryError
	if !errors.Is(err, signer.ErrLastPINTry) || !errors.As(err, &last) || !strings.Contains(err.Error(), "the lockout guard sent no PIN") ||
		!strings.Contains(last.Remedy(), "allow the last try explicitly") || strings.Contains(err.Error()+last.Remedy(), "--") {
		t.Fatalf("one try left: %v, want ErrLastPINTry saying how to go on, naming no command-line flag", err)
	}
	if n := wrong.asked.Load(); n != 2 {
		t.Errorf("PIN asked %d times, want 2: at one try left the source is not even asked", n)
	}
	if st := b.Stats(); st.PINVerifies != 0 {
		t.Errorf("%d PINs sent at one try left", st.PINVerifies)
	}

	// Allowed explicitly, the last try is used — with the right PIN here,
	// which restores the tries.
	right := openSigner(t, b, signer.Options{PIN: &pinCounter{pin: defaultPIN}, AllowLastPINTry: true})
	if _, err := right.Sign(rand.Reader, d, crypto.SHA256); err != nil {
		t.Fatalf("last try allowed, right PIN: %v", err)
	}

	// Block it: three wrong PINs with the guard off.
	reckless := openSigner(t, b, signer.Options{PIN: wrong, AllowLastPINTry: true})
	for range 3 {
		_, err = reckless.Sign(rand.Reader, d, crypto.SHA256)
	}
	var remedy interface{ Remedy() string }
	if !errors.Is(err, piv.ErrPINBlocked) || !errors.As(err, &remedy) || !strings.Contains(remedy.Remedy(), "unblock it with the PUK") {
		t.Fatalf("third wrong PIN: %v, want blocked with how to unblock", err)
	}
	asked := wrong.asked.Load()
	_, err = reckless.Sign(rand.Reader, d, crypto.SHA256)
	if !errors.Is(err, piv.ErrPINBlocked) || !errors.As(err, &remedy) || !strings.Contains(remedy.Remedy(), "unblock it with the PUK") {
		t.Errorf("blocked PIN: %v", err)
	}
	if wrong.asked.Load() != asked {
		t.Error("PIN asked for a blocked card")
	}
}

// typist is an Interactive PIN source: a person typing pins in turn.
type typist struct {
	pins []string
	reqs []signer.PINRequest
}

func (p *typist) PIN(_ context.Context, req signer.PINRequest) ([]byte, error) {
	p.reqs = append(p.reqs, req)
	if len(p.pins) == 0 {
		return nil, signer.ErrPINCanceled
	}
	pin := p.pins[0]
	p.pins = p.pins[1:]
	return []byte(pin), nil
}

func (p *typist) AsksPerson() bool { return true }

// TestWrongPINAskedAgain: a PIN a person typed that the card refuses is asked again in the same
// operation, saying it was wrong and the tries left, and the operation succeeds with the right
// one; at one try left the lockout guard ends it instead, without asking.
func TestWrongPINAskedAgain(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	d := digest(crypto.SHA256, []byte("again"))
	p := &typist{pins: []string{"000000", string(defaultPIN)}}
	s := openSigner(t, b, signer.Options{PIN: p})
	if _, err := s.Sign(rand.Reader, d, crypto.SHA256); err != nil {
		t.Fatalf("wrong then right PIN in one operation: %v", err)
	}
	if len(p.reqs) != 2 || p.reqs[0].Retry || !p.reqs[1].Retry || p.reqs[1].Retries != 2 {
		t.Fatalf("PIN requests %+v: want a first one, then a retry with 2 tries left", p.reqs)
	}
	want := "Wrong PIN: 2 tries left. PIN for PIV card of Bench User (" + vcard.BenchUPN + "), slot 9a"
	if got := p.reqs[1].Description(); got != want {
		t.Errorf("retry prompt %q, want %q", got, want)
	}
	if st := b.Stats(); st.Signatures != 1 {
		t.Errorf("%d signatures, want 1", st.Signatures)
	}

	// Two wrong PINs: the second leaves one try, and the guard stops there.
	p = &typist{pins: []string{"000000", "000000", string(defaultPIN)}}
	s = openSigner(t, b, signer.Options{PIN: p})
	_, err := s.Sign(rand.Reader, d, crypto.SHA256)
	var pe *signer.PINError
	if !errors.As(err, &pe) || pe.Auth.Retries != 1 || len(p.reqs) != 2 {
		t.Fatalf("two wrong PINs: %v after %d requests, want a PINError with 1 try left after 2", err, len(p.reqs))
	}

	// Canceling the second prompt reports both the wrong PIN and the cancel.
	p = &typist{pins: []string{"000000"}}
	reckless := openSigner(t, b, signer.Options{PIN: &typist{pins: []string{string(defaultPIN)}}, AllowLastPINTry: true})
	if _, err := reckless.Sign(rand.Reader, d, crypto.SHA256); err != nil {
		t.Fatalf("restoring the tries: %v", err)
	}
	s = openSigner(t, b, signer.Options{PIN: p})
	_, err = s.Sign(rand.Reader, d, crypto.SHA256)
	if !errors.As(err, &pe) || pe.Auth.Retries != 2 || !errors.Is(err, signer.ErrPINCanceled) {
		t.Errorf("wrong PIN, then canceled: %v", err)
	}
}

// yubiKeyName is how prompts name the bench's YubiKey: model, firmware and serial, as the card
// answers them.
func yubiKeyName(t *testing.T, b *benchtest.Bench) string {
	t.Helper()
	card, err := piv.Open(testContext(t), piv.Selector{Reader: b.Reader})
	if err != nil {
		t.Fatal(err)
	}
	defer card.Close()
	id, err := card.Identity(testContext(t))
	if err != nil || !id.YubiKey || id.Serial == 0 {
		t.Fatalf("identity %+v, %v: want a YubiKey with a serial", id, err)
	}
	return fmt.Sprintf("YubiKey %s #%d", id.Version, id.Serial)
}

// TestWrongPINFromFile: a non-interactive source is not asked again after
// its PIN was refused — it would only burn another try.
func TestWrongPINFromFile(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	path := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(path, []byte("000000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := openSigner(t, b, signer.Options{PIN: signer.File(path)})
	d := digest(crypto.SHA256, []byte("file"))
	var pe *signer.PINError
	if _, err := s.Sign(rand.Reader, d, crypto.SHA256); !errors.As(err, &pe) || pe.Auth.Retries != 2 {
		t.Fatalf("wrong PIN from file: %v", err)
	}
	b.ResetStats()
	_, err := s.Sign(rand.Reader, d, crypto.SHA256)
	if !errors.Is(err, signer.ErrNoPIN) || !strings.Contains(err.Error(), path) {
		t.Errorf("second operation: %v, want the file declined by name", err)
	}
	if st := b.Stats(); st.PINVerifies != 0 {
		t.Errorf("the refused PIN was sent again (%d VERIFY)", st.PINVerifies)
	}
}

// TestYubiKeyPINPolicies: a PIN-never key never prompts; once and always
// keys prompt once per session. Steady state costs 1 APDU without PIN and 3
// with it.
func TestYubiKeyPINPolicies(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	provision(t, b,
		keySpec{piv.SlotAuthentication, piv.AlgECCP256, piv.PINPolicyNever, piv.TouchPolicyNever},
		keySpec{piv.SlotSignature, piv.AlgECCP256, piv.PINPolicyAlways, piv.TouchPolicyNever},
		keySpec{piv.SlotKeyManagement, piv.AlgECCP256, piv.PINPolicyOnce, piv.TouchPolicyNever},
	)
	d := digest(crypto.SHA256, []byte("policies"))
	for _, tc := range []struct {
		slot   piv.Slot
		asked  int32
		steady int
	}{{piv.SlotAuthentication, 0, 1}, {piv.SlotSignature, 1, 3}, {piv.SlotKeyManagement, 1, 3}} {
		pins := &pinCounter{pin: defaultPIN}
		var src signer.PINSource = pins
		if tc.asked == 0 {
			src = noPIN(t)
		}
		s := openSigner(t, b, signer.Options{Slot: tc.slot, PIN: src})
		for i := range 3 {
			b.ResetStats()
			sig, err := s.Sign(rand.Reader, d, crypto.SHA256)
			if err != nil {
				t.Fatalf("slot %s: %v", tc.slot, err)
			}
			verify(t, s.Certificate(), d, sig)
			if n := b.Stats().APDUs; i > 0 && n != tc.steady {
				t.Errorf("slot %s signature %d: %d APDUs, want %d", tc.slot, i+1, n, tc.steady)
			}
		}
		if req := pins.last.Load(); tc.asked > 0 && req.Card != yubiKeyName(t, b) {
			t.Errorf("slot %s: the prompt names the card %q, want %q", tc.slot, req.Card, yubiKeyName(t, b))
		}
		if n := pins.asked.Load(); n != tc.asked {
			t.Errorf("slot %s: PIN asked %d times, want %d", tc.slot, n, tc.asked)
		}
	}
}

// TestNoPINSourceFailsAtOnce: a key that needs the PIN, and no source that
// can give one, is an error naming how to supply it.
func TestNoPINSourceFailsAtOnce(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	none := signer.Chain(signer.PINFunc(func(context.Context, signer.PINRequest) ([]byte, error) {
		return nil, signer.ErrNoPIN
	}))
	s := openSigner(t, b, signer.Options{PIN: none})
	_, err := s.Sign(rand.Reader, digest(crypto.SHA256, nil), crypto.SHA256)
	if !errors.Is(err, signer.ErrNoPIN) || !strings.Contains(err.Error(), "PIVAUTH_PIN") {
		t.Errorf("no PIN source: %v", err)
	}
}
