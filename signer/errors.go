package signer

import (
	"errors"
	"fmt"

	"github.com/pivauth/pivauth/piv"
)

var (
	// ErrKeyChanged reports a card whose key is not the one the signer was
	// opened with (the certificate's, or Options.PublicKey): another card in
	// the reader, or a key replaced on the card. The signer refuses to use
	// it, and to give it the PIN.
	ErrKeyChanged = errors.New("public key changed")
	// ErrLastPINTry reports that the card has one PIN try left and the
	// signer, unless Options.AllowLastPINTry is set, will not risk blocking
	// the PIN with a PIN it has not seen the card accept. It is piv's
	// lockout guard's ErrLastTry (the error is a *piv.LastTryError, with a
	// Remedy).
	ErrLastPINTry = piv.ErrLastTry
	// ErrNotKeyManagementSlot reports Decrypt or ECDH asked of a key outside
	// the key management slots (9D, 82-95), which Options.AllowDecryptOnAnySlot
	// allows.
	ErrNotKeyManagementSlot = errors.New("decryption and key agreement are for the key management slots (9d, 82-95)")
	// ErrClosed reports use of a Signer after Close.
	ErrClosed = errors.New("signer: closed")
)

// PINError reports a PIN the card refused. It unwraps to the card's
// piv.AuthError, so errors.As finds the tries left either way, and with no
// tries left errors.Is(err, piv.ErrPINBlocked) holds.
type PINError struct {
	// Reader is the reader of the card that refused the PIN.
	Reader string
	// Card names the card (CardName), or is empty when it was not
	// identified and the reader names it.
	Card string
	// Slot is the key the PIN was to unlock.
	Slot piv.Slot
	// Auth is the card's answer, with the tries left.
	Auth piv.AuthError
}

func (e *PINError) Error() string {
	card := e.Card
	if card == "" {
		card = fmt.Sprintf("the card in %q", e.Reader)
	}
	if e.Auth.Retries == 1 {
		return fmt.Sprintf("wrong PIN for %s: %v; the lockout guard will not present a PIN again unless the last try is allowed explicitly", card, e.Auth)
	}
	return fmt.Sprintf("wrong PIN for %s: %v", card, e.Auth)
}

// Remedy says what to do when the PIN is blocked or has one try left, or "".
func (e *PINError) Remedy() string {
	if e.Auth.Retries == 1 {
		return (&piv.LastTryError{Key: piv.KeyPIN}).Remedy()
	}
	return e.Auth.Remedy()
}

// Unwrap returns the card's piv.AuthError.
func (e *PINError) Unwrap() error { return e.Auth }

// TriesLeft returns the PIN tries left, for layers that do not import piv
// (the agent sends them to its client).
func (e *PINError) TriesLeft() int { return e.Auth.Retries }

// NoCertificateError reports a slot that holds no certificate, when the
// signer was opened without Options.PublicKey to find the key by. It
// unwraps to piv.ErrNotFound.
type NoCertificateError struct {
	// Reader is the reader of the card.
	Reader string
	// Slot is the slot asked for.
	Slot piv.Slot
}

func (e *NoCertificateError) Error() string {
	return fmt.Sprintf("slot %s of the card in %q holds no certificate", e.Slot, e.Reader)
}

// Remedy says how to give the slot a certificate.
func (e *NoCertificateError) Remedy() string {
	return "put a certificate for the slot's key there (self-signed by the card, or issued by a CA for a request the card signed), or use another slot"
}

// Unwrap returns piv.ErrNotFound.
func (e *NoCertificateError) Unwrap() error { return piv.ErrNotFound }

// slotError names the slot an operation failed on, unless err is a *PINError: the PIN prompt
// named the slot, and the wrong PIN is the card's.
func (s *Signer) slotError(err error) error {
	var pe *PINError
	if errors.As(err, &pe) {
		return err
	}
	return fmt.Errorf("slot %s: %w", s.slot, err)
}

// sentinelError is an error whose message says all there is to say in its own
// words and that still matches a sentinel with errors.Is: a card that cannot
// show its key counts as ErrKeyChanged (the signer fails closed), a slot
// without a certificate as piv.ErrNotFound.
type sentinelError struct {
	is  error
	msg string
}

func (e *sentinelError) Error() string { return e.msg }

// Unwrap returns the sentinel.
func (e *sentinelError) Unwrap() error { return e.is }
