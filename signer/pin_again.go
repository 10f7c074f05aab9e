package signer

import (
	"context"
	"errors"
	"fmt"

	"github.com/pivauth/pivauth/piv"
)

// askAgain is called by an operation that failed with err. When the card
// refused a PIN a person typed (the source is Interactive) and the lockout
// guard allows another try (two or more left, or the last one allowed
// explicitly), it asks the source again at once (askPIN: the tries left read
// afresh, PINRequest.Retry set) and reports true: the operation goes on with
// the new PIN. When that second request fails (the person canceled; the chain
// refused to ask again, ErrPINNotRetried), the error carries both the refused
// PIN and why no other came. Otherwise it reports false and nil: err stands.
func (s *Signer) askAgain(ctx context.Context, err error) (bool, error) {
	var wrong *PINError
	if !errors.As(err, &wrong) || !asksPerson(s.opts.PIN) {
		return false, nil
	}
	if left := wrong.Auth.Retries; left < 1 || left == 1 && !s.opts.AllowLastPINTry {
		return false, nil
	}
	if aerr := s.askPIN(ctx); aerr != nil {
		return false, errors.Join(s.slotError(err), aerr)
	}
	return true, nil
}

// nameCard names the card for prompts and messages (CardName) from its
// identity, which the PIN's own transaction reads anyway (the lockout guard
// binds the PIN to it), so naming costs no APDU of its own. A card that
// cannot be identified keeps the name it had.
func (s *Signer) nameCard(tx *piv.Tx) {
	if id, err := tx.Identity(); err == nil {
		s.label = CardName(id, s.cert)
	}
}

// cardLabel names the card in a PIN request: as CardName does once the card
// was identified; else as the selector did ("YubiKey serial N"); else, on a
// card whose ATR names no YubiKey, by the holder its certificate names; else ""
// and the request names the reader. (With Options.AllowLastPINTry the first
// PIN is asked before anything identified the card.)
func (s *Signer) cardLabel() string {
	switch {
	case s.label != "":
		return s.label
	case s.cardName != "":
		return s.cardName
	case !s.yubiKey && cardholder(s.cert) != "":
		return "PIV card of " + cardholder(s.cert)
	}
	return ""
}

// describeCard names the card in a message: cardLabel, or the card in its
// reader.
func (s *Signer) describeCard() string {
	if l := s.cardLabel(); l != "" {
		return l
	}
	return fmt.Sprintf("the card in %q", s.card.Reader())
}
