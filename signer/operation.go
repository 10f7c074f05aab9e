package signer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pivauth/pivauth/internal/pinbuf"
	"github.com/pivauth/pivauth/piv"
)

// do runs one private-key operation: op is the GENERAL AUTHENTICATE, and do
// wraps it with what the key needs, in one PC/SC transaction:
//
//	[GET DATA certificate, only on a new connection]
//	[card identity, empty VERIFY: only when the PIN was not accepted on this connection]
//	VERIFY  op  VERIFY P1=FF
//
// The PIN is obtained first, outside any transaction, so that no transaction
// is held while a person types (see askPIN). A key believed to need no PIN
// that the card refuses with 6982 is retried once with the PIN; a PIN held for
// another card than the one now in the reader is dropped and asked again.
func (s *Signer) do(ctx context.Context, op func(*piv.Tx) ([]byte, error)) ([]byte, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	for {
		if s.need == pinRequired && s.pin == nil {
			if err := s.askPIN(ctx); err != nil {
				return nil, err
			}
		}
		out, err := s.transact(ctx, op)
		if errors.Is(err, piv.ErrSecurityStatus) && s.need != pinRequired {
			// The key needs the PIN after all (or no longer, where the
			// cache said "never"): remember it for the session and the
			// cache.
			s.need = pinRequired
			s.learnPINPolicy(piv.PINPolicyOnce)
			continue
		}
		if errors.Is(err, errOtherCard) {
			continue
		}
		if errors.Is(err, ErrLastPINTry) {
			return nil, err // guardPIN's refusal names the signer and the reader already
		}
		if again, aerr := s.askAgain(ctx, err); again {
			continue
		} else if aerr != nil {
			return nil, aerr
		}
		if err != nil {
			return nil, s.slotError(err)
		}
		if s.need == pinUnknown {
			s.need = pinNotRequired
			s.learnPINPolicy(piv.PINPolicyNever)
		}
		s.saveRecord()
		s.ops.Add(1)
		return out, nil
	}
}

// errOtherCard: the card in the reader is not the one that accepted the PIN
// the signer holds (or a Promptless source's PIN meets a new connection); the PIN
// was dropped, to be asked again for this card.
var errOtherCard = errors.New("the PIN held is another card's")

// lock takes the signer for one operation, waiting for the one in progress as
// long as ctx allows; unlock releases it. A closed signer is ErrClosed.
func (s *Signer) lock(ctx context.Context) error {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if s.closed {
		<-s.sem
		return ErrClosed
	}
	return nil
}

func (s *Signer) unlock() { <-s.sem }

// transact runs op in one transaction, with the PIN presented before it and
// cleared after it when the key needs the PIN. When both the operation and
// the clearing fail, the error carries both.
func (s *Signer) transact(ctx context.Context, op func(*piv.Tx) ([]byte, error)) ([]byte, error) {
	var out []byte
	err := s.card.Transaction(ctx, func(tx *piv.Tx) (err error) {
		if err := s.confirmCard(tx); err != nil {
			return err
		}
		if s.need == pinRequired {
			// Not ":= err": the deferred clear below must join its error
			// into the transaction's named result, not a shadow of it.
			card, gerr := s.guardPIN(tx)
			if gerr != nil {
				return gerr
			}
			// Registered before VERIFY is sent, so every path out of
			// here — a refused PIN, a failed operation, a panic — clears
			// the PIN status. A card that is gone has lost it anyway.
			defer func() {
				cerr := tx.ClearVerify()
				if cerr != nil && !errors.Is(cerr, piv.ErrCardRemoved) {
					err = errors.Join(err, fmt.Errorf("clearing the PIN status after the operation (the card may be left verified: remove it to reset it): %w", cerr))
				}
			}()
			if err := s.verify(tx, card); err != nil {
				return err
			}
		}
		stop := s.touchTimer()
		defer stop()
		out, err = op(tx)
		return err
	})
	return out, err
}

// guardPIN decides whether the PIN the signer holds may go to the card, on a
// connection where the card has not accepted it yet (the session's first
// operation, or the card was out of the reader or reset since), and returns
// the card's identity (cardKey) that an accepted PIN is bound to.
//
// A PIN the card accepted before goes only to the card that accepted it: its
// identity (YubiKey serial or CHUID GUID), read from the card itself on each
// connection, never taken from Options.CardCache, must be the same. A PIN a
// Promptless source gave (a file, the environment) is not bound to a card:
// on a new connection it is dropped and read from the source again, which
// costs no person anything, and the first operation spends no APDU
// identifying the card. A PIN a person typed is bound at once (the identity
// is read before the first VERIFY), so that nobody types it twice because
// the card was out of the reader for a moment.
//
// The lockout guard then reads the tries left in this very transaction, so
// that no try another program used since the PIN was asked (or since it was
// last accepted, when the PIN was changed elsewhere) is missed. On the
// connection the PIN was accepted on it sends nothing.
func (s *Signer) guardPIN(tx *piv.Tx) (string, error) {
	if s.pinConn != 0 && s.pinConn == tx.Connection() {
		return s.pinCard, nil
	}
	var card string
	if s.pinCard != "" || !promptless(s.opts.PIN) {
		id, err := tx.QuickIdentity()
		if err != nil {
			return "", fmt.Errorf("identifying the card before presenting the PIN: %w", err)
		}
		card = cardKey(id)
		s.learnIdentity(id)
	}
	if s.pinConn != 0 && (s.pinCard == "" || card != s.pinCard) {
		s.dropPIN()
		s.pinRefused = false
		return "", errOtherCard
	}
	if s.opts.AllowLastPINTry {
		// Nothing to decide: a blocked PIN is refused by VERIFY itself
		// without using a try.
		return card, nil
	}
	retries, err := tx.PINRetries()
	if err != nil {
		return "", fmt.Errorf("reading the PIN tries left: %w", err)
	}
	if err := s.lockoutGuard(retries); err != nil {
		// The PIN may be stale (changed elsewhere): ask again next time.
		s.dropPIN()
		return "", err
	}
	return card, nil
}

// cardKey identifies a card for guardPIN: the Yubico serial, else the
// CHUID's GUID, else the whole identity as text.
func cardKey(id piv.Identity) string {
	switch {
	case id.YubicoExtensions && id.Serial != 0:
		return fmt.Sprintf("serial:%d", id.Serial)
	case id.GUID != "":
		return "guid:" + id.GUID
	}
	return id.String()
}

// verify presents the session's PIN. A refused PIN is dropped, so the next
// operation asks the source again (with PINRequest.Retry set). An accepted one
// is bound to this connection and to card, the card's identity ("" for a
// Promptless source's PIN, see guardPIN).
func (s *Signer) verify(tx *piv.Tx, card string) error {
	err := s.pin.Use(func(pin []byte) error { return tx.Verify(pin) })
	var ae piv.AuthError
	switch {
	case err == nil:
		s.pinRefused = false
		s.pinConn, s.pinCard = tx.Connection(), card
		return nil
	case errors.As(err, &ae):
		s.dropPIN()
		s.pinRefused = true
		return &PINError{Reader: s.card.Reader(), Card: s.cardLabel(), Slot: s.slot, Auth: ae}
	case errors.Is(err, piv.ErrPINBlocked):
		s.dropPIN()
		return s.blocked()
	}
	return err
}

// askPIN reads the tries left (the empty VERIFY, in a transaction of its
// own), applies the lockout guard, and asks the PIN source. It runs once per
// session, and again only after the card refused a PIN.
//
// With Options.AllowLastPINTry the guard has nothing to decide, and a
// Promptless source shows nobody the count (guardPIN reads it in the
// VERIFY's transaction): the first PIN of a session is then asked without
// reading the tries left (one APDU less). After a refused PIN they are read
// anyway, so that a PIN now blocked is reported without asking for another.
func (s *Signer) askPIN(ctx context.Context) error {
	retries := -1
	if s.pinRefused || !s.opts.AllowLastPINTry && !promptless(s.opts.PIN) {
		err := s.card.Transaction(ctx, func(tx *piv.Tx) error {
			if err := s.confirmCard(tx); err != nil {
				return err
			}
			s.nameCard(tx)
			var err error
			retries, err = tx.PINRetries()
			return err
		})
		if err != nil {
			return fmt.Errorf("signer: reading the PIN tries left: %w", err)
		}
	}
	if err := s.lockoutGuard(retries); err != nil {
		return err
	}
	// retries is -1 when it was not read, or when another program left the
	// card verified: the card does not tell the count then, and the
	// successful VERIFY had reset it.
	pin, err := s.opts.PIN.PIN(ctx, PINRequest{
		Reader:  s.card.Reader(),
		Card:    s.cardLabel(),
		Slot:    s.slot,
		Retries: retries,
		Retry:   s.pinRefused,
	})
	if err != nil {
		return fmt.Errorf("signer: PIN for slot %s: %w", s.slot, err)
	}
	if len(pin) == 0 || len(pin) > 8 {
		n := len(pin)
		pinbuf.Wipe(pin)
		s.pinRefused = true
		return fmt.Errorf("signer: a PIV PIN has 1 to 8 characters, the one given has %d; it was not sent to the card", n)
	}
	buf, err := pinbuf.New(pin)
	if err != nil {
		return fmt.Errorf("signer: %w", err)
	}
	s.pin = buf
	return nil
}

// lockoutGuard refuses a PIN for a card with no try left, or with one
// unless the last try is allowed; retries is -1 when not known.
func (s *Signer) lockoutGuard(retries int) error {
	err := piv.CheckTries(piv.KeyPIN, retries, s.opts.AllowLastPINTry)
	switch {
	case errors.Is(err, piv.ErrPINBlocked):
		return s.blocked()
	case err != nil:
		// The remedy (piv.LastTryError) names no flag: a program built on the signer says how
		// its users allow the last try.
		return fmt.Errorf("%s: %w", s.describeCard(), err)
	}
	return nil
}

// blocked is the error for a blocked PIN: it says how to unblock it.
func (s *Signer) blocked() error {
	return fmt.Errorf("the PIN of %s is blocked: %w", s.describeCard(), piv.ErrPINBlocked)
}

// confirmCard checks, on a connection the signer has not seen the card on
// (the engine reconnected: the card was out of the reader or reset), or after
// a signature that did not verify, that the card holds the signer's key,
// before it is given the PIN or asked to operate. On a known connection it
// sends nothing. The check is one GET DATA of the slot's certificate; a
// signer opened without a certificate (Options.PublicKey) on a card with
// per-key policies (a YubiKey's ATR, or Yubico's extensions seen) asks the
// key's metadata when the certificate does not settle it (GET VERSION, GET
// METADATA). A card that cannot show its key is refused too.
func (s *Signer) confirmCard(tx *piv.Tx) error {
	if tx.Connection() == s.conn {
		return nil
	}
	cert, err := tx.Certificate(s.slot)
	if err != nil && !errors.Is(err, piv.ErrNotFound) {
		return err
	}
	same := err == nil && publicKeyEqual(cert.PublicKey, s.pub)
	if !same && s.cert == nil {
		if !s.perKeyPolicy {
			s.conn = 0
			return &sentinelError{ErrKeyChanged, fmt.Sprintf("the card in %q cannot show that it is the one this signer was opened on: slot %s holds no certificate of the key and the card does not report public keys; open the signer again", s.card.Reader(), s.slot)}
		}
		m, err := tx.Metadata(s.slot.Key)
		var se *piv.StatusError
		if err != nil && !errors.As(err, &se) && !errors.Is(err, piv.ErrNotYubiKey) {
			return fmt.Errorf("checking that the card in %q holds the key: %w", s.card.Reader(), err)
		}
		same = err == nil && publicKeyEqual(m.PublicKey, s.pub)
	}
	if !same {
		return s.keyChanged()
	}
	s.conn = tx.Connection()
	return nil
}

// keyChanged is the error for a card whose key is not the signer's. It also
// makes the next operation check the card first.
func (s *Signer) keyChanged() error {
	s.conn = 0
	return fmt.Errorf("the card in %q is not the one this signer was opened on (%w)", s.card.Reader(), ErrKeyChanged)
}

// touchTimer calls Options.Touch if the operation it times runs longer than
// touchDelay on a card with per-key policies whose key's touch policy is
// not known to be "never", and returns the function that stops it.
func (s *Signer) touchTimer() (stop func()) {
	if s.opts.Touch == nil || !s.perKeyPolicy || s.touch == piv.TouchPolicyNever {
		return func() {}
	}
	t := time.AfterFunc(touchDelay, s.opts.Touch)
	return func() { t.Stop() }
}
