package vpcd_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/hw-test/vpcd"
	"github.com/pivauth/pivauth/hw-test/vpcd/pcscstate"
	"github.com/pivauth/pivauth/internal/pcsc"
)

// attach puts a fresh card on a reserved reader with opts and returns a
// PC/SC handle to it and the reader name.
func attach(t *testing.T, opts vpcd.Options) (*vpcd.Attachment, *pcsc.Card, string) {
	t.Helper()
	port, reader := benchtest.Reader(t)
	card, err := vcard.Open(t.TempDir()+"/card.json", vcard.ProfileYubiKey)
	if err != nil {
		t.Fatal(err)
	}
	a := vpcd.Attach(card, port, opts)
	t.Cleanup(func() { a.Close() })
	ctx, err := pcsc.EstablishContext()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctx.Release() })
	deadline := time.Now().Add(15 * time.Second)
	for {
		h, err := ctx.Connect(reader, pcsc.ShareShared, pcsc.ProtocolAny)
		if err == nil {
			t.Cleanup(func() { h.Disconnect(pcsc.LeaveCard) })
			return a, h, reader
		}
		if time.Now().After(deadline) {
			t.Fatalf("connect %q: %v", reader, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var selectPIV = []byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}

func transmit(t *testing.T, h *pcsc.Card, apdu []byte) []byte {
	t.Helper()
	resp, err := h.Transmit(apdu)
	if err != nil {
		t.Fatalf("transmit %X: %v", apdu, err)
	}
	return resp
}

func TestTraceRedactsSecrets(t *testing.T) {
	var trace bytes.Buffer
	_, h, _ := attach(t, vpcd.Options{Trace: &trace})
	transmit(t, h, selectPIV)
	verify := []byte{0x00, 0x20, 0x00, 0x80, 0x08, '1', '2', '3', '4', '5', '6', 0xFF, 0xFF}
	if resp := transmit(t, h, verify); !bytes.Equal(resp, []byte{0x90, 0x00}) {
		t.Fatalf("VERIFY: %X", resp)
	}
	got := trace.String()
	for _, want := range []string{"> 00A4040005A000000308\n", "> 0020008008 <8 bytes redacted>\n", "< 9000\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("trace lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "313233343536") {
		t.Errorf("the PIN reached the trace:\n%s", got)
	}
}

func TestLatency(t *testing.T) {
	const latency = 150 * time.Millisecond
	a, h, _ := attach(t, vpcd.Options{Latency: latency})
	start := time.Now()
	transmit(t, h, selectPIV)
	if d := time.Since(start); d < latency {
		t.Errorf("APDU answered after %v with latency %v", d, latency)
	}
	a.SetLatency(0)
	start = time.Now()
	transmit(t, h, selectPIV)
	if d := time.Since(start); d >= latency {
		t.Errorf("APDU still took %v after the latency was removed", d)
	}
}

// TestCloseRemovesCard: a detached card leaves the reader, as benchtest's
// next user of the reader relies on.
func TestCloseRemovesCard(t *testing.T) {
	a, h, reader := attach(t, vpcd.Options{})
	transmit(t, h, selectPIV)
	a.Close()
	if a.Connected() {
		t.Error("Connected after Close")
	}
	if err := pcscstate.Wait(t.Context(), reader, false); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Transmit(selectPIV); !errors.Is(err, pcsc.ErrRemovedCard) {
		t.Errorf("transmit to a detached card: %v, want %v", err, pcsc.ErrRemovedCard)
	}
}
