package vcard

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/pivauth/pivauth/internal/tlv"
)

func TestATR(t *testing.T) {
	for profile, want := range map[Profile]string{
		ProfileYubiKey: "3BFD1300008131FE158073C021C057597562694B657940",
		ProfilePIV:     "3BFD1300008131FE458073C021C05770697661757468",
	} {
		c, _ := newCard(t, profile)
		atr := c.ATR()
		if !bytes.HasPrefix(atr, unhex(t, want)) {
			t.Errorf("%s ATR %X", profile, atr)
		}
		// T=1 ATRs end in TCK: T0 through TCK XOR to zero.
		var x byte
		for _, b := range atr[1:] {
			x ^= b
		}
		if x != 0 {
			t.Errorf("%s ATR %X: bad TCK", profile, atr)
		}
		if c.Profile() != profile {
			t.Errorf("Profile() = %s", c.Profile())
		}
	}
}

func TestSelect(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	// Nothing is selected after power-on.
	expect(t, c, apdu(0, insGetVersion, 0, 0, nil), 0x6D00)
	apt := must(t, c, selectPIV)
	if want := unhex(t, "6111 4F06000010000100 7907 4F05A000000308"); !bytes.Equal(apt, want) {
		t.Errorf("APT %X, want %X", apt, want)
	}
	must(t, c, apdu(0, insSelect, 4, 0, pivAID))
	if got := must(t, c, apdu(0, insSelect, 4, 0x0C, pivAID[:9])); len(got) != 0 {
		t.Errorf("SELECT P2=0C answered %X", got)
	}
	must(t, c, apdu(0, insGetVersion, 0, 0, nil))
	expect(t, c, apdu(0, insSelect, 4, 0, pivAID[:4]), 0x6A82) // shorter than the RID

	// A SELECT that finds nothing leaves PIV and its security status alone
	// (ISO 7816-4 5.3.1).
	must(t, c, verifyPIN("123456"))
	expect(t, c, apdu(0, insSelect, 4, 0, unhex(t, "A000000999")), 0x6A82)
	must(t, c, apdu(0, insGetVersion, 0, 0, nil))
	must(t, c, apdu(0, insVerify, 0, refPIN, nil))

	// Another application (OpenPGP): selected, and the PIV state is gone.
	must(t, c, selectPIV)
	must(t, c, verifyPIN("123456"))
	must(t, c, apdu(0, insSelect, 4, 0, unhex(t, "D27600012401")))
	expect(t, c, apdu(0, insGetVersion, 0, 0, nil), 0x6D00)
	must(t, c, selectPIV)
	expect(t, c, apdu(0, insVerify, 0, refPIN, nil), 0x63C3)

	// The management application answers device info, then PIV is gone.
	must(t, c, verifyPIN("123456"))
	ver := must(t, c, apdu(0, insSelect, 4, 0, managementAID))
	if string(ver) != "Firmware version 5.7.1" {
		t.Errorf("management SELECT answered %q", ver)
	}
	info := must(t, c, apdu(0, insDeviceInfo, 0, 0, nil))
	if int(info[0]) != len(info)-1 {
		t.Fatalf("device info %X: bad length byte", info)
	}
	serial, _, _ := tlv.Find(info[1:], 0x02)
	ff, _, _ := tlv.Find(info[1:], 0x04)
	if binary.BigEndian.Uint32(serial) != c.st.Serial || !bytes.Equal(ff, []byte{formFactor}) {
		t.Errorf("device info %X", info)
	}
	expect(t, c, apdu(0, insVerify, 0, refPIN, nil), 0x6D00)
	must(t, c, selectPIV)
	expect(t, c, apdu(0, insVerify, 0, refPIN, nil), 0x63C3)

	// A government card keeps the security status across a re-SELECT of
	// PIV (SP 800-73-4 3.1.1); a YubiKey drops it.
	p, _ := newCard(t, ProfilePIV)
	must(t, p, selectPIV)
	must(t, p, verifyPIN("123456"))
	apt = must(t, p, selectPIV)
	must(t, p, apdu(0, insVerify, 0, refPIN, nil))
	if label, ok, _ := tlv.Find(apt[2:], 0x50); !ok || len(label) == 0 {
		t.Errorf("piv APT %X has no label", apt)
	}
	expect(t, p, apdu(0, insSelect, 4, 0, managementAID), 0x6A82)
	must(t, p, apdu(0, insVerify, 0, refPIN, nil)) // the failed SELECT kept PIV
	must(t, p, apdu(0, insSelect, 4, 0, otherApps[ProfilePIV][0]))
	expect(t, p, apdu(0, insVerify, 0, refPIN, nil), 0x6D00)
	must(t, c, selectPIV)
	must(t, c, verifyPIN("123456"))
	must(t, c, selectPIV)
	expect(t, c, apdu(0, insVerify, 0, refPIN, nil), 0x63C3)
}

func TestResetDropsSecurityStatus(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	must(t, c, selectPIV)
	must(t, c, verifyPIN("123456"))
	mgmtAuth(t, c, alg3DES, defaultMgmtKey)
	// A response waiting for GET RESPONSE is dropped too.
	r := c.Transmit([]byte{0x00, insGetData, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xFF, 0x01, 0x10})
	if r[len(r)-2] != 0x61 {
		t.Fatalf("GET DATA with Le=16: %X", r)
	}
	c.Reset()
	expect(t, c, []byte{0x00, 0xC0, 0x00, 0x00, 0x00}, 0x6985)
	expect(t, c, apdu(0, insVerify, 0, refPIN, nil), 0x6D00)
	must(t, c, selectPIV)
	expect(t, c, apdu(0, insVerify, 0, refPIN, nil), 0x63C3)
	expect(t, c, apdu(0, insGenerate, 0, 0x9A, unhex(t, "AC03800111")), 0x6982)
}
