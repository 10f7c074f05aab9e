package piv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// Key references of the PIN, the PUK and the management key, for Metadata.
const (
	KeyPIN            byte = 0x80
	KeyPUK            byte = 0x81
	KeyCardManagement byte = 0x9B
)

// encodePINs pads each PIN (or PUK) to 8 bytes with 0xFF and concatenates
// them. The caller wipes the result after use. The error never quotes a PIN.
func encodePINs(pins ...[]byte) ([]byte, error) {
	out := make([]byte, 0, 8*len(pins))
	for _, p := range pins {
		if len(p) == 0 || len(p) > 8 {
			clear(out)
			return nil, fmt.Errorf("piv: a PIN or PUK has 1 to 8 characters, this one has %d", len(p))
		}
		out = append(out, p...)
		for i := len(p); i < 8; i++ {
			out = append(out, 0xFF)
		}
	}
	return out, nil
}

// authResult turns the status of a command that carried a PIN or PUK into
// AuthError, ErrPINBlocked or ErrPUKBlocked.
func authResult(err error, puk bool) error {
	var se *StatusError
	if !errors.As(err, &se) {
		return err
	}
	switch {
	case se.SW&0xFFF0 == 0x63C0:
		return AuthError{Retries: int(se.SW & 0x0F), PUK: puk}
	case se.SW == 0x6983:
		if puk {
			return fmt.Errorf("piv: %w", ErrPUKBlocked)
		}
		return fmt.Errorf("piv: %w", ErrPINBlocked)
	}
	return err
}

// Verify presents the PIN (VERIFY 00 20 00 80). A wrong PIN is an AuthError
// with the tries left; a blocked one ErrPINBlocked.
func (tx *Tx) Verify(pin []byte) error {
	data, err := encodePINs(pin)
	if err != nil {
		return err
	}
	defer clear(data)
	_, err = tx.Transmit(Command{Ins: insVerify, P2: KeyPIN, Data: data})
	return authResult(err, false)
}

// PINStatus is what the empty VERIFY says about the PIN.
type PINStatus struct {
	// Verified: the PIN is verified in the card's current security status
	// (the card then does not tell the tries left).
	Verified bool
	// Retries is the number of tries left when not verified; 0 when blocked.
	Retries int
}

// PINStatus asks for the PIN state without presenting a PIN (VERIFY with no
// data). It never uses up a try.
func (tx *Tx) PINStatus() (PINStatus, error) {
	_, err := tx.Transmit(Command{Ins: insVerify, P2: KeyPIN})
	if err == nil {
		return PINStatus{Verified: true}, nil
	}
	var ae AuthError
	switch err := authResult(err, false); {
	case errors.As(err, &ae):
		return PINStatus{Retries: ae.Retries}, nil
	case errors.Is(err, ErrPINBlocked):
		return PINStatus{}, nil
	default:
		return PINStatus{}, err
	}
}

// PINRetries returns the PIN tries left (0: blocked), from the empty VERIFY.
// It returns -1 when the PIN is verified right now, since the card does not
// tell the count then.
func (tx *Tx) PINRetries() (int, error) {
	st, err := tx.PINStatus()
	if err != nil {
		return 0, err
	}
	if st.Verified {
		return -1, nil
	}
	return st.Retries, nil
}

// ClearVerify ends the PIN's security status (VERIFY 00 20 FF 80), so that
// the card is not left verified for other applications; one APDU on the
// cards that take P1=FF. On a card that refuses it (6A86, 6B00, 6A81), the
// PIV application is selected again, which ends the status on a YubiKey but
// not on SP 800-73-4 cards or Java Card applets, and the empty VERIFY shows
// whether it did. That answer is trusted only from a card that answered the
// same empty VERIFY with 9000 just before (many cards never do, OpenSC's
// CI_VERIFY_LC0_FAIL): three APDUs more. When that does not prove the PIN
// no longer verified, the transaction ends with a card reset (resetAtEnd).
func (tx *Tx) ClearVerify() error {
	_, err := tx.Transmit(Command{Ins: insVerify, P1: 0xFF, P2: KeyPIN})
	var se *StatusError
	if !errors.As(err, &se) || se.SW != 0x6A86 && se.SW != 0x6B00 && se.SW != 0x6A81 {
		if err != nil && !errors.Is(err, ErrCardRemoved) {
			// The clear failed for another reason (a card error, a lost
			// command): the PIN may still be verified, so the reset ends it.
			tx.resetAtEnd("VERIFY P1=FF failed: " + err.Error())
		}
		return err
	}
	before, err := tx.PINStatus()
	if errors.Is(err, ErrCardRemoved) {
		return err
	}
	if err == nil && before.Verified {
		if err := tx.selectPIV(); err != nil {
			return err
		}
		after, err := tx.PINStatus()
		switch {
		case err == nil && !after.Verified:
			return nil
		case errors.Is(err, ErrCardRemoved):
			return err
		}
	}
	tx.resetAtEnd("it does not take VERIFY P1=FF, and a SELECT was not shown to end the PIN status")
	return nil
}

// resetAtEnd makes the transaction end with a card reset (SCARD_RESET_CARD),
// for a security status nothing lighter is known to end; why goes to the
// debug log (pivauth -v). Every application connected to the card then sees
// it reset, and the engine's own next transaction selects PIV again.
func (tx *Tx) resetAtEnd(why string) {
	if !tx.reset {
		slog.Debug("piv: the card will be reset at the end of the operation, so that no other program finds it authenticated", "reader", tx.c.reader, "why", why)
	}
	tx.reset = true
}

// ChangePIN replaces the PIN (CHANGE REFERENCE DATA 00 24 00 80). A wrong old
// PIN is an AuthError.
func (tx *Tx) ChangePIN(oldPIN, newPIN []byte) error {
	return tx.changeReference(insChangeReference, KeyPIN, oldPIN, newPIN, false)
}

// ChangePUK replaces the PUK (CHANGE REFERENCE DATA 00 24 00 81). A wrong
// old PUK is an AuthError with PUK set.
func (tx *Tx) ChangePUK(oldPUK, newPUK []byte) error {
	return tx.changeReference(insChangeReference, KeyPUK, oldPUK, newPUK, true)
}

// UnblockPIN sets a new PIN with the PUK and restores the PIN's tries (RESET
// RETRY COUNTER 00 2C 00 80). A wrong PUK is an AuthError with PUK set.
func (tx *Tx) UnblockPIN(puk, newPIN []byte) error {
	return tx.changeReference(insResetRetry, KeyPIN, puk, newPIN, true)
}

// changeReference sends CHANGE REFERENCE DATA or RESET RETRY COUNTER. A new
// PIN set this way is then cleared from the security status (ClearVerify):
// some cards check the old value as VERIFY does and leave the PIN verified.
func (tx *Tx) changeReference(ins, key byte, current, next []byte, puk bool) error {
	data, err := encodePINs(current, next)
	if err != nil {
		return err
	}
	defer clear(data)
	_, err = tx.Transmit(Command{Ins: ins, P2: key, Data: data})
	if err != nil || key != KeyPIN {
		return authResult(err, puk)
	}
	return tx.ClearVerify()
}

// PINStatus reports the PIN state in its own transaction (see Tx.PINStatus).
func (c *Card) PINStatus(ctx context.Context) (PINStatus, error) {
	var st PINStatus
	err := c.Transaction(ctx, func(tx *Tx) (err error) {
		st, err = tx.PINStatus()
		return err
	})
	return st, err
}

// ChangePIN replaces the PIN in its own transaction (see Tx.ChangePIN).
func (c *Card) ChangePIN(ctx context.Context, oldPIN, newPIN []byte) error {
	return c.Transaction(ctx, func(tx *Tx) error { return tx.ChangePIN(oldPIN, newPIN) })
}

// ChangePUK replaces the PUK in its own transaction (see Tx.ChangePUK).
func (c *Card) ChangePUK(ctx context.Context, oldPUK, newPUK []byte) error {
	return c.Transaction(ctx, func(tx *Tx) error { return tx.ChangePUK(oldPUK, newPUK) })
}

// UnblockPIN sets a new PIN with the PUK in its own transaction (see
// Tx.UnblockPIN).
func (c *Card) UnblockPIN(ctx context.Context, puk, newPIN []byte) error {
	return c.Transaction(ctx, func(tx *Tx) error { return tx.UnblockPIN(puk, newPIN) })
}
