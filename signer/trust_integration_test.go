//go:build linux

package signer_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/hw-test/vpcd"
	"github.com/pivauth/pivauth/hw-test/vpcd/pcscstate"
	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
)

// transmit sends APDUs straight to the virtual card, as another machine would
// while the card is out of this one's reader, and checks their status words.
func transmit(t *testing.T, c *vcard.Card, steps ...struct {
	apdu []byte
	sw   uint16
}) {
	t.Helper()
	for _, s := range steps {
		resp := c.Transmit(s.apdu)
		if sw := uint16(resp[len(resp)-2])<<8 | uint16(resp[len(resp)-1]); sw != s.sw {
			t.Fatalf("APDU %X: %04X, want %04X", s.apdu[:4], sw, s.sw)
		}
	}
}

func padded(pin string) []byte {
	b := []byte(pin)
	for len(b) < 8 {
		b = append(b, 0xFF)
	}
	return b
}

// TestGuardOnNewConnection: a long-lived signer whose PIN the card accepted
// finds, after the card was out of the reader, a card whose PIN was changed
// and tried wrong twice elsewhere: one try left. It refuses without sending
// the PIN it holds, which would block the card.
func TestGuardOnNewConnection(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	if b.Real() {
		t.Skip("changes the PIN behind the signer's back: virtual card only")
	}
	d := digest(crypto.SHA256, []byte("guard"))
	src := &pinCounter{pin: []byte("123456")}
	s := openSigner(t, b, signer.Options{PIN: src})
	if _, err := s.Sign(rand.Reader, d, crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	b.Pull()
	type step = struct {
		apdu []byte
		sw   uint16
	}
	transmit(t, b.Card,
		step{[]byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}, 0x9000},
		step{append([]byte{0x00, 0x24, 0x00, 0x80, 0x10}, append(padded("123456"), padded("24682468")...)...), 0x9000},
		step{append([]byte{0x00, 0x20, 0x00, 0x80, 0x08}, padded("000000")...), 0x63C2},
		step{append([]byte{0x00, 0x20, 0x00, 0x80, 0x08}, padded("000000")...), 0x63C1},
	)
	b.Insert()
	b.ResetStats()
	_, err := s.Sign(rand.Reader, d, crypto.SHA256)
	if !errors.Is(err, signer.ErrLastPINTry) {
		t.Errorf("sign with one try left after a reinsertion: %v, want ErrLastPINTry", err)
	}
	if st := b.Stats(); st.PINVerifies != 0 {
		t.Errorf("%d PINs sent to a card with one try left", st.PINVerifies)
	}
}

// TestCachedPINNotOfferedToSwappedCard: two cards with the same key and
// certificate; the signer's PIN was accepted by the first. When the second is
// put in the same reader, the cached PIN is not presented to it: the source
// is asked again, for that card.
func TestCachedPINNotOfferedToSwappedCard(t *testing.T) {
	state := filepath.Join(t.TempDir(), "a.json")
	b := benchtest.Start(t, vcard.ProfileYubiKey, benchtest.WithState(state))
	if b.Real() {
		t.Skip("swaps virtual cards")
	}
	provision(t, b, keySpec{slot: piv.SlotAuthentication, alg: piv.AlgECCP256, pin: piv.PINPolicyOnce, touch: piv.TouchPolicyNever})

	// The twin: the same state file with another serial number.
	raw, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	st["serial"] = st["serial"].(float64) + 1
	raw, _ = json.Marshal(st)
	twinState := filepath.Join(t.TempDir(), "b.json")
	if err := os.WriteFile(twinState, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	twin, err := vcard.OpenWithCA(twinState, vcard.ProfileYubiKey, b.CA)
	if err != nil {
		t.Fatal(err)
	}

	d := digest(crypto.SHA256, []byte("swap"))
	src := &pinCounter{pin: []byte("123456")}
	s := openSigner(t, b, signer.Options{PIN: src})
	for range 2 {
		if _, err := s.Sign(rand.Reader, d, crypto.SHA256); err != nil {
			t.Fatal(err)
		}
	}
	if n := src.asked.Load(); n != 1 {
		t.Fatalf("PIN asked %d times for one card, want 1", n)
	}

	b.Pull()
	att := vpcd.Attach(twin, b.Port, vpcd.Options{})
	t.Cleanup(func() { att.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := pcscstate.Wait(ctx, b.Reader, true); err != nil {
		t.Fatal(err)
	}
	twin.ResetStats()
	if _, err := s.Sign(rand.Reader, d, crypto.SHA256); err != nil {
		t.Fatalf("sign on the twin card: %v", err)
	}
	if n := src.asked.Load(); n != 2 {
		t.Errorf("PIN asked %d times, want 2: the cached PIN went to another card", n)
	}
	if got := twin.Stats().PINVerifies; got != 1 {
		t.Errorf("twin card got %d PINs, want 1 (the one the source gave for it)", got)
	}
	// Back to the first card: its PIN is asked again too (the signer now
	// holds the twin's).
	att.Close()
	if err := pcscstate.Wait(ctx, b.Reader, false); err != nil {
		t.Fatal(err)
	}
	b.Insert()
	if _, err := s.Sign(rand.Reader, d, crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	if n := src.asked.Load(); n != 3 {
		t.Errorf("PIN asked %d times, want 3", n)
	}
}

// TestGuardBetweenPromptAndVerify: while the person types the PIN (no
// transaction held), another program uses two tries. The signer reads the
// tries again in the VERIFY's transaction and refuses at one left, without
// sending the PIN.
func TestGuardBetweenPromptAndVerify(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	if b.Real() {
		t.Skip("uses PIN tries behind the signer's back: virtual card only")
	}
	type step = struct {
		apdu []byte
		sw   uint16
	}
	var asked int
	src := signer.PINFunc(func(_ context.Context, req signer.PINRequest) ([]byte, error) {
		asked++
		if asked == 1 {
			if req.Retries != 3 {
				t.Errorf("prompt shows %d tries, want 3", req.Retries)
			}
			// Another program, between the prompt and the VERIFY.
			transmit(t, b.Card,
				step{append([]byte{0x00, 0x20, 0x00, 0x80, 0x08}, padded("000000")...), 0x63C2},
				step{append([]byte{0x00, 0x20, 0x00, 0x80, 0x08}, padded("000000")...), 0x63C1},
			)
		}
		return []byte("654321"), nil // not the PIN: sending it would block the card
	})
	s := openSigner(t, b, signer.Options{PIN: src})
	b.ResetStats()
	_, err := s.Sign(rand.Reader, digest(crypto.SHA256, []byte("gap")), crypto.SHA256)
	if !errors.Is(err, signer.ErrLastPINTry) {
		t.Errorf("sign: %v, want ErrLastPINTry", err)
	}
	if st := b.Stats(); st.PINVerifies != 2 { // the other program's two
		t.Errorf("card saw %d PIN verifications, want only the other program's 2", st.PINVerifies)
	}
}
