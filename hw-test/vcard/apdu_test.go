package vcard

import (
	"bytes"
	"crypto/sha256"
	"reflect"
	"testing"

	"github.com/pivauth/pivauth/internal/tlv"
)

func TestParseAPDU(t *testing.T) {
	for _, tc := range []struct {
		in       string
		ok       bool
		data     string
		ne       int
		extended bool
	}{
		{"00A40400", true, "", 0, false},
		{"00FD000000", true, "", 256, false},
		{"00FD000010", true, "", 16, false},
		{"00A4040002A000", true, "A000", 0, false},
		{"00A4040002A00000", true, "A000", 256, false},
		{"00A4040002A00001", true, "A000", 1, false},
		{"00A4040002A0", false, "", 0, false},
		{"00A4040002A0000000", false, "", 0, false},
		{"00CB3FFF000000", true, "", 65536, true},
		{"00CB3FFF000100", true, "", 256, true},
		{"00CB3FFF000002AABB", true, "AABB", 0, true},
		{"00CB3FFF000002AABB0000", true, "AABB", 65536, true},
		{"00CB3FFF000002AABB0010", true, "AABB", 16, true},
		{"00CB3FFF000002AABB00", false, "", 0, true},
		{"00CB3FFF000000AA", false, "", 0, true},
		{"00CB3FFF0000", false, "", 0, true},
		{"00CB3F", false, "", 0, false},
	} {
		cmd, ok := parseAPDU(unhex(t, tc.in))
		if ok != tc.ok {
			t.Errorf("%s: ok = %v", tc.in, ok)
			continue
		}
		if ok && (!bytes.Equal(cmd.data, unhex(t, tc.data)) || cmd.ne != tc.ne || cmd.extended != tc.extended) {
			t.Errorf("%s: data %X ne %d extended %v", tc.in, cmd.data, cmd.ne, cmd.extended)
		}
	}
}

func TestMalformedAPDUs(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	must(t, c, selectPIV)
	for name, tc := range map[string]struct {
		cmd  string
		want uint16
	}{
		"empty":                      {"", 0x6700},
		"one byte":                   {"00", 0x6700},
		"three bytes":                {"00A404", 0x6700},
		"proprietary class":          {"80FD0000", 0x6E00},
		"class FF":                   {"FFFD0000", 0x6E00},
		"secure messaging":           {"0CFD0000", 0x6882},
		"logical channel":            {"01FD0000", 0x6881},
		"Lc beyond data":             {"00A4040005A000", 0x6700},
		"data beyond Lc and Le":      {"00A4040002A0000000", 0x6700},
		"extended Lc zero":           {"0020008000000000", 0x6700},
		"six bytes":                  {"002000800000", 0x6700},
		"unknown instruction":        {"00120000", 0x6D00},
		"GET RESPONSE without data":  {"00C0000000", 0x6985},
		"GET RESPONSE P1":            {"00C0010000", 0x6A86},
		"SELECT by path":             {"00A40000023F00", 0x6A86},
		"SELECT P2":                  {"00A4040105A000000308", 0x6A86},
		"VERIFY P1":                  {"0020018000", 0x6A86},
		"VERIFY global PIN":          {"0020000008313233343536FFFF", 0x6A88},
		"VERIFY short PIN":           {"0020008006313233343536", 0x6A80},
		"VERIFY key reference FF":    {"002000FF080000000000000000", 0x6A88},
		"VERIFY reset with data":     {"0020FF8008FFFFFFFFFFFFFFFF", 0x6700},
		"CHANGE P1":                  {"0024018010" + "31323334353601FF31323334353601FF", 0x6A86},
		"CHANGE key reference":       {"0024009B10" + "31323334353601FF31323334353601FF", 0x6A88},
		"RESET RETRY for PUK":        {"002C008110" + "31323334353601FF31323334353601FF", 0x6A88},
		"RESET RETRY short":          {"002C008008313233343536FFFF", 0x6A80},
		"metadata of no slot":        {"00F70042", 0x6A88},
		"attest P2":                  {"00F99A01", 0x6A86},
		"set management key P1":      {"00FF00FF1B03" + "9B18" + "010203040506070801020304050607080102030405060708", 0x6A86},
		"reset P1":                   {"00FB0100", 0x6A86},
		"move key to itself":         {"00F69A9A", 0x6A86},
		"GENERAL AUTHENTICATE empty": {"0087039B", 0x6A80},
	} {
		t.Run(name, func(t *testing.T) {
			r := c.Transmit(unhex(t, tc.cmd))
			if len(r) != 2 || uint16(r[0])<<8|uint16(r[1]) != tc.want {
				t.Errorf("%s: %X, want %04X", tc.cmd, r, tc.want)
			}
		})
	}
	// None of it touched the PIN.
	expect(t, c, apdu(0, insVerify, 0, refPIN, nil), 0x63C3)
}

func TestChainingEdgeCases(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	must(t, c, selectPIV)
	// A different command abandons a chain; the new command runs alone.
	must(t, c, append([]byte{0x10, insVerify, 0x00, refPIN, 0x04}, []byte("1234")...))
	must(t, c, selectPIV)
	expect(t, c, append([]byte{0x00, insVerify, 0x00, refPIN, 0x04}, []byte("56\xFF\xFF")...), 0x6A80)
	// A chained PIN: the parts join into one VERIFY.
	must(t, c, append([]byte{0x10, insVerify, 0x00, refPIN, 0x04}, []byte("1234")...))
	must(t, c, append([]byte{0x00, insVerify, 0x00, refPIN, 0x04}, []byte("56\xFF\xFF")...))
	if got := c.Stats().PINVerifies; got != 2 {
		t.Errorf("PINVerifies = %d, want 2 (one per complete VERIFY)", got)
	}
	// A chain longer than any command is refused and forgotten.
	part := append([]byte{0x10, insPutData, 0x3F, 0xFF, 0xFF}, make([]byte, 255)...)
	var last []byte
	for i := 0; i*255 <= maxChain; i++ {
		last = c.Transmit(part)
	}
	if !bytes.Equal(last, []byte{0x67, 0x00}) {
		t.Errorf("overlong chain ended with %X", last)
	}
	// Unknown instructions are refused at the first part.
	expect(t, c, []byte{0x10, 0x12, 0x00, 0x00, 0x01, 0x00}, 0x6D00)
}

// counted sends APDUs and adds up what went in and out.
type counted struct {
	c       *Card
	in, out int
	apdus   int
}

func (k *counted) send(cmd []byte) []byte {
	r := k.c.Transmit(cmd)
	k.apdus++
	k.in += len(cmd)
	k.out += len(r)
	return r
}

func TestStats(t *testing.T) {
	c, _ := newCard(t, ProfilePIV)
	k := &counted{c: c}
	k.send(selectPIV)
	k.send([]byte{0x00, insVerify, 0x00, refPIN})         // status: not a PIN verify
	k.send(apdu(0, insVerify, 0, refPIN, padPIN("0000"))) // malformed, but carries a PIN
	k.send(apdu(0, insVerify, 0, refPIN, padPIN("123456")))
	digest := sha256.Sum256([]byte("stats"))
	body := tlv.Encode(0x7C, tlv.Append([]byte{0x82, 0x00}, 0x81, pkcs1(digest[:], 256)))
	k.send(append([]byte{0x10, insAuthenticate, algRSA2048, 0x9A, 0xFF}, body[:255]...))
	if r := k.send(apdu(0, insAuthenticate, algRSA2048, 0x9A, body[255:])); r[len(r)-2] != 0x61 {
		t.Fatalf("GA answered %X", r[len(r)-2:])
	}
	k.send([]byte{0x00, 0xC0, 0x00, 0x00, 0x00})
	k.send(apdu(0, insAuthenticate, algECCP256, 0x9C, tlv.Encode(0x7C, tlv.Append([]byte{0x82, 0x00}, 0x81, digest[:])))) // 6982
	k.send([]byte{0x00})
	want := Stats{
		APDUs:        k.apdus,
		Instructions: map[string]int{"A4": 1, "20": 3, "87": 3, "C0": 1},
		Signatures:   1,
		PINVerifies:  2,
		BytesIn:      k.in,
		BytesOut:     k.out,
	}
	if got := c.Stats(); !reflect.DeepEqual(got, want) {
		t.Errorf("stats %+v\nwant  %+v", got, want)
	}
	c.ResetStats()
	if got := c.Stats(); !reflect.DeepEqual(got, Stats{Instructions: map[string]int{}}) {
		t.Errorf("after ResetStats: %+v", got)
	}
}
