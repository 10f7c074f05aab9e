//go:build linux

package piv_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/piv"
)

// hardCases are the quirks of cards on which the light ways of ending the
// security status do not work: no VERIFY P1=FF, status kept across SELECT,
// a PIN change that leaves the PIN verified.
var hardCases = []vcard.Quirk{vcard.QuirkNoPINReset, vcard.QuirkStatusAcrossSelect, vcard.QuirkChangeRefVerifies}

// cardKinds are both profiles, plain and with the hard cases.
var cardKinds = []struct {
	name    string
	profile vcard.Profile
	quirks  []vcard.Quirk
}{
	{"yubikey", vcard.ProfileYubiKey, nil},
	{"piv", vcard.ProfilePIV, nil},
	{"yubikey-hard", vcard.ProfileYubiKey, hardCases},
	{"piv-hard", vcard.ProfilePIV, hardCases},
}

// TestCardNotLeftOpen: after every engine operation that verifies the PIN or
// authenticates with the management key, another PC/SC client finds the card
// neither PIN-verified nor management-authenticated, on every card kind.
func TestCardNotLeftOpen(t *testing.T) {
	for _, kind := range cardKinds {
		t.Run(kind.name, func(t *testing.T) {
			b := benchtest.Start(t, kind.profile, benchtest.WithQuirks(kind.quirks...))
			if b.Real() {
				t.Skip("card kinds of the virtual card")
			}
			c := openBench(t, b)
			ctx := testContext(t)
			id, err := c.Identity(ctx)
			if err != nil {
				t.Fatal(err)
			}
			step := func(what string, err error) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				b.CheckNotLeftOpen(t, what)
			}
			step("VERIFY and ClearVerify", withPIN(t, c, func(*piv.Tx) error { return nil }))
			newPIN := []byte("24682468")
			step("ChangePIN", c.ChangePIN(ctx, defaultPIN, newPIN))
			step("UnblockPIN", c.UnblockPIN(ctx, defaultPUK, defaultPIN))
			if !id.YubiKey {
				return // an issued card's management key is its issuer's
			}
			step("PutCertificate", c.PutCertificate(ctx, defaultMgmtKey, piv.SlotSignature, piv.SelfSigned(t), false))
			step("DeleteCertificate", c.DeleteCertificate(ctx, defaultMgmtKey, piv.SlotSignature))
			_, _, err = c.GenerateKey(ctx, defaultMgmtKey, piv.SlotAuthentication, piv.KeyOptions{Algorithm: piv.AlgECCP256}, benchRoots(b))
			step("GenerateKey (piv-go)", err)
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			step("ImportKey (piv-go)", c.ImportKey(ctx, defaultMgmtKey, piv.SlotSignature, key, nil, piv.KeyOptions{}))
			step("SetRetries (piv-go)", c.SetRetries(ctx, defaultMgmtKey, defaultPIN, 5, 5, nil))
			newMgmt := bytes.Repeat([]byte{0x5A}, 24)
			step("SetManagementKey", c.SetManagementKey(ctx, defaultMgmtKey, newMgmt, piv.AlgAES192, piv.ProtectedKeyOptions{}))
		})
	}
}

// TestPanicEndsTransaction: a caller that recovers from a panic inside a
// transaction does not leave the card held: another program gets it at once,
// and the engine's next transaction works.
func TestPanicEndsTransaction(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	c := openBench(t, b)
	ctx := testContext(t)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not reach the caller")
			}
		}()
		c.Transaction(ctx, func(tx *piv.Tx) error {
			if err := tx.Verify(defaultPIN); err != nil {
				t.Error(err)
			}
			panic("a bug in the operation")
		})
	}()
	// Within outsiderTimeout, or the test fails: the transaction ended.
	o := b.AuthorityFromOutside(t)
	if o.ManagementAuthenticated() {
		t.Errorf("outsider: %+v", o)
	}
	if _, err := c.PINStatus(ctx); err != nil {
		t.Errorf("next transaction: %v", err)
	}
}

// TestClearVerifyFallback: what ending the PIN status costs. VERIFY P1=FF
// alone where the card takes it; on a card without it, a re-SELECT that the
// empty VERIFY shows effective (a YubiKey), or else a reset, which the
// engine's next transaction sees as a new connection.
func TestClearVerifyFallback(t *testing.T) {
	for _, tc := range []struct {
		name    string
		profile vcard.Profile
		quirks  []vcard.Quirk
		apdus   int
		reset   bool
	}{
		{"P1=FF", vcard.ProfilePIV, nil, 1, false},
		{"SELECT ends it", vcard.ProfileYubiKey, []vcard.Quirk{vcard.QuirkNoPINReset}, 4, false},
		{"status across SELECT", vcard.ProfilePIV, []vcard.Quirk{vcard.QuirkNoPINReset}, 4, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := benchtest.Start(t, tc.profile, benchtest.WithQuirks(tc.quirks...))
			if b.Real() {
				t.Skip("card kinds of the virtual card")
			}
			c := openBench(t, b)
			ctx := testContext(t)
			var conn uint64
			var apdus int
			err := c.Transaction(ctx, func(tx *piv.Tx) error {
				conn = tx.Connection()
				if err := tx.Verify(defaultPIN); err != nil {
					return err
				}
				b.ResetStats()
				err := tx.ClearVerify()
				apdus = b.Stats().APDUs
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if apdus != tc.apdus {
				t.Errorf("ClearVerify took %d APDUs, want %d", apdus, tc.apdus)
			}
			b.CheckNotLeftOpen(t, "ClearVerify")
			c.Transaction(ctx, func(tx *piv.Tx) error {
				if reset := tx.Connection() != conn; reset != tc.reset {
					t.Errorf("card reset: %v, want %v", reset, tc.reset)
				}
				return nil
			})
		})
	}
}
