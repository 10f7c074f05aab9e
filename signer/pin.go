package signer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

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
	// Card names the card as CardName does ("YubiKey 5.7.1 #96375739",
	// "PIV card of Jane Doe (jane.doe@agency.gov)") once the signer knows it;
	// empty otherwise, and the reader names it.
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

// Description is the sentence a prompt shows: after a refused PIN, that it
// was wrong and the tries left ("Wrong PIN: 2 tries left."), then which card,
// which slot and, on a first request, how many tries are left. It is Notice
// and Question in one line, for a dialog (pinentry) that shows one text.
func (r PINRequest) Description() string {
	if n := r.Notice(); n != "" {
		return n + " " + r.Question()
	}
	return r.Question()
}

// Notice is what a prompt says before asking again after the card refused a
// PIN ("Wrong PIN: 2 tries left."), or "" on a first request.
func (r PINRequest) Notice() string {
	switch {
	case !r.Retry:
		return ""
	case r.Retries == 1:
		return "Wrong PIN: 1 try left, the LAST before the PIN blocks."
	case r.Retries > 1:
		return fmt.Sprintf("Wrong PIN: %d tries left.", r.Retries)
	}
	return "Wrong PIN."
}

// Question asks for the PIN: "PIN for YubiKey 5.7.1 #96375739, slot 9a (3
// tries left)". The card is named as CardName names it when the signer knows
// the card, else by its reader. After a refused PIN the tries left are in
// Notice instead.
func (r PINRequest) Question() string {
	var b strings.Builder
	b.WriteString("PIN for ")
	if r.Card != "" {
		b.WriteString(r.Card)
	} else {
		fmt.Fprintf(&b, "the card in %q", r.Reader)
	}
	fmt.Fprintf(&b, ", slot %s", r.Slot)
	switch {
	case r.Retry:
	case r.Retries == 1:
		b.WriteString(" (LAST try before the PIN blocks)")
	case r.Retries > 1:
		fmt.Fprintf(&b, " (%d tries left)", r.Retries)
	}
	return b.String()
}

// Interactive is implemented by a PINSource that asks a person (the
// terminal, pinentry). After the card refuses a PIN such a source gave, the
// signer asks it again in the same operation (PINRequest.Retry set, with the
// tries left) as long as the lockout guard allows; any other source's refused
// PIN ends the operation with the *PINError, and only a later operation asks
// it again. A PIN from a file or the environment is never asked again: the
// same PIN would only use up another try.
type Interactive interface {
	PINSource
	// AsksPerson reports whether the PIN the source gave last was typed by
	// a person, who can be asked again.
	AsksPerson() bool
}

// asksPerson reports whether src's last PIN came from a person (Interactive).
func asksPerson(src PINSource) bool {
	i, ok := src.(Interactive)
	return ok && i.AsksPerson()
}

var (
	// ErrNoPIN is wrapped by the error of a source that cannot supply a PIN
	// here, and by Chain's error when no source could.
	ErrNoPIN = errors.New("no PIN available")
	// ErrPINCanceled reports that the person canceled the PIN prompt.
	ErrPINCanceled = errors.New("PIN entry canceled")
	// ErrPINNotRetried is wrapped by Chain's error when it is asked again
	// (PINRequest.Retry) after the card refused a PIN from a source that asks
	// no person (a file, the environment): that source would give the same
	// PIN, and the chain does not fall through to a prompt either, which
	// would hide that the configured PIN is wrong.
	ErrPINNotRetried = errors.New("PIN not asked again")
)

// noPIN returns an error wrapping ErrNoPIN that says why the source declined.
func noPIN(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNoPIN, fmt.Sprintf(format, args...))
}

// Chain returns a source that asks each source in turn and returns the first
// PIN given. A source declining with ErrNoPIN passes to the next; any other
// error (a canceled prompt, an unsafe PIN file) stops the chain, because
// falling through would hide it. When every source declines, the error lists
// each reason. After the card refused a PIN (PINRequest.Retry), only the
// source that gave it is asked, and only if it asks a person (Interactive);
// otherwise the error wraps ErrPINNotRetried. The chain is Interactive: the
// signer asks it again in the same operation when a person typed the PIN.
func Chain(sources ...PINSource) PINSource { return &chain{sources: sources} }

// chain remembers which source gave the last PIN: after the card refused it
// (PINRequest.Retry), only a source that asks a person is asked again.
type chain struct {
	sources []PINSource
	mu      sync.Mutex
	last    PINSource // the source of the last PIN given; nil before one
}

func (c *chain) PIN(ctx context.Context, req PINRequest) ([]byte, error) {
	c.mu.Lock()
	last := c.last
	c.mu.Unlock()
	if req.Retry && last != nil && !asksPerson(last) {
		_, err := last.PIN(ctx, req) // it declines a retry, saying which PIN to correct
		if err == nil {
			err = errors.New("asked again") // a source that retries should be Interactive; never send it
		}
		why := strings.TrimPrefix(err.Error(), ErrNoPIN.Error()+": ")
		switch {
		case req.Retries == 1:
			why += " (1 try left)"
		case req.Retries > 1:
			why += fmt.Sprintf(" (%d tries left)", req.Retries)
		}
		return nil, fmt.Errorf("%w: %s", ErrPINNotRetried, why)
	}
	var why []string
	for _, s := range c.sources {
		pin, err := s.PIN(ctx, req)
		if err == nil {
			c.mu.Lock()
			c.last = s
			c.mu.Unlock()
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

// AsksPerson reports whether the last PIN came from a source that asks a
// person (see Interactive).
func (c *chain) AsksPerson() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last != nil && asksPerson(c.last)
}

// DefaultPINSource is the source a signer uses when Options.PIN is nil:
// PIVAUTH_PIN when set (read and removed from the environment now, see Env),
// else the terminal, else pinentry when a display is available. It never
// reads standard input, so a process without a terminal fails at once with
// an error saying how to supply the PIN instead of hanging.
func DefaultPINSource() PINSource {
	return Chain(Env(), Terminal(), Pinentry())
}
