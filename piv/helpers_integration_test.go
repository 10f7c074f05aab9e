//go:build linux

package piv_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/internal/rsapad"
	"github.com/pivauth/pivauth/piv"
)

// Factory credentials of both bench profiles (and of a YubiKey).
var (
	defaultPIN     = []byte("123456")
	defaultPUK     = []byte("12345678")
	defaultMgmtKey = piv.DefaultManagementKey()
)

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// openBench opens the bench's card through the engine.
func openBench(t testing.TB, b *benchtest.Bench) *piv.Card {
	t.Helper()
	c, err := piv.Open(testContext(t), piv.Selector{Reader: b.Reader})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// countAPDUs runs fn and returns the APDUs the virtual card received, or
// -1 on a real card, which keeps no count.
func countAPDUs(t testing.TB, b *benchtest.Bench, fn func()) int {
	t.Helper()
	if b.Real() {
		fn()
		return -1
	}
	b.ResetStats()
	fn()
	return b.Stats().APDUs
}

// expectAPDUs checks a count from countAPDUs (nothing to check on a real card).
func expectAPDUs(t testing.TB, what string, got, want int) {
	t.Helper()
	if got >= 0 && got != want {
		t.Errorf("%s took %d APDUs, want %d", what, got, want)
	}
}

// pkcs1 is the PKCS#1 v1.5 block of a SHA-256 digest for a k-byte modulus,
// the input a raw RSA signature takes.
func pkcs1(t testing.TB, digest []byte, k int) []byte {
	t.Helper()
	em, err := rsapad.EncodePKCS1v15(crypto.SHA256, digest, k)
	if err != nil {
		t.Fatal(err)
	}
	return em
}

// signInput is what Tx.Sign takes for a SHA-256 digest of msg.
func signInput(t testing.TB, pub crypto.PublicKey, msg []byte) (in, digest []byte) {
	t.Helper()
	d := sha256.Sum256(msg)
	if k, ok := pub.(*rsa.PublicKey); ok {
		return pkcs1(t, d[:], k.Size()), d[:]
	}
	return d[:], d[:]
}

// checkSignature verifies a card signature over SHA-256(msg) with Go's crypto.
func checkSignature(t testing.TB, pub crypto.PublicKey, msg, sig []byte) {
	t.Helper()
	d := sha256.Sum256(msg)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig); err != nil {
			t.Fatalf("RSA signature does not verify: %v", err)
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, d[:], sig) {
			t.Fatal("ECDSA signature does not verify")
		}
	default:
		t.Fatalf("no verifier for %T", pub)
	}
}

// randomMessage is a fresh message to sign.
func randomMessage(t testing.TB) []byte {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		t.Fatal(err)
	}
	return n.Bytes()
}

// slotAlgorithm is the algorithm of a certificate's key.
func slotAlgorithm(t testing.TB, cert *x509.Certificate) piv.Algorithm {
	t.Helper()
	alg, err := piv.AlgorithmOf(cert.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return alg
}
