package signer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pivauth/pivauth/piv"
)

// PINSource supplies the PIN of a card when a signer needs it: once per
// session, and again only after the card refused the previous one.
//
// The returned slice belongs to the caller, which copies it into protected
// memory and wipes it; a source must not keep another copy in the Go heap.
// A source that has nothing to offer (no terminal, variable unset) returns an
// error wrapping ErrNoPIN, so that Chain can move on to the next source; a
// person who cancels the prompt gets ErrPINCanceled, which ends the chain.
type PINSource interface {
	PIN(ctx context.Context, req PINRequest) ([]byte, error)
}

// PINFunc adapts a function to PINSource, for programs that keep the PIN in
// their own secret store.
type PINFunc func(ctx context.Context, req PINRequest) ([]byte, error)

// PIN calls f.
func (f PINFunc) PIN(ctx context.Context, req PINRequest) ([]byte, error) { return f(ctx, req) }

// PINRequest describes the PIN wanted, for a source to show to a person.
type PINRequest struct {
	// Reader is the PC/SC reader that holds the card.
	Reader string
	// Card names the card when it is known without asking it ("YubiKey
	// serial 12345678"); empty otherwise, and the reader names it.
	Card string
	// Slot is the key the PIN unlocks.
	Slot piv.Slot
	// Retries is the number of tries left before the card blocks the PIN,
	// or -1 when it was not read (Options.AllowLastPINTry spares that APDU).
	Retries int
	// Retry is set when the card refused the PIN the source gave before in
	// this session. Non-interactive sources then decline (their PIN has not
	// changed and would only burn another try); prompts say it was wrong.
	Retry bool
}

// Description is the sentence a prompt shows: which card, which slot, how
// many tries are left.
func (r PINRequest) Description() string {
	var b strings.Builder
	if r.Retry {
		b.WriteString("Wrong PIN. ")
	}
	b.WriteString("PIN for ")
	if r.Card != "" {
		fmt.Fprintf(&b, "%s in %q", r.Card, r.Reader)
	} else {
		fmt.Fprintf(&b, "the card in %q", r.Reader)
	}
	fmt.Fprintf(&b, ", slot %s", r.Slot)
	switch {
	case r.Retries == 1:
		b.WriteString(" (LAST try before the PIN blocks)")
	case r.Retries > 1:
		fmt.Fprintf(&b, " (%d tries left)", r.Retries)
	}
	return b.String()
}

var (
	// ErrNoPIN is wrapped by the error of a source that cannot supply a PIN
	// here, and by Chain's error when no source could.
	ErrNoPIN = errors.New("no PIN available")
	// ErrPINCanceled reports that the person canceled the PIN prompt.
	ErrPINCanceled = errors.New("PIN entry canceled")
)

// noPIN returns an error wrapping ErrNoPIN that says why the source declined.
func noPIN(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNoPIN, fmt.Sprintf(format, args...))
}

// Chain returns a source that asks each source in turn and returns the first
// PIN given. A source declining with ErrNoPIN passes to the next; any other
// error (a canceled prompt, an unsafe PIN file) stops the chain, because
// falling through would hide it. When every source declines, the error lists
// each reason.
func Chain(sources ...PINSource) PINSource { return chain(sources) }

type chain []PINSource

func (c chain) PIN(ctx context.Context, req PINRequest) ([]byte, error) {
	var why []string
	for _, s := range c {
		pin, err := s.PIN(ctx, req)
		if err == nil {
			return pin, nil
		}
		if !errors.Is(err, ErrNoPIN) {
			return nil, err
		}
		why = append(why, strings.TrimPrefix(err.Error(), ErrNoPIN.Error()+": "))
	}
	return nil, fmt.Errorf("%w for %s: %s; run on a terminal, or give the PIN with --pin-file or PIVAUTH_PIN",
		ErrNoPIN, req.Reader, strings.Join(why, "; "))
}

// DefaultPINSource is the source a signer uses when Options.PIN is nil:
// PIVAUTH_PIN when set (read and removed from the environment now, see Env),
// else the terminal, else pinentry when a display is available. It never
// reads standard input, so a process without a terminal fails at once with
// an error saying how to supply the PIN instead of hanging.
func DefaultPINSource() PINSource {
	return Chain(Env(), Terminal(), Pinentry())
}
