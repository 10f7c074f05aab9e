//go:build linux

package piv_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"testing"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/piv"
)

func TestPIVProfile(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	b.Destructive() // presents a wrong PIN and the factory PIN
	c := openBench(t, b)
	ctx := testContext(t)
	roots := benchRoots(b)

	// Certificates: 9A and 9C gzip-compressed, 9D and 9E plain; each read is
	// one GET DATA with an extended Le.
	certs := map[piv.Slot]*x509.Certificate{}
	for _, slot := range []piv.Slot{piv.SlotAuthentication, piv.SlotSignature, piv.SlotKeyManagement, piv.SlotCardAuthentication} {
		var err error
		n := countAPDUs(t, b, func() { certs[slot], err = c.Certificate(ctx, slot) })
		if err != nil {
			t.Fatalf("slot %s: %v", slot, err)
		}
		expectAPDUs(t, "reading the certificate of slot "+slot.String(), n, 1)
		if _, err := certs[slot].Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil && !b.Real() {
			t.Errorf("slot %s certificate does not chain to the bench CA: %v", slot, err)
		}
	}
	if upn := sanOtherName(t, certs[piv.SlotAuthentication], oidUPN); string(upn) != vcard.BenchUPN && !b.Real() {
		t.Errorf("9A certificate UPN %q", upn)
	}
	if _, err := c.Certificate(ctx, piv.Slot{Key: 0x82, Object: 0x5FC10D}); !errors.Is(err, piv.ErrNotFound) {
		t.Errorf("empty retired slot: %v, want ErrNotFound", err)
	}

	err := c.Transaction(ctx, func(tx *piv.Tx) error {
		d, err := tx.Discovery()
		if err != nil || !d.PIVPIN || d.GlobalPIN {
			return fmt.Errorf("discovery %+v: %w", d, err)
		}
		h, err := tx.KeyHistory()
		if err != nil || h.OnCardCerts != 0 || h.OffCardCerts != 0 {
			return fmt.Errorf("key history %+v: %w", h, err)
		}
		// A government card has no Yubico extensions: probed once, then
		// known without another APDU.
		if _, err := tx.YubiKeyVersion(); !errors.Is(err, piv.ErrNotYubiKey) {
			return fmt.Errorf("GET VERSION: %v, want ErrNotYubiKey", err)
		}
		if _, err := tx.Metadata(piv.KeyPIN); !errors.Is(err, piv.ErrNotYubiKey) {
			return fmt.Errorf("GET METADATA: %v, want ErrNotYubiKey", err)
		}
		// No management key operations on an issued card.
		if err := tx.AuthenticateManagementKey(piv.AlgAES128, make([]byte, 16)); err == nil {
			return errors.New("management key authentication succeeded on an issued card")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n := countAPDUs(t, b, func() {
		err = c.Transaction(ctx, func(tx *piv.Tx) error { _, err := tx.YubiKeyVersion(); return err })
	})
	if !errors.Is(err, piv.ErrNotYubiKey) {
		t.Errorf("second probe: %v", err)
	}
	expectAPDUs(t, "second probe", n, 0)

	// A wrong PIN says how many tries are left; the right one restores them.
	err = c.Transaction(ctx, func(tx *piv.Tx) error { return tx.Verify([]byte("999999")) })
	var ae piv.AuthError
	if !errors.As(err, &ae) || ae.Retries != 2 || err.Error() != "PIN incorrect: 2 tries left" {
		t.Fatalf("wrong PIN: %v", err)
	}
	if st, err := c.PINStatus(ctx); err != nil || st.Verified || st.Retries != 2 {
		t.Fatalf("PIN status after a wrong PIN: %+v %v", st, err)
	}

	// Signatures with each slot, checked with Go's crypto against the
	// certificate, counting APDUs: no PIN 1, PIN once and PIN always 3.
	for _, tc := range []struct {
		slot  piv.Slot
		pin   bool
		apdus int
	}{
		{piv.SlotCardAuthentication, false, 1},
		{piv.SlotAuthentication, true, 3},
		{piv.SlotSignature, true, 3},
		{piv.SlotKeyManagement, true, 3},
	} {
		cert := certs[tc.slot]
		msg := randomMessage(t)
		in, _ := signInput(t, cert.PublicKey, msg)
		var sig []byte
		n := countAPDUs(t, b, func() {
			err = c.Transaction(ctx, func(tx *piv.Tx) error {
				if tc.pin {
					if err := tx.Verify(defaultPIN); err != nil {
						return err
					}
					defer tx.ClearVerify()
				}
				sig, err = tx.Sign(tc.slot, slotAlgorithm(t, cert), in)
				return err
			})
		})
		if err != nil {
			t.Fatalf("slot %s: %v", tc.slot, err)
		}
		checkSignature(t, cert.PublicKey, msg, sig)
		expectAPDUs(t, "signature with slot "+tc.slot.String(), n, tc.apdus)
	}
	// The PIN tries are back to 3 and the card is not left verified.
	if st, err := c.PINStatus(ctx); err != nil || st.Verified || st.Retries != 3 {
		t.Errorf("PIN status after the signatures: %+v %v", st, err)
	}
	// Without the PIN the card refuses a PIN-protected key.
	in, _ := signInput(t, certs[piv.SlotAuthentication].PublicKey, []byte("no PIN"))
	err = c.Transaction(ctx, func(tx *piv.Tx) error { _, err := tx.Sign(piv.SlotAuthentication, piv.AlgRSA2048, in); return err })
	if !errors.Is(err, piv.ErrSecurityStatus) {
		t.Errorf("signature without the PIN: %v, want ErrSecurityStatus", err)
	}
}

// TestColdProcess counts what a process that starts cold spends to open
// the card, read the authentication certificate and make one PIN-protected
// RSA-2048 signature: SELECT, GET DATA, VERIFY, GENERAL AUTHENTICATE, VERIFY
// P1=FF.
func TestColdProcess(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	ctx := testContext(t)
	b.ResetStats()
	c, err := piv.Open(ctx, piv.Selector{Reader: b.Reader})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cert, err := c.Certificate(ctx, piv.SlotAuthentication)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("cold process")
	in, _ := signInput(t, cert.PublicKey, msg)
	var sig []byte
	err = c.Transaction(ctx, func(tx *piv.Tx) error {
		if err := tx.Verify(defaultPIN); err != nil {
			return err
		}
		defer tx.ClearVerify()
		sig, err = tx.Sign(piv.SlotAuthentication, piv.AlgRSA2048, in)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	checkSignature(t, cert.PublicKey, msg, sig)
	st := b.Stats()
	want := map[string]int{"A4": 1, "CB": 1, "20": 2, "87": 1}
	if st.APDUs != 5 || !maps.Equal(st.Instructions, want) {
		t.Errorf("cold open + certificate + PIN signature: %d APDUs %v, want 5 %v", st.APDUs, st.Instructions, want)
	}
	if st.PINVerifies != 1 || st.Signatures != 1 {
		t.Errorf("%d PIN verifications, %d signatures", st.PINVerifies, st.Signatures)
	}
	t.Logf("cold process: %d APDUs, %d bytes in, %d bytes out", st.APDUs, st.BytesIn, st.BytesOut)
}

// TestTraceRedactsPIN: the APDU trace shows the VERIFY but never the PIN.
func TestTraceRedactsPIN(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	b.Destructive() // presents wrong PINs
	c := openBench(t, b)
	var cmds [][]byte
	c.SetTrace(func(cmd, resp []byte) { cmds = append(cmds, cmd) })
	pin := []byte("135791")
	c.Transaction(testContext(t), func(tx *piv.Tx) error { return tx.Verify(pin) })
	c.Transaction(testContext(t), func(tx *piv.Tx) error { return tx.ChangePIN(pin, []byte("246802")) })
	if len(cmds) != 2 || cmds[0][1] != 0x20 || cmds[1][1] != 0x24 {
		t.Fatalf("traced %d commands: % X", len(cmds), cmds)
	}
	for _, cmd := range cmds {
		if bytes.Contains(cmd, pin) || bytes.Contains(cmd, []byte("246802")) {
			t.Errorf("trace shows a PIN: % X", cmd)
		}
	}
}
