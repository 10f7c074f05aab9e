package vcard

import (
	"bytes"
	"testing"
)

// Harness pseudo-commands in fuzz input (CLA FF is refused by the card, so
// they take nothing away): they let the fuzzer reach what needs a secret.
var (
	fuzzMgmtAuth = []byte{0xFF, 0xFF, 0xFF, 0xFF} // authenticate with the management key
	fuzzPIN      = []byte{0xFF, 0xFF, 0xFF, 0xFE} // VERIFY the current PIN
	fuzzReset    = []byte{0xFF, 0xFF, 0xFF, 0xFD} // power cycle
)

// fuzzAPDUs splits fuzz input into APDUs, each prefixed by its length byte.
func fuzzAPDUs(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 && len(out) < 64 {
		n := int(data[0])
		data = data[1:]
		if n > len(data) {
			n = len(data)
		}
		out = append(out, data[:n])
		data = data[n:]
	}
	return out
}

// fuzzInput joins APDUs into fuzz input.
func fuzzInput(profile byte, apdus ...[]byte) []byte {
	out := []byte{profile}
	for _, a := range apdus {
		out = append(out, byte(len(a)))
		out = append(out, a...)
	}
	return out
}

// slowGenerate reports a GENERATE of an RSA key: prime search under coverage
// instrumentation takes seconds and teaches the fuzzer nothing the EC
// algorithms do not (the template parsing is the same).
func slowGenerate(a []byte) bool {
	if len(a) < 2 || a[1] != insGenerate {
		return false
	}
	for _, alg := range []byte{algRSA1024, algRSA2048, algRSA3072, algRSA4096} {
		if bytes.Contains(a, []byte{0x80, 0x01, alg}) {
			return true
		}
	}
	return false
}

// FuzzTransmit feeds random APDU sequences to both profiles and checks that
// the card never panics, answers every APDU with at least a status word,
// saves every change it makes (memory equals the last save), keeps a state
// file that loads, and still selects and verifies afterwards.
func FuzzTransmit(f *testing.F) {
	verify := apdu(0, insVerify, 0, refPIN, padPIN("123456"))
	seeds := [][][]byte{
		{selectPIV, verify, apdu(0, insVerify, 0, refPIN, nil)},
		{selectPIV, fuzzMgmtAuth, unhex(f, "0047009A05AC03800111"), fuzzPIN, unhex(f, "0087119A267C24820081200102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20")},
		{selectPIV, fuzzMgmtAuth, unhex(f, "0047009D05AC038001E1"), unhex(f, "0087E19D267C248200852009090909090909090909090909090909090909090909090909090909090909")},
		{selectPIV, fuzzMgmtAuth, unhex(f, "00DB3FFF0C5C035FC1055305700100FE00"), unhex(f, "00CB3FFF055C035FC10500")},
		{selectPIV, unhex(f, "10DB3FFF045C035FC1"), unhex(f, "00DB3FFF0205530100"), unhex(f, "00C0000000")},
		{selectPIV, unhex(f, "00FD000000"), unhex(f, "00F8000000"), unhex(f, "00F7000080"), unhex(f, "00F700009B"), unhex(f, "00F9F90000")},
		{selectPIV, fuzzMgmtAuth, unhex(f, "00FE119A2206200102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1FAA0101AB0101")},
		{selectPIV, fuzzMgmtAuth, fuzzPIN, unhex(f, "00FA0505"), unhex(f, "00FF00FF1B039B18010203040506070801020304050607080102030405060708")},
		{selectPIV, verify, verify, unhex(f, "002400801031323334353637FF3132333435363738"), unhex(f, "002C008010313233343536373831323334353637")},
		{selectPIV, unhex(f, "0087039B047C028000"), unhex(f, "0087039B047C028100"), unhex(f, "00FB0000")},
		{selectPIV, unhex(f, "00A4040008A000000527471117"), unhex(f, "001D000000"), fuzzReset, selectPIV},
		{selectPIV, fuzzPIN, unhex(f, "00CB3FFF055C035FC10900"), unhex(f, "00CB3FFF00000005"+"5C035FC102"+"0000")},
	}
	for _, s := range seeds {
		f.Add(fuzzInput(0, s...))
		f.Add(fuzzInput(1, s...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		profile := ProfileYubiKey
		if data[0]&1 == 1 {
			profile = ProfilePIV
		}
		c, path := newCard(t, profile)
		for _, a := range fuzzAPDUs(data[1:]) {
			switch {
			case bytes.Equal(a, fuzzMgmtAuth):
				if c.vol.app == appPIV && c.st.Profile == ProfileYubiKey {
					mgmtAuth(t, c, c.st.MgmtAlg, c.st.MgmtKey)
				}
				continue
			case bytes.Equal(a, fuzzPIN):
				a = apdu(0, insVerify, 0, refPIN, c.st.PIN)
			case bytes.Equal(a, fuzzReset):
				c.Reset()
				continue
			case slowGenerate(a):
				continue
			}
			if r := c.Transmit(a); len(r) < 2 || c.panics != 0 {
				t.Fatalf("APDU %X: response %X, %d panics", a, r, c.panics)
			}
			if now, err := c.st.encode(); err != nil || !bytes.Equal(now, c.saved) {
				t.Fatalf("APDU %X changed the card without saving it (%v)", a, err)
			}
		}
		onDisk, _, err := loadState(path)
		if err != nil {
			t.Fatalf("state file does not load: %v", err)
		}
		c.Reset()
		must(t, c, selectPIV)
		want := uint16(0x9000)
		if onDisk.PINTries == 0 {
			want = 0x6983
		}
		expect(t, c, apdu(0, insVerify, 0, refPIN, onDisk.PIN), want)
		ca, _ := benchCA(t)
		if _, err := OpenWithCA(path, profile, ca); err != nil {
			t.Fatalf("reopening: %v", err)
		}
	})
}
