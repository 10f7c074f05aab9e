package benchtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/pivauth/pivauth/internal/pcsc"
)

// outsiderTimeout bounds PINStatusFromOutside: pcsc-lite's SCardConnect
// waits, without limit, while another connection holds a transaction on
// the card, and a session that never ends its transaction must fail the
// test rather than hang it. A signature's transaction takes a few APDUs
// (~50 ms each on the bench), so this is generous.
const outsiderTimeout = 10 * time.Second

// PINStatusFromOutside sends an empty VERIFY (00 20 00 80) from a PC/SC
// context of its own, in shared mode, as any other program on the machine
// could, and returns the status word: 63Cx while the PIN is not verified,
// 9000 if a session left the card verified. It costs the card exactly that
// one APDU.
//
// It does not select the PIV application first: a YubiKey clears its
// security status on SELECT, which would hide a card left verified. So it
// fails the test on any other answer (6D00 with no application selected):
// then the PIV application was not left selected and the check says
// nothing. It also fails the test when the card stays busy in another
// connection's transaction for longer than 10 s.
func (b *Bench) PINStatusFromOutside(t testing.TB) uint16 {
	t.Helper()
	type answer struct {
		resp []byte
		err  error
	}
	done := make(chan answer, 1)
	// The exchange runs on its own goroutine so that a connect blocked by
	// someone else's transaction can be given up on; that goroutine still
	// releases its context once pcscd lets it go.
	go func() {
		resp, err := emptyVerify(b.Reader)
		done <- answer{resp, err}
	}()
	var a answer
	select {
	case a = <-done:
	case <-time.After(outsiderTimeout):
		t.Fatalf("empty VERIFY from another PC/SC context: the card in %q stayed busy for %v (a transaction never ended?)", b.Reader, outsiderTimeout)
	}
	if a.err != nil {
		t.Fatalf("empty VERIFY from another PC/SC context: %v", a.err)
	}
	if len(a.resp) != 2 {
		t.Fatalf("empty VERIFY from another PC/SC context: answer %X is no bare status word", a.resp)
	}
	sw := uint16(a.resp[0])<<8 | uint16(a.resp[1])
	if sw != 0x9000 && sw&0xFFF0 != 0x63C0 {
		t.Fatalf("empty VERIFY from another PC/SC context got %04X, want 9000 or 63Cx: the PIV application was not left selected, so the check says nothing", sw)
	}
	return sw
}

// emptyVerify connects to the card in reader through a new PC/SC context
// and sends the empty VERIFY, leaving the card as it is.
func emptyVerify(reader string) ([]byte, error) {
	sc, err := pcsc.EstablishContext()
	if err != nil {
		return nil, fmt.Errorf("connect to pcscd: %w", err)
	}
	defer sc.Release()
	c, err := sc.Connect(reader, pcsc.ShareShared, pcsc.ProtocolAny)
	if err != nil {
		return nil, fmt.Errorf("connect to the card in %q: %w", reader, err)
	}
	defer c.Disconnect(pcsc.LeaveCard)
	return c.Transmit([]byte{0x00, 0x20, 0x00, 0x80})
}
