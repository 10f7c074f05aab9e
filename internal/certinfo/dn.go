package certinfo

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"slices"
	"strings"
)

// dnAttributes maps the attribute names accepted by ParseDN to their OIDs (RFC 4514 names plus
// the ones certificate guides use).
var dnAttributes = map[string]asn1.ObjectIdentifier{
	"CN":           {2, 5, 4, 3},
	"SERIALNUMBER": {2, 5, 4, 5},
	"C":            {2, 5, 4, 6},
	"L":            {2, 5, 4, 7},
	"ST":           {2, 5, 4, 8},
	"STREET":       {2, 5, 4, 9},
	"O":            {2, 5, 4, 10},
	"OU":           {2, 5, 4, 11},
	"POSTALCODE":   {2, 5, 4, 17},
	"UID":          {0, 9, 2342, 19200300, 100, 1, 1},
	"DC":           {0, 9, 2342, 19200300, 100, 1, 25},
	"E":            {1, 2, 840, 113549, 1, 9, 1},
	"EMAILADDRESS": {1, 2, 840, 113549, 1, 9, 1},
}

// ia5Attributes are encoded as IA5String.
var ia5Attributes = map[string]bool{"DC": true, "E": true, "EMAILADDRESS": true}

// ParseDN parses a distinguished name written as RFC 4514 does, "CN=app,O=Contoso,C=US" (most
// specific first), or as OpenSSL does, "/C=US/O=Contoso/CN=app" (in encoding order), and returns
// it in encoding order, for x509 templates' RawSubject. A comma or slash inside a value is escaped
// with a backslash. Attribute names are case-insensitive.
func ParseDN(s string) (pkix.RDNSequence, error) {
	s = strings.TrimSpace(s)
	sep, reverse := ',', true
	if strings.HasPrefix(s, "/") {
		sep, reverse, s = '/', false, s[1:]
	}
	var rdns pkix.RDNSequence
	for _, part := range splitEscaped(s, sep) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("distinguished name %q: %q is not NAME=value", s, part)
		}
		oid, known := dnAttributes[strings.ToUpper(strings.TrimSpace(k))]
		if !known {
			return nil, fmt.Errorf("distinguished name %q: unknown attribute %q (use CN, O, OU, C, ST, L, DC, UID, E, SERIALNUMBER, STREET, POSTALCODE)", s, k)
		}
		var value any = strings.TrimSpace(v)
		if ia5Attributes[strings.ToUpper(strings.TrimSpace(k))] {
			// RFC 4519 and PKCS #9 define these as IA5String; asn1 would pick PrintableString.
			value = asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagIA5String, Bytes: []byte(value.(string))}
		}
		rdns = append(rdns, pkix.RelativeDistinguishedNameSET{{Type: oid, Value: value}})
	}
	if len(rdns) == 0 {
		return nil, fmt.Errorf("distinguished name %q is empty", s)
	}
	if reverse {
		slices.Reverse(rdns)
	}
	return rdns, nil
}

// splitEscaped splits s at sep, except where sep is preceded by a backslash, and unescapes.
func splitEscaped(s string, sep rune) []string {
	var parts []string
	var cur strings.Builder
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\':
			escaped = true
		case r == sep:
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	return append(parts, cur.String())
}
