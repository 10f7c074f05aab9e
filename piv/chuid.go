package piv

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/pivauth/pivauth/internal/tlv"
)

// Tags of the Card Holder Unique Identifier (SP 800-73-4 part 1, table 9).
const (
	tagCHUIDBufferLength  = 0xEE
	tagCHUIDFASCN         = 0x30
	tagCHUIDOrgIdentifier = 0x32
	tagCHUIDDUNS          = 0x33
	tagCHUIDGUID          = 0x34
	tagCHUIDExpiration    = 0x35
	tagCHUIDCardholder    = 0x36
	tagCHUIDSignature     = 0x3E
)

// CHUID is the Card Holder Unique Identifier data object (5FC102).
type CHUID struct {
	// FASCNRaw is the 25-byte FASC-N as stored; FASCN is its decoding, nil
	// when the card holds none or it does not decode (bad parity or LRC).
	FASCNRaw []byte
	FASCN    *FASCN
	// OrgIdentifier and DUNS are optional.
	OrgIdentifier []byte
	DUNS          []byte
	// GUID is the card's 16-byte GUID (all zeros when the card has none).
	GUID [16]byte
	// Expiry is the expiration date, zero when missing or malformed.
	Expiry time.Time
	// CardholderUUID is optional.
	CardholderUUID []byte
	// Signature is the issuer's CMS signature over the CHUID (not verified here).
	Signature []byte
}

// GUIDString formats a GUID as lower-case hex in 8-4-4-4-12 groups, the
// form Selector.GUID takes; "" for an all-zero GUID.
func GUIDString(g [16]byte) string {
	if g == ([16]byte{}) {
		return ""
	}
	h := hex.EncodeToString(g[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// normalizeGUID lower-cases a GUID and drops dashes and braces, so
// "{0123…}" and "0123-…" compare equal.
func normalizeGUID(s string) string {
	return strings.ToLower(strings.NewReplacer("-", "", "{", "", "}", "", " ", "").Replace(s))
}

// ParseCHUID parses the value of the CHUID data object (inside tag 53).
func ParseCHUID(b []byte) (*CHUID, error) {
	elems, err := tlv.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("piv: CHUID: %w", err)
	}
	c := new(CHUID)
	for _, e := range elems {
		switch e.Tag {
		case tagCHUIDFASCN:
			c.FASCNRaw = e.Value
			if f, err := ParseFASCN(e.Value); err == nil {
				c.FASCN = &f
			}
		case tagCHUIDOrgIdentifier:
			c.OrgIdentifier = e.Value
		case tagCHUIDDUNS:
			c.DUNS = e.Value
		case tagCHUIDGUID:
			if len(e.Value) != 16 {
				return nil, fmt.Errorf("piv: CHUID: GUID of %d bytes, want 16", len(e.Value))
			}
			copy(c.GUID[:], e.Value)
		case tagCHUIDExpiration:
			if t, err := time.Parse("20060102", string(e.Value)); err == nil {
				c.Expiry = t
			}
		case tagCHUIDCardholder:
			c.CardholderUUID = e.Value
		case tagCHUIDSignature:
			c.Signature = e.Value
		case tagCHUIDBufferLength, tagErrorDetect:
		}
	}
	return c, nil
}

// FASCN is a decoded Federal Agency Smart Credential Number (TIG SCEPACS):
// every field is a string of decimal digits.
type FASCN struct {
	AgencyCode                string // 4 digits
	SystemCode                string // 4 digits
	CredentialNumber          string // 6 digits
	CredentialSeries          string // 1 digit
	IndividualCredentialIssue string // 1 digit
	PersonIdentifier          string // 10 digits
	OrganizationalCategory    string // 1 digit
	OrganizationalIdentifier  string // 4 digits
	PersonAssociation         string // 1 digit
}

// String joins the fields with dashes:
// agency-system-credential-series-issue-person-category-organization-association.
func (f FASCN) String() string {
	return strings.Join([]string{f.AgencyCode, f.SystemCode, f.CredentialNumber, f.CredentialSeries,
		f.IndividualCredentialIssue, f.PersonIdentifier, f.OrganizationalCategory,
		f.OrganizationalIdentifier, f.PersonAssociation}, "-")
}

// FASC-N control characters (their 4 data bits, least significant first).
const (
	fascnSS = 0xB // start sentinel 11010
	fascnFS = 0xD // field separator 10110
	fascnES = 0xF // end sentinel 11111
)

// fascnLayout is the sequence of the 40 FASC-N characters: a positive
// number is a field of that many digits, a negative one a control character.
var fascnLayout = []int{-fascnSS, 4, -fascnFS, 4, -fascnFS, 6, -fascnFS, 1, -fascnFS, 1, -fascnFS, 10, 1, 4, 1, -fascnES}

// ParseFASCN decodes the 25-byte BCD FASC-N: forty 5-bit characters, each
// four data bits (least significant first) and an odd parity bit, ending in
// a longitudinal redundancy check over the data bits.
func ParseFASCN(b []byte) (FASCN, error) {
	if len(b) != 25 {
		return FASCN{}, fmt.Errorf("piv: FASC-N of %d bytes, want 25", len(b))
	}
	chars := make([]byte, 40)
	for i := range chars {
		var v, ones byte
		for j := 0; j < 5; j++ {
			pos := i*5 + j
			bit := b[pos/8] >> (7 - pos%8) & 1
			ones += bit
			if j < 4 {
				v |= bit << j
			}
		}
		if ones%2 != 1 {
			return FASCN{}, fmt.Errorf("piv: FASC-N character %d fails its parity check", i)
		}
		chars[i] = v
	}
	var lrc byte
	for _, c := range chars[:39] {
		lrc ^= c
	}
	if lrc != chars[39] {
		return FASCN{}, fmt.Errorf("piv: FASC-N fails its LRC check")
	}
	var fields []string
	i := 0
	for _, n := range fascnLayout {
		if n < 0 {
			if chars[i] != byte(-n) {
				return FASCN{}, fmt.Errorf("piv: FASC-N character %d is %X where a separator was expected", i, chars[i])
			}
			i++
			continue
		}
		var sb strings.Builder
		for _, c := range chars[i : i+n] {
			if c > 9 {
				return FASCN{}, fmt.Errorf("piv: FASC-N character %d is not a digit", i)
			}
			sb.WriteByte('0' + c)
		}
		fields = append(fields, sb.String())
		i += n
	}
	return FASCN{fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], fields[6], fields[7], fields[8]}, nil
}
