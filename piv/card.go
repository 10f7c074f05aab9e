package piv

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pivauth/pivauth/internal/pcsc"
)

// removalWait bounds how long a transport error waits for pcscd to report
// the card gone before it is reported as a plain transport error.
const removalWait = 1 * time.Second

// Card is an open PIV card. It holds a shared PC/SC connection and never
// keeps the card exclusively between operations: each operation runs in one
// PC/SC transaction (Transaction). A Card is safe for concurrent use; its
// operations are serialized.
type Card struct {
	mu     sync.Mutex
	sc     *pcsc.Context
	h      *pcsc.Card // nil while disconnected (card removed, or lent to piv-go)
	reader string
	atr    []byte
	ext    extSupport
	// selected is false when the card may have lost the PIV selection
	// (new connection, reset): the next transaction SELECTs first.
	selected bool
	trace    func(cmd, resp []byte)
	ident    *Identity // cached by Identity
	yk       ykProbe   // YubiKey extensions, probed once per connection
	// conn numbers the connection (see Tx.Connection): incremented by
	// every connect and by every reconnection after a reset.
	conn   uint64
	closed bool
}

// errCardReset is a transmit that found the card reset by another
// application (SCARD_W_RESET_CARD); the transaction reconnects and redoes
// the operation once.
var errCardReset = errors.New("card was reset")

// openReader connects to the card in reader and selects the PIV application.
func openReader(reader string) (*Card, error) {
	sc, err := establish()
	if err != nil {
		return nil, err
	}
	c := &Card{sc: sc, reader: reader}
	if err := c.connect(); err != nil {
		sc.Release()
		return nil, err
	}
	if err := c.Transaction(context.Background(), func(*Tx) error { return nil }); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// connect makes a new shared connection. Whatever we knew about the card is
// forgotten: after a removal another card may be in the reader.
func (c *Card) connect() error {
	h, err := c.sc.Connect(c.reader, pcsc.ShareShared, pcsc.ProtocolAny)
	if err != nil {
		return connectError(c.reader, err)
	}
	st, err := h.Status()
	if err != nil {
		h.Disconnect(pcsc.LeaveCard)
		return connectError(c.reader, err)
	}
	c.h, c.atr = h, append([]byte(nil), st.Atr...)
	c.ext = atrExtended(c.atr)
	c.selected, c.ident, c.yk = false, nil, ykProbe{}
	c.conn++
	return nil
}

// drop forgets a connection whose card is gone.
func (c *Card) drop() {
	if c.h != nil {
		c.h.Disconnect(pcsc.LeaveCard)
		c.h = nil
	}
	c.selected = false
}

// Reader returns the name of the card's reader.
func (c *Card) Reader() string { return c.reader }

// ATR returns the card's answer to reset.
func (c *Card) ATR() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.atr...)
}

// ATRSaysYubiKey reports whether the card's answer to reset names a YubiKey
// (its historical bytes spell "YubiKey"). It costs no APDU, which is what it
// is for: deciding what to try first (per-key PIN and touch policies exist
// only on a YubiKey). It is a claim, not a proof; Identity asks the card.
func (c *Card) ATRSaysYubiKey() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return atrSaysYubiKey(c.atr)
}

// SetTrace installs a hook that sees every command APDU and its response
// (for --verbose logs). PINs, PUKs and imported keys in command data, and
// decrypted or agreed secrets in responses, are replaced before the hook
// sees them. nil removes the hook.
func (c *Card) SetTrace(fn func(cmd, resp []byte)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trace = fn
}

// Close releases the connection and the PC/SC context, leaving the card as
// it is. Close is idempotent.
func (c *Card) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	c.drop()
	if err := c.sc.Release(); err != nil {
		return fmt.Errorf("piv: releasing the PC/SC context: %w", err)
	}
	return nil
}

// Transaction runs fn in one PC/SC transaction: no other application can
// talk to the card until fn returns. The PIV application is selected first
// if the card may have lost it; a card reset by another application is
// reconnected and fn run again once; a card taken out and put back is
// reconnected at the next transaction. fn must not call methods of the Card.
func (c *Card) Transaction(ctx context.Context, fn func(*Tx) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("piv: card is closed")
	}
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.begin(); err != nil {
			return err
		}
		err := c.run(fn)
		if errors.Is(err, errCardReset) && attempt == 0 {
			continue
		}
		if errors.Is(err, errCardReset) {
			return fmt.Errorf("piv: reader %q: the card was reset twice during one operation: retry", c.reader)
		}
		return err
	}
}

// run runs fn in the transaction begun and ends it, also when fn panics (a
// caller that recovers must not find the card held by a transaction that
// never ends). A transaction whose Tx asked for a reset (Tx.resetAtEnd) ends
// with one, in the same PC/SC call, so that no other application gets the
// card between the end and the reset.
func (c *Card) run(fn func(*Tx) error) (err error) {
	tx := &Tx{c: c}
	defer func() {
		tx.done = true
		if c.h == nil {
			return
		}
		if !tx.reset {
			c.h.EndTransaction(pcsc.LeaveCard)
			return
		}
		c.selected = false
		if rerr := c.h.EndTransaction(pcsc.ResetCard); rerr != nil && !isRemoval(rerr) {
			err = errors.Join(err, fmt.Errorf("piv: reader %q: resetting the card to end its security status (it may be left verified: remove it): %w", c.reader, rerr))
		}
	}()
	if err = tx.ensureSelected(); err != nil {
		return err
	}
	return fn(tx)
}

// begin starts a PC/SC transaction, reconnecting when the card was reset or
// replaced since the last one.
func (c *Card) begin() error {
	if c.h == nil {
		if err := c.connect(); err != nil {
			return err
		}
	}
	for i := 0; ; i++ {
		err := c.h.BeginTransaction()
		if err == nil {
			return nil
		}
		if i == 2 {
			return pcscFailure(fmt.Sprintf("reader %q: starting a transaction", c.reader), err)
		}
		switch {
		case errors.Is(err, pcsc.ErrResetCard):
			if err := c.reconnect(); err != nil {
				return err
			}
		case isRemoval(err) || errors.Is(err, pcsc.ErrInvalidHandle):
			c.drop()
			if err := c.connect(); err != nil {
				return err
			}
		default:
			return pcscFailure(fmt.Sprintf("reader %q: starting a transaction", c.reader), err)
		}
	}
}

// reconnect acknowledges a reset: the connection stays, the selection and
// security status are gone.
func (c *Card) reconnect() error {
	if err := c.h.Reconnect(pcsc.ShareShared, pcsc.ProtocolAny, pcsc.LeaveCard); err != nil {
		if isRemoval(err) {
			c.drop()
			return removedError(c.reader)
		}
		return fmt.Errorf("piv: reader %q: reconnecting after a reset: %w", c.reader, err)
	}
	c.selected = false
	c.conn++
	return nil
}

// send transmits one APDU and traces it. Removal and reset come back as
// removedError and errCardReset.
func (c *Card) send(apdu []byte, secretResp bool) ([]byte, error) {
	if c.h == nil {
		return nil, removedError(c.reader)
	}
	resp, err := c.h.Transmit(apdu)
	if err != nil {
		switch {
		case errors.Is(err, pcsc.ErrResetCard):
			// The next begin reconnects (pcscd answers every call on this
			// handle with the reset warning until then) and selects again.
			c.selected = false
			return nil, errCardReset
		case isRemoval(err) || isTransportFailure(err) && cardGone(c.sc, c.reader, removalWait):
			c.drop()
			return nil, removedError(c.reader)
		}
		return nil, pcscFailure(fmt.Sprintf("reader %q: transmit", c.reader), err)
	}
	if len(resp) < 2 {
		// vpcd, for one, answers an empty response when the card goes away
		// mid-command.
		if cardGone(c.sc, c.reader, removalWait) {
			c.drop()
			return nil, removedError(c.reader)
		}
		return nil, fmt.Errorf("piv: reader %q: response of %d bytes has no status word", c.reader, len(resp))
	}
	if c.trace != nil {
		r := resp
		if secretResp {
			r = redactResponse(resp)
		}
		c.trace(redactCommand(apdu), append([]byte(nil), r...))
	}
	return resp, nil
}

// exchange sends one command with the length encoding planLength picks. A
// probe (the first long command on a T=1 card whose ATR does not say)
// records extended length as supported only when the extended command
// succeeded (9000). On any other answer, and on a transport failure that is
// neither a removal nor a reset, the command is sent again as short APDUs;
// when that succeeds the card is recorded as taking short APDUs only, and
// when it fails too nothing is recorded: the next long command probes again.
func (c *Card) exchange(cmd Command) ([]byte, uint16, error) {
	send := func(apdu []byte) ([]byte, error) { return c.send(apdu, cmd.secretResp) }
	t1 := c.h != nil && c.h.ActiveProtocol() == pcsc.ProtocolT1
	return exchangeWith(send, cmd, &c.ext, t1)
}

// exchangeWith is Card.exchange over a send function, updating *ext with
// what a probe learned.
func exchangeWith(send func([]byte) ([]byte, error), cmd Command, ext *extSupport, t1 bool) ([]byte, uint16, error) {
	plan := planLength(cmd, *ext, t1)
	if plan != planProbe {
		return exchange(send, cmd, plan == planExtended)
	}
	data, sw, err := exchange(send, cmd, true)
	switch {
	case err == nil && sw == 0x9000:
		*ext = extYes
		return data, sw, nil
	case err != nil && (errors.Is(err, errCardReset) || errors.Is(err, ErrCardRemoved)):
		return nil, 0, err
	}
	data, sw, err = exchange(send, cmd, false)
	if err == nil && sw == 0x9000 {
		*ext = extNo
	}
	return data, sw, err
}

// Tx is one PC/SC transaction on a card, handed to the function given to
// Card.Transaction. Its methods send SP 800-73-4 commands; it is valid only
// until that function returns.
type Tx struct {
	c *Card
	// confirmed is set once a command in this transaction was answered as
	// the PIV application answers: until then an answer that looks like
	// another application's leads to a SELECT and one retry.
	confirmed bool
	// done is set when the transaction ended; the Tx is unusable then.
	done bool
	// reset is set when only a card reset is known to end the security
	// status the transaction set (Tx.resetAtEnd).
	reset bool
}

// Reader returns the name of the card's reader.
func (tx *Tx) Reader() string { return tx.c.reader }

// Connection identifies the PC/SC connection the transaction runs on. The
// engine reconnects on its own, without an error to the caller, whenever it
// finds its connection gone at the start of a transaction: the card was taken
// out (and another card may be in the reader now), another application reset
// it, or it was lent to piv-go for a YubiKey management command. Connection
// then returns a different value. Whatever a caller learned about the card on
// an earlier connection (its keys above all) must be checked again before it
// is relied on: a card swapped between two transactions shows nowhere else.
// The first connection is 1, so 0 never names one.
func (tx *Tx) Connection() uint64 { return tx.c.conn }

// notSelectedSW reports status words a card gives when the command reached
// another application than PIV (another program selected it between our
// transactions): unknown instruction or class, wrong parameters, not found
// (a card manager answers GET DATA 3FFF with 6A88).
func notSelectedSW(sw uint16) bool {
	switch sw {
	case 0x6D00, 0x6E00, 0x6A82, 0x6A88, 0x6A86, 0x6B00, 0x6986, 0x6881:
		return true
	}
	return false
}

// Transmit sends a command and returns its response data. A status word
// other than 9000 is a *StatusError. If the first command of a transaction
// is answered as if the PIV application were not selected, the application
// is selected again and the command sent once more.
func (tx *Tx) Transmit(cmd Command) ([]byte, error) {
	if tx.done {
		return nil, errors.New("piv: a Tx was used after its transaction ended")
	}
	data, sw, err := tx.c.exchange(cmd)
	if err != nil {
		return nil, err
	}
	if notSelectedSW(sw) && !tx.confirmed && cmd.Ins != insSelect {
		if err := tx.selectPIV(); err != nil {
			return nil, err
		}
		if data, sw, err = tx.c.exchange(cmd); err != nil {
			return nil, err
		}
	}
	if !notSelectedSW(sw) {
		tx.confirmed = true
	}
	if sw != 0x9000 {
		return data, &StatusError{Ins: cmd.Ins, SW: sw}
	}
	return data, nil
}
