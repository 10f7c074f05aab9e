package piv

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"math/big"

	"github.com/pivauth/pivauth/internal/tlv"
)

// Tags inside a public key template (SP 800-73-4 part 2, table 11).
const (
	tagPublicKeyTemplate = 0x7F49
	tagRSAModulus        = 0x81
	tagRSAExponent       = 0x82
	tagECPoint           = 0x86
)

// parsePublicKey decodes the content of a 7F49 public key template (as
// GENERATE ASYMMETRIC KEY PAIR and the YubiKey's GET METADATA return it)
// for the given algorithm.
func parsePublicKey(alg Algorithm, b []byte) (crypto.PublicKey, error) {
	if alg.IsRSA() {
		n, okN, err := tlv.Find(b, tagRSAModulus)
		if err != nil {
			return nil, fmt.Errorf("piv: RSA public key: %w", err)
		}
		e, okE, err := tlv.Find(b, tagRSAExponent)
		if err != nil {
			return nil, fmt.Errorf("piv: RSA public key: %w", err)
		}
		if !okN || !okE || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("piv: RSA public key: modulus or exponent missing")
		}
		var exp int
		for _, c := range e {
			exp = exp<<8 | int(c)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}
		if pub.N.BitLen() != alg.rsaBytes()*8 || exp < 3 || exp&1 == 0 {
			return nil, fmt.Errorf("piv: %s public key with a %d-bit modulus and exponent %d", alg, pub.N.BitLen(), exp)
		}
		return pub, nil
	}
	point, ok, err := tlv.Find(b, tagECPoint)
	if err != nil {
		return nil, fmt.Errorf("piv: %s public key: %w", alg, err)
	}
	if !ok {
		return nil, fmt.Errorf("piv: %s public key: point (86) missing", alg)
	}
	switch alg {
	case AlgECCP256, AlgECCP384:
		curve := elliptic.P256()
		if alg == AlgECCP384 {
			curve = elliptic.P384()
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return nil, fmt.Errorf("piv: %s public key: %w", alg, err)
		}
		return pub, nil
	case AlgEd25519:
		if len(point) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("piv: Ed25519 public key of %d bytes", len(point))
		}
		return ed25519.PublicKey(append([]byte(nil), point...)), nil
	case AlgX25519:
		pub, err := ecdh.X25519().NewPublicKey(point)
		if err != nil {
			return nil, fmt.Errorf("piv: X25519 public key: %w", err)
		}
		return pub, nil
	}
	return nil, fmt.Errorf("piv: no public key format for %s", alg)
}
