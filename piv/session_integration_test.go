//go:build linux

package piv_test

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/internal/pcsc"
	"github.com/pivauth/pivauth/piv"
)

// otherApplication is a second PC/SC client on the same reader, as another
// program on the machine would be.
func otherApplication(t *testing.T, reader string) *pcsc.Card {
	t.Helper()
	sc, err := pcsc.EstablishContext()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Release() })
	h, err := sc.Connect(reader, pcsc.ShareShared, pcsc.ProtocolAny)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// signCardAuth signs with the piv profile's 9E key, which needs no PIN,
// checks the signature, and returns the connection it was made on.
func signCardAuth(t *testing.T, ctx context.Context, c *piv.Card, pub crypto.PublicKey) (conn uint64, err error) {
	t.Helper()
	msg := randomMessage(t)
	in, _ := signInput(t, pub, msg)
	var sig []byte
	err = c.Transaction(ctx, func(tx *piv.Tx) (err error) {
		conn = tx.Connection()
		sig, err = tx.Sign(piv.SlotCardAuthentication, piv.AlgECCP256, in)
		return err
	})
	if err == nil {
		checkSignature(t, pub, msg, sig)
	}
	return conn, err
}

func TestSessionRecovery(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	c := openBench(t, b)
	ctx := testContext(t)
	cert, err := c.Certificate(ctx, piv.SlotCardAuthentication)
	if err != nil {
		t.Fatal(err)
	}
	// sign signs, expecting want APDUs, and reports whether the engine
	// had made a new connection (Tx.Connection) since the last call.
	var conn uint64
	sign := func(what string, want int) (reconnected bool) {
		t.Helper()
		var (
			got uint64
			err error
		)
		n := countAPDUs(t, b, func() { got, err = signCardAuth(t, ctx, c, cert.PublicKey) })
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		expectAPDUs(t, what, n, want)
		reconnected, conn = got != conn, got
		return reconnected
	}
	sign("steady state", 1)
	if sign("steady state, again", 1) {
		t.Error("the connection changed between two ordinary transactions")
	}

	// A Tx kept past its transaction refuses to talk to the card.
	var leaked *piv.Tx
	c.Transaction(ctx, func(tx *piv.Tx) error { leaked = tx; return nil })
	if n := countAPDUs(t, b, func() { _, err = leaked.GetData(piv.ObjectCHUID) }); err == nil || n > 0 {
		t.Errorf("Tx used after its transaction: %v, %d APDUs", err, n)
	}

	// Another application resets the card: we reconnect and select again.
	other := otherApplication(t, b.Reader)
	if err := other.Disconnect(pcsc.ResetCard); err != nil {
		t.Fatal(err)
	}
	if !sign("after a reset by another application", 2) {
		t.Error("a reset by another application left Connection unchanged")
	}
	if sign("after the reset was handled", 1) {
		t.Error("the connection changed again after the reset was handled")
	}

	// Another application selects a different applet of the card (a CAC
	// one) between our transactions: the first command is refused, we
	// select PIV and retry.
	other = otherApplication(t, b.Reader)
	resp, err := other.Transmit([]byte{0x00, 0xA4, 0x04, 0x00, 0x07, 0xA0, 0x00, 0x00, 0x00, 0x79, 0x01, 0x00})
	if err != nil || !bytes.Equal(resp, []byte{0x90, 0x00}) {
		t.Fatalf("other application's SELECT of the CAC applet: % X %v", resp, err)
	}
	other.Disconnect(pcsc.LeaveCard)
	if sign("after another application selected something else", 3) {
		t.Error("a re-selection changed the connection")
	}
	sign("after the re-selection", 1)

	// The card is pulled in the middle of GENERAL AUTHENTICATE: the call
	// returns an error naming the reader, promptly.
	b.PullDuring(0x87)
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := signCardAuth(t, ctx, c, cert.PublicKey)
		done <- err
	}()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("signature with the card pulled mid-command did not return")
	}
	t.Logf("card pulled mid-command: error after %v: %v", time.Since(start).Round(time.Millisecond), err)
	if !errors.Is(err, piv.ErrCardRemoved) || !strings.Contains(err.Error(), b.Reader) {
		t.Fatalf("pulled mid-command: %v, want ErrCardRemoved naming %q", err, b.Reader)
	}
	if _, err := signCardAuth(t, ctx, c, cert.PublicKey); !errors.Is(err, piv.ErrCardRemoved) {
		t.Fatalf("signature with the card out: %v, want ErrCardRemoved", err)
	}

	// Put back, the card works again: a new connection, SELECT, signature.
	b.Insert()
	if !sign("after the card came back", 2) {
		t.Error("a reinserted card kept the connection number")
	}
	if id, err := c.Identity(ctx); err != nil || id.GUID == "" {
		t.Errorf("identity after reinsertion: %+v %v", id, err)
	}

	// Out and back between two transactions: no call fails, the engine
	// reconnects silently, and Connection is the only sign of it (a
	// different card could be there now).
	b.Pull()
	b.Insert()
	if !sign("after the card was out between two transactions", 2) {
		t.Error("a card out and back between two transactions kept the connection number")
	}
}

func TestWaitForCard(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	ctx := testContext(t)

	// Present already: returns at once.
	if r, err := piv.WaitForCard(ctx, piv.Selector{Reader: b.Reader}); err != nil || r != b.Reader {
		t.Fatalf("WaitForCard with the card present: %q %v", r, err)
	}

	// Cancelled by its context while no matching card comes.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := piv.WaitForCard(short, piv.Selector{Reader: b.Reader, GUID: "00000000-0000-4000-8000-000000000000"})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("cancelled wait: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("WaitForCard ignored its context")
	}

	// Waits for the card to be inserted.
	b.Pull()
	type result struct {
		reader string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		r, err := piv.WaitForCard(ctx, piv.Selector{Reader: b.Reader})
		got <- result{r, err}
	}()
	select {
	case r := <-got:
		t.Fatalf("WaitForCard returned with the card out: %+v", r)
	case <-time.After(500 * time.Millisecond):
	}
	b.Insert()
	select {
	case r := <-got:
		if r.err != nil || r.reader != b.Reader {
			t.Fatalf("WaitForCard after insertion: %+v", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("WaitForCard did not see the card inserted")
	}
}
