package piv

import (
	"context"
	"errors"
	"time"

	"github.com/pivauth/pivauth/internal/pcsc"
)

// pnpReader is pcsc-lite's pseudo reader whose state changes when a reader
// is plugged in or out.
const pnpReader = `\\?PnP?\Notification`

// waitSlice bounds one SCardGetStatusChange. Cancellation normally wakes the
// wait at once through SCardCancel; the bound covers a cancel that lands
// just before the wait starts, which SCardCancel would miss.
const waitSlice = 500 * time.Millisecond

// WaitForCard waits until a card the selector picks is present and returns
// its reader. It returns at once if one is already there, and ctx.Err()
// when ctx ends first. A selector by serial or GUID identifies each new card.
func WaitForCard(ctx context.Context, sel Selector) (string, error) {
	sc, err := establish()
	if err != nil {
		return "", err
	}
	defer sc.Release()
	stop := context.AfterFunc(ctx, func() { sc.Cancel() })
	defer stop()

	// seen holds the event counter (the upper 16 bits of the event state)
	// at which a card was found not to match, so it is identified once.
	seen := map[string]pcsc.StateFlag{}
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		readers, err := listReaders(sc)
		if err != nil {
			return "", err
		}
		readers = sel.filterReaders(readers)
		states := make([]pcsc.ReaderState, 0, len(readers)+1)
		for _, r := range readers {
			states = append(states, pcsc.ReaderState{Reader: r, CurrentState: pcsc.StateUnaware})
		}
		if err := sc.GetStatusChange(states, 0); err != nil && !errors.Is(err, pcsc.ErrTimeout) {
			return "", pcscFailure("reading reader states", err)
		}
		for _, s := range states {
			if s.EventState&pcsc.StatePresent == 0 || s.EventState&pcsc.StateMute != 0 {
				continue
			}
			if count, ok := seen[s.Reader]; ok && count == s.EventState>>16 {
				continue
			}
			if !sel.needsIdentity() {
				return s.Reader, nil
			}
			if c, err := openMatching(ctx, s.Reader, sel); err == nil && c != nil {
				c.Close()
				return s.Reader, nil
			}
			seen[s.Reader] = s.EventState >> 16
		}
		// Sleep until a card or reader comes or goes.
		for i := range states {
			states[i].CurrentState = states[i].EventState &^ pcsc.StateChanged
		}
		states = append(states, pcsc.ReaderState{Reader: pnpReader, CurrentState: pcsc.StateFlag(len(readers) << 16)})
		err = sc.GetStatusChange(states, waitSlice)
		switch {
		case err == nil, errors.Is(err, pcsc.ErrTimeout):
		case errors.Is(err, pcsc.ErrCancelled):
			if ctxErr := ctx.Err(); ctxErr != nil {
				return "", ctxErr
			}
		case errors.Is(err, pcsc.ErrUnknownReader):
			// A reader went away between listing and waiting, or pcscd has
			// no PnP notification: list again after a pause.
			select {
			case <-ctx.Done():
			case <-time.After(waitSlice):
			}
		default:
			return "", pcscFailure("waiting for a card", err)
		}
	}
}
