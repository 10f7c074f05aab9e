package piv

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/pivauth/pivauth/internal/tlv"
)

// Tags of the dynamic authentication template (SP 800-73-4 part 2, table 7).
const (
	tagDynAuth   = 0x7C
	tagWitness   = 0x80
	tagChallenge = 0x81
	tagResponse  = 0x82
	tagExponent  = 0x85

	tagKeyPairControl = 0xAC
	tagAlgorithm      = 0x80
	tagYKPINPolicy    = 0xAA
	tagYKTouchPolicy  = 0xAB
)

// generalAuthenticate sends GENERAL AUTHENTICATE with a dynamic
// authentication template of the given elements and returns the value of
// tag want in the card's 7C answer.
func (tx *Tx) generalAuthenticate(alg Algorithm, key byte, elems []byte, want uint32, secretResp bool) ([]byte, error) {
	resp, err := tx.Transmit(Command{
		Ins: insGeneralAuthenticate, P1: byte(alg), P2: key,
		Data: tlv.Encode(tagDynAuth, elems), Ne: MaxNe, secretResp: secretResp,
	})
	if err != nil {
		return nil, err
	}
	inner, err := tlv.Unwrap(resp, tagDynAuth)
	if err != nil {
		return nil, fmt.Errorf("piv: GENERAL AUTHENTICATE answer: %w", err)
	}
	v, ok, err := tlv.Find(inner, want)
	if err != nil || !ok {
		return nil, fmt.Errorf("piv: GENERAL AUTHENTICATE answer lacks tag %02X", want)
	}
	return v, nil
}

// Sign computes a signature with the key in slot (GENERAL AUTHENTICATE with
// an empty response 82 and the challenge 81). data is, by algorithm:
//   - RSA: the padded message representative, exactly the modulus length
//     (the card applies the raw RSA private operation);
//   - ECDSA: the digest, which is truncated or left-padded to the curve
//     size as ECDSA prescribes; the result is the card's DER signature;
//   - Ed25519: the message itself; the result is the 64-byte signature.
//
// The PIN must have been verified in this transaction when the key needs it.
func (tx *Tx) Sign(slot Slot, alg Algorithm, data []byte) ([]byte, error) {
	switch {
	case alg.IsRSA():
		if len(data) != alg.rsaBytes() {
			return nil, fmt.Errorf("piv: %s signature input of %d bytes, want %d", alg, len(data), alg.rsaBytes())
		}
	case alg.ecBytes() > 0:
		data = fitDigest(data, alg.ecBytes())
	case alg == AlgEd25519:
	default:
		return nil, fmt.Errorf("piv: %s cannot sign", alg)
	}
	elems := tlv.Append(tlv.Append(nil, tagResponse, nil), tagChallenge, data)
	sig, err := tx.generalAuthenticate(alg, slot.Key, elems, tagResponse, false)
	if err != nil {
		return nil, fmt.Errorf("piv: signing with slot %s: %w", slot, err)
	}
	return sig, nil
}

// fitDigest truncates a digest to its leftmost n bytes or left-pads it with
// zeros: for the byte-aligned PIV curves this is ECDSA's bits2int, and it is
// the exact-length input the card wants.
func fitDigest(d []byte, n int) []byte {
	if len(d) >= n {
		return d[:n]
	}
	out := make([]byte, n)
	copy(out[n-len(d):], d)
	return out
}

// Decrypt applies the raw RSA private operation of the key in slot to a
// ciphertext of exactly the modulus length; the caller removes the padding.
// The result never reaches a trace.
func (tx *Tx) Decrypt(slot Slot, alg Algorithm, ciphertext []byte) ([]byte, error) {
	if !alg.IsRSA() {
		return nil, fmt.Errorf("piv: %s cannot decrypt", alg)
	}
	if len(ciphertext) != alg.rsaBytes() {
		return nil, fmt.Errorf("piv: %s ciphertext of %d bytes, want %d", alg, len(ciphertext), alg.rsaBytes())
	}
	elems := tlv.Append(tlv.Append(nil, tagResponse, nil), tagChallenge, ciphertext)
	out, err := tx.generalAuthenticate(alg, slot.Key, elems, tagResponse, true)
	if err != nil {
		return nil, fmt.Errorf("piv: decrypting with slot %s: %w", slot, err)
	}
	return out, nil
}

// ECDH computes the shared secret of the key in slot with a peer public key:
// the uncompressed point for P-256/P-384, the 32-byte u-coordinate for
// X25519. The result never reaches a trace.
func (tx *Tx) ECDH(slot Slot, alg Algorithm, peer []byte) ([]byte, error) {
	if alg != AlgECCP256 && alg != AlgECCP384 && alg != AlgX25519 {
		return nil, fmt.Errorf("piv: %s cannot do key agreement", alg)
	}
	elems := tlv.Append(tlv.Append(nil, tagResponse, nil), tagExponent, peer)
	out, err := tx.generalAuthenticate(alg, slot.Key, elems, tagResponse, true)
	if err != nil {
		return nil, fmt.Errorf("piv: key agreement with slot %s: %w", slot, err)
	}
	return out, nil
}

// managementCipher returns the block cipher of a management key.
func managementCipher(alg Algorithm, key []byte) (cipher.Block, error) {
	want := map[Algorithm]int{AlgTDES: 24, AlgAES128: 16, AlgAES192: 24, AlgAES256: 32}[alg]
	if want == 0 {
		return nil, fmt.Errorf("piv: %s is not a management key algorithm", alg)
	}
	if len(key) != want {
		return nil, fmt.Errorf("piv: a %s management key has %d bytes, this one %d", alg, want, len(key))
	}
	if alg == AlgTDES {
		return des.NewTripleDESCipher(key)
	}
	return aes.NewCipher(key)
}

// AuthenticateManagementKey proves knowledge of the management key (9B) by
// mutual authentication (SP 800-73-4 part 2, appendix A.1): the card's
// encrypted witness is decrypted and returned with our challenge, and the
// card's encryption of the challenge is checked. A wrong key is
// ErrManagementKey. Use ManagementKeyAlgorithm when the type is not known.
func (tx *Tx) AuthenticateManagementKey(alg Algorithm, key []byte) error {
	block, err := managementCipher(alg, key)
	if err != nil {
		return err
	}
	n := block.BlockSize()
	witness, err := tx.generalAuthenticate(alg, KeyCardManagement, tlv.Encode(tagWitness, nil), tagWitness, false)
	if err != nil {
		return fmt.Errorf("piv: management key authentication: %w", err)
	}
	if len(witness) != n {
		return fmt.Errorf("piv: management key authentication: witness of %d bytes, want %d", len(witness), n)
	}
	plain := make([]byte, n)
	block.Decrypt(plain, witness)
	challenge := make([]byte, n)
	if _, err := rand.Read(challenge); err != nil {
		return err
	}
	elems := tlv.Append(tlv.Append(nil, tagWitness, plain), tagChallenge, challenge)
	got, err := tx.generalAuthenticate(alg, KeyCardManagement, elems, tagResponse, false)
	var se *StatusError
	if errors.As(err, &se) && (se.SW == 0x6982 || se.SW == 0x6A80) {
		return fmt.Errorf("piv: %w", ErrManagementKey)
	}
	if err != nil {
		return fmt.Errorf("piv: management key authentication: %w", err)
	}
	want := make([]byte, n)
	block.Encrypt(want, challenge)
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return errors.New("piv: management key authentication: the card's answer to our challenge is wrong: it does not hold this key")
	}
	return nil
}

// GenerateKey generates a key pair in slot (GENERATE ASYMMETRIC KEY PAIR)
// and returns its public key. pin and touch are YubiKey policies; leave them
// at their Default values for other cards. The management key must have been
// authenticated in this transaction.
func (tx *Tx) GenerateKey(slot Slot, alg Algorithm, pin PINPolicy, touch TouchPolicy) (crypto.PublicKey, error) {
	ctl := tlv.Encode(tagAlgorithm, []byte{byte(alg)})
	if pin != PINPolicyDefault {
		ctl = tlv.Append(ctl, tagYKPINPolicy, []byte{byte(pin)})
	}
	if touch != TouchPolicyDefault {
		ctl = tlv.Append(ctl, tagYKTouchPolicy, []byte{byte(touch)})
	}
	resp, err := tx.Transmit(Command{Ins: insGenerateKeyPair, P2: slot.Key, Data: tlv.Encode(tagKeyPairControl, ctl), Ne: MaxNe})
	if err != nil {
		return nil, fmt.Errorf("piv: generating a %s key in slot %s: %w", alg, slot, err)
	}
	inner, err := tlv.Unwrap(resp, tagPublicKeyTemplate)
	if err != nil {
		return nil, fmt.Errorf("piv: generated key: %w", err)
	}
	return parsePublicKey(alg, inner)
}
