package assertion

import (
	"crypto/sha1" // #nosec G505 -- x5t is defined as SHA-1 (RFC 7515 §4.1.7); Entra shows it as the thumbprint
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Thumbprints returns the SHA-1 and SHA-256 digests of the certificate's DER encoding as upper-case
// hex, the form the Entra portal and Windows show under "Thumbprint".
func Thumbprints(cert *x509.Certificate) (sha1Hex, sha256Hex string) {
	s1 := sha1.Sum(cert.Raw) // #nosec G401 -- a certificate fingerprint, not a signature
	s256 := sha256.Sum256(cert.Raw)
	return strings.ToUpper(hex.EncodeToString(s1[:])), strings.ToUpper(hex.EncodeToString(s256[:]))
}

// X5T returns the JWS "x5t" header value for cert: base64url (unpadded) SHA-1 of its DER encoding.
func X5T(cert *x509.Certificate) string {
	s := sha1.Sum(cert.Raw) // #nosec G401 -- a certificate fingerprint, not a signature
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// X5TS256 returns the JWS "x5t#S256" header value for cert: base64url (unpadded) SHA-256 of its DER
// encoding. It is also the value of a certificate-bound token's cnf claim (RFC 8705).
func X5TS256(cert *x509.Certificate) string {
	s := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(s[:])
}
