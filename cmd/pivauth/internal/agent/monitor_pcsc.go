package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pivauth/pivauth/internal/pcsc"
)

// PCSCMonitor is the Monitor over pcscd: pcsc-lite counts card insertions and removals per reader
// in the upper 16 bits of a reader's event state, so a pull-and-reinsert between two looks is still
// seen as a change, however fast it was.
type PCSCMonitor struct{}

// epochOf turns a reader state into an epoch: the event count, and presence for PC/SC stacks that
// do not count.
func epochOf(st pcsc.StateFlag) uint64 {
	e := uint64(st>>16) << 1
	if st&pcsc.StatePresent != 0 {
		e |= 1
	}
	return e
}

// Epoch returns reader's current epoch.
func (PCSCMonitor) Epoch(reader string) (uint64, error) {
	sc, err := pcsc.EstablishContext()
	if err != nil {
		return 0, fmt.Errorf("pcsc: %w", err)
	}
	defer sc.Release()
	rs := []pcsc.ReaderState{{Reader: reader, CurrentState: pcsc.StateUnaware}}
	if err := sc.GetStatusChange(rs, 0); err != nil {
		return 0, fmt.Errorf("pcsc: reader %q: %w", reader, err)
	}
	if rs[0].EventState&(pcsc.StateUnknown|pcsc.StateUnavailable) != 0 {
		return 0, fmt.Errorf("pcsc: reader %q is gone", reader)
	}
	return epochOf(rs[0].EventState), nil
}

// waitSlice bounds one SCardGetStatusChange: SCardCancel wakes a wait at once, but misses a
// cancel that lands just before the wait starts.
const waitSlice = 500 * time.Millisecond

// Wait blocks until reader's epoch differs from epoch (or the reader disappears: nil), or ctx ends.
func (PCSCMonitor) Wait(ctx context.Context, reader string, epoch uint64) error {
	sc, err := pcsc.EstablishContext()
	if err != nil {
		return fmt.Errorf("pcsc: %w", err)
	}
	defer sc.Release()
	stop := context.AfterFunc(ctx, func() { _ = sc.Cancel() })
	defer stop()
	rs := []pcsc.ReaderState{{Reader: reader, CurrentState: pcsc.StateUnaware}}
	for {
		err := sc.GetStatusChange(rs, waitSlice)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, pcsc.ErrTimeout) {
			continue
		}
		if err != nil {
			return fmt.Errorf("pcsc: reader %q: %w", reader, err)
		}
		st := rs[0].EventState
		if st&(pcsc.StateUnknown|pcsc.StateUnavailable) != 0 || epochOf(st) != epoch {
			return nil
		}
		rs[0].CurrentState = st &^ pcsc.StateChanged
	}
}
