package vcard

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"errors"

	"github.com/pivauth/pivauth/internal/tlv"
)

// The quirk yubico-compatible models a PIV applet on a Java Card that
// implements Yubico's PIV extensions without being a YubiKey, as
// arekinath/PivApplet does: the Java Card runtime, not the applet, answers
// reset, so the ATR is the runtime's; GET VERSION answers a version of the
// applet's choosing (PivApplet: 5.4.0); its attestation certificates are
// written by the applet's own TLV writer, which is not strict DER.

// javaCardATR is the ATR of an NXP JCOP 2.4.1 Java Card: T=1 with the same
// interface bytes as the other profiles, historical bytes "JCOPv241" (no
// compact-TLV card capabilities), nothing that names a YubiKey.
var javaCardATR = withTCK([]byte{0x3B, 0xF8, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x45,
	'J', 'C', 'O', 'P', 'v', '2', '4', '1'})

// withTCK appends the check byte of an ATR that offers T=1 (ISO 7816-3
// 8.2.5): the XOR of every byte from T0 on.
func withTCK(atr []byte) []byte {
	var tck byte
	for _, b := range atr[1:] {
		tck ^= b
	}
	return append(atr, tck)
}

// compatFirmware is the version PivApplet answers to GET VERSION and puts
// in its attestation certificates.
var compatFirmware = [3]byte{5, 4, 0}

// firmwareVersion is the version the card answers to GET VERSION; c.mu held.
func (c *Card) firmwareVersion() [3]byte {
	if c.has(QuirkYubicoCompatible) {
		return compatFirmware
	}
	return firmware
}

// unsupportedByFewAlgorithms reports the algorithms the quirk few-algorithms
// lacks: those a Java Card 3.0.4 runtime has no key builder for (RSA keys
// longer than 2048 bits, the Edwards and Montgomery curves). PivApplet
// answers GENERATE for an algorithm it lacks with 6A80 (wrong data) before
// touching the slot.
func unsupportedByFewAlgorithms(alg byte) bool {
	switch alg {
	case algRSA3072, algRSA4096, algEd25519, algX25519:
		return true
	}
	return false
}

// laxAttestationDER re-encodes a certificate the way PivApplet's
// writeAttestationCert does, and signs the new to-be-signed part with
// issuerKey:
//
//   - an RSA modulus is written as the card's key object returns it, with
//     no leading zero byte, so its INTEGER is negative in DER terms;
//   - the signature BIT STRING has a three-byte length (82 hh ll) however
//     short it is: the applet's TLV writer reserves room for 64 KiB.
//
// OpenSSL and other lenient parsers read such a certificate; Go's
// crypto/x509 refuses it.
func laxAttestationDER(der []byte, issuerKey crypto.Signer) ([]byte, error) {
	cert, err := derChildren(der)
	if err != nil || len(cert) != 3 {
		return nil, errors.New("vcard: not a certificate")
	}
	tbs, err := derChildren(cert[0].FullBytes)
	if err != nil || len(tbs) < 7 {
		return nil, errors.New("vcard: not a TBSCertificate")
	}
	// TBSCertificate: [0] version, serial, signature, issuer, validity,
	// subject, subjectPublicKeyInfo, [3] extensions.
	const spkiIndex = 6
	spki, err := derChildren(tbs[spkiIndex].FullBytes)
	if err != nil || len(spki) != 2 {
		return nil, errors.New("vcard: not a SubjectPublicKeyInfo")
	}
	var bits asn1.BitString
	if _, err := asn1.Unmarshal(spki[1].FullBytes, &bits); err != nil {
		return nil, err
	}
	var rsaKey struct{ N, E asn1.RawValue }
	if _, err := asn1.Unmarshal(bits.Bytes, &rsaKey); err == nil && len(rsaKey.N.Bytes) > 1 && rsaKey.N.Bytes[0] == 0 {
		// Drop the zero byte that keeps a DER INTEGER positive.
		pub := derTLV(0x02, rsaKey.N.Bytes[1:])
		pub = append(pub, rsaKey.E.FullBytes...)
		key := derTLV(0x03, append([]byte{0}, derTLV(0x30, pub)...))
		tbs[spkiIndex].FullBytes = derTLV(0x30, append(append([]byte(nil), spki[0].FullBytes...), key...))
	}
	var body []byte
	for _, e := range tbs {
		body = append(body, e.FullBytes...)
	}
	tbsDER := derTLV(0x30, body)
	digest := sha256.Sum256(tbsDER)
	// The algorithm CreateCertificate chose for the issuer's key:
	// ecdsa-with-SHA256, or sha256WithRSAEncryption (PKCS #1 v1.5).
	sig, err := issuerKey.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	sigBits := append([]byte{0x03, 0x82, byte((len(sig) + 1) >> 8), byte(len(sig) + 1), 0x00}, sig...)
	out := append(tbsDER, cert[1].FullBytes...)
	return derTLV(0x30, append(out, sigBits...)), nil
}

// derChildren splits a DER SEQUENCE into its elements.
func derChildren(der []byte) ([]asn1.RawValue, error) {
	var seq asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &seq); err != nil || len(rest) != 0 {
		return nil, errors.New("vcard: not one DER element")
	}
	var out []asn1.RawValue
	for rest := seq.Bytes; len(rest) > 0; {
		var e asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// derTLV encodes one element with a one-byte tag and a minimal length.
func derTLV(tag byte, content []byte) []byte {
	n := len(content)
	out := []byte{tag}
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	case n <= 0xFF:
		out = append(out, 0x81, byte(n))
	default:
		out = append(out, 0x82, byte(n>>8), byte(n))
	}
	return append(out, content...)
}

// swFunctionNotSupported is ISO 7816-4's "function not supported", which
// PivApplet answers for a touch policy it does not have.
const swFunctionNotSupported = 0x6A81

// compatTouchPolicy checks a GENERATE or IMPORT touch policy (AB) the way
// PivApplet does: it has no touch sensor, so only 00 (default) and 01
// (never) are taken, anything else is 6A81.
func compatTouchPolicy(touch []byte) int {
	if len(touch) == 1 && touch[0] > touchNever {
		return swFunctionNotSupported
	}
	return swOK
}

// compatMetadata is GET METADATA as PivApplet answers it, which departs
// from a YubiKey's in ways a host must not trip over:
//
//	PIN 80 / PUK 81: 05 default?, 06 total+remaining (no 01 algorithm)
//	management 9B:   01 alg, 05 default?, 02 policy, 03 origin
//	key slots:       [01 alg] 02 PIN policy + touch "never", 03 origin, [04 public key]
//
// The origin is 00 for a generated key and 01 for an imported one (a
// YubiKey says 01 and 02); an empty slot answers 02 and 03 alone, not 6A88;
// F9 and other references are 6A86.
func (c *Card) compatMetadata(ref byte) ([]byte, int) {
	flag := func(b bool) []byte {
		if b {
			return []byte{1}
		}
		return []byte{0}
	}
	switch {
	case ref == refPIN || ref == refPUK:
		value, tries, max := c.reference(ref)
		def := defaultPIN
		if ref == refPUK {
			def = defaultPUK
		}
		out := tlv.Encode(0x05, flag(bytes.Equal(*value, def)))
		return tlv.Append(out, 0x06, []byte{byte(max), byte(*tries)}), swOK
	case ref == keyCardManagement:
		out := tlv.Encode(0x01, []byte{c.st.MgmtAlg})
		out = tlv.Append(out, 0x05, flag(bytes.Equal(c.st.MgmtKey, c.st.DefaultMgmt)))
		out = tlv.Append(out, 0x02, []byte{pinNever, touchNever})
		return tlv.Append(out, 0x03, []byte{0x00}), swOK
	case !isKeySlot(ref):
		return nil, swIncorrectP1P2
	}
	k := c.st.Keys[slotName(ref)]
	if k == nil {
		out := tlv.Encode(0x02, []byte{defaultPINPolicy(ref), touchNever})
		return tlv.Append(out, 0x03, []byte{0x00}), swOK
	}
	priv, err := k.private()
	if err != nil {
		return nil, swNoPreciseDiagnostic
	}
	out := tlv.Encode(0x01, []byte{k.Alg})
	out = tlv.Append(out, 0x02, []byte{k.PINPolicy, touchNever})
	out = tlv.Append(out, 0x03, flag(k.Origin == originImported))
	return tlv.Append(out, 0x04, publicKeyData(publicOf(priv))), swOK
}
