package benchtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/pivauth/pivauth/internal/pcsc"
)

// outsiderTimeout bounds the outsider's checks: pcsc-lite's SCardConnect
// waits, without limit, while another connection holds a transaction on
// the card, and a session that never ends its transaction must fail the
// test rather than hang it. A signature's transaction takes a few APDUs
// (~50 ms each on the bench), so this is generous.
const outsiderTimeout = 10 * time.Second

// The outsider's commands, sent with no SELECT before them: a YubiKey
// clears its security status on SELECT, which would hide a card left
// verified or authenticated.
var (
	// emptyVerify asks for the PIN status (00 20 00 80): 9000 when verified.
	emptyVerify = []byte{0x00, 0x20, 0x00, 0x80}
	// generateRetired asks for a P-256 key in the retired slot 82 (00 47 00
	// 82, AC{80 11}): a card answers it only when the management key is
	// authenticated.
	generateRetired = []byte{0x00, 0x47, 0x00, 0x82, 0x05, 0xAC, 0x03, 0x80, 0x01, 0x11, 0x00}
)

// PINStatusFromOutside sends an empty VERIFY (00 20 00 80) from a PC/SC
// context of its own, in shared mode, as any other program on the machine
// could, and returns the status word: 63Cx while the PIN is not verified,
// 9000 if a session left the card verified. It costs the card exactly that
// one APDU.
//
// It does not select the PIV application first (see emptyVerify). So it
// fails the test on any other answer (6D00 with no application selected):
// then the PIV application was not left selected and the check says
// nothing. It also fails the test when the card stays busy in another
// connection's transaction for longer than 10 s.
func (b *Bench) PINStatusFromOutside(t testing.TB) uint16 {
	t.Helper()
	sw := b.fromOutside(t, emptyVerify)[0]
	if sw != 0x9000 && sw&0xFFF0 != 0x63C0 {
		t.Fatalf("empty VERIFY from another PC/SC context got %04X, want 9000 or 63Cx: the PIV application was not left selected, so the check says nothing", sw)
	}
	return sw
}

// Outsider is what another program on the machine finds when it talks to the
// card without selecting anything: the status words of an empty VERIFY and of
// a GENERATE in the retired slot 82.
type Outsider struct {
	VerifySW, GenerateSW uint16
}

// PINVerified reports whether the card answered the empty VERIFY with 9000:
// whoever comes next may use the PIN-protected keys.
func (o Outsider) PINVerified() bool { return o.VerifySW == 0x9000 }

// ManagementAuthenticated reports whether the card generated the key: whoever
// comes next may replace the card's keys and certificates.
func (o Outsider) ManagementAuthenticated() bool {
	return o.GenerateSW == 0x9000 || o.GenerateSW&0xFF00 == 0x6100
}

// AuthorityFromOutside sends, from a PC/SC context of its own and with no
// SELECT, an empty VERIFY and a GENERATE in the retired slot 82, and returns
// their status words. Any answer but success is a card not left open: 63Cx
// (PIV selected, PIN not verified), 6982 (management key not authenticated),
// 6D00 (nothing selected, as after a reset). Two APDUs; a GENERATE that
// succeeds puts a key in slot 82. It fails the test when the card stays
// busy in another connection's transaction for longer than 10 s.
func (b *Bench) AuthorityFromOutside(t testing.TB) Outsider {
	t.Helper()
	sws := b.fromOutside(t, emptyVerify, generateRetired)
	return Outsider{VerifySW: sws[0], GenerateSW: sws[1]}
}

// CheckNotLeftOpen fails the test (without stopping it) when another program
// would find the card PIN-verified or management-authenticated after what
// the test did (after names it for the message).
func (b *Bench) CheckNotLeftOpen(t testing.TB, after string) {
	t.Helper()
	o := b.AuthorityFromOutside(t)
	if o.PINVerified() {
		t.Errorf("after %s another program finds the PIN verified (empty VERIFY: %04X)", after, o.VerifySW)
	}
	if o.ManagementAuthenticated() {
		t.Errorf("after %s another program finds the management key authenticated (GENERATE in slot 82: %04X)", after, o.GenerateSW)
	}
}

// fromOutside sends apdus in one new PC/SC context and connection, in shared
// mode, and returns their status words.
func (b *Bench) fromOutside(t testing.TB, apdus ...[]byte) []uint16 {
	t.Helper()
	type answer struct {
		sws []uint16
		err error
	}
	done := make(chan answer, 1)
	// The exchange runs on its own goroutine so that a connect blocked by
	// someone else's transaction can be given up on; that goroutine still
	// releases its context once pcscd lets it go.
	go func() {
		sws, err := outsiderExchange(b.Reader, apdus)
		done <- answer{sws, err}
	}()
	select {
	case a := <-done:
		if a.err != nil {
			t.Fatalf("from another PC/SC context: %v", a.err)
		}
		return a.sws
	case <-time.After(outsiderTimeout):
		t.Fatalf("from another PC/SC context: the card in %q stayed busy for %v (a transaction never ended?)", b.Reader, outsiderTimeout)
	}
	return nil
}

// outsiderExchange connects to the card in reader through a new PC/SC
// context, sends each APDU and leaves the card as it is.
func outsiderExchange(reader string, apdus [][]byte) ([]uint16, error) {
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
	var sws []uint16
	for _, apdu := range apdus {
		resp, err := c.Transmit(apdu)
		if err != nil {
			return nil, fmt.Errorf("command %X: %w", apdu[:4], err)
		}
		if len(resp) < 2 {
			return nil, fmt.Errorf("command %X: answer %X has no status word", apdu[:4], resp)
		}
		sws = append(sws, uint16(resp[len(resp)-2])<<8|uint16(resp[len(resp)-1]))
	}
	return sws, nil
}
