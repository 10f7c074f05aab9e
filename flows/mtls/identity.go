package mtls

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/pivauth/pivauth/flows/assertion"
	"github.com/pivauth/pivauth/signer/purpose"
)

// ErrKeyChanged is returned (wrapped) once a signature made for a handshake does not verify with
// the identity's certificate: the card now holds another key (swapped card, re-keyed slot). The
// transport then refuses every further handshake and session resumption; make a new one.
var ErrKeyChanged = errors.New("the key no longer matches the client certificate")

// ErrCertificateExpired is wrapped by the error for an identity whose certificate is past its
// NotAfter (its message reads "certificate "CN=…" expired on DATE").
var ErrCertificateExpired = errors.New("expired")

// Identity is a TLS client identity: a key that signs and the certificate naming it. The zero
// Identity means no client certificate.
type Identity struct {
	// Signer signs the handshake; a card signer (signer.Signer) or any crypto.Signer.
	Signer crypto.Signer
	// Certificate is the leaf certificate for Signer's public key.
	Certificate *x509.Certificate
	// Chain holds intermediate certificates, sent after the leaf.
	Chain []*x509.Certificate
	// SignatureSchemes limits the TLS signature schemes offered to those the key can make (a
	// card may not do every hash with every key size); nil means every scheme of the key type.
	SignatureSchemes []tls.SignatureScheme
}

// FromTLSCertificate turns a tls.Certificate (for example signer.Signer.TLSCertificate()) into an
// Identity. The private key must be a crypto.Signer; the first certificate is the leaf, the
// others the chain; SupportedSignatureAlgorithms is kept.
func FromTLSCertificate(c tls.Certificate) (Identity, error) {
	key, ok := c.PrivateKey.(crypto.Signer)
	if !ok {
		return Identity{}, fmt.Errorf("mtls: the TLS certificate's private key (%T) is not a crypto.Signer", c.PrivateKey)
	}
	if len(c.Certificate) == 0 {
		return Identity{}, errors.New("mtls: the TLS certificate holds no certificate")
	}
	id := Identity{Signer: key, Certificate: c.Leaf, SignatureSchemes: c.SupportedSignatureAlgorithms}
	for i, der := range c.Certificate {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return Identity{}, fmt.Errorf("mtls: parse certificate %d of the chain: %w", i, err)
		}
		if i == 0 {
			if id.Certificate == nil {
				id.Certificate = cert
			}
			continue
		}
		id.Chain = append(id.Chain, cert)
	}
	return id, nil
}

// empty reports whether the identity presents no certificate.
func (id Identity) empty() bool { return id.Signer == nil && id.Certificate == nil }

// check refuses an identity whose certificate is not for its key or not valid now: every
// server would reject it, with less to say about why.
func (id Identity) check(now time.Time) error {
	if id.empty() {
		return nil
	}
	if id.Signer == nil || id.Certificate == nil {
		return errors.New("mtls: an identity needs both a signer and its certificate")
	}
	if err := assertion.MatchCertificate(id.Signer.Public(), id.Certificate); err != nil {
		return fmt.Errorf("mtls: %w", err)
	}
	cert := id.Certificate
	switch {
	case now.After(cert.NotAfter):
		return fmt.Errorf("mtls: certificate %q %w on %s: renew it and register the new one with the server",
			cert.Subject.String(), ErrCertificateExpired, cert.NotAfter.Format(time.DateOnly))
	case now.Before(cert.NotBefore):
		return fmt.Errorf("mtls: certificate %q is valid only from %s: check this computer's clock",
			cert.Subject.String(), cert.NotBefore.Format(time.RFC3339))
	}
	return nil
}

// tlsCertificate returns the tls.Certificate presented in a handshake: the chain and a signer that
// verifies its own signatures, setting broken when one fails. The signer signs in ctx, the
// handshake's context: a card signer's audit record then names the server (see RoundTrip).
func (id Identity) tlsCertificate(ctx context.Context, broken *atomic.Bool) *tls.Certificate {
	chain := [][]byte{id.Certificate.Raw}
	for _, c := range id.Chain {
		chain = append(chain, c.Raw)
	}
	return &tls.Certificate{
		Certificate:                  chain,
		PrivateKey:                   &checkedSigner{Signer: purpose.Bind(ctx, id.Signer), cert: id.Certificate, broken: broken},
		Leaf:                         id.Certificate,
		SupportedSignatureAlgorithms: id.SignatureSchemes,
	}
}

// checkedSigner verifies every signature with the certificate's public key before it leaves the
// process. A verification is microseconds in software, while a mismatch found by the server is an
// opaque "bad certificate"; and a card signing with another key must stop the identity for good.
type checkedSigner struct {
	crypto.Signer
	cert   *x509.Certificate
	broken *atomic.Bool
	failed func(error) // told of every signing failure; nil: nobody
}

// Public returns the certificate's key: the one the server will verify with.
func (s *checkedSigner) Public() crypto.PublicKey { return s.cert.PublicKey }

// Sign signs with the underlying signer and verifies the result.
func (s *checkedSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := s.sign(r, digest, opts)
	if err != nil && s.failed != nil {
		s.failed(err)
	}
	return sig, err
}

func (s *checkedSigner) sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if s.broken.Load() {
		return nil, fmt.Errorf("mtls: %w (certificate %q): refusing to sign", ErrKeyChanged, s.cert.Subject.String())
	}
	sig, err := s.Signer.Sign(r, digest, opts)
	if err != nil {
		return nil, err
	}
	if err := verifySignature(s.cert.PublicKey, digest, sig, opts); err != nil {
		s.broken.Store(true)
		return nil, fmt.Errorf("mtls: %w: the signature does not verify with certificate %q (%v); is another card in the reader?",
			ErrKeyChanged, s.cert.Subject.String(), err)
	}
	return sig, nil
}

// verifySignature checks a TLS handshake signature the way the peer will.
func verifySignature(pub crypto.PublicKey, digest, sig []byte, opts crypto.SignerOpts) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			return rsa.VerifyPSS(k, pss.Hash, digest, sig, pss)
		}
		return rsa.VerifyPKCS1v15(k, opts.HashFunc(), digest, sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errors.New("ECDSA signature invalid")
		}
		return nil
	case ed25519.PublicKey:
		if !ed25519.Verify(k, digest, sig) {
			return errors.New("Ed25519 signature invalid")
		}
		return nil
	}
	return fmt.Errorf("unsupported public key %T", pub)
}
