package vcard

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestQuirksPersistAndParse(t *testing.T) {
	if _, err := ParseQuirks("short-select-only,nosuch"); err == nil {
		t.Fatal("ParseQuirks accepted an unknown quirk")
	}
	qs, err := ParseQuirks(" no-extended, atr-bare,no-extended,")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(qs, []Quirk{QuirkNoExtended, QuirkATRBare}) {
		t.Fatalf("ParseQuirks = %v", qs)
	}
	ca, _ := benchCA(t)
	path := filepath.Join(t.TempDir(), "card.json")
	c, err := OpenWithCA(path, ProfilePIV, ca)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetQuirks(qs...); err != nil {
		t.Fatal(err)
	}
	again, err := OpenWithCA(path, ProfilePIV, ca)
	if err != nil {
		t.Fatal(err)
	}
	if !again.HasQuirk(QuirkATRBare) || !again.HasQuirk(QuirkNoExtended) || again.HasQuirk(QuirkShortSelectOnly) {
		t.Fatalf("reopened card has quirks %v", again.st.Quirks)
	}
}

// TestQuirkNoPINReset: VERIFY P1=FF is refused with 6A86 and the PIN stays
// verified; without the quirk it clears the status.
func TestQuirkNoPINReset(t *testing.T) {
	for _, quirk := range []bool{false, true} {
		c, _ := newCard(t, ProfileYubiKey)
		if quirk {
			if err := c.SetQuirks(QuirkNoPINReset); err != nil {
				t.Fatal(err)
			}
		}
		must(t, c, selectPIV)
		must(t, c, verifyPIN("123456"))
		if quirk {
			expect(t, c, apdu(0, insVerify, 0xFF, refPIN, nil), 0x6A86)
			must(t, c, apdu(0, insVerify, 0, refPIN, nil)) // still verified
		} else {
			must(t, c, apdu(0, insVerify, 0xFF, refPIN, nil))
			expect(t, c, apdu(0, insVerify, 0, refPIN, nil), 0x63C3)
		}
	}
}

// TestQuirkStatusAcrossSelect: a YubiKey-like card keeps the PIN and the
// management-key status when PIV is selected again; selecting another
// application still clears them.
func TestQuirkStatusAcrossSelect(t *testing.T) {
	for _, quirk := range []bool{false, true} {
		c, _ := newCard(t, ProfileYubiKey)
		if quirk {
			if err := c.SetQuirks(QuirkStatusAcrossSelect); err != nil {
				t.Fatal(err)
			}
		}
		must(t, c, selectPIV)
		must(t, c, verifyPIN("123456"))
		mgmtAuth(t, c, alg3DES, defaultMgmtKey)
		must(t, c, selectPIV)
		generate := apdu(0, insGenerate, 0, 0x82, []byte{0xAC, 0x03, 0x80, 0x01, 0x11})
		if quirk {
			must(t, c, apdu(0, insVerify, 0, refPIN, nil))
			must(t, c, generate)
		} else {
			expect(t, c, apdu(0, insVerify, 0, refPIN, nil), 0x63C3)
			expect(t, c, generate, 0x6982)
		}
		must(t, c, apdu(0, insSelect, 0x04, 0x00, managementAID))
		must(t, c, selectPIV)
		expect(t, c, apdu(0, insVerify, 0, refPIN, nil), 0x63C3)
	}
}

// TestQuirkChangeRefVerifies: CHANGE REFERENCE DATA of the PIN and RESET
// RETRY COUNTER leave the PIN verified; a PUK change does not touch it.
func TestQuirkChangeRefVerifies(t *testing.T) {
	for _, quirk := range []bool{false, true} {
		c, _ := newCard(t, ProfilePIV)
		if quirk {
			if err := c.SetQuirks(QuirkChangeRefVerifies); err != nil {
				t.Fatal(err)
			}
		}
		must(t, c, selectPIV)
		status := func(step string) {
			t.Helper()
			want := uint16(0x63C3)
			if quirk && step != "puk" {
				want = 0x9000
			}
			if _, sw := send(t, c, apdu(0, insVerify, 0, refPIN, nil)); sw != want {
				t.Errorf("quirk %v, after the %s change: empty VERIFY %04X, want %04X", quirk, step, sw, want)
			}
		}
		must(t, c, changeRef(refPIN, "123456", "24682468"))
		status("pin")
		must(t, c, apdu(0, insVerify, 0xFF, refPIN, nil))
		must(t, c, changeRef(refPUK, "12345678", "87654321"))
		status("puk")
		must(t, c, resetRetry("87654321", "13571357"))
		status("unblock")
	}
}
