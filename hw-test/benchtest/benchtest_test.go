package benchtest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/des"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/hw-test/vpcd"
	"github.com/pivauth/pivauth/internal/pcsc"
	"github.com/pivauth/pivauth/internal/tlv"
)

// host is a PC/SC connection that counts what it sends and receives, so a
// test can compare the card's counters with what really crossed the wire.
type host struct {
	t     testing.TB
	ctx   *pcsc.Context
	card  *pcsc.Card
	stats vcard.Stats
}

func connect(t testing.TB, reader string) *host {
	t.Helper()
	ctx, err := pcsc.EstablishContext()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctx.Release() })
	card, err := ctx.Connect(reader, pcsc.ShareShared, pcsc.ProtocolAny)
	if err != nil {
		t.Fatalf("connect %q: %v", reader, err)
	}
	t.Cleanup(func() { card.Disconnect(pcsc.LeaveCard) })
	return &host{t: t, ctx: ctx, card: card, stats: vcard.Stats{Instructions: map[string]int{}}}
}

// transmit sends one APDU and returns data and status word.
func (h *host) transmit(apdu []byte) ([]byte, uint16, error) {
	resp, err := h.card.Transmit(apdu)
	if err != nil {
		return nil, 0, err
	}
	if len(resp) < 2 {
		return nil, 0, fmt.Errorf("response %X has no status word", resp)
	}
	h.stats.APDUs++
	h.stats.Instructions[fmt.Sprintf("%02X", apdu[1])]++
	h.stats.BytesIn += len(apdu)
	h.stats.BytesOut += len(resp)
	n := len(resp) - 2
	return resp[:n], uint16(resp[n])<<8 | uint16(resp[n+1]), nil
}

// command sends a command, chaining data longer than a short APDU takes and
// collecting 61xx GET RESPONSE parts; it fails the test unless the final
// status word is want.
func (h *host) command(ins, p1, p2 byte, data []byte, want uint16) []byte {
	h.t.Helper()
	for len(data) > 255 {
		_, sw, err := h.transmit(append([]byte{0x10, ins, p1, p2, 255}, data[:255]...))
		if err != nil || sw != 0x9000 {
			h.t.Fatalf("chained %02X part: SW %04X, %v", ins, sw, err)
		}
		data = data[255:]
	}
	apdu := []byte{0x00, ins, p1, p2}
	if len(data) > 0 {
		apdu = append(append(apdu, byte(len(data))), data...)
	}
	out, sw, err := h.transmit(append(apdu, 0x00))
	for err == nil && sw>>8 == 0x61 {
		var more []byte
		more, sw, err = h.transmit([]byte{0x00, 0xC0, 0x00, 0x00, byte(sw)})
		out = append(out, more...)
	}
	if err != nil || sw != want {
		h.t.Fatalf("INS %02X: SW %04X, %v; want %04X", ins, sw, err, want)
	}
	return out
}

var pivAID = []byte{0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00}

// factoryPIN is the PIN of a new card of either profile.
const factoryPIN = "123456"

// pin pads a PIN to the 8 bytes VERIFY carries.
func pin(s string) []byte { return append([]byte(s), bytes.Repeat([]byte{0xFF}, 8-len(s))...) }

// sign runs GENERAL AUTHENTICATE for a signature in slot with algorithm
// alg over in and returns the signature.
func (h *host) sign(alg, slot byte, in []byte) []byte {
	h.t.Helper()
	req := tlv.Encode(0x7C, append(tlv.Encode(0x82, nil), tlv.Encode(0x81, in)...))
	resp := h.command(0x87, alg, slot, req, 0x9000)
	inner, err := tlv.Unwrap(resp, 0x7C)
	if err != nil {
		h.t.Fatalf("GENERAL AUTHENTICATE answer %X: %v", resp, err)
	}
	sig, found, err := tlv.Find(inner, 0x82)
	if err != nil || !found {
		h.t.Fatalf("GENERAL AUTHENTICATE answer %X has no 82: %v", resp, err)
	}
	return sig
}

// certificate reads the certificate of a piv-profile slot (gzip or plain).
func (h *host) certificate(object uint32) *x509.Certificate {
	h.t.Helper()
	tag := []byte{0x5C, 0x03, byte(object >> 16), byte(object >> 8), byte(object)}
	resp := h.command(0xCB, 0x3F, 0xFF, tag, 0x9000)
	cert, err := parseCertObject(resp)
	if err != nil {
		h.t.Fatalf("certificate object %06X: %v", object, err)
	}
	return cert
}

// parseCertObject decodes a certificate data object: 53 { 70 cert, 71
// CertInfo, FE }, the certificate gzip-compressed when CertInfo is 01.
func parseCertObject(obj []byte) (*x509.Certificate, error) {
	body, err := tlv.Unwrap(obj, 0x53)
	if err != nil {
		return nil, err
	}
	der, found, err := tlv.Find(body, 0x70)
	if err != nil || !found {
		return nil, fmt.Errorf("no certificate (70) in %X: %v", body, err)
	}
	if info, _, _ := tlv.Find(body, 0x71); len(info) == 1 && info[0]&0x01 != 0 {
		zr, err := gzip.NewReader(bytes.NewReader(der))
		if err != nil {
			return nil, err
		}
		if der, err = io.ReadAll(zr); err != nil {
			return nil, err
		}
	}
	return x509.ParseCertificate(der)
}

// scriptedSequence runs a fixed PIV session against the piv-profile card in
// reader: SELECT, GET DATA (CHUID, two certificates), VERIFY with a wrong
// and the right PIN, a P-256 signature in 9C and a chained RSA-2048
// signature in 9A (with GET RESPONSE). It checks the signatures against the
// certificates and returns the counters the card must report.
func scriptedSequence(t *testing.T, reader string) vcard.Stats {
	h := connect(t, reader)
	h.command(0xA4, 0x04, 0x00, pivAID, 0x9000)
	chuid := h.command(0xCB, 0x3F, 0xFF, []byte{0x5C, 0x03, 0x5F, 0xC1, 0x02}, 0x9000)
	if !bytes.Contains(chuid, []byte{0x34, 0x10}) {
		t.Errorf("CHUID %X has no 16-byte GUID (34)", chuid)
	}
	sigCert := h.certificate(0x5FC10A)
	authCert := h.certificate(0x5FC105)

	h.command(0x20, 0x00, 0x80, pin("000000"), 0x63C2)
	h.command(0x20, 0x00, 0x80, pin(factoryPIN), 0x9000)
	h.stats.PINVerifies = 2

	digest := sha256.Sum256([]byte("scripted sequence"))
	sig := h.sign(0x11, 0x9C, digest[:])
	if !ecdsa.VerifyASN1(sigCert.PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
		t.Errorf("9C signature %X does not verify with the 9C certificate", sig)
	}

	// PKCS#1 v1.5 padding done by the host; the card does the raw RSA.
	prefix, _ := hex.DecodeString("3031300d060960864801650304020105000420")
	block := append([]byte{0x00, 0x01}, bytes.Repeat([]byte{0xFF}, 256-3-len(prefix)-len(digest))...)
	block = append(append(append(block, 0x00), prefix...), digest[:]...)
	sig = h.sign(0x07, 0x9A, block)
	if err := rsa.VerifyPKCS1v15(authCert.PublicKey.(*rsa.PublicKey), 0x05, digest[:], sig); err != nil {
		t.Errorf("9A signature does not verify with the 9A certificate: %v", err)
	}
	h.stats.Signatures = 2
	return h.stats
}

func TestStatsCountScriptedSequence(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	if b.Real() {
		t.Skip("counts need the virtual card")
	}
	want := scriptedSequence(t, b.Reader)
	if got := b.Stats(); !reflect.DeepEqual(got, want) {
		t.Errorf("card counted\n%+v\nthe host sent and received\n%+v", got, want)
	}
	// The chained 9A signature: two parts and one GET RESPONSE.
	if want.Instructions["87"] != 3 || want.Instructions["C0"] < 1 {
		t.Errorf("sequence did not exercise chaining and GET RESPONSE: %v", want.Instructions)
	}
	b.ResetStats()
	if got := b.Stats(); got.APDUs != 0 || got.Signatures != 0 || len(got.Instructions) != 0 {
		t.Errorf("after ResetStats: %+v", got)
	}
}

// TestPINStatusFromOutside checks the outsider's empty VERIFY: 63C3 on a
// card whose PIN nobody verified, 9000 once a connection verified it and
// left it so, one APDU each. The yubikey profile clears the PIN status on
// SELECT, so the 9000 also shows that the outsider selects nothing.
func TestPINStatusFromOutside(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	if b.Real() {
		t.Skip("verifies the factory PIN and counts APDUs: virtual card only")
	}
	h := connect(t, b.Reader)
	h.command(0xA4, 0x04, 0x00, pivAID, 0x9000)
	b.ResetStats()
	if sw := b.PINStatusFromOutside(t); sw != 0x63C3 {
		t.Errorf("PIN not verified: outsider got %04X, want 63C3", sw)
	}
	h.command(0x20, 0x00, 0x80, pin(factoryPIN), 0x9000)
	if sw := b.PINStatusFromOutside(t); sw != 0x9000 {
		t.Errorf("PIN verified by another connection: outsider got %04X, want 9000", sw)
	}
	if st := b.Stats(); st.APDUs != 3 || st.Instructions["20"] != 3 || st.PINVerifies != 1 {
		t.Errorf("card counted %d APDUs, %d VERIFY, %d with a PIN; want 3, 3 and 1 (one empty VERIFY per check)", st.APDUs, st.Instructions["20"], st.PINVerifies)
	}
}

// benchScript runs hw-test/bench with the bench directory dir and returns
// its standard output.
func benchScript(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	// Every step waits seconds at most (for PC/SC to see the card come
	// or go); a hung one is killed at the deadline, as are the card
	// process's pipes held open past it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "../bench", args...)
	cmd.WaitDelay = time.Second
	cmd.Env = append(os.Environ(), "PIVAUTH_BENCH_DIR="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hw-test/bench %v: %v\n%s", args, err, stderr.Bytes())
	}
	return out
}

// TestBenchScript drives the bench the way a user does: hw-test/bench up
// starts the card process, the scripted sequence runs through PC/SC,
// hw-test/bench stats reports exactly what crossed the wire, pull and
// insert move the card, down stops it. The card process gets a bench
// directory of its own and a reader reserved for this test, so it never
// meets the user's bench card.
func TestBenchScript(t *testing.T) {
	if os.Getenv("PIVAUTH_TEST_READER") != "" {
		t.Skip("drives the virtual card's bench script")
	}
	port, reader := benchtest.Reader(t)
	dir := t.TempDir()
	t.Cleanup(func() { benchScript(t, dir, "down") })
	up := benchScript(t, dir, "up", "--profile", "piv", "--port", fmt.Sprint(port))
	if got := string(bytes.TrimSpace(up)); got != reader {
		t.Fatalf("up printed %q, want the reader %q", got, reader)
	}
	if again := benchScript(t, dir, "up", "--profile", "piv", "--port", fmt.Sprint(port)); !bytes.Equal(again, up) {
		t.Errorf("second up printed %q, want %q", again, up)
	}
	if _, err := os.Stat(filepath.Join(dir, vcard.CACertFile)); err != nil {
		t.Errorf("up did not export the bench CA: %v", err)
	}

	benchScript(t, dir, "stats", "--reset")
	want := scriptedSequence(t, reader)
	var got vcard.Stats
	if err := json.Unmarshal(benchScript(t, dir, "stats", "--reset"), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("hw-test/bench stats reported\n%+v\nthe host sent and received\n%+v", got, want)
	}
	if err := json.Unmarshal(benchScript(t, dir, "stats"), &got); err != nil {
		t.Fatal(err)
	}
	if got.APDUs != 0 {
		t.Errorf("stats after stats --reset: %+v", got)
	}

	benchScript(t, dir, "pull")
	if err := connectErr(reader); !errors.Is(err, pcsc.ErrNoSmartcard) {
		t.Errorf("connect after pull: %v, want %v", err, pcsc.ErrNoSmartcard)
	}
	benchScript(t, dir, "insert")
	h := connect(t, reader)
	h.command(0xA4, 0x04, 0x00, pivAID, 0x9000)

	benchScript(t, dir, "pull", "--during", "20")
	if _, _, err := h.transmit(append([]byte{0x00, 0x20, 0x00, 0x80, 0x08}, pin(factoryPIN)...)); !errors.Is(err, pcsc.ErrNotTransacted) {
		t.Errorf("VERIFY after pull --during 20: %v, want %v", err, pcsc.ErrNotTransacted)
	}
	benchScript(t, dir, "insert")
	connect(t, reader).command(0xA4, 0x04, 0x00, pivAID, 0x9000)
}

// connectErr tries to connect to reader and returns the error.
func connectErr(reader string) error {
	ctx, err := pcsc.EstablishContext()
	if err != nil {
		return err
	}
	defer ctx.Release()
	card, err := ctx.Connect(reader, pcsc.ShareShared, pcsc.ProtocolAny)
	if err == nil {
		card.Disconnect(pcsc.LeaveCard)
	}
	return err
}

func TestPullAndInsert(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	h := connect(t, b.Reader)
	h.command(0xA4, 0x04, 0x00, pivAID, 0x9000)
	b.Pull()
	if _, _, err := h.transmit([]byte{0x00, 0xFD, 0x00, 0x00}); !errors.Is(err, pcsc.ErrRemovedCard) {
		t.Errorf("transmit on a pulled card: %v, want %v", err, pcsc.ErrRemovedCard)
	}
	b.Insert()
	h = connect(t, b.Reader)
	h.command(0xA4, 0x04, 0x00, pivAID, 0x9000)
}

func TestPullDuring(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	h := connect(t, b.Reader)
	h.command(0xA4, 0x04, 0x00, pivAID, 0x9000)
	b.ResetStats()
	b.PullDuring(0x20)
	if _, _, err := h.transmit(append([]byte{0x00, 0x20, 0x00, 0x80, 0x08}, pin(factoryPIN)...)); !errors.Is(err, pcsc.ErrNotTransacted) {
		t.Fatalf("VERIFY during which the card was pulled: %v, want %v", err, pcsc.ErrNotTransacted)
	}
	if st := b.Stats(); st.APDUs != 0 || st.PINVerifies != 0 {
		t.Errorf("the card saw the command it was pulled during: %+v", st)
	}
	b.Insert()
	if _, _, err := h.transmit([]byte{0x00, 0xFD, 0x00, 0x00}); !errors.Is(err, pcsc.ErrRemovedCard) {
		t.Errorf("old handle after the removal: %v, want %v", err, pcsc.ErrRemovedCard)
	}
	h = connect(t, b.Reader)
	// A pulled card comes back unselected and unverified.
	h.command(0xA4, 0x04, 0x00, pivAID, 0x9000)
	_, sw, err := h.transmit([]byte{0x00, 0x20, 0x00, 0x80})
	if err != nil || sw != 0x63C3 {
		t.Errorf("PIN status after reinsertion: SW %04X, %v; want 63C3 (not verified, 3 tries)", sw, err)
	}
}

func TestFlakyStatusWord(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey, benchtest.WithFlaky(vpcd.Flaky{Rate: 1, SW: 0x6F00}))
	h := connect(t, b.Reader)
	if _, sw, err := h.transmit(append([]byte{0x00, 0xA4, 0x04, 0x00, byte(len(pivAID))}, pivAID...)); err != nil || sw != 0x6F00 {
		t.Errorf("flaky SELECT: SW %04X, %v; want 6F00", sw, err)
	}
	if st := b.Stats(); st.APDUs != 0 {
		t.Errorf("the card saw a command the flaky connection answered: %+v", st)
	}
	b.Transport().SetFlaky(vpcd.Flaky{})
	h.command(0xA4, 0x04, 0x00, pivAID, 0x9000)
}

func TestFlakyDrop(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey, benchtest.WithFlaky(vpcd.Flaky{Rate: 1}))
	h := connect(t, b.Reader)
	_, _, err := h.transmit(append([]byte{0x00, 0xA4, 0x04, 0x00, byte(len(pivAID))}, pivAID...))
	if !errors.Is(err, pcsc.ErrNotTransacted) {
		t.Errorf("SELECT over a dropping connection: %v, want %v", err, pcsc.ErrNotTransacted)
	}
	b.Transport().SetFlaky(vpcd.Flaky{})
	// The connection comes back at vpcd's next poll, without a removal: a
	// host that retries gets through on the same handle.
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, sw, err := h.transmit(append([]byte{0x00, 0xA4, 0x04, 0x00, byte(len(pivAID))}, pivAID...))
		if err == nil {
			if sw != 0x9000 {
				t.Errorf("SELECT after the connection came back: SW %04X", sw)
			}
			break
		}
		if !errors.Is(err, pcsc.ErrNotTransacted) || time.Now().After(deadline) {
			t.Fatalf("SELECT while the connection comes back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := b.Stats(); st.APDUs != 1 {
		t.Errorf("the card counted %d APDUs, want only the SELECT that got through", st.APDUs)
	}
}

// BenchmarkAPDU measures one APDU round trip through pcscd and vpcd (a
// SELECT); see hw-test/README.md for why it is ~0.15 ms and not ~48 ms.
func BenchmarkAPDU(b *testing.B) {
	bench := benchtest.Start(b, vcard.ProfileYubiKey)
	h := connect(b, bench.Reader)
	apdu := append([]byte{0x00, 0xA4, 0x04, 0x00, byte(len(pivAID))}, pivAID...)
	for b.Loop() {
		if _, sw, err := h.transmit(apdu); err != nil || sw != 0x9000 {
			b.Fatalf("SELECT: %04X %v", sw, err)
		}
	}
}

// TestAuthorityFromOutside checks the outsider's two commands: neither
// succeeds on a card left closed, each shows what a connection left open.
func TestAuthorityFromOutside(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	if b.Real() {
		t.Skip("authenticates with the factory management key: virtual card only")
	}
	h := connect(t, b.Reader)
	h.command(0xA4, 0x04, 0x00, pivAID, 0x9000)
	if o := b.AuthorityFromOutside(t); o.PINVerified() || o.ManagementAuthenticated() || o.VerifySW != 0x63C3 || o.GenerateSW != 0x6982 {
		t.Errorf("closed card: outsider got %+v, want 63C3 and 6982", o)
	}
	h.command(0x20, 0x00, 0x80, pin(factoryPIN), 0x9000)
	if o := b.AuthorityFromOutside(t); !o.PINVerified() || o.ManagementAuthenticated() {
		t.Errorf("PIN left verified: outsider got %+v", o)
	}
	h.mgmtAuth(t)
	if o := b.AuthorityFromOutside(t); !o.ManagementAuthenticated() {
		t.Errorf("management key left authenticated: outsider got %+v", o)
	}
}

// mgmtAuth authenticates with the factory 3DES management key (external
// authentication: the card's challenge, encrypted).
func (h *host) mgmtAuth(t testing.TB) {
	t.Helper()
	resp := h.command(0x87, 0x03, 0x9B, []byte{0x7C, 0x02, 0x81, 0x00}, 0x9000)
	if len(resp) != 12 || resp[0] != 0x7C || resp[2] != 0x81 {
		t.Fatalf("management-key challenge: %X", resp)
	}
	block, err := des.NewTripleDESCipher(bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 3))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 8)
	block.Encrypt(out, resp[4:])
	h.command(0x87, 0x03, 0x9B, append([]byte{0x7C, 0x0A, 0x82, 0x08}, out...), 0x9000)
}
