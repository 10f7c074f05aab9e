package signer

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"math/big"

	"github.com/pivauth/pivauth/internal/pinbuf"
	"github.com/pivauth/pivauth/internal/rsapad"
	"github.com/pivauth/pivauth/piv"
)

// Decrypt decrypts an RSA ciphertext with the card's key, as
// crypto.Decrypter asks: opts nil or *rsa.PKCS1v15DecryptOptions for
// PKCS #1 v1.5 (with SessionKeyLen, the constant-time session-key form of
// rsa.DecryptPKCS1v15SessionKey), *rsa.OAEPOptions for OAEP. The card applies
// the raw RSA operation; the padding is checked here, in constant time, and
// every failure of it (and a ciphertext too long for the key) is
// rsa.ErrDecryption itself. That success and failure differ is still an
// oracle (Bleichenbacher's): prefer the session-key form or OAEP, and see
// Options.AllowDecryptOnAnySlot, without which only the key management slots
// decrypt. Only RSA keys decrypt; EC keys agree (ECDH).
func (s *Signer) Decrypt(rand io.Reader, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	return s.DecryptContext(context.Background(), rand, ciphertext, opts)
}

// DecryptContext is Decrypt with a context.
func (s *Signer) DecryptContext(ctx context.Context, random io.Reader, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	if err := s.checkKeyManagementSlot("decrypt"); err != nil {
		return nil, err
	}
	pub, ok := s.pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("signer: the %s key in slot %s does not decrypt (only RSA keys do; EC keys use ECDH)", s.alg, s.slot)
	}
	if random == nil {
		random = rand.Reader
	}
	k := pub.Size()
	if len(ciphertext) > k || new(big.Int).SetBytes(ciphertext).Cmp(pub.N) >= 0 {
		return nil, rsa.ErrDecryption
	}
	in := make([]byte, k) // the card takes exactly the modulus length
	copy(in[k-len(ciphertext):], ciphertext)

	var sessionKey []byte
	if o, ok := opts.(*rsa.PKCS1v15DecryptOptions); ok && o.SessionKeyLen > 0 {
		// Drawn before the card is asked, as rsa.DecryptPKCS1v15SessionKey
		// wants: the random key is the answer to an invalid block.
		sessionKey = make([]byte, o.SessionKeyLen)
		if _, err := io.ReadFull(random, sessionKey); err != nil {
			return nil, err
		}
	}
	switch opts.(type) {
	case nil, *rsa.PKCS1v15DecryptOptions, *rsa.OAEPOptions:
	default:
		return nil, fmt.Errorf("signer: unsupported decryption options %T", opts)
	}
	em, err := s.do(ctx, func(tx *piv.Tx) ([]byte, error) { return tx.Decrypt(s.slot, s.alg, in) })
	if err != nil {
		return nil, err
	}
	if len(em) < k { // a card may drop leading zero bytes
		padded := append(make([]byte, k-len(em)), em...)
		pinbuf.Wipe(em)
		em = padded
	}
	defer pinbuf.Wipe(em)
	switch o := opts.(type) {
	case *rsa.OAEPOptions:
		m, err := rsapad.DecodeOAEP(o.Hash, o.MGFHash, o.Label, em)
		return append([]byte(nil), m...), err
	default:
		if sessionKey != nil {
			return sessionKey, rsapad.DecodePKCS1v15SessionKey(em, sessionKey)
		}
		return rsapad.DecodePKCS1v15(em)
	}
}

// ECDH computes the shared secret of the card's EC key (P-256, P-384 or
// X25519) with peer, which must be on the same curve: the x-coordinate of
// the shared point for NIST curves, as crypto/ecdh returns it. Like Decrypt,
// it works on the key management slots only unless
// Options.AllowDecryptOnAnySlot is set.
func (s *Signer) ECDH(peer *ecdh.PublicKey) ([]byte, error) {
	return s.ECDHContext(context.Background(), peer)
}

// ECDHContext is ECDH with a context.
func (s *Signer) ECDHContext(ctx context.Context, peer *ecdh.PublicKey) ([]byte, error) {
	if err := s.checkKeyManagementSlot("do key agreement"); err != nil {
		return nil, err
	}
	mine := ecdhPublic(s.pub)
	if mine == nil {
		return nil, fmt.Errorf("signer: the %s key in slot %s cannot do key agreement", s.alg, s.slot)
	}
	if peer == nil || peer.Curve() != mine.Curve() {
		return nil, fmt.Errorf("signer: the peer key is not on the curve of the %s key in slot %s", s.alg, s.slot)
	}
	return s.do(ctx, func(tx *piv.Tx) ([]byte, error) { return tx.ECDH(s.slot, s.alg, peer.Bytes()) })
}

// checkKeyManagementSlot refuses what (decrypt, key agreement) outside the key
// management slots 9D and 82-95, unless Options.AllowDecryptOnAnySlot.
func (s *Signer) checkKeyManagementSlot(what string) error {
	if s.opts.AllowDecryptOnAnySlot || s.slot == piv.SlotKeyManagement {
		return nil
	}
	if _, retired := piv.RetiredSlot(s.slot.Key); retired {
		return nil
	}
	return fmt.Errorf("signer: the key in slot %s does not %s: %w; its key signs, and a decryption oracle on it would forge its signatures (Options.AllowDecryptOnAnySlot overrides)", s.slot, what, ErrNotKeyManagementSlot)
}
