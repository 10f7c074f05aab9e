package piv

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"testing"

	"github.com/pivauth/pivauth/internal/tlv"
)

func TestParsePublicKey(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b := tlv.Append(tlv.Append(nil, tagRSAModulus, rk.N.Bytes()), tagRSAExponent, big.NewInt(int64(rk.E)).Bytes())
	pub, err := parsePublicKey(AlgRSA2048, b)
	if err != nil || !rk.PublicKey.Equal(pub) {
		t.Fatalf("RSA: %v", err)
	}
	if _, err := parsePublicKey(AlgRSA3072, b); err == nil {
		t.Error("a 2048-bit modulus parsed as RSA-3072")
	}

	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	point, _ := ek.PublicKey.Bytes()
	pub, err = parsePublicKey(AlgECCP256, tlv.Encode(tagECPoint, point))
	if err != nil || !ek.PublicKey.Equal(pub) {
		t.Fatalf("P-256: %v", err)
	}
	point[len(point)-1] ^= 1
	if _, err := parsePublicKey(AlgECCP256, tlv.Encode(tagECPoint, point)); err == nil {
		t.Error("point off the curve parsed")
	}

	xk, _ := ecdh.X25519().GenerateKey(rand.Reader)
	pub, err = parsePublicKey(AlgX25519, tlv.Encode(tagECPoint, xk.PublicKey().Bytes()))
	if err != nil || !xk.PublicKey().Equal(pub) {
		t.Fatalf("X25519: %v", err)
	}
}

func TestParseMetadata(t *testing.T) {
	// GET METADATA of the PIN on a fresh YubiKey: default value, 3 of 3 tries.
	m, err := parseMetadata(unhex(t, "01 01 FF 05 01 01 06 02 03 03"))
	if err != nil || !m.Default || m.RetriesTotal != 3 || m.RetriesLeft != 3 {
		t.Fatalf("%+v %v", m, err)
	}
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	point, _ := ek.PublicKey.Bytes()
	b := append(unhex(t, "01 01 11 02 02 02 01 03 01 01"), tlv.Encode(0x04, tlv.Encode(tagECPoint, point))...)
	m, err = parseMetadata(b)
	if err != nil || m.Algorithm != AlgECCP256 || m.PINPolicy != PINPolicyOnce || m.TouchPolicy != TouchPolicyNever ||
		m.Origin != OriginGenerated || !ek.PublicKey.Equal(m.PublicKey) {
		t.Fatalf("%+v %v", m, err)
	}
	if _, err := parseMetadata(unhex(t, "02 01 02")); err == nil {
		t.Error("one-byte policy parsed")
	}
}

func FuzzParseMetadata(f *testing.F) {
	f.Add(unhex(f, "01 01 FF 05 01 01 06 02 03 03"))
	f.Add(unhex(f, "01 01 11 02 02 02 01 03 01 01 04 03 86 01 04"))
	f.Add(unhex(f, "01 01 07 04 0A 81 03 01 00 01 82 03 01 00 01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMetadata(b)
		if err == nil && m.PublicKey != nil {
			if _, err := AlgorithmOf(m.PublicKey); err != nil {
				t.Fatalf("metadata public key %T for %s: %v", m.PublicKey, m.Algorithm, err)
			}
		}
	})
}
