package signer

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/tls"
)

// TLSCertificate returns a tls.Certificate for client (or server)
// authentication with the card's key: the chain (see Chain), Leaf set,
// PrivateKey the Signer itself, and SupportedSignatureAlgorithms the schemes
// this key can make — for RSA, PSS (TLS 1.3 and 1.2) and PKCS #1 v1.5 (TLS
// 1.2) with the hashes whose encodings fit the modulus; for ECDSA, the one
// scheme of its curve; for Ed25519, Ed25519. Every handshake signature is a
// card operation; keep a tls.ClientSessionCache to resume without one.
// A signer without a certificate (see Certificate) gives one without a
// chain, which a TLS client sends as no certificate at all.
func (s *Signer) TLSCertificate() tls.Certificate {
	chain := s.Chain()
	raw := make([][]byte, len(chain))
	for i, c := range chain {
		raw[i] = c.Raw
	}
	return tls.Certificate{
		Certificate:                  raw,
		PrivateKey:                   s,
		Leaf:                         s.cert,
		SupportedSignatureAlgorithms: signatureSchemes(s.pub),
	}
}

// signatureSchemes lists the TLS signature schemes a key can make, in the
// order of preference crypto/tls uses.
func signatureSchemes(pub any) []tls.SignatureScheme {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		// PSS with salt = hash length needs 2*hLen+2 bytes of encoding;
		// PKCS #1 v1.5 needs the DigestInfo (19 bytes of prefix) plus 11.
		emLen := (k.N.BitLen() - 1 + 7) / 8
		var out []tls.SignatureScheme
		for _, c := range []struct {
			scheme tls.SignatureScheme
			hLen   int
		}{{tls.PSSWithSHA256, 32}, {tls.PSSWithSHA384, 48}, {tls.PSSWithSHA512, 64}} {
			if emLen >= 2*c.hLen+2 {
				out = append(out, c.scheme)
			}
		}
		for _, c := range []struct {
			scheme tls.SignatureScheme
			hLen   int
		}{{tls.PKCS1WithSHA256, 32}, {tls.PKCS1WithSHA384, 48}, {tls.PKCS1WithSHA512, 64}} {
			if k.Size() >= 19+c.hLen+11 {
				out = append(out, c.scheme)
			}
		}
		return out
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256}
		case elliptic.P384():
			return []tls.SignatureScheme{tls.ECDSAWithP384AndSHA384}
		}
	case ed25519.PublicKey:
		return []tls.SignatureScheme{tls.Ed25519}
	}
	return nil
}
