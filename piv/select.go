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
	_, sw, err := tx.c.exchange(Command{Ins: insSelect, P1: 0x04, Data: pivAID, Ne: MaxNe})
	if err != nil {
		return err
	}
	switch sw {
	case 0x9000:
	case 0x6A82:
		return fmt.Errorf("piv: reader %q: %w", tx.c.reader, ErrNotPIV)
	default:
		return fmt.Errorf("piv: reader %q: selecting the PIV application: %w", tx.c.reader, &StatusError{Ins: insSelect, SW: sw})
	}
	tx.c.selected, tx.confirmed = true, true
	return nil
}
