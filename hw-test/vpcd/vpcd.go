// Package vpcd attaches a virtual card to a reader of the vsmartcard vpcd
// driver that pcscd loads, so a card model written in Go is reached through
// the real PC/SC stack (libpcsclite, pcscd, an IFD handler).
//
// vpcd listens on a TCP port per reader slot; the card connects to it as a
// client. Every message in both directions is a 2-byte big-endian length and
// a payload. A 1-byte payload from vpcd is a control code (power off, power
// on, reset, get ATR); anything longer is a command APDU, answered with the
// response APDU. vpcd asks for the ATR on every presence poll (~400 ms), and
// pcscd sees a card removal when the connection closes.
//
// On top of the transport the package injects the faults a real reader and
// card show: latency, removal (Pull), removal in the middle of a command
// (PullDuring) and a flaky connection (SetFlaky).
package vpcd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"
)

// Card is what the transport needs from a card model; *vcard.Card
// implements it.
type Card interface {
	ATR() []byte
	Reset()
	Transmit(apdu []byte) []byte
}

// Control codes vpcd sends as a 1-byte message.
const (
	ctrlPowerOff = 0
	ctrlPowerOn  = 1
	ctrlReset    = 2
	ctrlATR      = 4
)

// Options configure an Attachment.
type Options struct {
	// Latency is added before every APDU is answered, like a slow card.
	Latency time.Duration
	// Trace, when set, receives one line per APDU in each direction
	// ("> 00A40400…" and "< 9000"). The data of VERIFY, CHANGE REFERENCE
	// DATA, RESET RETRY COUNTER and Yubico's IMPORT KEY and SET MANAGEMENT
	// KEY is replaced by its length, so no PIN, PUK or key reaches a trace.
	Trace io.Writer
}

// Flaky describes a connection that fails now and then.
type Flaky struct {
	// Rate is the fraction of command APDUs that fail, 0 (off) to 1.
	Rate float64
	// SW, when not zero, is the status word answered instead of passing the
	// APDU to the card; 0x6F00 (no precise diagnosis) is what a card
	// answers on an internal error. When zero, the connection drops instead,
	// the way a reader with a bad contact loses a command: it never reaches
	// the card, pcscd answers that SCardTransmit with SCARD_E_NOT_TRANSACTED
	// ("Transaction failed"), and the card is back at vpcd's next presence
	// poll with its state (selection, PIN status) kept; until then, up to
	// ~400 ms, every APDU fails the same way. PC/SC reports no removal: a
	// host retries.
	SW uint16
	// Seed makes the sequence of failures reproducible.
	Seed uint64
}

// Attachment is a card attached to one vpcd port. It reconnects whenever
// vpcd closes the connection (pcscd restarted) until Close.
type Attachment struct {
	card Card
	addr string

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced whenever the fields below change
	inserted  bool
	closed    bool
	conn      net.Conn
	connected bool
	pullINS   int  // INS whose next APDU pulls the card; -1 when not armed
	keepState bool // the last connection dropped as a flaky one: the card kept its power
	latency   time.Duration
	flaky     Flaky
	rng       *rand.Rand
	trace     io.Writer

	done chan struct{}
}

// Attach starts serving card on 127.0.0.1:port in the background. The card
// counts as inserted: the transport keeps trying to connect until vpcd
// accepts. Call Close to detach.
func Attach(card Card, port int, opts Options) *Attachment {
	a := &Attachment{
		card:     card,
		addr:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		changed:  make(chan struct{}),
		inserted: true,
		pullINS:  -1,
		latency:  opts.Latency,
		trace:    opts.Trace,
		done:     make(chan struct{}),
	}
	go a.run()
	return a
}

// notify wakes everybody waiting for a change; a.mu must be held.
func (a *Attachment) notify() {
	close(a.changed)
	a.changed = make(chan struct{})
}

// dropConn closes the current connection; a.mu must be held.
func (a *Attachment) dropConn() {
	if a.conn != nil {
		a.conn.Close()
		a.conn = nil
	}
	a.connected = false
	a.notify()
}

// Pull removes the card: the connection closes and pcscd reports the card
// removed at its next poll. The card stays out until Insert.
func (a *Attachment) Pull() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inserted = false
	a.pullINS = -1
	a.dropConn()
}

// Insert puts a pulled card back: the transport connects again and pcscd
// reports a fresh card (powered up, volatile state cleared).
func (a *Attachment) Insert() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inserted = true
	a.notify()
}

// PullDuring arms a removal in the middle of a command: the next command
// APDU with instruction ins is swallowed (the card never sees it) and the
// card is pulled, so the host's SCardTransmit fails while it waits for the
// answer. The card stays out until Insert.
func (a *Attachment) PullDuring(ins byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pullINS = int(ins)
}

// SetLatency changes the delay added before every APDU is answered.
func (a *Attachment) SetLatency(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.latency = d
}

// SetFlaky turns the flaky connection on (f.Rate > 0) or off.
func (a *Attachment) SetFlaky(f Flaky) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.flaky = f
	a.rng = rand.New(rand.NewPCG(f.Seed, f.Seed^0x9E3779B97F4A7C15))
}

// Inserted reports whether the card is in: not pulled, or inserted again.
func (a *Attachment) Inserted() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inserted
}

// Connected reports whether vpcd holds a connection to the card right now.
// vpcd's kernel backlog accepts a connection before pcscd does, so this is
// not yet "present" for PC/SC: ask PC/SC for that.
func (a *Attachment) Connected() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.connected
}

// Close detaches the card for good and waits for the transport to stop.
func (a *Attachment) Close() error {
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		a.dropConn()
	}
	a.mu.Unlock()
	<-a.done
	return nil
}

// run connects, serves and reconnects until Close.
func (a *Attachment) run() {
	defer close(a.done)
	backoff := 20 * time.Millisecond
	for {
		a.mu.Lock()
		closed, inserted, changed := a.closed, a.inserted, a.changed
		a.mu.Unlock()
		if closed {
			return
		}
		if !inserted {
			<-changed
			continue
		}
		conn, err := net.DialTimeout("tcp", a.addr, time.Second)
		if err != nil {
			// vpcd is not listening (pcscd not running or restarting).
			select {
			case <-changed:
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 500*time.Millisecond)
			continue
		}
		backoff = 20 * time.Millisecond
		a.mu.Lock()
		if a.closed || !a.inserted {
			a.mu.Unlock()
			conn.Close()
			continue
		}
		a.conn = conn
		a.connected = true
		keep := a.keepState
		a.keepState = false
		a.notify()
		a.mu.Unlock()

		// A new connection is a card freshly inserted, with no power-on
		// state left from before, unless a flaky drop lost only the
		// connection.
		if !keep {
			a.card.Reset()
		}
		a.serve(conn.(*net.TCPConn))

		a.mu.Lock()
		if a.conn == conn {
			a.dropConn()
		}
		a.mu.Unlock()
	}
}

// readMessage reads one length-prefixed vpcd message.
func readMessage(conn *net.TCPConn) ([]byte, error) {
	var hdr [2]byte
	quickAck(conn)
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	quickAck(conn)
	if _, err := io.ReadFull(conn, msg); err != nil {
		return nil, err
	}
	return msg, nil
}

// writeMessage writes one length-prefixed message in a single write, so
// the reader on the other side never waits for a second segment.
func writeMessage(conn net.Conn, payload []byte) error {
	if len(payload) > 0xFFFF {
		return fmt.Errorf("vpcd: response of %d bytes does not fit the 2-byte length", len(payload))
	}
	buf := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(payload)), uint16(len(payload)))
	_, err := conn.Write(append(buf, payload...))
	return err
}

// errDropped ends a connection on purpose (a fault).
var errDropped = errors.New("vpcd: connection dropped")

// serve answers vpcd's messages until the connection ends.
func (a *Attachment) serve(conn *net.TCPConn) {
	for {
		msg, err := readMessage(conn)
		if err != nil {
			return
		}
		var resp []byte
		if len(msg) == 1 {
			resp = a.control(msg[0])
			if resp == nil {
				continue
			}
		} else if resp, err = a.command(conn, msg); err != nil {
			return
		}
		if err := writeMessage(conn, resp); err != nil {
			return
		}
	}
}

// control handles a 1-byte control message. Only "get ATR" has an answer.
func (a *Attachment) control(code byte) []byte {
	switch code {
	case ctrlPowerOff, ctrlPowerOn, ctrlReset:
		a.card.Reset()
	case ctrlATR:
		return a.card.ATR()
	}
	return nil
}

// abortDelay is how long pcscd gets to read the length of an aborted
// response before the connection resets.
const abortDelay = 20 * time.Millisecond

// command passes one command APDU to the card, applying the armed faults.
func (a *Attachment) command(conn *net.TCPConn, apdu []byte) ([]byte, error) {
	a.mu.Lock()
	latency, trace := a.latency, a.trace
	pull := len(apdu) >= 2 && a.pullINS == int(apdu[1])
	drop, sw := false, uint16(0)
	if !pull && a.flaky.Rate > 0 && a.rng.Float64() < a.flaky.Rate {
		drop, sw = a.flaky.SW == 0, a.flaky.SW
	}
	if pull {
		a.inserted = false
		a.pullINS = -1
	}
	a.keepState = drop
	a.mu.Unlock()

	if trace != nil {
		fmt.Fprintf(trace, "> %s\n", redact(apdu))
	}
	if pull || drop {
		if pull {
			traceLine(trace, "< (card pulled during the command)")
		} else {
			traceLine(trace, "< (flaky: connection dropped)")
		}
		a.abort(conn)
		return nil, errDropped
	}
	if latency > 0 {
		time.Sleep(latency)
	}
	var resp []byte
	if sw != 0 {
		resp = binary.BigEndian.AppendUint16(nil, sw)
	} else {
		resp = a.card.Transmit(apdu)
	}
	if trace != nil {
		fmt.Fprintf(trace, "< %X\n", resp)
	}
	return resp, nil
}

// abort loses the connection in the middle of a response. vpcd 3.3 takes a
// connection lost before the response's length for an empty, successful
// response (it compares the signed -1 of the failed read with the unsigned
// length 2), and pcscd passes that on as success. Lost after the length,
// the read of the payload fails and pcscd answers SCardTransmit with
// SCARD_E_NOT_TRANSACTED, as with a real reader. So: send a length, give
// pcscd a moment to read it, then reset the connection.
func (a *Attachment) abort(conn *net.TCPConn) {
	conn.Write([]byte{0x00, 0x02})
	time.Sleep(abortDelay)
	conn.SetLinger(0)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conn == conn {
		a.dropConn()
	}
}

func traceLine(w io.Writer, s string) {
	if w != nil {
		fmt.Fprintln(w, s)
	}
}

// redact renders a command APDU in hex with the data field of the
// instructions that carry a PIN, PUK or key replaced by its length.
func redact(apdu []byte) string {
	if len(apdu) > 5 {
		switch apdu[1] {
		case 0x20, 0x24, 0x2C, // VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER
			0xFE, 0xFF: // Yubico IMPORT KEY, SET MANAGEMENT KEY
			return fmt.Sprintf("%X <%d bytes redacted>", apdu[:5], len(apdu)-5)
		}
	}
	return fmt.Sprintf("%X", apdu)
}
