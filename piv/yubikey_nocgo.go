//go:build !cgo && !windows

package piv

import (
	"context"
	"crypto"
	"crypto/x509"
)

// piv-go does not compile without cgo here. No Card can be opened in such a
// build, so these stand-ins are reached only by VerifyAttestation, which
// fails as plainly as the card operations.

// VerifyAttestation fails with ErrNoPCSC: the verifier is piv-go's.
func VerifyAttestation(intermediate, slotCert *x509.Certificate, roots *x509.CertPool) (*Attestation, error) {
	return nil, ErrNoPCSC
}

// GenerateKey fails with ErrNoPCSC.
func (c *Card) GenerateKey(ctx context.Context, managementKey []byte, slot Slot, opts KeyOptions, roots *x509.CertPool) (crypto.PublicKey, *Attestation, error) {
	return nil, nil, ErrNoPCSC
}

// ImportKey fails with ErrNoPCSC.
func (c *Card) ImportKey(ctx context.Context, managementKey []byte, slot Slot, priv crypto.PrivateKey, cert *x509.Certificate, opts KeyOptions) error {
	return ErrNoPCSC
}

// SetRetries fails with ErrNoPCSC.
func (c *Card) SetRetries(ctx context.Context, managementKey, pin []byte, pinRetries, pukRetries int, guard func(retries int) error) error {
	return ErrNoPCSC
}

// Reset fails with ErrNoPCSC.
func (c *Card) Reset(ctx context.Context) error { return ErrNoPCSC }
