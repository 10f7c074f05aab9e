package piv

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pivauth/pivauth/internal/pcsc"
)

// establish opens a PC/SC context, saying what to do when pcscd is missing.
func establish() (*pcsc.Context, error) {
	sc, err := pcsc.EstablishContext()
	if err != nil {
		if noService(err) {
			return nil, fmt.Errorf("piv: %w: %w", ErrNoService, err)
		}
		return nil, fmt.Errorf("piv: connecting to the PC/SC service: %w", err)
	}
	return sc, nil
}

// noService reports the PC/SC errors of a service that is not there (never
// started, or stopped since the context was made).
func noService(err error) bool {
	return errors.Is(err, pcsc.ErrNoService) || errors.Is(err, pcsc.ErrServiceStopped)
}

// pcscFailure wraps the error of a PC/SC call made for what, adding
// ErrNoService when the service is gone.
func pcscFailure(what string, err error) error {
	if noService(err) {
		return fmt.Errorf("piv: %s: %w: %w", what, ErrNoService, err)
	}
	return fmt.Errorf("piv: %s: %w", what, err)
}

// listReaders lists the readers of a context; no reader is an empty list.
func listReaders(sc *pcsc.Context) ([]string, error) {
	readers, err := sc.ListReaders()
	if errors.Is(err, pcsc.ErrNoReadersAvailable) {
		return nil, nil
	}
	if err != nil {
		return nil, pcscFailure("listing readers", err)
	}
	return readers, nil
}

// Readers lists the names of the smart card readers PC/SC knows, with or
// without a card.
func Readers(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sc, err := establish()
	if err != nil {
		return nil, err
	}
	defer sc.Release()
	return listReaders(sc)
}

// presentReaders returns the readers that hold a card right now.
func presentReaders(sc *pcsc.Context) ([]string, error) {
	readers, err := listReaders(sc)
	if err != nil || len(readers) == 0 {
		return nil, err
	}
	states := make([]pcsc.ReaderState, len(readers))
	for i, r := range readers {
		states[i] = pcsc.ReaderState{Reader: r, CurrentState: pcsc.StateUnaware}
	}
	if err := sc.GetStatusChange(states, 0); err != nil && !errors.Is(err, pcsc.ErrTimeout) {
		return nil, pcscFailure("reading reader states", err)
	}
	var out []string
	for _, s := range states {
		if s.EventState&pcsc.StatePresent != 0 && s.EventState&pcsc.StateMute == 0 {
			out = append(out, s.Reader)
		}
	}
	return out, nil
}

// cardGone reports whether the card in reader is absent, or goes away
// within wait. A transport error mid-command may reach us before pcscd's
// reader thread has noticed the removal; waiting a little for the state
// change tells a pulled card from a broken exchange.
func cardGone(sc *pcsc.Context, reader string, wait time.Duration) bool {
	st := []pcsc.ReaderState{{Reader: reader, CurrentState: pcsc.StateUnaware}}
	if err := sc.GetStatusChange(st, 0); err != nil {
		return errors.Is(err, pcsc.ErrUnknownReader) || errors.Is(err, pcsc.ErrReaderUnavailable)
	}
	if st[0].EventState&pcsc.StatePresent == 0 {
		return true
	}
	st[0].CurrentState = st[0].EventState &^ pcsc.StateChanged
	if err := sc.GetStatusChange(st, wait); err != nil {
		return errors.Is(err, pcsc.ErrUnknownReader) || errors.Is(err, pcsc.ErrReaderUnavailable)
	}
	return st[0].EventState&pcsc.StatePresent == 0
}

// isRemoval reports the PC/SC errors that mean the card or its reader is gone.
func isRemoval(err error) bool {
	for _, e := range []pcsc.Error{pcsc.ErrRemovedCard, pcsc.ErrNoSmartcard, pcsc.ErrUnknownReader, pcsc.ErrReaderUnavailable} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// isTransportFailure reports the PC/SC errors a card pulled mid-command
// may show up as before pcscd reports the removal.
func isTransportFailure(err error) bool {
	for _, e := range []pcsc.Error{pcsc.ErrNotTransacted, pcsc.ErrCommError, pcsc.ErrUnresponsiveCard,
		pcsc.ErrUnpoweredCard, pcsc.ErrCommDataLost, pcsc.ErrInvalidHandle} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// connectError explains a failed SCardConnect.
func connectError(reader string, err error) error {
	switch {
	case isRemoval(err):
		return removedError(reader)
	case errors.Is(err, pcsc.ErrSharingViolation):
		return fmt.Errorf("piv: reader %q: another application holds the card exclusively: close it and retry: %w", reader, err)
	}
	return pcscFailure(fmt.Sprintf("reader %q: connecting to the card", reader), err)
}
