package piv

import (
	"fmt"
	"testing"
	"time"

	"github.com/pivauth/pivauth/internal/tlv"
)

// encodeFASCN is the inverse of ParseFASCN, for the tests: it packs the
// characters with their parity bits and appends the LRC.
func encodeFASCN(f FASCN) []byte {
	var chars []byte
	fields := []string{f.AgencyCode, f.SystemCode, f.CredentialNumber, f.CredentialSeries,
		f.IndividualCredentialIssue, f.PersonIdentifier, f.OrganizationalCategory,
		f.OrganizationalIdentifier, f.PersonAssociation}
	k := 0
	for _, n := range fascnLayout {
		if n < 0 {
			chars = append(chars, byte(-n))
			continue
		}
		for _, c := range fields[k] {
			chars = append(chars, byte(c-'0'))
		}
		k++
	}
	var lrc byte
	for _, c := range chars {
		lrc ^= c
	}
	chars = append(chars, lrc)
	out := make([]byte, 25)
	for i, c := range chars {
		ones := 0
		for j := 0; j < 5; j++ {
			var bit byte
			if j < 4 {
				bit = c >> j & 1
			} else if ones%2 == 0 {
				bit = 1
			}
			ones += int(bit)
			pos := i*5 + j
			out[pos/8] |= bit << (7 - pos%8)
		}
	}
	return out
}

func TestParseFASCNKnown(t *testing.T) {
	// The FASC-N yubico-piv-tool writes into a generated CHUID (PIV-I, all nines).
	got, err := ParseFASCN(unhex(t, "D4E739DA739CED39CE739D836858210842108421C84210C3EB"))
	if err != nil {
		t.Fatal(err)
	}
	want := FASCN{"9999", "9999", "999999", "0", "1", "0000000000", "3", "0000", "1"}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got.String() != "9999-9999-999999-0-1-0000000000-3-0000-1" {
		t.Errorf("String: %s", got)
	}
}

func TestParseFASCNRoundTripAndChecks(t *testing.T) {
	f := FASCN{"0032", "0001", "092446", "0", "1", "1112223333", "1", "1223", "2"}
	b := encodeFASCN(f)
	got, err := ParseFASCN(b)
	if err != nil || got != f {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for bit := 0; bit < 200; bit += 37 {
		bad := append([]byte(nil), b...)
		bad[bit/8] ^= 1 << (7 - bit%8)
		if _, err := ParseFASCN(bad); err == nil {
			t.Errorf("bit %d flipped: no error", bit)
		}
	}
	if _, err := ParseFASCN(b[:24]); err == nil {
		t.Error("24-byte FASC-N parsed")
	}
}

func testCHUID(t testing.TB) []byte {
	f := FASCN{"0032", "0001", "092446", "0", "1", "1112223333", "1", "1223", "2"}
	b := tlv.Append(nil, tagCHUIDFASCN, encodeFASCN(f))
	b = tlv.Append(b, tagCHUIDGUID, []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef})
	b = tlv.Append(b, tagCHUIDExpiration, []byte("20301231"))
	b = tlv.Append(b, tagCHUIDSignature, nil)
	return tlv.Append(b, tagErrorDetect, nil)
}

func TestParseCHUID(t *testing.T) {
	c, err := ParseCHUID(testCHUID(t))
	if err != nil {
		t.Fatal(err)
	}
	if g := GUIDString(c.GUID); g != "01234567-89ab-cdef-0123-456789abcdef" {
		t.Errorf("GUID %s", g)
	}
	if c.FASCN == nil || c.FASCN.AgencyCode != "0032" || c.FASCN.PersonIdentifier != "1112223333" {
		t.Errorf("FASC-N %+v", c.FASCN)
	}
	if !c.Expiry.Equal(time.Date(2030, 12, 31, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("expiry %v", c.Expiry)
	}
	if normalizeGUID("{01234567-89AB-CDEF-0123-456789ABCDEF}") != normalizeGUID(GUIDString(c.GUID)) {
		t.Error("GUID forms do not compare equal")
	}
	if _, err := ParseCHUID(tlv.Encode(tagCHUIDGUID, []byte{1, 2, 3})); err == nil {
		t.Error("3-byte GUID parsed")
	}
	if _, err := ParseCHUID([]byte{0x34, 0x10, 0x01}); err == nil {
		t.Error("truncated CHUID parsed")
	}
	if GUIDString([16]byte{}) != "" {
		t.Error("zero GUID formatted")
	}
}

func FuzzParseCHUID(f *testing.F) {
	f.Add(testCHUID(f))
	f.Add([]byte{0x30, 0x19})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCHUID(b)
		if err != nil {
			return
		}
		if c.FASCN != nil {
			// A FASC-N that decodes re-encodes to the same bytes.
			if got := encodeFASCN(*c.FASCN); fmt.Sprintf("%X", got) != fmt.Sprintf("%X", c.FASCNRaw) {
				t.Fatalf("FASC-N %X decodes to %+v which encodes to %X", c.FASCNRaw, *c.FASCN, got)
			}
		}
	})
}

func FuzzParseFASCN(f *testing.F) {
	f.Add(encodeFASCN(FASCN{"0032", "0001", "092446", "0", "1", "1112223333", "1", "1223", "2"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ParseFASCN(b)
		if err != nil {
			return
		}
		if len(got.String()) != 32+8 {
			t.Fatalf("decoded FASC-N %q has the wrong shape", got)
		}
		if again, err := ParseFASCN(encodeFASCN(got)); err != nil || again != got {
			t.Fatalf("round trip of %+v: %+v %v", got, again, err)
		}
	})
}
