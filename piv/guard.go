package piv

import (
	"context"
	"errors"
	"fmt"
)

// ErrLastTry reports that the lockout guard did not present a PIN (or PUK)
// because the card has one try left: a mistake would block it. Errors of the
// guard match it with errors.Is; *LastTryError says which secret.
var ErrLastTry = errors.New("only 1 try left")

// LastTryError is the lockout guard's refusal to present a secret to a card
// with one try left. It matches ErrLastTry.
type LastTryError struct {
	// Key is the reference of the secret: KeyPIN or KeyPUK.
	Key byte
}

func (e *LastTryError) what() string {
	if e.Key == KeyPUK {
		return "PUK"
	}
	return "PIN"
}

// Error says what the guard refused, e.g. "only 1 PIN try left before the
// PIN blocks: the lockout guard sent no PIN".
func (e *LastTryError) Error() string {
	w := e.what()
	return fmt.Sprintf("only 1 %s try left before the %s blocks: the lockout guard sent no %s", w, w, w)
}

// Remedy says how to go on: be sure of the secret and allow the last try,
// or (for the PIN) restore the tries with the PUK.
func (e *LastTryError) Remedy() string {
	if e.Key == KeyPUK {
		return "make sure of the PUK and allow the last try explicitly; a blocked PUK leaves only a reset of the PIV application"
	}
	return "make sure of the PIN and allow the last try explicitly, or unblock the PIN with the PUK to restore its tries"
}

// Is makes a LastTryError match ErrLastTry.
func (e *LastTryError) Is(target error) bool { return target == ErrLastTry }

// CheckTries is the lockout guard: it refuses to present the secret key
// refers to (KeyPIN or KeyPUK) when the card has retries tries left and that
// is none (ErrPINBlocked, ErrPUKBlocked) or one, unless allowLast (a
// *LastTryError). retries < 0 means the count is not known: nothing to refuse.
func CheckTries(key byte, retries int, allowLast bool) error {
	switch {
	case retries == 0 && key == KeyPUK:
		return ErrPUKBlocked
	case retries == 0:
		return ErrPINBlocked
	case retries == 1 && !allowLast:
		return &LastTryError{Key: key}
	}
	return nil
}

// Tries returns the tries left of the secret key refers to: for KeyPIN the
// empty VERIFY's count (-1 while the PIN is verified, when the card does not
// tell it); for KeyPUK the YubiKey metadata (5.3+), -1 on cards that do not
// tell it without a try.
func (tx *Tx) Tries(key byte) (int, error) {
	if key != KeyPUK {
		return tx.PINRetries()
	}
	m, err := tx.Metadata(KeyPUK)
	var se *StatusError
	switch {
	case errors.Is(err, ErrNotYubiKey), errors.Is(err, errOldFirmware), errors.As(err, &se):
		return -1, nil
	case err != nil:
		return 0, err
	}
	return m.RetriesLeft, nil
}

// Guarded runs op in one transaction after the lockout guard (CheckTries)
// allowed presenting the secret key refers to, its tries left read in that
// same transaction (Tries): a try another program used while the person
// typed is seen before anything is sent. PIN change, PUK change and unblock
// go through it, e.g. c.Guarded(ctx, KeyPUK, false, func(tx *Tx) error {
// return tx.UnblockPIN(puk, newPIN) }).
func (c *Card) Guarded(ctx context.Context, key byte, allowLast bool, op func(*Tx) error) error {
	return c.Transaction(ctx, func(tx *Tx) error {
		n, err := tx.Tries(key)
		if err != nil {
			return err
		}
		if err := CheckTries(key, n, allowLast); err != nil {
			return err
		}
		return op(tx)
	})
}
