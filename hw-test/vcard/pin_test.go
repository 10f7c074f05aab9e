package vcard

import (
	"testing"
)

func changeRef(ref byte, old, new string) []byte {
	return apdu(0, insChangeReference, 0, ref, append(padPIN(old), padPIN(new)...))
}

func resetRetry(puk, pin string) []byte {
	return apdu(0, insResetRetry, 0, refPIN, append(padPIN(puk), padPIN(pin)...))
}

func TestPINCountsDownBlocksAndUnblocks(t *testing.T) {
	c, path := newCard(t, ProfileYubiKey)
	must(t, c, selectPIV)
	// Both empty forms: 4-byte case 1 and 5-byte with Le=00 as piv-go sends.
	expect(t, c, []byte{0x00, insVerify, 0x00, refPIN}, 0x63C3)
	expect(t, c, []byte{0x00, insVerify, 0x00, refPIN, 0x00}, 0x63C3)
	expect(t, c, verifyPIN("000000"), 0x63C2)
	expect(t, c, verifyPIN("111111"), 0x63C1)
	must(t, c, verifyPIN("123456")) // a right PIN restores the counter
	must(t, c, apdu(0, insVerify, 0, refPIN, nil))
	must(t, c, apdu(0, insVerify, 0xFF, refPIN, nil))
	expect(t, c, apdu(0, insVerify, 0, refPIN, nil), 0x63C3)

	for want := uint16(0x63C2); want >= 0x63C0; want-- {
		expect(t, c, verifyPIN("999999"), want)
	}
	expect(t, c, verifyPIN("123456"), 0x6983)
	expect(t, c, apdu(0, insVerify, 0, refPIN, nil), 0x6983)
	expect(t, c, changeRef(refPIN, "123456", "654321"), 0x6983)

	// The block survives a power cycle and reopening the state file.
	ca, _ := benchCA(t)
	c, err := OpenWithCA(path, ProfileYubiKey, ca)
	if err != nil {
		t.Fatal(err)
	}
	must(t, c, selectPIV)
	expect(t, c, verifyPIN("123456"), 0x6983)

	expect(t, c, resetRetry("87654321", "654321"), 0x63C2)
	expect(t, c, apdu(0, insResetRetry, 0, refPIN, append(padPIN("12345678"), padPIN("12")...)), 0x6A80) // new PIN too short
	must(t, c, resetRetry("12345678", "654321"))
	expect(t, c, apdu(0, insVerify, 0, refPIN, nil), 0x63C3)
	expect(t, c, verifyPIN("123456"), 0x63C2)
	must(t, c, verifyPIN("654321"))
	if got := c.Stats().PINVerifies; got != 3 { // since reopening; the empty forms do not count
		t.Errorf("PINVerifies = %d", got)
	}
}

func TestChangePINAndPUK(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	must(t, c, selectPIV)
	expect(t, c, changeRef(refPIN, "000000", "24682468"), 0x63C2)
	must(t, c, changeRef(refPIN, "123456", "24682468"))
	expect(t, c, verifyPIN("123456"), 0x63C2)
	must(t, c, verifyPIN("24682468"))
	must(t, c, changeRef(refPUK, "12345678", "87654321"))
	for want := uint16(0x63C2); want >= 0x63C0; want-- {
		expect(t, c, changeRef(refPUK, "00000000", "11111111"), want)
	}
	expect(t, c, changeRef(refPUK, "87654321", "11111111"), 0x6983)
	expect(t, c, resetRetry("87654321", "123456"), 0x6983)
	expect(t, c, apdu(0, insVerify, 0, refPUK, padPIN("87654321")), 0x6A88) // PUK is not for VERIFY
	expect(t, c, apdu(0, insChangeReference, 0, 0x80, padPIN("24682468")), 0x6A80)

	// Government cards take digits only.
	p, _ := newCard(t, ProfilePIV)
	must(t, p, selectPIV)
	expect(t, p, changeRef(refPIN, "123456", "abcdef"), 0x6A80)
	must(t, p, changeRef(refPIN, "123456", "97531"+"0"))
	must(t, p, verifyPIN("975310"))
}

func TestPINAlwaysIsUsedUpByAnyCommand(t *testing.T) {
	c, _ := newCard(t, ProfilePIV)
	must(t, c, selectPIV)
	sign := apdu(0, insAuthenticate, algECCP256, keySignature, unhex(t, "7C248200812000112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"))
	for _, between := range [][]byte{
		{0x00, 0x12, 0x00, 0x00},          // unknown instruction
		{0x00, insVerify, 0x00},           // too short
		apdu(0, insGetVersion, 0, 0, nil), // a Yubico instruction this card lacks
	} {
		must(t, c, verifyPIN("123456"))
		c.Transmit(between)
		expect(t, c, sign, 0x6982)
	}
	// The parts of a chained command are one command.
	must(t, c, verifyPIN("123456"))
	must(t, c, append([]byte{0x10, insAuthenticate, algECCP256, keySignature, 0x10}, unhex(t, "7C248200812000112233445566778899")...))
	must(t, c, apdu(0, insAuthenticate, algECCP256, keySignature, unhex(t, "AABBCCDDEEFF00112233445566778899AABBCCDDEEFF")))
}
