package piv

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Slot is a PIV key reference with the data object that holds its certificate.
type Slot struct {
	// Key is the key reference: 9A, 9C, 9D, 9E, 82..95 (retired), F9 (YubiKey attestation).
	Key byte
	// Object is the BER-TLV tag of the certificate data object, e.g. 0x5FC105.
	Object uint32
}

// The slots of SP 800-73-4 table 4b, and the YubiKey attestation slot.
var (
	SlotAuthentication     = Slot{0x9A, 0x5FC105}
	SlotSignature          = Slot{0x9C, 0x5FC10A}
	SlotKeyManagement      = Slot{0x9D, 0x5FC10B}
	SlotCardAuthentication = Slot{0x9E, 0x5FC101}
	SlotAttestation        = Slot{0xF9, 0x5FFF01}
)

// RetiredSlot returns retired key management slot 0x82..0x95 and its
// certificate object 5FC10D..5FC120; ok is false for other keys.
func RetiredSlot(key byte) (s Slot, ok bool) {
	if key < 0x82 || key > 0x95 {
		return Slot{}, false
	}
	return Slot{key, 0x5FC10D + uint32(key-0x82)}, true
}

// SlotByKey returns the slot of a key reference (9A, 9C, 9D, 9E, F9, 82..95).
func SlotByKey(key byte) (Slot, bool) {
	for _, s := range []Slot{SlotAuthentication, SlotSignature, SlotKeyManagement, SlotCardAuthentication, SlotAttestation} {
		if s.Key == key {
			return s, true
		}
	}
	return RetiredSlot(key)
}

// ParseSlot parses a slot given as its key reference in hex ("9a", "9A",
// "0x9c", "82") or by name ("authentication", "signature", "key-management",
// "card-authentication").
func ParseSlot(s string) (Slot, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "authentication", "auth":
		return SlotAuthentication, nil
	case "signature", "sign":
		return SlotSignature, nil
	case "key-management", "keymgmt":
		return SlotKeyManagement, nil
	case "card-authentication", "cardauth":
		return SlotCardAuthentication, nil
	}
	h := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "0x")
	if len(h) == 2 {
		if k, err := strconv.ParseUint(h, 16, 8); err == nil {
			if slot, ok := SlotByKey(byte(k)); ok {
				return slot, nil
			}
		}
	}
	return Slot{}, fmt.Errorf("piv: unknown slot %q: use 9a, 9c, 9d, 9e or a retired slot 82..95", s)
}

// String returns the key reference in lower-case hex, e.g. "9a".
func (s Slot) String() string { return fmt.Sprintf("%02x", s.Key) }

// Algorithm is a PIV cryptographic algorithm identifier (SP 800-78-4 table 6-2,
// plus the YubiKey 5.7 Ed25519 and X25519 identifiers).
type Algorithm byte

// Algorithm identifiers.
const (
	AlgTDES    Algorithm = 0x03 // 3-key Triple-DES management key
	AlgAES128  Algorithm = 0x08 // AES-128 management key
	AlgAES192  Algorithm = 0x0A // AES-192 management key
	AlgAES256  Algorithm = 0x0C // AES-256 management key
	AlgRSA1024 Algorithm = 0x06
	AlgRSA2048 Algorithm = 0x07
	AlgRSA3072 Algorithm = 0x05 // YubiKey 5.7
	AlgRSA4096 Algorithm = 0x16 // YubiKey 5.7
	AlgECCP256 Algorithm = 0x11
	AlgECCP384 Algorithm = 0x14
	AlgEd25519 Algorithm = 0xE0 // YubiKey 5.7
	AlgX25519  Algorithm = 0xE1 // YubiKey 5.7
)

var algNames = map[Algorithm]string{
	AlgTDES: "3DES", AlgAES128: "AES-128", AlgAES192: "AES-192", AlgAES256: "AES-256",
	AlgRSA1024: "RSA-1024", AlgRSA2048: "RSA-2048", AlgRSA3072: "RSA-3072", AlgRSA4096: "RSA-4096",
	AlgECCP256: "ECC P-256", AlgECCP384: "ECC P-384", AlgEd25519: "Ed25519", AlgX25519: "X25519",
}

// String names the algorithm, e.g. "RSA-2048".
func (a Algorithm) String() string {
	if n, ok := algNames[a]; ok {
		return n
	}
	return fmt.Sprintf("algorithm 0x%02X", byte(a))
}

// IsRSA reports whether a is one of the RSA algorithms.
func (a Algorithm) IsRSA() bool {
	return a == AlgRSA1024 || a == AlgRSA2048 || a == AlgRSA3072 || a == AlgRSA4096
}

// rsaBytes is the modulus length of an RSA algorithm in bytes.
func (a Algorithm) rsaBytes() int {
	switch a {
	case AlgRSA1024:
		return 128
	case AlgRSA2048:
		return 256
	case AlgRSA3072:
		return 384
	case AlgRSA4096:
		return 512
	}
	return 0
}

// ecBytes is the field size of an ECDSA curve in bytes.
func (a Algorithm) ecBytes() int {
	switch a {
	case AlgECCP256:
		return 32
	case AlgECCP384:
		return 48
	}
	return 0
}

// AlgorithmOf returns the PIV algorithm of a public key.
func AlgorithmOf(pub crypto.PublicKey) (Algorithm, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 1024:
			return AlgRSA1024, nil
		case 2048:
			return AlgRSA2048, nil
		case 3072:
			return AlgRSA3072, nil
		case 4096:
			return AlgRSA4096, nil
		}
		return 0, fmt.Errorf("piv: RSA-%d keys are not supported by PIV", k.N.BitLen())
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return AlgECCP256, nil
		case elliptic.P384():
			return AlgECCP384, nil
		}
		return 0, fmt.Errorf("piv: curve %s is not supported by PIV", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return AlgEd25519, nil
	case *ecdh.PublicKey:
		if k.Curve() == ecdh.X25519() {
			return AlgX25519, nil
		}
	}
	return 0, errors.New("piv: the key is of a type PIV does not have (PIV keys are RSA, ECC P-256 or P-384, Ed25519 or X25519)")
}

// PINPolicy says when a key needs the PIN (YubiKey extension; on other cards
// it is implied by the slot).
type PINPolicy byte

// PIN policies as the YubiKey encodes them.
const (
	PINPolicyDefault     PINPolicy = 0 // the slot's default
	PINPolicyNever       PINPolicy = 1
	PINPolicyOnce        PINPolicy = 2
	PINPolicyAlways      PINPolicy = 3
	PINPolicyMatchOnce   PINPolicy = 4 // YubiKey Bio
	PINPolicyMatchAlways PINPolicy = 5 // YubiKey Bio
)

// String names the policy as yubico-piv-tool does, e.g. "once".
func (p PINPolicy) String() string {
	switch p {
	case PINPolicyDefault:
		return "default"
	case PINPolicyNever:
		return "never"
	case PINPolicyOnce:
		return "once"
	case PINPolicyAlways:
		return "always"
	case PINPolicyMatchOnce:
		return "match-once"
	case PINPolicyMatchAlways:
		return "match-always"
	}
	return fmt.Sprintf("pin-policy(%d)", byte(p))
}

// TouchPolicy says when a YubiKey key needs a touch.
type TouchPolicy byte

// Touch policies as the YubiKey encodes them.
const (
	TouchPolicyDefault TouchPolicy = 0
	TouchPolicyNever   TouchPolicy = 1
	TouchPolicyAlways  TouchPolicy = 2
	TouchPolicyCached  TouchPolicy = 3
)

// String names the policy as yubico-piv-tool does, e.g. "cached".
func (p TouchPolicy) String() string {
	switch p {
	case TouchPolicyDefault:
		return "default"
	case TouchPolicyNever:
		return "never"
	case TouchPolicyAlways:
		return "always"
	case TouchPolicyCached:
		return "cached"
	}
	return fmt.Sprintf("touch-policy(%d)", byte(p))
}

// DefaultPINPolicy is the PIN policy SP 800-73-4 gives a slot, and that a
// YubiKey applies when none was chosen: 9C always, 9E never, others once.
func DefaultPINPolicy(s Slot) PINPolicy {
	switch s.Key {
	case SlotSignature.Key:
		return PINPolicyAlways
	case SlotCardAuthentication.Key:
		return PINPolicyNever
	}
	return PINPolicyOnce
}
