// Package card is the agent's backend over PIV cards: it opens keys with package signer, wraps
// each in the audit log, and names card errors (package piv and signer) with the audit result
// classes that the agent and its clients act on. cmd/pivauth uses it for the agent and, through
// Audited, for the operations it performs without one.
package card

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/pivauth/pivauth/cmd/pivauth/internal/agent"
	"github.com/pivauth/pivauth/cmd/pivauth/internal/audit"
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
		Card:  piv.Selector{Reader: ref.Reader, Serial: ref.Serial, GUID: ref.GUID},
		Slot:  slot,
		PIN:   hookPIN{hooks},
		Touch: hooks.Touch,
	})
	if err != nil {
		return nil, err
	}
	// The agent names the card to its clients at once; the session's later records reuse the name.
	id, err := s.Identity(ctx)
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	k := &key{Signer: s, info: agent.KeyInfo{Card: CardID(id), CardName: signer.CardName(id, s.Certificate()), Reader: s.Reader()}}
	for _, c := range s.Chain() {
		k.info.Certificates = append(k.info.Certificates, c.Raw)
	}
	return agent.Audited(k, ref.Slot, b.Audit, Classify), nil
}

// hookPIN asks for the PIN through the agent's hooks: the requesting command, or the agent's
// fallback (pinentry). It is signer.Interactive as the answer was: a wrong PIN a person typed is
// asked again in the same operation, at the requesting command's terminal; one from a file or
// PIVAUTH_PIN ends the operation with the wrong PIN reported.
type hookPIN struct{ hooks agent.Hooks }

func (h hookPIN) PIN(ctx context.Context, req signer.PINRequest) ([]byte, error) {
	return h.hooks.PIN(ctx, AgentPINRequest(req))
}

// AgentPINRequest translates signer's PIN request for the agent's protocol (the card's side);
// SignerPINRequest is the way back (the side of the command that answers it). Both live here so
// that a field added to one is carried both ways.
func AgentPINRequest(req signer.PINRequest) agent.PINRequest {
	return agent.PINRequest{Reader: req.Reader, Card: req.Card, Slot: req.Slot.String(), Retries: req.Retries, Retry: req.Retry}
}

// SignerPINRequest translates the agent's PIN request for signer's PIN sources.
func SignerPINRequest(req agent.PINRequest) (signer.PINRequest, error) {
	slot, err := piv.ParseSlot(req.Slot)
	if err != nil {
		return signer.PINRequest{}, fmt.Errorf("agent asked for the PIN of slot %q: %w", req.Slot, err)
	}
	return signer.PINRequest{Reader: req.Reader, Card: req.Card, Slot: slot, Retries: req.Retries, Retry: req.Retry}, nil
}

func (h hookPIN) AsksPerson() bool { return h.hooks.PINTyped != nil && h.hooks.PINTyped() }

// Audited wraps a signer a command opened itself (no agent running), so that its operations are
// recorded like the agent's. The records name the card by the signer's Identity, asked when the
// first record is written and reused after it: a command that signs nothing (a token from the
// cache) spends no APDU identifying the card.
func Audited(s *signer.Signer, rec audit.Recorder) *audit.Signer {
	var cert []byte
	if c := s.Certificate(); c != nil { // nil for a key without its certificate yet (setup selfsign, csr)
		cert = c.Raw
	}
	key := audit.Key{Reader: s.Reader(), Slot: s.Slot().String(), Certificate: cert}
	return audit.Wrap(s, key, &namingRecorder{rec: rec, s: s}, Classify)
}

// namingRecorder puts the card's audit id (CardID) and its name (signer.CardName) into each record.
type namingRecorder struct {
	rec audit.Recorder
	s   *signer.Signer

	mu         sync.Mutex
	identified bool
	card, name string
	cached     bool // card came from the signer's card cache (signer.CardIdentity)
}

// Record records ev with the card's name. A card that cannot be identified (pulled during the
// operation, or another card in the reader: signer.Identity refuses to name it) leaves the record
// with its reader alone, and is asked again at the next record.
func (r *namingRecorder) Record(ev audit.Event) error {
	r.mu.Lock()
	if !r.identified {
		// The operation's context does not reach a Recorder. The identity is one short
		// transaction on the connection the operation has just used.
		if id, cached, err := r.s.CardIdentity(context.Background()); err == nil {
			r.card, r.name, r.cached, r.identified = CardID(id), signer.CardName(id, r.s.Certificate()), cached, true
		}
	}
	ev.Card, ev.CardName, ev.CardCached = r.card, r.name, r.cached
	r.mu.Unlock()
	return r.rec.Record(ev)
}

// Classify names the class of a card error.
func (b *Backend) Classify(err error) string { return Classify(err) }

// key is a signer.Signer (a crypto.Signer with SignContext) as an agent.Key.
type key struct {
	*signer.Signer
	info agent.KeyInfo
}

func (k *key) Info() agent.KeyInfo { return k.info }

// FromAgent gives an error reply of the agent its card meaning back, for Client.SetRemoteErrors:
// the lockout guard's refusal matches signer.ErrLastPINTry, a changed key signer.ErrKeyChanged,
// and a refused PIN is a *signer.PINError
// with the tries left (its Reader and Slot left empty: the reply names neither), as when the
// command uses the card itself. The result wraps re, so the agent's class stays readable.
func FromAgent(re *agent.RemoteError) error {
	switch {
	case re.Class == audit.ResultPINLastTry:
		return &remoteCardError{RemoteError: re, card: signer.ErrLastPINTry}
	case re.Class == audit.ResultKeyChanged:
		return &remoteCardError{RemoteError: re, card: signer.ErrKeyChanged}
	case re.Class == audit.ResultPINIncorrect && re.Retries > 0:
		return &remoteCardError{RemoteError: re, card: &signer.PINError{Auth: piv.AuthError{Retries: re.Retries}}}
	}
	return re
}

// remoteCardError is an agent's error reply with the card error it stands for. Its text is the
// agent's, which says what the card error would have said.
type remoteCardError struct {
	*agent.RemoteError
	card error
}

func (e *remoteCardError) Unwrap() []error { return []error{e.RemoteError, e.card} }

// CardID is the audit log's name of a card: "serial:N" for a card with Yubico's extensions (a
// YubiKey, or an applet answering them), "guid:HEX" for a PIV card
// with a CHUID, "" for a card with neither.
func CardID(id piv.Identity) string {
	switch {
	case id.YubicoExtensions && id.Serial != 0:
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
	case errors.Is(err, signer.ErrLastPINTry):
		return audit.ResultPINLastTry
	case errors.Is(err, signer.ErrKeyChanged):
		return audit.ResultKeyChanged
	case errors.Is(err, piv.ErrPINBlocked):
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
