// Package assertiontest provides software keys with self-signed certificates, a signer that
// counts its Sign calls and one that remembers what each signature was for, for tests of code that takes a crypto.Signer and certificate (the flows and
// their stand-ins) before or besides a real card.
package assertiontest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pivauth/pivauth/signer/purpose"
)

// Key types accepted by Key.
const (
	RSA2048 = "rsa2048"
	P256    = "p256"
	P384    = "p384"
	Ed25519 = "ed25519"
)

// CertOptions shape the self-signed certificate made by KeyWith.
type CertOptions struct {
	NotBefore, NotAfter time.Time // zero: one hour ago .. one year from now
	CommonName          string    // "" = "pivauth test <kind>"
}

// Key returns a fresh software key of the kind and a self-signed certificate for it, valid now.
func Key(t testing.TB, kind string) (crypto.Signer, *x509.Certificate) {
	return KeyWith(t, kind, CertOptions{})
}

// KeyWith is Key with control over the certificate's validity and name.
func KeyWith(t testing.TB, kind string, o CertOptions) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	key, cert, err := NewKey(kind, o)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

// NewKey is KeyWith for code without a testing.TB, such as runnable examples.
func NewKey(kind string, o CertOptions) (crypto.Signer, *x509.Certificate, error) {
	var (
		key crypto.Signer
		err error
	)
	switch kind {
	case RSA2048:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case P256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case P384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case Ed25519:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, nil, fmt.Errorf("assertiontest: unknown key kind %q", kind)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("assertiontest: generate %s key: %w", kind, err)
	}
	cert, err := selfSign(key, o)
	return key, cert, err
}

// Certificate self-signs a certificate for key.
func Certificate(t testing.TB, key crypto.Signer, o CertOptions) *x509.Certificate {
	t.Helper()
	cert, err := selfSign(key, o)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func selfSign(key crypto.Signer, o CertOptions) (*x509.Certificate, error) {
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().AddDate(1, 0, 0)
	}
	if o.CommonName == "" {
		o.CommonName = "pivauth test key"
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: o.CommonName},
		NotBefore:    o.NotBefore,
		NotAfter:     o.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("assertiontest: self-sign: %w", err)
	}
	return x509.ParseCertificate(der)
}

// CountingSigner wraps a crypto.Signer and counts Sign calls, standing in for the card's signature
// counter where no card is attached. Safe for concurrent use.
type CountingSigner struct {
	crypto.Signer
	n atomic.Int64
}

// Sign counts the call and delegates.
func (c *CountingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	c.n.Add(1)
	return c.Signer.Sign(r, digest, opts)
}

// Count returns the number of Sign calls so far.
func (c *CountingSigner) Count() int { return int(c.n.Load()) }

// PurposeSigner wraps a crypto.Signer and remembers the purpose (package signer/purpose) of each
// signature it makes, in order, as a signer that logs or checks the purpose would (pivauth's audit
// log does): tests check with it that a flow tells the key what each signature is for. Sign
// without a context records the zero Purpose. Safe for concurrent use.
type PurposeSigner struct {
	crypto.Signer
	mu       sync.Mutex
	purposes []purpose.Purpose
}

// Sign signs without a purpose; code that knows one passes it through purpose.Bind.
func (s *PurposeSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.SignContext(context.Background(), r, digest, opts)
}

// SignContext signs and, when the signature was made, records the purpose ctx carries.
func (s *PurposeSigner) SignContext(ctx context.Context, r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := s.Signer.Sign(r, digest, opts)
	if err == nil {
		s.mu.Lock()
		s.purposes = append(s.purposes, purpose.From(ctx))
		s.mu.Unlock()
	}
	return sig, err
}

// Purposes returns the purposes of the signatures made so far, oldest first.
func (s *PurposeSigner) Purposes() []purpose.Purpose {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]purpose.Purpose(nil), s.purposes...)
}
