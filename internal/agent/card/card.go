// Package card is the agent's backend over PIV cards: it opens keys with package signer, wraps
// each in the audit log, and names card errors (package piv and signer) with the audit result
// classes that the agent and its clients act on. cmd/pivauth uses it for the agent and, through
// Audited, for the operations it performs without one.
package card

import (
	"context"
	"errors"
	"fmt"

	"github.com/pivauth/pivauth/internal/agent"
	"github.com/pivauth/pivauth/internal/audit"
	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
)

// Backend opens card keys for the agent.
type Backend struct {
	// Audit records every operation of every key.
	Audit audit.Recorder
}

// Open opens the key ref names with package signer, asking for the PIN and reporting touches
// through hooks.
func (b *Backend) Open(ctx context.Context, ref agent.KeyRef, hooks agent.Hooks) (agent.Key, error) {
	slot, err := piv.ParseSlot(ref.Slot)
	if err != nil {
		return nil, err
	}
	s, err := signer.Open(ctx, signer.Options{
		Card: piv.Selector{Reader: ref.Reader, Serial: ref.Serial, GUID: ref.GUID},
		Slot: slot,
		PIN: signer.PINFunc(func(ctx context.Context, req signer.PINRequest) ([]byte, error) {
			return hooks.PIN(ctx, agent.PINRequest{Reader: req.Reader, Card: req.Card, Slot: req.Slot.String(), Retries: req.Retries, Retry: req.Retry})
		}),
		Touch: hooks.Touch,
	})
	if err != nil {
		return nil, err
	}
	id, err := identify(ctx, s.Reader())
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	k := &key{Signer: s, info: agent.KeyInfo{Card: id, Reader: s.Reader()}}
	for _, c := range s.Chain() {
		k.info.Certificates = append(k.info.Certificates, c.Raw)
	}
	return agent.Audited(k, ref.Slot, b.Audit, Classify), nil
}

// Audited wraps a signer a command opened itself (no agent running), so that its operations are
// recorded like the agent's.
func Audited(ctx context.Context, s *signer.Signer, rec audit.Recorder) (*audit.Signer, error) {
	id, err := identify(ctx, s.Reader())
	if err != nil {
		return nil, err
	}
	return audit.Wrap(s, audit.Key{Card: id, Reader: s.Reader(), Slot: s.Slot().String(), Certificate: s.Certificate().Raw}, rec, Classify), nil
}

// Classify names the class of a card error.
func (b *Backend) Classify(err error) string { return Classify(err) }

// key is a signer.Signer (a crypto.Signer with SignContext) as an agent.Key.
type key struct {
	*signer.Signer
	info agent.KeyInfo
}

func (k *key) Info() agent.KeyInfo { return k.info }

// identify returns the audit log's name of the card in reader.
func identify(ctx context.Context, reader string) (string, error) {
	c, err := piv.Open(ctx, piv.Selector{Reader: reader})
	if err != nil {
		return "", fmt.Errorf("identify the card in %q: %w", reader, err)
	}
	defer c.Close()
	id, err := c.Identity(ctx)
	if err != nil {
		return "", fmt.Errorf("identify the card in %q: %w", reader, err)
	}
	return CardID(id), nil
}

// CardID is the audit log's name of a card: "serial:N" for a YubiKey, "guid:HEX" for a PIV card
// with a CHUID, "" for a card with neither.
func CardID(id piv.Identity) string {
	switch {
	case id.YubiKey && id.Serial != 0:
		return fmt.Sprintf("serial:%d", id.Serial)
	case id.GUID != "":
		return "guid:" + id.GUID
	}
	return ""
}

// Classify names card errors with audit result classes: wrong or blocked PIN, the lockout guard,
// no PIN source, a removed or missing card, several cards to choose from; anything else by
// audit.Classify.
func Classify(err error) string {
	var auth piv.AuthError
	switch {
	case err == nil:
		return audit.ResultOK
	case errors.Is(err, piv.ErrPINBlocked), errors.Is(err, signer.ErrLastPINTry):
		return audit.ResultPINBlocked
	case errors.As(err, &auth):
		return audit.ResultPINIncorrect
	case errors.Is(err, signer.ErrNoPIN):
		return audit.ResultNoPIN
	case errors.Is(err, signer.ErrPINCanceled):
		return audit.ResultCanceled
	case errors.Is(err, piv.ErrCardRemoved):
		return audit.ResultCardRemoved
	case errors.Is(err, piv.ErrNoCard):
		return audit.ResultNoCard
	case errors.As(err, new(*piv.AmbiguousError)):
		return audit.ResultAmbiguous
	}
	return audit.Classify(err)
}
