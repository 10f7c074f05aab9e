package vcard

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"testing"

	"github.com/pivauth/pivauth/internal/tlv"
)

// generateAPDU is GENERATE ASYMMETRIC KEY PAIR with default policies.
func generateAPDU(slot, alg byte) []byte {
	return apdu(0, insGenerate, 0, slot, tlv.Encode(0xAC, tlv.Encode(0x80, []byte{alg})))
}

// TestQuirkYubicoCompatible: a Java Card ATR without "YubiKey", Yubico
// instructions answered with PivApplet's version, no management application,
// attestation certificates that Go refuses for the two encodings PivApplet
// writes but that hold the generated key, and 6F00 for a P-384 key.
func TestQuirkYubicoCompatible(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	if err := c.SetQuirks(QuirkYubicoCompatible); err != nil {
		t.Fatal(err)
	}
	atr := c.ATR()
	if bytes.Contains(bytes.ToLower(atr), []byte("yubikey")) || !bytes.Contains(atr, []byte("JCOP")) {
		t.Errorf("ATR %X", atr)
	}
	var tck byte
	for _, b := range atr[1:] {
		tck ^= b
	}
	if tck != 0 {
		t.Errorf("ATR %X: check byte does not cancel out", atr)
	}
	expect(t, c, []byte{0x00, 0xA4, 0x04, 0x00, 0x08, 0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17}, 0x6A82)
	must(t, c, selectPIV)
	if v := must(t, c, []byte{0x00, insGetVersion, 0x00, 0x00, 0x00}); !bytes.Equal(v, []byte{5, 4, 0}) {
		t.Errorf("version %X", v)
	}
	must(t, c, []byte{0x00, insGetSerial, 0x00, 0x00, 0x00})
	mgmtAuth(t, c, alg3DES, defaultMgmtKey)

	// RSA: the modulus INTEGER lost its leading zero, the signature BIT
	// STRING has a long-form length; Go's parser refuses the certificate.
	mod := generate(t, c, 0x9A, algRSA2048).(*rsa.PublicKey).N.Bytes()
	att := must(t, c, apdu(0, insAttest, 0x9A, 0, nil))
	if _, err := x509.ParseCertificate(att); err == nil {
		t.Fatal("Go parsed the lax attestation certificate")
	}
	if !bytes.Contains(att, append([]byte{0x02, 0x82, 0x01, 0x00}, mod...)) {
		t.Error("the RSA modulus is not encoded as a 256-byte (negative) INTEGER")
	}
	// The certificate's outer length is minimal: read TBSCertificate and
	// the signature algorithm with encoding/asn1, the rest is the
	// signature BIT STRING.
	var outer, tbsRaw, sigAlg asn1.RawValue
	if _, err := asn1.Unmarshal(att, &outer); err != nil {
		t.Fatal(err)
	}
	rest, err := asn1.Unmarshal(outer.Bytes, &tbsRaw)
	if err == nil {
		rest, err = asn1.Unmarshal(rest, &sigAlg)
	}
	if err != nil {
		t.Fatal(err)
	}
	sig := rest
	if len(sig) < 5 || sig[0] != 0x03 || sig[1] != 0x82 || sig[2] != 0x00 || int(sig[3]) != len(sig)-4 || sig[4] != 0 {
		t.Fatalf("signature BIT STRING %X: want a non-minimal 82 00 xx length", sig)
	}
	// The lenient reading sees the generated key, signed by the card's
	// attestation key.
	tbs, err := derChildren(tbsRaw.FullBytes)
	if err != nil || len(tbs) < 7 {
		t.Fatalf("TBSCertificate elements: %v", err)
	}
	f9, _ := c.attestationCert()
	if err := f9.CheckSignature(x509.ECDSAWithSHA256, tbsRaw.FullBytes, sig[5:]); err != nil {
		t.Errorf("attestation signature: %v", err)
	}
	if !bytes.Contains(tbs[6].FullBytes, mod) {
		t.Error("the attested key is not the generated one")
	}

	// An EC key: only the signature length is off, and Go still refuses.
	generate(t, c, 0x9C, algECCP256)
	if _, err := x509.ParseCertificate(must(t, c, apdu(0, insAttest, 0x9C, 0, nil))); err == nil {
		t.Error("Go parsed a P-256 attestation with a non-minimal signature length")
	}
	// P-384: generated, then ATTEST fails the way the applet did.
	generate(t, c, 0x9D, algECCP384)
	expect(t, c, apdu(0, insAttest, 0x9D, 0, nil), 0x6F00)
	if c.st.Keys["9d"] == nil || c.st.Keys["9d"].Alg != algECCP384 {
		t.Error("the P-384 key is not in slot 9D")
	}

	// Without the quirk the same card is a YubiKey again.
	if err := c.SetQuirks(); err != nil {
		t.Fatal(err)
	}
	if a := c.ATR(); !bytes.Equal(a, atrs[ProfileYubiKey]) {
		t.Errorf("ATR without the quirk %X", a)
	}
	must(t, c, selectPIV)
	if v := must(t, c, []byte{0x00, insGetVersion, 0x00, 0x00, 0x00}); !bytes.Equal(v, firmware[:]) {
		t.Errorf("version without the quirk %X", v)
	}
	mgmtAuth(t, c, alg3DES, defaultMgmtKey)
	if _, err := x509.ParseCertificate(must(t, c, apdu(0, insAttest, 0x9A, 0, nil))); err != nil {
		t.Errorf("strict attestation without the quirk: %v", err)
	}
}

// TestQuirkFewAlgorithms: GENERATE answers 6A80 for RSA-3072/4096, Ed25519
// and X25519 and leaves the slot's key as it was; the others generate.
func TestQuirkFewAlgorithms(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	if err := c.SetQuirks(QuirkFewAlgorithms); err != nil {
		t.Fatal(err)
	}
	must(t, c, selectPIV)
	mgmtAuth(t, c, alg3DES, defaultMgmtKey)
	generate(t, c, 0x9A, algECCP256)
	before := c.st.Keys["9a"].PKCS8
	for _, alg := range []byte{algRSA3072, algRSA4096, algEd25519, algX25519} {
		expect(t, c, generateAPDU(0x9A, alg), 0x6A80)
		if k := c.st.Keys["9a"]; k == nil || !bytes.Equal(k.PKCS8, before) {
			t.Fatalf("GENERATE %02X answered 6A80 but changed slot 9A", alg)
		}
	}
	for _, alg := range []byte{algRSA1024, algRSA2048, algECCP384} {
		generate(t, c, 0x9E, alg)
	}
	if k := c.st.Keys["9e"]; k == nil || k.Alg != algECCP384 {
		t.Error("the algorithms the card has were not generated")
	}
}

// TestQuirkYubicoCompatibleMetadata: GET METADATA and policies as PivApplet has them.
func TestQuirkYubicoCompatibleMetadata(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	if err := c.SetQuirks(QuirkYubicoCompatible); err != nil {
		t.Fatal(err)
	}
	must(t, c, selectPIV)
	if m := must(t, c, apdu(0, insGetMetadata, 0, refPIN, nil)); !bytes.Equal(m, unhex(t, "050101 06020303")) {
		t.Errorf("PIN metadata %X", m)
	}
	if m := must(t, c, apdu(0, insGetMetadata, 0, keyCardManagement, nil)); !bytes.Equal(m, unhex(t, "010103 050101 02020101 030100")) {
		t.Errorf("management key metadata %X", m)
	}
	// An empty slot answers, without algorithm and key.
	if m := must(t, c, apdu(0, insGetMetadata, 0, 0x9C, nil)); !bytes.Equal(m, unhex(t, "02020301 030100")) {
		t.Errorf("empty 9C metadata %X", m)
	}
	expect(t, c, apdu(0, insGetMetadata, 0, keyAttestation, nil), 0x6A86)
	mgmtAuth(t, c, alg3DES, defaultMgmtKey)
	// No touch policies.
	expect(t, c, apdu(0, insGenerate, 0, 0x9A, tlv.Encode(0xAC, unhex(t, "800111 AB0102"))), 0x6A81)
	expect(t, c, apdu(0, insGetMetadata, 0, 0x9A, nil), 0x9000)
	generate(t, c, 0x9A, algECCP256, pinNever, touchNever)
	m := must(t, c, apdu(0, insGetMetadata, 0, 0x9A, nil))
	if !bytes.HasPrefix(m, unhex(t, "010111 02020101 030100 0443")) {
		t.Errorf("generated 9A metadata %X: want origin 00", m)
	}
	importKey(t, c, 0x9D, algECCP256, tlv.Encode(0x06, bytes.Repeat([]byte{7}, 32)))
	if m := must(t, c, apdu(0, insGetMetadata, 0, 0x9D, nil)); !bytes.HasPrefix(m, unhex(t, "010111 02020201 030101")) {
		t.Errorf("imported 9D metadata %X: want origin 01", m)
	}
}
