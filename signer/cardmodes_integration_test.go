//go:build linux

package signer_test

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"path/filepath"
	"testing"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
)

// TestSignerCardModes signs with every algorithm and runs the lockout guard on each kind of
// card of benchtest.CardModes. The keys are generated once; each mode attaches the same card
// state with its quirks (a new power-up, so the ATR is the mode's).
func TestSignerCardModes(t *testing.T) {
	state := filepath.Join(t.TempDir(), "card.json")
	specs := append(keyPerAlgorithm(), keySpec{piv.SlotAuthentication, piv.AlgRSA2048, piv.PINPolicyOnce, piv.TouchPolicyNever})
	var certs []*x509.Certificate
	t.Run("provision", func(t *testing.T) {
		b := benchtest.Start(t, vcard.ProfileYubiKey, benchtest.WithState(state))
		if b.Real() {
			t.Skip("card modes are virtual cards")
		}
		certs = provision(t, b, specs...)
	})
	if len(certs) != len(specs) {
		t.SkipNow()
	}
	msg := []byte("pivauth signer: card modes")
	d := digest(crypto.SHA256, msg)
	for _, m := range benchtest.CardModes {
		t.Run(m.Name, func(t *testing.T) {
			b := benchtest.Start(t, vcard.ProfileYubiKey, benchtest.WithState(state), m.Option())
			for i, spec := range specs[:len(specs)-1] {
				s := openSigner(t, b, signer.Options{Slot: spec.slot, PIN: noPIN(t)})
				checkSignatures(t, s, certs[i], msg, false)
			}

			// The lockout guard counts down from the card's own number of tries.
			wrong := &pinCounter{pin: []byte("000000")}
			s := openSigner(t, b, signer.Options{PIN: wrong})
			for left := m.PINTries() - 1; left >= 1; left-- {
				_, err := s.Sign(rand.Reader, d, crypto.SHA256)
				var pe *signer.PINError
				if !errors.As(err, &pe) || pe.Auth.Retries != left {
					t.Fatalf("wrong PIN: %v, want a PINError with %d tries left", err, left)
				}
				if req := wrong.last.Load(); req.Retries != left+1 {
					t.Errorf("PIN request shows %d tries, want %d", req.Retries, left+1)
				}
			}
			if _, err := s.Sign(rand.Reader, d, crypto.SHA256); !errors.Is(err, signer.ErrLastPINTry) {
				t.Fatalf("one try left: %v, want ErrLastPINTry", err)
			}
			if n := int(wrong.asked.Load()); n != m.PINTries()-1 {
				t.Errorf("PIN asked %d times, want %d", n, m.PINTries()-1)
			}
			// The right PIN, the last try allowed: it signs and restores the tries.
			right := openSigner(t, b, signer.Options{PIN: &pinCounter{pin: defaultPIN}, AllowLastPINTry: true})
			sig, err := right.Sign(rand.Reader, d, crypto.SHA256)
			if err != nil {
				t.Fatalf("last try allowed, right PIN: %v", err)
			}
			verify(t, certs[len(certs)-1], d, sig)
		})
	}
}
