//go:build linux

package piv

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"maps"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
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
