package signer

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/pivauth/pivauth/internal/rsapad"
	"github.com/pivauth/pivauth/piv"
)

// Sign signs digest with the card's key, as crypto.Signer asks:
//   - RSA: opts *rsa.PSSOptions signs RSASSA-PSS (every SaltLength Go knows:
//     rsa.PSSSaltLengthAuto, rsa.PSSSaltLengthEqualsHash or a length);
//     any other opts signs PKCS #1 v1.5 with the DigestInfo of
//     opts.HashFunc(), or none for crypto.Hash(0). The padding is built here
//     and the card applies the raw RSA operation.
//   - ECDSA: an ASN.1 DER signature of digest, truncated to the curve size
//     as crypto/ecdsa does.
//   - Ed25519: digest is the message itself and opts.HashFunc() must be 0
//     (the card does not do Ed25519ph or Ed25519ctx).
//
// Every signature is verified against the certificate's public key before it
// is returned, so a card that is not the one the signer was opened on (or a
// faulty one) is refused with ErrKeyChanged instead of producing a signature
// that fails later at a server. rand is used for PSS salts (nil means
// crypto/rand). Sign uses context.Background(); SignContext takes a context.
func (s *Signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.SignContext(context.Background(), rand, digest, opts)
}

// SignContext is Sign with a context, which bounds the wait for the card and
// for the PIN prompt.
func (s *Signer) SignContext(ctx context.Context, random io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil {
		opts = crypto.Hash(0)
	}
	if random == nil {
		random = rand.Reader
	}
	switch pub := s.pub.(type) {
	case *rsa.PublicKey:
		return s.signRSA(ctx, random, pub, digest, opts)
	case *ecdsa.PublicKey:
		return s.signECDSA(ctx, pub, digest)
	case ed25519.PublicKey:
		return s.signEd25519(ctx, pub, digest, opts)
	}
	return nil, fmt.Errorf("signer: the %s key in slot %s cannot sign (key agreement only)", s.alg, s.slot)
}

func (s *Signer) signRSA(ctx context.Context, random io.Reader, pub *rsa.PublicKey, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	var (
		in     []byte
		err    error
		verify func(sig []byte) error
	)
	if pss, ok := opts.(*rsa.PSSOptions); ok {
		h := pss.HashFunc()
		var saltLen int
		saltLen, err = rsapad.PSSSaltLength(pss.SaltLength, h, pub.N.BitLen())
		if err == nil {
			in, err = rsapad.EncodePSS(random, h, digest, saltLen, pub.N.BitLen())
		}
		verify = func(sig []byte) error {
			return rsa.VerifyPSS(pub, h, digest, sig, &rsa.PSSOptions{SaltLength: saltLen})
		}
	} else {
		h := opts.HashFunc()
		in, err = rsapad.EncodePKCS1v15(h, digest, pub.Size())
		verify = func(sig []byte) error { return rsa.VerifyPKCS1v15(pub, h, digest, sig) }
	}
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	sig, err := s.do(ctx, func(tx *piv.Tx) ([]byte, error) { return tx.Sign(s.slot, s.alg, in) })
	if err != nil {
		return nil, err
	}
	if len(sig) < pub.Size() { // a card may drop leading zero bytes
		sig = append(make([]byte, pub.Size()-len(sig)), sig...)
	}
	return s.checked(sig, verify(sig) == nil)
}

func (s *Signer) signECDSA(ctx context.Context, pub *ecdsa.PublicKey, digest []byte) ([]byte, error) {
	out, err := s.do(ctx, func(tx *piv.Tx) ([]byte, error) { return tx.Sign(s.slot, s.alg, digest) })
	if err != nil {
		return nil, err
	}
	sig, err := ecdsaDER(out, (pub.Curve.Params().BitSize+7)/8)
	if err != nil {
		return nil, fmt.Errorf("signer: the card's ECDSA signature: %w", err)
	}
	return s.checked(sig, ecdsa.VerifyASN1(pub, digest, sig))
}

func (s *Signer) signEd25519(ctx context.Context, pub ed25519.PublicKey, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if o, ok := opts.(*ed25519.Options); ok && o.Context != "" {
		return nil, errors.New("signer: the card signs pure Ed25519 only, not Ed25519ctx")
	}
	if opts.HashFunc() != 0 {
		return nil, errors.New("signer: the card signs pure Ed25519 only: pass the message itself with crypto.Hash(0), not a digest (Ed25519ph)")
	}
	sig, err := s.do(ctx, func(tx *piv.Tx) ([]byte, error) { return tx.Sign(s.slot, s.alg, msg) })
	if err != nil {
		return nil, err
	}
	return s.checked(sig, len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, msg, sig))
}

// checked returns sig when it verified, and ErrKeyChanged when it did not.
func (s *Signer) checked(sig []byte, ok bool) ([]byte, error) {
	if !ok {
		s.sem <- struct{}{}
		err := s.keyChanged()
		<-s.sem
		return nil, fmt.Errorf("signer: %w", err)
	}
	return sig, nil
}

// ecdsaDER returns the card's ECDSA signature as canonical DER. SP 800-73-4
// cards answer DER; one answering the raw r||s form of n-byte integers, or
// DER with non-minimal integers, is accepted and re-encoded, so a card's
// encoding quirk is never mistaken for a wrong key.
func ecdsaDER(b []byte, n int) ([]byte, error) {
	var r, sv big.Int
	in := cryptobyte.String(b)
	var seq cryptobyte.String
	der := in.ReadASN1(&seq, asn1.SEQUENCE) && in.Empty() && readLaxInt(&seq, &r) && readLaxInt(&seq, &sv) && seq.Empty()
	switch {
	case der:
	case len(b) == 2*n:
		r.SetBytes(b[:n])
		sv.SetBytes(b[n:])
	default:
		return nil, fmt.Errorf("neither DER nor r||s (%d bytes)", len(b))
	}
	var out cryptobyte.Builder
	out.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(&r)
		b.AddASN1BigInt(&sv)
	})
	return out.Bytes()
}

// readLaxInt reads a non-negative INTEGER, tolerating leading zero bytes.
func readLaxInt(s *cryptobyte.String, v *big.Int) bool {
	var body cryptobyte.String
	if !s.ReadASN1(&body, asn1.INTEGER) || len(body) == 0 || body[0]&0x80 != 0 {
		return false
	}
	v.SetBytes(body)
	return true
}

// publicKeyEqual reports whether two public keys are the same key.
func publicKeyEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// ecdhPublic returns the key-agreement form of the certificate's key, or
// nil for keys that cannot agree (RSA, Ed25519).
func ecdhPublic(pub crypto.PublicKey) *ecdh.PublicKey {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if e, err := k.ECDH(); err == nil {
			return e
		}
	case *ecdh.PublicKey:
		return k
	}
	return nil
}
