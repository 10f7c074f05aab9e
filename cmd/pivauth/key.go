package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"

	"github.com/pivauth/pivauth/cmd/pivauth/internal/agent"
	"github.com/pivauth/pivauth/cmd/pivauth/internal/agent/card"
	"github.com/pivauth/pivauth/cmd/pivauth/internal/audit"
	"github.com/pivauth/pivauth/flows/mtls"
	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
)

// cardKey is the key a command signs with: the running agent's (agentKey) or, without an agent,
// the card's own signer (directKey). Either way every signature lands in the audit log, with the
// purpose its context carries (purpose.Bind, assertion.Options.Context), and Chain starts with
// Certificate.
type cardKey interface {
	crypto.Signer
	Certificate() *x509.Certificate
	Chain() []*x509.Certificate
	// Reader is the reader the card was in when the key was opened.
	Reader() string
	Close() error
}

// agentKey is a key held by the running agent, with the connection it is used over.
type agentKey struct {
	*agent.RemoteKey
	client *agent.Client
}

// Close closes the connection to the agent; the agent keeps the key open for the next command.
func (k agentKey) Close() error { return k.client.Close() }

// directKey is the card's signer opened by the command itself, recording every signature in the
// audit log as the agent does.
type directKey struct {
	*audit.Signer
	card *signer.Signer
}

// newDirectKey records the operations of s in rec (the command's audit log), as made by this
// process.
func newDirectKey(s *signer.Signer, rec audit.Recorder) directKey {
	return directKey{Signer: card.Audited(s, rec), card: s}
}

func (k directKey) Certificate() *x509.Certificate { return k.card.Certificate() }
func (k directKey) Chain() []*x509.Certificate     { return k.card.Chain() }
func (k directKey) Reader() string                 { return k.card.Reader() }
func (k directKey) Close() error                   { return k.card.Close() }

// openSigner opens the key of --slot on the selected card: through the running agent when there is
// one (which asks this command for the PIN only when it does not hold it yet), else on the card
// itself with pivauth's PIN sources, the lockout guard as --allow-last-try says and the touch
// notice on stderr. Either way a missing card is waited for and several cards are chosen among
// as openCard does. --allow-last-try always uses the card directly: the agent's sessions keep the
// lockout guard, and a last try is a decision for this one command.
func (a *app) openSigner(ctx context.Context) (cardKey, error) {
	slot, err := a.slot()
	if err != nil {
		return nil, err
	}
	// One source for both paths: PIVAUTH_PIN is read (and removed from the environment) once.
	pins := a.pinSource()
	// A trace is of this command's own APDUs: a command that traces uses the card itself.
	trace, err := a.traceHook()
	if err != nil {
		return nil, err
	}
	var c *agent.Client
	if !a.opts.allowLastTry && a.opts.traceAPDUs == "" {
		if c, err = a.dialAgent(ctx, pins); err != nil {
			return nil, err
		}
	}
	if c != nil {
		var k *agent.RemoteKey
		err = a.openCard(ctx, func(ctx context.Context, sel piv.Selector) (err error) {
			k, err = c.Key(ctx, agent.KeyRef{Reader: sel.Reader, Serial: sel.Serial, GUID: sel.GUID, Slot: slot.String()})
			return cardErrorFromAgent(ctx, sel, err)
		})
		if err != nil {
			_ = c.Close()
			return nil, err
		}
		a.log.Debug("agent key opened", "reader", k.Reader(), "slot", slot.String(), "card", k.Info().Card)
		return agentKey{RemoteKey: k, client: c}, nil
	}

	rec, err := openAuditLog()
	if err != nil {
		return nil, err
	}
	var s *signer.Signer
	err = a.openCard(ctx, func(ctx context.Context, sel piv.Selector) (err error) {
		s, err = signer.Open(ctx, signer.Options{
			Card:            sel,
			Slot:            slot,
			PIN:             pins,
			AllowLastPINTry: a.opts.allowLastTry,
			Touch:           func() { touchNotice(a.stderr) },
			Trace:           trace,
			CardCache:       a.cardCache(),
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	a.log.Debug("signer opened", "reader", s.Reader(), "slot", slot.String(), "algorithm", s.Algorithm().String())
	return newDirectKey(s, rec), nil
}

// agentNoCard is the agent's report that the card is missing, recognised as piv.ErrNoCard so that
// openCard waits for the card (and the exit code is the card's) as without an agent.
type agentNoCard struct{ *agent.RemoteError }

func (e agentNoCard) Unwrap() error      { return e.RemoteError }
func (agentNoCard) Is(target error) bool { return target == piv.ErrNoCard }

// cardErrorFromAgent lets openCard treat the agent's answers about the card as the card's own: a
// missing card is waited for; when several cards match the selection, the agent names only the
// class, so the cards to choose from are listed here, with the same selector.
func cardErrorFromAgent(ctx context.Context, sel piv.Selector, err error) error {
	re, ok := errors.AsType[*agent.RemoteError](err)
	switch {
	case !ok:
		return err
	case re.Class == audit.ResultNoCard:
		return agentNoCard{re}
	case re.Class == audit.ResultAmbiguous:
		c, lerr := piv.Open(ctx, sel)
		if lerr == nil { // the cards changed meanwhile: nothing to choose from here
			_ = c.Close()
		}
		if amb, ok := errors.AsType[*piv.AmbiguousError](lerr); ok {
			return amb
		}
	}
	return err
}

// keyIdentity is the TLS client identity of k: its certificate and chain, each handshake signed
// (and recorded) by k.
func keyIdentity(k cardKey) mtls.Identity {
	return mtls.Identity{Signer: k, Certificate: k.Certificate(), Chain: k.Chain()[1:]}
}

// cardCache opens the card metadata cache beside the token cache (signer.CardCache: identities
// and PIN policies, nothing that grants access). Without it a cold process asks the card again, so
// a directory that cannot be used is logged and passed over.
func (a *app) cardCache() *signer.CardCache {
	c, err := signer.OpenCardCache("")
	if err != nil {
		a.log.Debug("card cache not used", "error", err.Error())
		return nil
	}
	return c
}
