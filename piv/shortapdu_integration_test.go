//go:build linux

package piv

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/hw-test/vpcd"
	"github.com/pivauth/pivauth/internal/rsapad"
)

// TestLengthModes runs the same work through the real stack as a card
// without extended lengths gets it (command chaining and GET RESPONSE), and
// as a card whose ATR does not say (extended tried, kept when accepted).
func TestLengthModes(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Open(ctx, Selector{Reader: b.Reader})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.ext != extYes {
		t.Fatalf("the bench ATR announces extended lengths; engine says %d", c.ext)
	}

	for _, tc := range []struct {
		name   string
		mode   extSupport
		cert   map[string]int // instructions to read the 9A certificate
		sign   map[string]int // instructions for VERIFY + RSA-2048 signature + clear
		result extSupport
	}{
		{"short", extNo, nil, map[string]int{"20": 2, "87": 2, "C0": 1}, extNo},
		{"probe", extUnknown, map[string]int{"CB": 1}, map[string]int{"20": 2, "87": 1}, extYes},
	} {
		c.ext = tc.mode
		b.ResetStats()
		cert, err := c.Certificate(ctx, SlotAuthentication)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		st := b.Stats()
		if tc.cert == nil {
			// GET DATA with Le 00, then GET RESPONSE per 256 bytes.
			n := st.Instructions["C0"]
			if st.Instructions["CB"] != 1 || n < 1 || st.APDUs != 1+n {
				t.Errorf("%s: certificate read with %v", tc.name, st.Instructions)
			}
		} else if !maps.Equal(st.Instructions, tc.cert) {
			t.Errorf("%s: certificate read with %v, want %v", tc.name, st.Instructions, tc.cert)
		}

		pub := cert.PublicKey.(*rsa.PublicKey)
		digest := sha256.Sum256([]byte(tc.name))
		in, err := rsapad.EncodePKCS1v15(crypto.SHA256, digest[:], pub.Size())
		if err != nil {
			t.Fatal(err)
		}
		b.ResetStats()
		var sig []byte
		err = c.Transaction(ctx, func(tx *Tx) error {
			if err := tx.Verify([]byte("123456")); err != nil {
				return err
			}
			defer tx.ClearVerify()
			sig, err = tx.Sign(SlotAuthentication, AlgRSA2048, in)
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			t.Errorf("%s: signature: %v", tc.name, err)
		}
		if got := b.Stats().Instructions; !maps.Equal(got, tc.sign) {
			t.Errorf("%s: PIN + signature with %v, want %v", tc.name, got, tc.sign)
		}
		if c.ext != tc.result {
			t.Errorf("%s: extended-length mode %d afterwards, want %d", tc.name, c.ext, tc.result)
		}
	}
}

// TestCardModes opens each kind of card of benchtest.CardModes through the
// real stack and reads, identifies and signs: SELECT must be short for a
// Java Card runtime to select, and what the engine learns about extended
// length must be what the card does (announced by the ATR, proved by a
// non-SELECT command, or refused and then recorded as unsupported).
func TestCardModes(t *testing.T) {
	for _, m := range benchtest.CardModes {
		t.Run(m.Name, func(t *testing.T) {
			b := benchtest.Start(t, vcard.ProfilePIV, m.Option())
			if b.Real() {
				t.Skip("card modes are virtual cards")
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c, err := Open(ctx, Selector{Reader: b.Reader})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			atrSays, learned := extYes, extYes
			if m.Has(vcard.QuirkATRBare) {
				atrSays = extUnknown
			}
			if m.Has(vcard.QuirkNoExtended) {
				learned = extNo
			}
			if c.ext != atrSays {
				t.Errorf("after SELECT: extended-length mode %d, want %d (from the ATR)", c.ext, atrSays)
			}
			id, err := c.Identity(ctx)
			if err != nil || id.YubiKey || id.GUID == "" {
				t.Fatalf("identity %+v, %v", id, err)
			}
			b.ResetStats()
			cert, err := c.Certificate(ctx, SlotAuthentication)
			if err != nil {
				t.Fatal(err)
			}
			if st := b.Stats(); st.Instructions["A4"] != 0 || st.Instructions["CB"] != 1 {
				t.Errorf("certificate read with %v: one GET DATA, no new SELECT", st.Instructions)
			}
			if c.ext != learned {
				t.Errorf("after the certificate: extended-length mode %d, want %d", c.ext, learned)
			}
			pub := cert.PublicKey.(*rsa.PublicKey)
			digest := sha256.Sum256([]byte(m.Name))
			in, err := rsapad.EncodePKCS1v15(crypto.SHA256, digest[:], pub.Size())
			if err != nil {
				t.Fatal(err)
			}
			var sig []byte
			var tries int
			err = c.Transaction(ctx, func(tx *Tx) error {
				if tries, err = tx.PINRetries(); err != nil {
					return err
				}
				if err := tx.Verify([]byte("123456")); err != nil {
					return err
				}
				defer tx.ClearVerify()
				sig, err = tx.Sign(SlotAuthentication, AlgRSA2048, in)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
				t.Errorf("signature: %v", err)
			}
			if tries != m.PINTries() {
				t.Errorf("%d PIN tries, want %d", tries, m.PINTries())
			}
			// A reset (another program) loses the selection: the engine
			// selects again, short, and the Java Card runtime selects.
			b.Card.Reset()
			if _, err := c.Certificate(ctx, SlotAuthentication); err != nil {
				t.Errorf("after the card lost its selection: %v", err)
			}
		})
	}
}

// TestNotPIVCard: a present card whose SELECT fails is reported as such,
// with its status word, never as "no card".
func TestNotPIVCard(t *testing.T) {
	for _, sw := range []uint16{0x6986, 0x6A82} {
		b := benchtest.Start(t, vcard.ProfilePIV, benchtest.WithFlaky(vpcd.Flaky{Rate: 1, SW: sw}))
		if b.Real() {
			t.Skip("needs a card that answers every command with one status word")
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := Open(ctx, Selector{Reader: b.Reader})
		var np *NotPIVError
		if !errors.As(err, &np) || np.SW != sw || np.Reader != b.Reader || !errors.Is(err, ErrNotPIV) || errors.Is(err, ErrNoCard) {
			t.Fatalf("SW %04X: Open: %v", sw, err)
		}
		want := fmt.Sprintf("the card in reader %q does not answer as a PIV card: SELECT answered %04X (", b.Reader, sw)
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
		cards, err := Cards(ctx)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, ci := range cards {
			if ci.Reader == b.Reader {
				found = errors.As(ci.Err, &np) && np.SW == sw
			}
		}
		if !found {
			t.Errorf("SW %04X: Cards does not list the card with its SELECT status", sw)
		}
	}
}
