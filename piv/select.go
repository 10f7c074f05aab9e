package piv

import "fmt"

// pivAID is the right-truncated PIV application identifier every PIV card
// must select by (SP 800-73-4 part 1, 2.2).
var pivAID = []byte{0xA0, 0x00, 0x00, 0x03, 0x08}

// ensureSelected selects the PIV application when the card may have lost it.
func (tx *Tx) ensureSelected() error {
	if tx.c.selected {
		return nil
	}
	return tx.selectPIV()
}

// selectPIV sends SELECT for the PIV application. Selecting resets the
// application's security status, which is why the engine selects only when
// the card lost its state, never before every operation.
func (tx *Tx) selectPIV() error {
	// Short, Le 00 (planLength says why); a longer answer than 256 bytes
	// would come through GET RESPONSE.
	_, sw, err := tx.c.exchange(Command{Ins: insSelect, P1: 0x04, Data: pivAID, Ne: maxShortNe})
	if err != nil {
		return err
	}
	if sw != 0x9000 {
		return &NotPIVError{Reader: tx.c.reader, SW: sw}
	}
	tx.c.selected, tx.confirmed = true, true
	return nil
}

// NotPIVError reports a card present in a reader that does not answer as a
// PIV card: SELECT of the PIV application answered SW instead of 9000 (6A82:
// the card has no PIV application; 6986 or 6D00: a runtime or application
// that refused the command). It matches ErrNotPIV and, through errors.As, the
// *StatusError of the SELECT.
type NotPIVError struct {
	// Reader is the reader holding the card.
	Reader string
	// SW is the status word SELECT answered.
	SW uint16
}

// Error names the reader, the status word and its meaning, e.g. `the card
// in reader "R" does not answer as a PIV card: SELECT answered 6986 (command
// not allowed)`.
func (e *NotPIVError) Error() string {
	msg := fmt.Sprintf("the card in reader %q does not answer as a PIV card: SELECT answered %04X", e.Reader, e.SW)
	what := swText(e.SW)
	if e.SW == 0x6A82 {
		what = "no PIV application on the card"
	}
	if what != "" {
		msg += " (" + what + ")"
	}
	return msg
}

// Unwrap makes the error match ErrNotPIV and the SELECT's *StatusError.
func (e *NotPIVError) Unwrap() []error {
	return []error{ErrNotPIV, &StatusError{Ins: insSelect, SW: e.SW}}
}
