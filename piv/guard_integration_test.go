//go:build linux

package piv_test

import (
	"errors"
	"testing"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/piv"
)

// TestGuardedChange: PIN change and unblock run through Card.Guarded, which reads the tries left
// in the transaction that would present the secret. With one PIN try left the change is refused
// before any PIN reaches the card (no CHANGE REFERENCE DATA, no VERIFY with data); allowed, it
// goes through. With one PUK try left (the YubiKey tells it in its metadata) the unblock is
// refused the same way.
func TestGuardedChange(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	c := openBench(t, b)
	ctx := testContext(t)
	wrong := []byte("999999")
	for range 2 {
		if err := c.Transaction(ctx, func(tx *piv.Tx) error { return tx.Verify(wrong) }); err == nil {
			t.Fatal("wrong PIN accepted")
		}
	}
	change := func(tx *piv.Tx) error { return tx.ChangePIN(defaultPIN, []byte("654321")) }
	b.ResetStats()
	err := c.Guarded(ctx, piv.KeyPIN, false, change)
	var last *piv.LastTryError
	if !errors.As(err, &last) || last.Key != piv.KeyPIN || !errors.Is(err, piv.ErrLastTry) {
		t.Fatalf("PIN change at one try left: %v, want *LastTryError for the PIN", err)
	}
	if st := b.Stats(); st.PINVerifies != 0 || st.Instructions["24"] != 0 {
		t.Errorf("refused change sent a PIN: %+v", st)
	}
	if err := c.Guarded(ctx, piv.KeyPIN, true, change); err != nil {
		t.Fatalf("allowed last try with the right PIN: %v", err)
	}

	// PUK: two wrong unblocks leave one try.
	unblock := func(puk []byte) func(tx *piv.Tx) error {
		return func(tx *piv.Tx) error { return tx.UnblockPIN(puk, defaultPIN) }
	}
	for range 2 {
		if err := c.Guarded(ctx, piv.KeyPUK, false, unblock([]byte("87654321"))); err == nil {
			t.Fatal("wrong PUK accepted")
		}
	}
	b.ResetStats()
	err = c.Guarded(ctx, piv.KeyPUK, false, unblock(defaultPUK))
	if !errors.As(err, &last) || last.Key != piv.KeyPUK {
		t.Fatalf("unblock at one PUK try left: %v, want *LastTryError for the PUK", err)
	}
	if st := b.Stats(); st.Instructions["2C"] != 0 {
		t.Errorf("refused unblock sent RESET RETRY COUNTER: %+v", st)
	}
}

// TestCheckTries is the guard's rule: none left is blocked, one refused unless allowed, an
// unknown count (-1) and two or more pass.
func TestCheckTries(t *testing.T) {
	for _, tc := range []struct {
		key     byte
		retries int
		allow   bool
		want    error
	}{
		{piv.KeyPIN, 0, true, piv.ErrPINBlocked},
		{piv.KeyPUK, 0, true, piv.ErrPUKBlocked},
		{piv.KeyPIN, 1, false, piv.ErrLastTry},
		{piv.KeyPUK, 1, false, piv.ErrLastTry},
		{piv.KeyPIN, 1, true, nil},
		{piv.KeyPIN, 2, false, nil},
		{piv.KeyPIN, -1, false, nil},
	} {
		if err := piv.CheckTries(tc.key, tc.retries, tc.allow); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("CheckTries(%02x, %d, %v) = %v, want %v", tc.key, tc.retries, tc.allow, err, tc.want)
		}
	}
}
