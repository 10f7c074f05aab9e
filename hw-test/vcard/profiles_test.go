package vcard

import (
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"io"
	"testing"

	"github.com/pivauth/pivauth/internal/tlv"
)

// readCert reads a certificate object and returns its DER and CertInfo.
func readCert(t testing.TB, c *Card, tag uint32) (*x509.Certificate, byte) {
	t.Helper()
	obj := must(t, c, apdu(0, insGetData, 0x3F, 0xFF, tlv.Encode(0x5C, []byte{byte(tag >> 16), byte(tag >> 8), byte(tag)})))
	inner, err := tlv.Unwrap(obj, 0x53)
	if err != nil {
		t.Fatal(err)
	}
	der, _, _ := tlv.Find(inner, 0x70)
	info, _, _ := tlv.Find(inner, 0x71)
	if len(info) != 1 {
		t.Fatalf("object %X: CertInfo %X", tag, info)
	}
	if info[0]&0x01 != 0 {
		zr, err := gzip.NewReader(bytes.NewReader(der))
		if err != nil {
			t.Fatal(err)
		}
		if der, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, info[0]
}

// upns extracts the UPN otherNames of a certificate's subjectAltName.
func upns(t testing.TB, cert *x509.Certificate) []string {
	t.Helper()
	var out []string
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		var names []asn1.RawValue
		if _, err := asn1.Unmarshal(ext.Value, &names); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if n.Class != asn1.ClassContextSpecific || n.Tag != 0 {
				continue
			}
			var on struct {
				ID    asn1.ObjectIdentifier
				Value asn1.RawValue // [0] EXPLICIT
			}
			if _, err := asn1.UnmarshalWithParams(n.FullBytes, &on, "tag:0"); err != nil {
				t.Fatal(err)
			}
			if on.ID.Equal(oidUPN) {
				var s string
				if _, err := asn1.UnmarshalWithParams(on.Value.Bytes, &s, "utf8"); err != nil {
					t.Fatal(err)
				}
				out = append(out, s)
			}
		}
	}
	return out
}

func TestPIVProfileCertificatesAndCHUID(t *testing.T) {
	c, _ := newCard(t, ProfilePIV)
	ca, _ := benchCA(t)
	must(t, c, selectPIV)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)

	cert, info := readCert(t, c, tagPIVAuth)
	if info != 0x01 {
		t.Errorf("9A CertInfo %02X, want gzip", info)
	}
	if got := upns(t, cert); len(got) != 1 || got[0] != BenchUPN {
		t.Errorf("9A UPNs %q", got)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatal(err)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() != 2048 {
		t.Fatalf("9A key %T", cert.PublicKey)
	}
	// The 9A key signs after VERIFY and matches the certificate.
	digest := sha256.Sum256([]byte("gov"))
	expect(t, c, apdu(0, insAuthenticate, algRSA2048, 0x9A, tlv.Encode(0x7C, tlv.Append([]byte{0x82, 0x00}, 0x81, pkcs1(digest[:], 256)))), 0x6982)
	must(t, c, verifyPIN("123456"))
	sig := authenticate(t, c, algRSA2048, 0x9A, 0x81, pkcs1(digest[:], 256))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		t.Fatal(err)
	}

	for _, s := range pivSlots[1:] {
		cert, info := readCert(t, c, certObject(s.ref))
		if wantInfo := map[bool]byte{true: 1, false: 0}[s.compress]; info != wantInfo {
			t.Errorf("%02X CertInfo %02X", s.ref, info)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%02X: %v", s.ref, err)
		}
		if _, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok {
			t.Errorf("%02X key %T", s.ref, cert.PublicKey)
		}
	}

	chuid := must(t, c, apdu(0, insGetData, 0x3F, 0xFF, unhex(t, "5C035FC102")))
	body, err := tlv.Unwrap(chuid, 0x53)
	if err != nil {
		t.Fatal(err)
	}
	fascn, _, _ := tlv.Find(body, 0x30)
	guid, _, _ := tlv.Find(body, 0x34)
	if len(fascn) != 25 || len(guid) != 16 || guid[6]>>4 != 4 {
		t.Errorf("CHUID %X", body)
	}
	if fascn[0] != 0xD4 { // start sentinel then agency digit 9: 11010 10011...
		t.Errorf("FASC-N %X", fascn)
	}
	disc := must(t, c, apdu(0, insGetData, 0x3F, 0xFF, unhex(t, "5C017E")))
	if !bytes.Equal(disc, unhex(t, "7E12 4F0BA0000003080000100001005F2F024000")) {
		t.Errorf("discovery %X", disc)
	}
}

func TestFASCN(t *testing.T) {
	// The sample FASC-N found throughout PIV test material: agency 9999,
	// system 9999, credential 999999, CS 0, ICI 1, PI 0000000000, OC 3,
	// OI 0000, POA 1.
	got := encodeFASCN("9999", "9999", "999999", "0", "1", "0000000000", "3", "0000", "1")
	want := unhex(t, "D4E739DA739CED39CE739D836858210842108421C84210C3EB")
	if !bytes.Equal(got, want) {
		t.Errorf("FASC-N %X\nwant   %X", got, want)
	}
}

func TestPIVProfilePolicies(t *testing.T) {
	c, _ := newCard(t, ProfilePIV)
	must(t, c, selectPIV)
	digest := sha256.Sum256([]byte("policy"))
	sign := func(slot byte) []byte {
		return apdu(0, insAuthenticate, algECCP256, slot, tlv.Encode(0x7C, tlv.Append([]byte{0x82, 0x00}, 0x81, digest[:])))
	}
	// 9E: no PIN.
	must(t, c, sign(0x9E))
	// 9C: PIN always, a VERIFY right before each use.
	expect(t, c, sign(0x9C), 0x6982)
	must(t, c, verifyPIN("123456"))
	must(t, c, sign(0x9C))
	expect(t, c, sign(0x9C), 0x6982)
	must(t, c, sign(0x9D)) // PIN once: still verified
	must(t, c, verifyPIN("123456"))
	must(t, c, apdu(0, insVerify, 0, refPIN, nil)) // a status query is not a use
	must(t, c, sign(0x9C))
	must(t, c, verifyPIN("123456"))
	must(t, c, apdu(0, insGetData, 0x3F, 0xFF, unhex(t, "5C017E")))
	expect(t, c, sign(0x9C), 0x6982)

	// No Yubico instructions, no management key operations.
	for _, ins := range []byte{insGetVersion, insGetSerial, insGetMetadata, insAttest, insImportKey, insSetMgmtKey,
		insSetPINRetries, insReset, insMoveKey} {
		expect(t, c, apdu(0, ins, 0, 0x9A, nil), 0x6D00)
	}
	expect(t, c, apdu(0, insAuthenticate, alg3DES, keyCardManagement, witnessRequest), 0x6A86)
	resp := must(t, c, apdu(0, insAuthenticate, algAES128, keyCardManagement, witnessRequest))
	expect(t, c, apdu(0, insAuthenticate, algAES128, keyCardManagement,
		tlv.Encode(0x7C, tlv.Append(tlv.Encode(0x80, resp[4:20]), 0x81, make([]byte, 16)))), 0x6982)
	expect(t, c, apdu(0, insGenerate, 0, 0x9A, unhex(t, "AC03800111")), 0x6982)
	expect(t, c, putData(tagPrinted, []byte{0x01, 0x00}), 0x6982)
}
