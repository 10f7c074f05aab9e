package assertion

import (
	"crypto"
	"crypto/dsa"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"slices"
	"strings"
)

// JWS algorithm names this package signs with.
const (
	PS256 = "PS256"
	RS256 = "RS256"
	ES256 = "ES256"
	ES384 = "ES384"
	EdDSA = "EdDSA"
)

// Algorithms returns the JWS algorithms a key can sign with, most preferred first: PS256 then RS256
// for RSA, ES256 for P-256, ES384 for P-384, EdDSA for Ed25519. It returns nil for any other key.
func Algorithms(pub crypto.PublicKey) []string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return []string{PS256, RS256}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return []string{ES256}
		case elliptic.P384():
			return []string{ES384}
		}
	case ed25519.PublicKey:
		return []string{EdDSA}
	}
	return nil
}

// DefaultAlgorithm returns the preferred JWS algorithm for the key (the first of Algorithms).
func DefaultAlgorithm(pub crypto.PublicKey) (string, error) {
	algs := Algorithms(pub)
	if len(algs) == 0 {
		return "", fmt.Errorf("assertion: %s keys cannot sign a client assertion: use an RSA, P-256, P-384 or Ed25519 key", KeyType(pub))
	}
	return algs[0], nil
}

// Choose picks the algorithm for the key from those a server advertises (for example an OIDC
// provider's token_endpoint_auth_signing_alg_values_supported), following the key's preference order.
// An empty advertised list means the server did not say, and the key's default is used.
func Choose(pub crypto.PublicKey, advertised []string) (string, error) {
	if len(advertised) == 0 {
		return DefaultAlgorithm(pub)
	}
	for _, alg := range Algorithms(pub) {
		if slices.Contains(advertised, alg) {
			return alg, nil
		}
	}
	return "", fmt.Errorf("assertion: the server accepts %s, none of which a %s key can sign (%s): use a key of another type",
		strings.Join(advertised, ", "), KeyType(pub), strings.Join(Algorithms(pub), ", "))
}

// KeyType names a public key for messages: "RSA-2048", "ECDSA P-256", "Ed25519", "X25519". It
// never shows a Go type name: messages reach people who do not read Go.
func KeyType(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	case *ecdh.PublicKey:
		if k.Curve() == ecdh.X25519() {
			return "X25519"
		}
		return "ECDH"
	case *dsa.PublicKey:
		return fmt.Sprintf("DSA-%d", k.P.BitLen())
	case nil:
		return "missing"
	}
	return "unsupported"
}
