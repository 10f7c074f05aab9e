package piv

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEncodeShort(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmd  Command
		want []string
	}{
		{"case 1", Command{Ins: 0xFD}, []string{"00FD0000"}},
		{"case 2 max", Command{Ins: 0xCB, Ne: MaxNe}, []string{"00CB000000"}},
		{"case 2 small", Command{Ins: 0xCB, Ne: 3}, []string{"00CB000003"}},
		{"case 3", Command{Ins: 0x20, P2: 0x80, Data: []byte{1, 2}}, []string{"002000800201 02"}},
		{"case 4", Command{Ins: 0xA4, P1: 4, Data: pivAID, Ne: MaxNe}, []string{"00A4040005A000000308 00"}},
		{"empty verify", Command{Ins: 0x20, P2: 0x80}, []string{"00200080"}},
	} {
		got := tc.cmd.encode(false)
		if len(got) != len(tc.want) {
			t.Fatalf("%s: %d parts, want %d", tc.name, len(got), len(tc.want))
		}
		for i := range got {
			if w := unhex(t, tc.want[i]); !bytes.Equal(got[i], w) {
				t.Errorf("%s part %d: % X, want % X", tc.name, i, got[i], w)
			}
		}
	}
}

func TestEncodeChained(t *testing.T) {
	data := bytes.Repeat([]byte{0xAB}, 600)
	parts := Command{Ins: 0x87, P1: 0x07, P2: 0x9A, Data: data, Ne: MaxNe}.encode(false)
	if len(parts) != 3 {
		t.Fatalf("%d parts, want 3", len(parts))
	}
	var joined []byte
	for i, p := range parts {
		last := i == len(parts)-1
		if cla := p[0]; (cla&claChaining != 0) == last {
			t.Errorf("part %d: CLA %02X", i, cla)
		}
		n := int(p[4])
		joined = append(joined, p[5:5+n]...)
		wantLen := 5 + n
		if last {
			wantLen++ // Le
		}
		if len(p) != wantLen {
			t.Errorf("part %d: %d bytes, want %d", i, len(p), wantLen)
		}
	}
	if !bytes.Equal(joined, data) {
		t.Error("chained data differs")
	}
	if parts[2][len(parts[2])-1] != 0x00 {
		t.Error("last part lacks Le 00")
	}
}

func TestEncodeExtended(t *testing.T) {
	data := bytes.Repeat([]byte{0xCD}, 266)
	parts := Command{Ins: 0x87, P1: 0x07, P2: 0x9A, Data: data, Ne: MaxNe}.encode(true)
	if len(parts) != 1 {
		t.Fatalf("%d parts, want 1", len(parts))
	}
	p := parts[0]
	if !bytes.Equal(p[:7], unhex(t, "0087079A00010A")) || !bytes.Equal(p[7:7+266], data) || !bytes.Equal(p[7+266:], []byte{0, 0}) {
		t.Errorf("extended APDU % X", p[:8])
	}
	// Case 2 extended: 00 Le1 Le2, three bytes.
	if got := (Command{Ins: 0xCB, Ne: MaxNe}).extended(); !bytes.Equal(got, unhex(t, "00CB0000000000")) {
		t.Errorf("case 2E: % X", got)
	}
	// A command that fits a short APDU stays short even when ext is allowed.
	if got := (Command{Ins: 0x20, P2: 0x80, Data: []byte{1}}).encode(true); len(got) != 1 || isExtended(got[0]) {
		t.Errorf("short command sent extended: % X", got)
	}
}

// script is a card that answers each APDU in turn from a list, and
// records what it received.
type script struct {
	t    *testing.T
	want []string // expected APDUs, hex
	resp []string // responses, hex
	got  [][]byte
}

func (s *script) send(apdu []byte) ([]byte, error) {
	i := len(s.got)
	s.got = append(s.got, append([]byte(nil), apdu...))
	if i >= len(s.resp) {
		s.t.Fatalf("unexpected APDU %d: % X", i, apdu)
	}
	if w := unhex(s.t, s.want[i]); !bytes.Equal(apdu, w) {
		s.t.Errorf("APDU %d: % X, want % X", i, apdu, w)
	}
	return unhex(s.t, s.resp[i]), nil
}

func TestExchangeGetResponse(t *testing.T) {
	s := &script{t: t,
		want: []string{"00CB3FFF055C035FC10500", "00C0000010", "00C0000000"},
		resp: []string{"01026110", "03046100", "059000"},
	}
	data, sw, err := exchange(s.send, Command{Ins: 0xCB, P1: 0x3F, P2: 0xFF, Data: unhex(t, "5C035FC105"), Ne: MaxNe}, false)
	if err != nil || sw != 0x9000 || !bytes.Equal(data, []byte{1, 2, 3, 4, 5}) {
		t.Fatalf("data % X sw %04X err %v", data, sw, err)
	}
}

func TestExchangeWrongLe(t *testing.T) {
	s := &script{t: t,
		want: []string{"00FD000000", "00FD000003"},
		resp: []string{"6C03", "0507019000"},
	}
	data, sw, err := exchange(s.send, Command{Ins: 0xFD, Ne: MaxNe}, false)
	if err != nil || sw != 0x9000 || !bytes.Equal(data, []byte{5, 7, 1}) {
		t.Fatalf("data % X sw %04X err %v", data, sw, err)
	}
}

func TestExchangeChainRefused(t *testing.T) {
	s := &script{t: t,
		want: []string{"10DB3FFFFF" + strings.Repeat("00", 255)},
		resp: []string{"6884"},
	}
	_, sw, err := exchange(s.send, Command{Ins: 0xDB, P1: 0x3F, P2: 0xFF, Data: make([]byte, 300)}, false)
	if err != nil || sw != 0x6884 || len(s.got) != 1 {
		t.Fatalf("sw %04X err %v after %d APDUs", sw, err, len(s.got))
	}
}

func TestExchangeEndlessGetResponse(t *testing.T) {
	n := 0
	send := func([]byte) ([]byte, error) { n++; return []byte{0x61, 0x00}, nil }
	if _, _, err := exchange(send, Command{Ins: 0xCB, Ne: MaxNe}, false); err == nil {
		t.Fatal("no error from a card answering 61xx forever")
	}
	if n > maxGetResp+2 {
		t.Fatalf("%d APDUs before giving up", n)
	}
}

func TestExchangeWipesPIN(t *testing.T) {
	var sent [][]byte
	send := func(a []byte) ([]byte, error) { sent = append(sent, a); return []byte{0x90, 0x00}, nil }
	pin, _ := encodePINs([]byte("123456"))
	if _, _, err := exchange(send, Command{Ins: insVerify, P2: KeyPIN, Data: pin}, false); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sent[0], []byte("123456")) {
		t.Fatal("the APDU buffer still holds the PIN after the exchange")
	}
}

func TestRedactCommand(t *testing.T) {
	verify := unhex(t, "0020008008313233343536FFFF")
	got := redactCommand(verify)
	if bytes.Contains(got, []byte("123456")) || !bytes.Equal(got[:5], verify[:5]) || len(got) != len(verify) {
		t.Errorf("VERIFY redacted to % X", got)
	}
	change := append(unhex(t, "0024008010"), []byte("123456\xff\xff654321\xff\xff")...)
	if got := redactCommand(change); bytes.Contains(got, []byte("654321")) || bytes.Contains(got, []byte("123456")) {
		t.Errorf("CHANGE REFERENCE redacted to % X", got)
	}
	ext := append(unhex(t, "00FE07 9A 000010"), bytes.Repeat([]byte{0x77}, 16)...)
	if got := redactCommand(ext); bytes.Contains(got, []byte{0x77}) {
		t.Errorf("extended import redacted to % X", got)
	}
	sign := unhex(t, "0087119A067C0482008100")
	if got := redactCommand(sign); !bytes.Equal(got, sign) {
		t.Errorf("GENERAL AUTHENTICATE changed by redaction: % X", got)
	}
	if got := redactResponse(unhex(t, "0102039000")); bytes.Contains(got, []byte{1, 2, 3}) || !bytes.HasSuffix(got, []byte{0x90, 0}) {
		t.Errorf("response redacted to % X", got)
	}
}

func TestPlanLength(t *testing.T) {
	long := Command{Ins: insGetData, P1: 0x3F, P2: 0xFF, Data: unhex(t, "5C035FC105"), Ne: MaxNe}
	sign := Command{Ins: insGeneralAuthenticate, P1: 0x07, P2: 0x9A, Data: make([]byte, 266), Ne: MaxNe}
	selectPIV := Command{Ins: insSelect, P1: 0x04, Data: pivAID, Ne: maxShortNe}
	for _, tc := range []struct {
		name string
		cmd  Command
		ext  extSupport
		t1   bool
		want lengthPlan
	}{
		{"select, ATR announces extended", selectPIV, extYes, true, planShort},
		{"select, ATR silent", selectPIV, extUnknown, true, planShort},
		// Even a SELECT asking for everything stays short: a Java Card
		// runtime selects only on a short SELECT.
		{"select with MaxNe", Command{Ins: insSelect, P1: 0x04, Data: pivAID, Ne: MaxNe}, extYes, true, planShort},
		{"short command", Command{Ins: insVerify, P2: 0x80, Data: make([]byte, 8)}, extYes, true, planShort},
		{"announced", long, extYes, true, planExtended},
		{"announced, long data", sign, extYes, true, planExtended},
		{"refused", sign, extNo, true, planShort},
		{"unknown: probe", long, extUnknown, true, planProbe},
		{"T=0 never extended", long, extYes, false, planShort},
		{"T=0 never probes", long, extUnknown, false, planShort},
	} {
		if got := planLength(tc.cmd, tc.ext, tc.t1); got != tc.want {
			t.Errorf("%s: plan %d, want %d", tc.name, got, tc.want)
		}
	}
	// SELECT's encoding: case 4 short with Le 00, as OpenSC sends it.
	if got := selectPIV.encode(false); len(got) != 1 || !bytes.Equal(got[0], unhex(t, "00A4040005A000000308 00")) {
		t.Errorf("SELECT encoded as % X", got)
	}
}

// TestProbe checks what the first long command on a card whose ATR does
// not say teaches the engine: only an extended command that succeeded
// records "extended supported"; any failure is resent short, and "short
// only" is recorded only when the short resend succeeded.
func TestProbe(t *testing.T) {
	getCert := Command{Ins: insGetData, P1: 0x3F, P2: 0xFF, Data: unhex(t, "5C035FC105"), Ne: MaxNe}
	const ext, short = "00CB3FFF0000055C035FC1050000", "00CB3FFF055C035FC10500"
	for _, tc := range []struct {
		name       string
		want, resp []string
		sw         uint16
		after      extSupport
	}{
		{"extended works", []string{ext}, []string{"01029000"}, 0x9000, extYes},
		{"6700: short", []string{ext, short}, []string{"6700", "01029000"}, 0x9000, extNo},
		// A Java Card applet without ExtendedLength, or a runtime that
		// refuses the form: any status word is a failure of the probe.
		{"6D00: short", []string{ext, short}, []string{"6D00", "01029000"}, 0x9000, extNo},
		{"6F00: short", []string{ext, short}, []string{"6F00", "01029000"}, 0x9000, extNo},
		// Not found either way: the probe proved nothing.
		{"both fail", []string{ext, short}, []string{"6A82", "6A82"}, 0x6A82, extUnknown},
	} {
		s := &script{t: t, want: tc.want, resp: tc.resp}
		mode := extUnknown
		data, sw, err := exchangeWith(s.send, getCert, &mode, true)
		if err != nil || sw != tc.sw {
			t.Errorf("%s: sw %04X err %v", tc.name, sw, err)
		}
		if sw == 0x9000 && !bytes.Equal(data, []byte{1, 2}) {
			t.Errorf("%s: data % X", tc.name, data)
		}
		if mode != tc.after || len(s.got) != len(tc.want) {
			t.Errorf("%s: mode %d after %d APDUs, want %d after %d", tc.name, mode, len(s.got), tc.after, len(tc.want))
		}
	}

	// A transport failure of the extended APDU (a reader that cannot carry
	// it) is resent short too; a removal is not.
	for _, tc := range []struct {
		name  string
		fail  error
		sends int
		after extSupport
	}{
		{"transport", pcscFailure("transmit", errors.New("SCARD_E_NOT_TRANSACTED")), 2, extNo},
		{"removal", removedError("R"), 1, extUnknown},
	} {
		var sent [][]byte
		send := func(a []byte) ([]byte, error) {
			sent = append(sent, a)
			if isExtended(a) {
				return nil, tc.fail
			}
			return []byte{0x90, 0x00}, nil
		}
		mode := extUnknown
		_, _, err := exchangeWith(send, getCert, &mode, true)
		if len(sent) != tc.sends || mode != tc.after || (tc.sends == 1) != (err != nil) {
			t.Errorf("%s: %d APDUs, mode %d, err %v", tc.name, len(sent), mode, err)
		}
	}

	// Once decided, no more probing.
	for _, mode := range []extSupport{extYes, extNo} {
		var sent [][]byte
		send := func(a []byte) ([]byte, error) { sent = append(sent, a); return []byte{0x6A, 0x82}, nil }
		m := mode
		exchangeWith(send, getCert, &m, true)
		if len(sent) != 1 || m != mode || isExtended(sent[0]) != (mode == extYes) {
			t.Errorf("mode %d: sent % X, mode after %d", mode, sent, m)
		}
	}
}
