package vcard

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"net/url"
	"time"

	"github.com/pivauth/pivauth/internal/tlv"
)

// ATRs. Both advertise T=1 (TD1 = 81, TD2 = 31 with IFSC 254) and, in the
// card capabilities of the historical bytes (73 C0 21 C0), selection by full
// and partial DF name, command chaining and extended Lc/Le.
var atrs = map[Profile][]byte{
	// A real YubiKey 5 (NFC / USB-A / USB-C, firmware 5.x); OpenSC picks its
	// YubiKey quirks, ECDSA included, from this ATR.
	ProfileYubiKey: {0x3B, 0xFD, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15, 0x80, 0x73, 0xC0, 0x21, 0xC0,
		0x57, 0x59, 0x75, 0x62, 0x69, 0x4B, 0x65, 0x79, 0x40},
	// A generic PIV card: same T=1 parameters, issuer data "pivauth"
	// instead of "YubiKey", so no driver mistakes it for a known product.
	ProfilePIV: {0x3B, 0xFD, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x45, 0x80, 0x73, 0xC0, 0x21, 0xC0,
		0x57, 0x70, 0x69, 0x76, 0x61, 0x75, 0x74, 0x68, 0x07},
}

// firmware is the YubiKey firmware version the yubikey profile reports.
var firmware = [3]byte{5, 7, 1}

// formFactor is the attested form factor: USB-C keychain.
const formFactor = 0x03

// Bench identity of the piv profile's cardholder.
const (
	BenchUPN  = "bench.user@pivauth.test" // BenchUPN is the UPN in the piv profile's certificates.
	benchName = "Bench User"
)

// factory makes the state of a factory-fresh card.
func factory(profile Profile, ca *CA) (*persistent, error) {
	var serial [4]byte
	if _, err := rand.Read(serial[:]); err != nil {
		return nil, err
	}
	// Eight decimal digits, like the serials of current YubiKeys.
	st := &persistent{Version: stateVersion, Profile: profile, Serial: 10_000_000 + binary.BigEndian.Uint32(serial[:])%90_000_000}
	resetCredentials(st)
	if profile == ProfileYubiKey {
		return st, addAttestationKey(st, ca)
	}
	return st, issuePIVCard(st, ca)
}

// resetCredentials puts the factory PIN, PUK, management key, discovery
// object and nothing else on the card (a YubiKey after RESET, bar its
// attestation key).
func resetCredentials(st *persistent) {
	st.PIN, st.PUK = bytes.Clone(defaultPIN), bytes.Clone(defaultPUK)
	st.PINTries, st.PUKTries = defaultTries, defaultTries
	st.PINMaxTries, st.PUKMaxTries = defaultTries, defaultTries
	st.MgmtAlg, st.MgmtKey, st.MgmtTouch = alg3DES, bytes.Clone(defaultMgmtKey), false
	st.DefaultMgmt = bytes.Clone(defaultMgmtKey)
	st.Keys = map[string]*slotKey{}
	st.Objects = map[string][]byte{objectName(tagDiscovery): discoveryObject()}
}

// discoveryObject: the PIV AID and the PIN usage policy "PIV PIN only".
func discoveryObject() []byte {
	d := tlv.Encode(0x4F, pivAID)
	return tlv.Append(d, 0x5F2F, []byte{0x40, 0x00})
}

// certObjectValue is the content of a certificate data object: 70 cert,
// 71 CertInfo (01 = gzip), FE error detection code.
func certObjectValue(der []byte, compress bool) ([]byte, error) {
	info := byte(0)
	if compress {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(der); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		der, info = buf.Bytes(), 0x01
	}
	v := tlv.Encode(0x70, der)
	v = tlv.Append(v, 0x71, []byte{info})
	return tlv.Append(v, 0xFE, nil), nil
}

// addAttestationKey gives a yubikey-profile card its F9 attestation key and
// the certificate the bench CA issued for it (object 5FFF01), as Yubico does
// at manufacturing.
func addAttestationKey(st *persistent, ca *CA) error {
	priv, err := generateKey(algECCP256)
	if err != nil {
		return err
	}
	k, err := newSlotKey(priv, algECCP256, pinNever, touchNever, originImported)
	if err != nil {
		return err
	}
	cert, err := ca.issue(&x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "Yubico PIV Attestation", Organization: []string{"pivauth bench"}, SerialNumber: fmt.Sprint(st.Serial)},
		NotBefore:             ca.Cert.NotBefore,
		NotAfter:              ca.Cert.NotAfter,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}, publicOf(priv))
	if err != nil {
		return err
	}
	v, err := certObjectValue(cert.Raw, false)
	if err != nil {
		return err
	}
	st.Keys[slotName(keyAttestation)] = k
	st.Objects[objectName(tagAttestCert)] = v
	return nil
}

// OIDs of the certificates of the piv profile.
var (
	oidSubjectAltName  = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidUPN             = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}
	oidFASCN           = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 6, 6}
	oidSmartcardLogon  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 2}
	oidPKINITClient    = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 2, 3, 4}
	oidPIVCardAuth     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 6, 8}
	oidPolicyCommonHW  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 2, 1, 3, 13} // id-fpki-common-authentication
	oidPolicyCardAuth  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 2, 1, 3, 17} // id-fpki-common-cardAuth
	oidPolicyCommonSig = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 2, 1, 3, 7}  // id-fpki-common-hardware
)

// pivSlot describes one key of the piv profile's factory issuance.
type pivSlot struct {
	ref       byte
	alg       byte
	pinPolicy byte
	compress  bool // certificate stored gzip-compressed (CertInfo 01)
}

// pivSlots: RSA-2048 authentication key (what Entra ID accepts), P-256 keys
// for signature (PIN always), key management and card authentication (no
// PIN). 9A and 9C certificates are compressed, 9D and 9E are not, so both
// encodings are on every card.
var pivSlots = []pivSlot{
	{keyAuthentication, algRSA2048, pinOnce, true},
	{keySignature, algECCP256, pinAlways, true},
	{keyKeyManagement, algECCP256, pinOnce, false},
	{keyCardAuthentication, algECCP256, pinNever, false},
}

// issuePIVCard personalises a piv-profile card as an issuer would: a random
// AES-128 management key nobody knows, CHUID, CCC, key history, printed
// information, card-generated keys with certificates from the bench CA.
func issuePIVCard(st *persistent, ca *CA) error {
	st.MgmtAlg, st.MgmtKey = algAES128, make([]byte, 16)
	st.DefaultMgmt = nil
	var guid [16]byte
	var cardID [14]byte
	for _, b := range [][]byte{st.MgmtKey, guid[:], cardID[:]} {
		if _, err := rand.Read(b); err != nil {
			return err
		}
	}
	guid[6] = guid[6]&0x0F | 0x40 // RFC 4122 version 4
	guid[8] = guid[8]&0x3F | 0x80
	fascn := encodeFASCN(fmt.Sprintf("%04d", 9999), "0001", fmt.Sprintf("%06d", st.Serial%1_000_000), "1", "1",
		fmt.Sprintf("%010d", st.Serial), "1", "1223", "2")
	expiry := time.Now().AddDate(5, 0, 0)

	chuid := tlv.Encode(0x30, fascn)
	chuid = tlv.Append(chuid, 0x34, guid[:])
	chuid = tlv.Append(chuid, 0x35, []byte(expiry.Format("20060102")))
	chuid = tlv.Append(chuid, 0x3E, nil)
	st.Objects[objectName(tagCHUID)] = tlv.Append(chuid, 0xFE, nil)

	ccc := tlv.Encode(0xF0, append([]byte{0xA0, 0x00, 0x00, 0x01, 0x16, 0xFF, 0x02}, cardID[:]...))
	for _, e := range []struct {
		tag uint32
		v   []byte
	}{{0xF1, []byte{0x21}}, {0xF2, []byte{0x21}}, {0xF3, nil}, {0xF4, []byte{0x00}}, {0xF5, []byte{0x10}},
		{0xF6, nil}, {0xF7, nil}, {0xFA, nil}, {0xFB, nil}, {0xFC, nil}, {0xFD, nil}, {0xFE, nil}} {
		ccc = tlv.Append(ccc, e.tag, e.v)
	}
	st.Objects[objectName(tagCCC)] = ccc

	history := tlv.Encode(0xC1, []byte{0})
	history = tlv.Append(history, 0xC2, []byte{0})
	st.Objects[objectName(tagKeyHistory)] = tlv.Append(history, 0xFE, nil)

	printed := tlv.Encode(0x01, []byte("USER, BENCH"))
	printed = tlv.Append(printed, 0x02, []byte("Employee"))
	printed = tlv.Append(printed, 0x04, []byte(expiry.Format("2006Jan02")))
	printed = tlv.Append(printed, 0x05, []byte(fmt.Sprintf("%010d", st.Serial)))
	printed = tlv.Append(printed, 0x06, []byte("pivauth bench"))
	st.Objects[objectName(tagPrinted)] = tlv.Append(printed, 0xFE, nil)

	uuidURI := &url.URL{Scheme: "urn", Opaque: "uuid:" + formatUUID(guid)}
	for _, s := range pivSlots {
		priv, err := generateKey(s.alg)
		if err != nil {
			return err
		}
		k, err := newSlotKey(priv, s.alg, s.pinPolicy, touchNever, originGenerated)
		if err != nil {
			return err
		}
		tmpl, err := pivCertTemplate(s.ref, fascn, uuidURI, expiry)
		if err != nil {
			return err
		}
		cert, err := ca.issue(tmpl, publicOf(priv))
		if err != nil {
			return err
		}
		v, err := certObjectValue(cert.Raw, s.compress)
		if err != nil {
			return err
		}
		st.Keys[slotName(s.ref)] = k
		st.Objects[objectName(certObject(s.ref))] = v
	}
	return nil
}

// pivCertTemplate is the certificate profile of FIPS 201 / the Federal PKI
// for each slot, with the UPN Entra ID and Windows logon map users by.
func pivCertTemplate(ref byte, fascn []byte, uuid *url.URL, expiry time.Time) (*x509.Certificate, error) {
	t := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: benchName, Organization: []string{"pivauth bench"}, OrganizationalUnit: []string{"People"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     expiry,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	names := []asn1.RawValue{}
	switch ref {
	case keyAuthentication:
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		t.UnknownExtKeyUsage = []asn1.ObjectIdentifier{oidSmartcardLogon, oidPKINITClient}
		t.PolicyIdentifiers = []asn1.ObjectIdentifier{oidPolicyCommonHW}
		upn, err := otherName(oidUPN, asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(BenchUPN)})
		if err != nil {
			return nil, err
		}
		fasc, err := otherName(oidFASCN, asn1.RawValue{Tag: asn1.TagOctetString, Bytes: fascn})
		if err != nil {
			return nil, err
		}
		names = append(names, upn, fasc)
	case keySignature:
		t.KeyUsage |= x509.KeyUsageContentCommitment
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
		t.PolicyIdentifiers = []asn1.ObjectIdentifier{oidPolicyCommonSig}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, Bytes: []byte(BenchUPN)})
	case keyKeyManagement:
		t.KeyUsage = x509.KeyUsageKeyAgreement
		t.PolicyIdentifiers = []asn1.ObjectIdentifier{oidPolicyCommonSig}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, Bytes: []byte(BenchUPN)})
	case keyCardAuthentication:
		t.Subject = pkix.Name{SerialNumber: uuid.Opaque[len("uuid:"):], Organization: []string{"pivauth bench"}}
		t.UnknownExtKeyUsage = []asn1.ObjectIdentifier{oidPIVCardAuth}
		t.PolicyIdentifiers = []asn1.ObjectIdentifier{oidPolicyCardAuth}
		fasc, err := otherName(oidFASCN, asn1.RawValue{Tag: asn1.TagOctetString, Bytes: fascn})
		if err != nil {
			return nil, err
		}
		names = append(names, fasc)
	}
	names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(uuid.String())})
	san, err := asn1.Marshal(names)
	if err != nil {
		return nil, err
	}
	t.ExtraExtensions = []pkix.Extension{{Id: oidSubjectAltName, Value: san}}
	return t, nil
}

// otherName encodes the GeneralName otherName [0] { type-id, [0] value }.
func otherName(id asn1.ObjectIdentifier, value asn1.RawValue) (asn1.RawValue, error) {
	oid, err := asn1.Marshal(id)
	if err != nil {
		return asn1.RawValue{}, err
	}
	v, err := asn1.Marshal(value)
	if err != nil {
		return asn1.RawValue{}, err
	}
	explicit, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: v})
	if err != nil {
		return asn1.RawValue{}, err
	}
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: append(oid, explicit...)}, nil
}

func formatUUID(u [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// FASC-N characters other than digits (TIG SCEPACS 6.1): start, field
// separator and end sentinel.
const (
	fascnSS = 0xB
	fascnFS = 0xD
	fascnES = 0xF
)

// encodeFASCN packs a FASC-N into its 25-byte, 40-character form: each
// character is 4 data bits, least significant first, and an odd parity bit;
// the last is the longitudinal redundancy check over all data bits.
func encodeFASCN(agency, system, credential, cs, ici, pi, oc, oi, poa string) []byte {
	var chars []byte
	digits := func(s string) {
		for _, r := range s {
			chars = append(chars, byte(r-'0'))
		}
	}
	chars = append(chars, fascnSS)
	digits(agency)
	chars = append(chars, fascnFS)
	digits(system)
	chars = append(chars, fascnFS)
	digits(credential)
	chars = append(chars, fascnFS)
	digits(cs)
	chars = append(chars, fascnFS)
	digits(ici)
	chars = append(chars, fascnFS)
	digits(pi + oc + oi + poa)
	chars = append(chars, fascnES)
	var lrc byte
	for _, ch := range chars {
		lrc ^= ch
	}
	chars = append(chars, lrc)

	out := make([]byte, 25)
	bit := 0
	put := func(v byte) {
		if v != 0 {
			out[bit/8] |= 0x80 >> (bit % 8)
		}
		bit++
	}
	for _, ch := range chars {
		ones := 0
		for i := 0; i < 4; i++ {
			b := ch >> i & 1
			ones += int(b)
			put(b)
		}
		put(byte(1 - ones%2))
	}
	return out
}
