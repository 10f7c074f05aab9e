package agent

import (
	"context"

	"github.com/pivauth/pivauth/signer/purpose"
)

// Backend opens the keys the agent serves. cmd/pivauth implements it with package signer over a
// card (wrapping each key in audit.Wrap, so that every operation is recorded); tests use software
// keys. The agent never imports the card layers itself: what it needs from them is this interface,
// Monitor, and the result classes Classify returns.
type Backend interface {
	// Open opens the key ref names. The key must ask for the PIN only through hooks.PIN and report
	// a touch-policy wait through hooks.Touch; the agent calls Open and the key's methods one at a
	// time, and the hooks only while one of those calls is running.
	Open(ctx context.Context, ref KeyRef, hooks Hooks) (Key, error)
	// Classify names the audit result class of an error from Open or a key operation
	// (audit.ResultPINIncorrect, audit.ResultCardRemoved, …; audit.Classify for unknown errors).
	Classify(err error) string
}

// Hooks are the agent's callbacks that a backend wires into the card signer.
type Hooks struct {
	// PIN returns the PIN for the card and slot in req: the one the agent holds for the card, or
	// one it asks the requesting client (or the fallback PIN source) for. The caller owns and wipes
	// the returned bytes.
	PIN func(ctx context.Context, req PINRequest) ([]byte, error)
	// PINTyped reports whether a person typed the PIN PIN gave last (at the requesting command's
	// terminal, or in the fallback pinentry): the key then asks again, in the same operation,
	// when the card refuses it. nil means never.
	PINTyped func() bool
	// Touch tells the requesting client to ask its user to touch the card.
	Touch func()
}

// Key is a key a backend opened.
type Key interface {
	purpose.ContextSigner
	// Info describes the key: card identity, reader and certificates (the agent fills in Ref).
	Info() KeyInfo
	// Close releases the card session and wipes whatever secret the key holds.
	Close() error
}

// Monitor tells the agent when a card leaves its reader, so that the PIN is forgotten the moment
// the card is pulled and a reinserted card (possibly another one) asks for it again.
type Monitor interface {
	// Epoch returns a number that changes whenever a card is removed from or inserted into reader.
	Epoch(reader string) (uint64, error)
	// Wait returns nil once reader's epoch differs from epoch, or ctx.Err() when ctx ends first.
	Wait(ctx context.Context, reader string, epoch uint64) error
}
