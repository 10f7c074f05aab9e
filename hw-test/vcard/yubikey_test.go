package vcard

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"math/big"
	"sync"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"
	"github.com/pivauth/pivauth/internal/tlv"
)

var (
	rsaKeyOnce sync.Once
	rsaKey     *rsa.PrivateKey
)

// testRSAKey is one RSA-2048 key for every import test.
func testRSAKey(t testing.TB) *rsa.PrivateKey {
	rsaKeyOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			t.Fatal(err)
		}
	})
	return rsaKey
}

func TestVersionSerialAndPINMetadata(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	must(t, c, selectPIV)
	if v := must(t, c, []byte{0x00, insGetVersion, 0x00, 0x00, 0x00}); !bytes.Equal(v, []byte{5, 7, 1}) {
		t.Errorf("version %X", v)
	}
	serial := must(t, c, []byte{0x00, insGetSerial, 0x00, 0x00, 0x00})
	if n := binary.BigEndian.Uint32(serial); len(serial) != 4 || n < 10_000_000 || n > 99_999_999 {
		t.Errorf("serial %X", serial)
	}
	if m := must(t, c, apdu(0, insGetMetadata, 0, refPIN, nil)); !bytes.Equal(m, unhex(t, "0101FF 050101 06020303")) {
		t.Errorf("PIN metadata %X", m)
	}
	expect(t, c, verifyPIN("000000"), 0x63C2)
	must(t, c, changeRef(refPUK, "12345678", "11223344"))
	if m := must(t, c, apdu(0, insGetMetadata, 0, refPIN, nil)); !bytes.Equal(m, unhex(t, "0101FF 050101 06020302")) {
		t.Errorf("PIN metadata %X", m)
	}
	if m := must(t, c, apdu(0, insGetMetadata, 0, refPUK, nil)); !bytes.Equal(m, unhex(t, "0101FF 050100 06020303")) {
		t.Errorf("PUK metadata %X", m)
	}
	expect(t, c, apdu(0, insGetMetadata, 0, 0x9A, nil), 0x6A88)
	expect(t, c, apdu(0, insGetMetadata, 1, 0x9A, nil), 0x6A86)
}

func TestSetPINRetriesAndReset(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	must(t, c, selectPIV)
	mgmtAuth(t, c, alg3DES, defaultMgmtKey)
	generate(t, c, 0x9A, algECCP256)
	must(t, c, putData(tagPIVAuth, []byte{0x70, 0x01, 0x00}))
	must(t, c, changeRef(refPIN, "123456", "555555"))
	expect(t, c, apdu(0, insSetPINRetries, 5, 6, nil), 0x6982) // needs the PIN too
	must(t, c, verifyPIN("555555"))
	expect(t, c, apdu(0, insSetPINRetries, 0, 6, nil), 0x6A86)
	must(t, c, apdu(0, insSetPINRetries, 5, 6, nil))
	// The PIN and PUK are back to their defaults, with the new counts.
	if m := must(t, c, apdu(0, insGetMetadata, 0, refPIN, nil)); !bytes.Equal(m, unhex(t, "0101FF 050101 06020505")) {
		t.Errorf("PIN metadata %X", m)
	}
	expect(t, c, verifyPIN("555555"), 0x63C4)

	expect(t, c, apdu(0, insReset, 0, 0, nil), 0x6985)
	for i := 0; i < 4; i++ {
		send(t, c, verifyPIN("000000"))
	}
	expect(t, c, apdu(0, insReset, 0, 0, nil), 0x6985) // the PUK still works
	for i := 0; i < 6; i++ {
		send(t, c, changeRef(refPUK, "00000000", "00000000"))
	}
	must(t, c, apdu(0, insReset, 0, 0, nil))
	expect(t, c, apdu(0, insVerify, 0, refPIN, nil), 0x63C3)
	expect(t, c, apdu(0, insGetMetadata, 0, 0x9A, nil), 0x6A88)
	expect(t, c, apdu(0, insGetData, 0x3F, 0xFF, unhex(t, "5C035FC105")), 0x6A82)
	must(t, c, verifyPIN("123456"))
	mgmtAuth(t, c, alg3DES, defaultMgmtKey)
	// The attestation key and certificate survive the reset.
	must(t, c, apdu(0, insGetMetadata, 0, keyAttestation, nil))
	must(t, c, apdu(0, insGetData, 0x3F, 0xFF, unhex(t, "5C035FFF01")))
}

func TestMetadataAndAttestation(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	must(t, c, selectPIV)
	mgmtAuth(t, c, alg3DES, defaultMgmtKey)
	pub := generate(t, c, 0x9C, algECCP384, pinOnce, touchCached).(*ecdsa.PublicKey)

	meta := must(t, c, apdu(0, insGetMetadata, 0, 0x9C, nil))
	point, err := pub.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	pubTLV := tlv.Encode(0x86, point)
	want := append(unhex(t, "010114 02020203 030101 04"), byte(len(pubTLV)))
	if want = append(want, pubTLV...); !bytes.Equal(meta, want) {
		t.Errorf("9C metadata %X\nwant %X", meta, want)
	}

	ca, _ := benchCA(t)
	attDER := must(t, c, apdu(0, insAttest, 0x9C, 0, nil))
	slotCert, err := x509.ParseCertificate(attDER)
	if err != nil {
		t.Fatal(err)
	}
	obj := must(t, c, apdu(0, insGetData, 0x3F, 0xFF, unhex(t, "5C035FFF01")))
	inner, _ := tlv.Unwrap(obj, 0x53)
	der, _, _ := tlv.Find(inner, 0x70)
	attCert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	v := piv.Verifier{Roots: roots}
	a, err := v.Verify(attCert, slotCert)
	if err != nil {
		t.Fatal(err)
	}
	if a.Serial != c.st.Serial || a.Version != (piv.Version{Major: 5, Minor: 7, Patch: 1}) ||
		a.PINPolicy != piv.PINPolicyOnce || a.TouchPolicy != piv.TouchPolicyCached ||
		a.Slot != piv.SlotSignature || a.Formfactor != piv.FormfactorUSBCKeychain {
		t.Errorf("attestation %+v", a)
	}
	if !slotCert.PublicKey.(*ecdsa.PublicKey).Equal(pub) {
		t.Error("attested key is not the generated key")
	}
	// An empty slot and an imported key cannot be attested.
	expect(t, c, apdu(0, insAttest, 0x9A, 0, nil), 0x6A80)
	importKey(t, c, 0x9A, algEd25519, tlv.Encode(0x07, make([]byte, 32)))
	expect(t, c, apdu(0, insAttest, 0x9A, 0, nil), 0x6A80)
	if m := must(t, c, apdu(0, insGetMetadata, 0, 0x9A, nil)); !bytes.Contains(m, unhex(t, "030102")) {
		t.Errorf("imported key metadata %X lacks origin imported", m)
	}
}

// importKey runs IMPORT KEY with default policies.
func importKey(t testing.TB, c *Card, slot, alg byte, components []byte) {
	t.Helper()
	must(t, c, apdu(0, insImportKey, alg, slot, components))
}

func TestImportKeys(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	must(t, c, selectPIV)
	expect(t, c, apdu(0, insImportKey, algEd25519, 0x9A, tlv.Encode(0x07, make([]byte, 32))), 0x6982)
	mgmtAuth(t, c, alg3DES, defaultMgmtKey)
	must(t, c, verifyPIN("123456"))
	digest := sha256.Sum256([]byte("imported"))

	// RSA, encoded as piv-go's SetPrivateKeyInsecure does.
	rk := testRSAKey(t)
	var comps []byte
	for i, v := range []*big.Int{rk.Primes[0], rk.Primes[1], rk.Precomputed.Dp, rk.Precomputed.Dq, rk.Precomputed.Qinv} {
		comps = tlv.Append(comps, uint32(i+1), v.FillBytes(make([]byte, 128)))
	}
	bad := bytes.Clone(comps)
	bad[len(bad)-1] ^= 1
	expect(t, c, apdu(0, insImportKey, algRSA2048, 0x9A, bad), 0x6A80)
	expect(t, c, apdu(0, insImportKey, algRSA3072, 0x9A, comps), 0x6A80)
	importKey(t, c, 0x9A, algRSA2048, append(comps, 0xAA, 0x01, pinNever, 0xAB, 0x01, touchNever))
	sig := authenticate(t, c, algRSA2048, 0x9A, 0x81, pkcs1(digest[:], 256))
	if err := rsa.VerifyPKCS1v15(&rk.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		t.Fatal(err)
	}

	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	importKey(t, c, 0x9D, algECCP256, tlv.Encode(0x06, ec.D.FillBytes(make([]byte, 32))))
	if !ecdsa.VerifyASN1(&ec.PublicKey, digest[:], authenticate(t, c, algECCP256, 0x9D, 0x81, digest[:])) {
		t.Fatal("imported P-256 key signature does not verify")
	}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	importKey(t, c, 0x95, algEd25519, tlv.Encode(0x07, ed.Seed()))
	if !ed25519.Verify(ed.Public().(ed25519.PublicKey), digest[:], authenticate(t, c, algEd25519, 0x95, 0x81, digest[:])) {
		t.Fatal("imported Ed25519 key signature does not verify")
	}
	x, _ := ecdh.X25519().GenerateKey(rand.Reader)
	importKey(t, c, 0x82, algX25519, tlv.Encode(0x08, x.Bytes()))
	peer, _ := ecdh.X25519().GenerateKey(rand.Reader)
	want, _ := peer.ECDH(x.PublicKey())
	if got := authenticate(t, c, algX25519, 0x82, 0x85, peer.PublicKey().Bytes()); !bytes.Equal(got, want) {
		t.Fatal("imported X25519 key agrees on another secret")
	}
	expect(t, c, apdu(0, insImportKey, algX25519, keyAttestation, tlv.Encode(0x08, x.Bytes())), 0x6A80)
	expect(t, c, apdu(0, insImportKey, 0x42, 0x9A, tlv.Encode(0x08, x.Bytes())), 0x6A86)
	expect(t, c, apdu(0, insImportKey, algECCP256, 0x9A, tlv.Encode(0x06, bytes.Repeat([]byte{0xFF}, 32))), 0x6A80)

	// MOVE KEY (5.7): 9D to 9A fails while 9A holds a key; delete 9A, move.
	expect(t, c, apdu(0, insMoveKey, 0x9A, 0x9D, nil), 0x6985)
	must(t, c, apdu(0, insMoveKey, 0xFF, 0x9A, nil))
	must(t, c, apdu(0, insMoveKey, 0x9A, 0x9D, nil))
	expect(t, c, apdu(0, insGetMetadata, 0, 0x9D, nil), 0x6A88)
	if !ecdsa.VerifyASN1(&ec.PublicKey, digest[:], authenticate(t, c, algECCP256, 0x9A, 0x81, digest[:])) {
		t.Fatal("moved key signature does not verify")
	}
}
