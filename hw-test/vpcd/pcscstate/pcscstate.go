// Package pcscstate asks pcscd which readers exist and waits for a card to
// appear in or leave a reader: what the bench needs from PC/SC to know that
// a virtual card is attached ("present" is PC/SC's word, not the
// transport's).
package pcscstate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pivauth/pivauth/internal/pcsc"
)

// Readers lists the readers pcscd knows; none is an empty list, not an
// error.
func Readers() ([]string, error) {
	ctx, err := pcsc.EstablishContext()
	if err != nil {
		return nil, fmt.Errorf("pcscstate: connect to pcscd: %w (is pcscd running? hw-test/bench up starts it)", err)
	}
	defer ctx.Release()
	r, err := ctx.ListReaders()
	if errors.Is(err, pcsc.ErrNoReadersAvailable) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pcscstate: list readers: %w", err)
	}
	return r, nil
}

// pollInterval bounds one GetStatusChange call, so a cancelled ctx is
// noticed soon.
const pollInterval = 200 * time.Millisecond

// Wait blocks until reader holds a card (present) or is empty (!present),
// or ctx ends.
func Wait(ctx context.Context, reader string, present bool) error {
	pc, err := pcsc.EstablishContext()
	if err != nil {
		return fmt.Errorf("pcscstate: connect to pcscd: %w (is pcscd running? hw-test/bench up starts it)", err)
	}
	defer pc.Release()
	rs := []pcsc.ReaderState{{Reader: reader, CurrentState: pcsc.StateUnaware}}
	for {
		err := pc.GetStatusChange(rs, pollInterval)
		switch {
		case err == nil:
			st := rs[0].EventState
			if st&pcsc.StateUnknown != 0 {
				return fmt.Errorf("pcscstate: pcscd has no reader %q", reader)
			}
			if (st&pcsc.StatePresent != 0) == present {
				return nil
			}
			rs[0].CurrentState = st &^ pcsc.StateChanged
		case errors.Is(err, pcsc.ErrTimeout):
		default:
			return fmt.Errorf("pcscstate: wait for reader %q: %w", reader, err)
		}
		if ctx.Err() != nil {
			want := "a card"
			if !present {
				want = "no card"
			}
			return fmt.Errorf("pcscstate: reader %q still does not report %s: %w", reader, want, ctx.Err())
		}
	}
}
