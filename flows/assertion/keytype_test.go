package assertion_test

import (
	"crypto/dsa"
	"crypto/ecdh"
	"crypto/rand"
	"math/big"
	"strings"
	"testing"

	"github.com/pivauth/pivauth/flows/assertion"
)

// TestKeyTypeNamesNoGoType: key types pivauth cannot sign with are still named in words, never
// as a Go type ("*ecdh.PublicKey") in a message a person reads.
func TestKeyTypeNamesNoGoType(t *testing.T) {
	x, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := ecdh.P256().GenerateKey(rand.Reader)
	dsaKey := &dsa.PublicKey{Parameters: dsa.Parameters{P: new(big.Int).Lsh(big.NewInt(1), 2047)}}
	for _, tc := range []struct {
		pub  any
		want string
	}{{x.PublicKey(), "X25519"}, {p.PublicKey(), "ECDH"}, {dsaKey, "DSA-2048"}, {struct{}{}, "unsupported"}} {
		got := assertion.KeyType(tc.pub)
		if got != tc.want || strings.ContainsAny(got, "*.") {
			t.Errorf("KeyType(%T) = %q, want %q", tc.pub, got, tc.want)
		}
	}
}
