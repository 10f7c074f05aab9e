package piv

import "crypto/x509"

// The YubiKey management methods (GenerateKey, ImportKey, SetManagementKey,
// SetRetries, Reset) and VerifyAttestation use piv-go, which needs cgo
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
