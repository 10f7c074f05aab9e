package piv

import (
	"crypto/x509"
	"fmt"
)

// The YubiKey management methods (ImportKey, SetRetries,
// Reset) and VerifyAttestation, which GenerateKey uses, need piv-go, which needs cgo
// except on Windows: yubikey_pivgo.go has them, yubikey_nocgo.go the stubs
// that fail with ErrNoPCSC. The types they share live here.

// KeyOptions chooses the algorithm and the YubiKey policies of a key.
type KeyOptions struct {
	// Algorithm of a generated key; ImportKey takes it from the key.
	Algorithm Algorithm
	// PINPolicy; PINPolicyDefault means DefaultPINPolicy of the slot.
	PINPolicy PINPolicy
	// TouchPolicy; TouchPolicyDefault means never.
	TouchPolicy TouchPolicy
}

// Attestation is what a verified YubiKey attestation proves about a key:
// it was generated on the YubiKey with this serial, with these policies.
type Attestation struct {
	Serial      uint32
	Version     Version
	PINPolicy   PINPolicy
	TouchPolicy TouchPolicy
	Slot        Slot
	// Certificate is the key's attestation certificate (ATTEST);
	// Intermediate is the card's attestation certificate (slot F9) that
	// signed it.
	Certificate, Intermediate *x509.Certificate
}

// UnsupportedAlgorithmError reports a key algorithm the card does not
// have. It is returned before anything on the card changed: either the
// card's identity told (a YubiKey's firmware version), or GENERATE was
// refused with a checking error, which by ISO 7816-4 leaves the card as it
// was.
type UnsupportedAlgorithmError struct {
	Algorithm Algorithm
	// Card describes the card (Identity.String).
	Card string
	// Reason says how pivauth knows: "YubiKey firmware 5.4.3 has no
	// Ed25519 (5.7 and later do)", "GENERATE answered 6A80".
	Reason string
}

// Error says that the card does not support the algorithm, why pivauth
// knows, and that the slot is unchanged.
func (e *UnsupportedAlgorithmError) Error() string {
	return fmt.Sprintf("this card does not support %s keys (%s: %s); nothing on the card was changed",
		e.Algorithm, e.Card, e.Reason)
}

// yubiKeyAlgorithmSince is the first YubiKey firmware with each key
// algorithm; those not listed are on every YubiKey with PIV.
var yubiKeyAlgorithmSince = map[Algorithm]Version{
	AlgECCP384: {4, 0, 0},
	AlgRSA3072: {5, 7, 0}, AlgRSA4096: {5, 7, 0},
	AlgEd25519: {5, 7, 0}, AlgX25519: {5, 7, 0},
}

// checkAlgorithm refuses, before anything is generated, an algorithm a
// YubiKey's firmware does not have. Only a YubiKey's version is trusted for
// this: an independent applet with Yubico extensions answers GET VERSION
// with a version of its choosing, and its algorithms are known only from
// its answer to GENERATE.
func checkAlgorithm(id Identity, alg Algorithm) error {
	since, listed := yubiKeyAlgorithmSince[alg]
	if !id.YubiKey || !listed || id.Version.atLeast(since.Major, since.Minor) {
		return nil
	}
	return &UnsupportedAlgorithmError{Algorithm: alg, Card: id.String(),
		Reason: fmt.Sprintf("YubiKey firmware %s has no %s, %d.%d and later do", id.Version, alg, since.Major, since.Minor)}
}

// AttestationError reports a key that was generated, and is in Slot, but
// whose attestation could not be verified: the card did not attest it
// (ATTEST failed), its attestation certificate does not parse, does not
// chain to the attestation roots, or vouches for something else.
type AttestationError struct {
	Slot Slot
	Err  error
}

// Error says that the key is in the slot, then why its attestation failed.
func (e *AttestationError) Error() string {
	return fmt.Sprintf("the key was generated and is in slot %s, but its attestation could not be verified: %v", e.Slot, e.Err)
}

// Unwrap returns the reason.
func (e *AttestationError) Unwrap() error { return e.Err }
