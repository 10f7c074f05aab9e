package assertion

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"math/big"
	"testing"
)

// TestECDSARawPadsShortIntegers: DER drops leading zero bytes of r and s, JWS wants each padded to
// the curve size; a card returning r = 1 must still give a 64-byte P-256 signature.
func TestECDSARawPadsShortIntegers(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := asn1.Marshal(struct{ R, S *big.Int }{big.NewInt(1), big.NewInt(0x0102)})
	raw, err := ecdsaRaw(der, &key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 64)
	want[31], want[62], want[63] = 0x01, 0x01, 0x02
	if !bytes.Equal(raw, want) {
		t.Errorf("raw = %x\nwant  %x", raw, want)
	}
}

// TestECDSARawRoundTrip converts real P-384 signatures and checks them with the raw r and s.
func TestECDSARawRoundTrip(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	digest := sha256.Sum256([]byte("payload"))
	for range 20 {
		der, err := key.Sign(rand.Reader, digest[:], nil)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := ecdsaRaw(der, &key.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) != 96 {
			t.Fatalf("len = %d, want 96", len(raw))
		}
		r, s := new(big.Int).SetBytes(raw[:48]), new(big.Int).SetBytes(raw[48:])
		if !ecdsa.Verify(&key.PublicKey, digest[:], r, s) {
			t.Fatal("converted signature does not verify")
		}
	}
}

func TestECDSARawRejectsOversizedIntegers(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	big257 := new(big.Int).Lsh(big.NewInt(1), 256)
	der, _ := asn1.Marshal(struct{ R, S *big.Int }{big257, big.NewInt(1)})
	if _, err := ecdsaRaw(der, &key.PublicKey); err == nil {
		t.Error("accepted a 257-bit r for P-256")
	}
}
