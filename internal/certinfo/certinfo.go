// Package certinfo reads and writes the parts of X.509 certificates that Go's crypto/x509 leaves
// opaque and that smart-card certificates carry: the Microsoft User Principal Name (UPN) in the
// subject alternative name, as an otherName with type 1.3.6.1.4.1.311.20.2.3. Entra certificate-
// based authentication and Windows smart-card logon match users by it.
package certinfo

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"net"
	"net/url"
)

// OIDUPN is the otherName type of a User Principal Name.
var OIDUPN = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}

// oidSAN is the subject alternative name extension.
var oidSAN = asn1.ObjectIdentifier{2, 5, 29, 17}

// otherName is the GeneralName otherName: SEQUENCE { type-id OID, value [0] EXPLICIT ANY }.
type otherName struct {
	TypeID asn1.ObjectIdentifier
	Value  asn1.RawValue `asn1:"explicit,tag:0"`
}

// UPNs returns the User Principal Names in the certificate's subject alternative names, in order.
// A malformed extension is an error; a certificate without UPNs returns nil.
func UPNs(cert *x509.Certificate) ([]string, error) {
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(oidSAN) {
			return upnsFromSAN(ext.Value)
		}
	}
	return nil, nil
}

// upnsFromSAN walks the GeneralNames SEQUENCE and decodes each otherName of type UPN.
func upnsFromSAN(der []byte) ([]string, error) {
	var seq asn1.RawValue
	rest, err := asn1.Unmarshal(der, &seq)
	if err != nil {
		return nil, fmt.Errorf("subject alternative name: %w", err)
	}
	if len(rest) > 0 || seq.Class != asn1.ClassUniversal || seq.Tag != asn1.TagSequence || !seq.IsCompound {
		return nil, errors.New("subject alternative name: not a SEQUENCE")
	}
	var upns []string
	for b := seq.Bytes; len(b) > 0; {
		var gn asn1.RawValue
		if b, err = asn1.Unmarshal(b, &gn); err != nil {
			return nil, fmt.Errorf("subject alternative name: %w", err)
		}
		if gn.Class != asn1.ClassContextSpecific || gn.Tag != 0 {
			continue // not an otherName
		}
		var on otherName
		// The otherName is [0] IMPLICIT: re-tag its contents as a SEQUENCE to decode them.
		if _, err := asn1.UnmarshalWithParams(gn.FullBytes, &on, "tag:0"); err != nil {
			return nil, fmt.Errorf("subject alternative name: otherName: %w", err)
		}
		if !on.TypeID.Equal(OIDUPN) {
			continue
		}
		var upn string
		if _, err := asn1.UnmarshalWithParams(on.Value.Bytes, &upn, "utf8"); err != nil {
			return nil, fmt.Errorf("subject alternative name: UPN: %w", err)
		}
		upns = append(upns, upn)
	}
	return upns, nil
}

// SANExtension encodes a subject alternative name extension with the given names, UPNs first.
// Use it for certificate templates and CSRs that need a UPN: x509.Certificate's DNSNames and
// friends cannot express one, and x509 does not merge an ExtraExtensions SAN with them.
func SANExtension(upns, dnsNames, emails []string, uris []*url.URL, ips []net.IP) (pkix.Extension, error) {
	var names []asn1.RawValue
	for _, upn := range upns {
		v, err := asn1.MarshalWithParams(upn, "utf8")
		if err != nil {
			return pkix.Extension{}, err
		}
		// A RawValue is written as given, so the EXPLICIT [0] around the value is spelt out here.
		value := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: v}
		on, err := asn1.MarshalWithParams(otherName{TypeID: OIDUPN, Value: value}, "tag:0")
		if err != nil {
			return pkix.Extension{}, err
		}
		names = append(names, asn1.RawValue{FullBytes: on})
	}
	for _, d := range dnsNames {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(d)})
	}
	for _, e := range emails {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, Bytes: []byte(e)})
	}
	for _, u := range uris {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(u.String())})
	}
	for _, ip := range ips {
		b := ip.To4()
		if b == nil {
			b = ip.To16()
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 7, Bytes: b})
	}
	if len(names) == 0 {
		return pkix.Extension{}, errors.New("subject alternative name: no names")
	}
	der, err := asn1.Marshal(names)
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: oidSAN, Value: der}, nil
}
