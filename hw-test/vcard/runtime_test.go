package vcard

import (
	"bytes"
	"testing"
)

// extendedLe adds an extended Le (0000: up to 65536 bytes) to a command built
// by apdu, as an extended one when it has data.
func extendedLe(cmd []byte) []byte {
	if len(cmd) == 4 {
		return append(cmd, 0x00, 0x00, 0x00)
	}
	if cmd[4] != 0 { // short Lc: rewrite as extended
		n := int(cmd[4])
		cmd = append(append(append([]byte(nil), cmd[:4]...), 0x00, 0x00, byte(n)), cmd[5:]...)
	}
	return append(cmd, 0x00, 0x00)
}

var getCert9A = apdu(0, insGetData, 0x3F, 0xFF, []byte{0x5C, 0x03, 0x5F, 0xC1, 0x05})

func TestQuirkShortSelectOnly(t *testing.T) {
	extSelect := extendedLe(append([]byte(nil), selectPIV...))
	plain, _ := newCard(t, ProfilePIV)
	must(t, plain, extSelect) // the default card selects on any length form

	c, _ := newCard(t, ProfilePIV)
	if err := c.SetQuirks(QuirkShortSelectOnly); err != nil {
		t.Fatal(err)
	}
	// Nothing selected: the runtime refuses the command.
	expect(t, c, extSelect, 0x6986)
	expect(t, c, apdu(0, insGetData, 0x3F, 0xFF, unhex(t, "5C035FC102")), 0x6D00)
	must(t, c, selectPIV)
	// PIV selected: the applet sees an instruction it does not know, and
	// stays selected with its security status.
	must(t, c, verifyPIN("123456"))
	expect(t, c, extSelect, 0x6D00)
	expect(t, c, apdu(0, insVerify, 0, refPIN, nil), 0x9000)
	// Other commands take extended length (the applet implements it).
	if cert := must(t, c, extendedLe(append([]byte(nil), getCert9A...))); len(cert) < 256 {
		t.Fatalf("extended GET DATA gave %d bytes", len(cert))
	}
}

func TestQuirkATRBare(t *testing.T) {
	for profile, want := range map[Profile]string{
		// T0 F9: the same TA1 TB1 TC1 TD1 (T=1), TD2 and IFSC; 9
		// historical bytes: category 80 and the issuer data, no 73 object.
		ProfilePIV:     "3BF91300008131FE45 80 57 70697661757468",
		ProfileYubiKey: "3BF91300008131FE15 80 57 597562694B6579",
	} {
		c, _ := newCard(t, profile)
		if err := c.SetQuirks(QuirkATRBare); err != nil {
			t.Fatal(err)
		}
		atr := c.ATR()
		w := unhex(t, want)
		if len(atr) != len(w)+1 || !bytes.HasPrefix(atr, w) {
			t.Errorf("%s: bare ATR %X, want %X + TCK", profile, atr, w)
		}
		var x byte
		for _, b := range atr[1:] {
			x ^= b
		}
		if x != 0 {
			t.Errorf("%s: bare ATR %X: bad TCK", profile, atr)
		}
		if err := c.SetQuirks(); err != nil {
			t.Fatal(err)
		}
		if got := c.ATR(); !bytes.Equal(got, atrs[profile]) {
			t.Errorf("%s: ATR %X after the quirk is gone", profile, got)
		}
	}
	// Compact-TLV historical bytes only: others stay as they are.
	jcop := unhex(t, "3BF81300008131FE454A434F5076323431B7")
	if got := bareATR(jcop); !bytes.Equal(got, jcop) {
		t.Errorf("proprietary historical bytes changed: %X", got)
	}
}

func TestQuirkNoExtended(t *testing.T) {
	c, _ := newCard(t, ProfilePIV)
	if err := c.SetQuirks(QuirkNoExtended); err != nil {
		t.Fatal(err)
	}
	must(t, c, selectPIV)
	must(t, c, verifyPIN("123456"))
	before := c.Stats().APDUs
	// The runtime refuses any extended APDU before the applet sees it: the
	// PIN stays verified, even the one-shot PIN-always state.
	expect(t, c, extendedLe(append([]byte(nil), getCert9A...)), 0x6700)
	expect(t, c, unhex(t, "00CB3FFF 000005 5C035FC105"), 0x6700) // case 3E
	if !c.vol.pinAlways || !c.vol.pinVerified {
		t.Fatal("a refused extended APDU changed the security status")
	}
	// Short: at most 256 bytes at once, the rest through GET RESPONSE.
	resp := c.Transmit(append(append([]byte(nil), getCert9A...), 0x00))
	if len(resp) != 258 || resp[256] != 0x61 {
		t.Fatalf("short GET DATA answered %d bytes, SW %X", len(resp), resp[len(resp)-2:])
	}
	if cert := must(t, c, getCert9A); len(cert) <= 256 {
		t.Fatalf("certificate of %d bytes", len(cert))
	}
	if n := c.Stats().APDUs - before; n < 5 {
		t.Fatalf("%d APDUs", n)
	}
}

func TestQuirkFivePINTries(t *testing.T) {
	c, path := newCard(t, ProfilePIV)
	pinStatus := apdu(0, insVerify, 0, refPIN, nil)
	must(t, c, selectPIV)
	expect(t, c, pinStatus, 0x63C3)
	if err := c.SetQuirks(QuirkFivePINTries); err != nil {
		t.Fatal(err)
	}
	expect(t, c, pinStatus, 0x63C5)
	expect(t, c, verifyPIN("999999"), 0x63C4)
	// The PUK keeps 3 tries (PivApplet's OwnerPIN(3, 8)).
	wrongPUK := apdu(0, insResetRetry, 0, refPIN, append(padPIN("00000000"), padPIN("654321")...))
	expect(t, c, wrongPUK, 0x63C2)
	must(t, c, verifyPIN("123456"))
	expect(t, c, verifyPIN("999999"), 0x63C4) // a right PIN restored all 5

	// The counters are card state: a reopened card keeps them.
	ca, _ := benchCA(t)
	again, err := OpenWithCA(path, ProfilePIV, ca)
	if err != nil {
		t.Fatal(err)
	}
	must(t, again, selectPIV)
	expect(t, again, pinStatus, 0x63C4)
	// Without the quirk, back to 3 (a counter spent down keeps what is left
	// up to the new maximum).
	if err := again.SetQuirks(); err != nil {
		t.Fatal(err)
	}
	expect(t, again, pinStatus, 0x63C3)
}

// TestQuirkFivePINTriesAfterReset: Yubico RESET puts factory credentials
// back, with the quirk's counter.
func TestQuirkFivePINTriesAfterReset(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	if err := c.SetQuirks(QuirkFivePINTries); err != nil {
		t.Fatal(err)
	}
	must(t, c, selectPIV)
	for range 5 {
		send(t, c, verifyPIN("999999"))
	}
	wrongPUK := apdu(0, insResetRetry, 0, refPIN, append(padPIN("00000000"), padPIN("654321")...))
	for range 3 {
		send(t, c, wrongPUK)
	}
	must(t, c, apdu(0, insReset, 0, 0, nil))
	expect(t, c, apdu(0, insVerify, 0, refPIN, nil), 0x63C5)
}
