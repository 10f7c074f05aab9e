//go:build linux

package signer_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"math/big"
	"testing"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
)

// Decrypt and ECDH are refused on the signing and authentication slots (9A, 9C, 9E) unless
// Options.AllowDecryptOnAnySlot says so: a decryption that answers "valid padding" or "not" is
// Bleichenbacher's oracle, and with the 9A key it would forge that key's signatures. The refusal
// comes before the card is asked (no GENERAL AUTHENTICATE).
func TestDecryptOnlyOnKeyManagementSlots(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	specs := []keySpec{
		{piv.SlotAuthentication, piv.AlgRSA2048, piv.PINPolicyNever, piv.TouchPolicyNever},
		{piv.SlotSignature, piv.AlgECCP256, piv.PINPolicyNever, piv.TouchPolicyNever},
	}
	certs := provision(t, b, specs...)
	secret := []byte("content encryption key")
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, certs[0].PublicKey.(*rsa.PublicKey), secret)
	if err != nil {
		t.Fatal(err)
	}
	cardPub, _ := certs[1].PublicKey.(*ecdsa.PublicKey).ECDH()
	peer, _ := cardPub.Curve().GenerateKey(rand.Reader)

	s9a := openSigner(t, b, signer.Options{Slot: piv.SlotAuthentication, PIN: noPIN(t)})
	s9c := openSigner(t, b, signer.Options{Slot: piv.SlotSignature, PIN: noPIN(t)})
	b.ResetStats()
	if _, err := s9a.Decrypt(rand.Reader, ct, nil); !errors.Is(err, signer.ErrNotKeyManagementSlot) {
		t.Errorf("Decrypt with 9A: %v, want ErrNotKeyManagementSlot", err)
	}
	if _, err := s9c.ECDH(peer.PublicKey()); !errors.Is(err, signer.ErrNotKeyManagementSlot) {
		t.Errorf("ECDH with 9C: %v, want ErrNotKeyManagementSlot", err)
	}
	if n := b.Stats().Instructions["87"]; n != 0 {
		t.Errorf("%d GENERAL AUTHENTICATE for refused operations, want 0", n)
	}

	s9a = openSigner(t, b, signer.Options{Slot: piv.SlotAuthentication, PIN: noPIN(t), AllowDecryptOnAnySlot: true})
	if got, err := s9a.Decrypt(rand.Reader, ct, nil); err != nil || string(got) != string(secret) {
		t.Errorf("Decrypt with 9A allowed: %q, %v", got, err)
	}
}

// Every padding failure of a decryption gives the same error, rsa.ErrDecryption, whatever check
// failed: the ciphertexts here are made from chosen encoded blocks with the public key alone.
func TestDecryptPaddingFailuresLookAlike(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	certs := provision(t, b, keySpec{piv.SlotKeyManagement, piv.AlgRSA2048, piv.PINPolicyNever, piv.TouchPolicyNever})
	pub := certs[0].PublicKey.(*rsa.PublicKey)
	s := openSigner(t, b, signer.Options{Slot: piv.SlotKeyManagement, PIN: noPIN(t)})
	k := pub.Size()
	encrypt := func(em []byte) []byte { // raw RSA: em^e mod n
		c := new(big.Int).Exp(new(big.Int).SetBytes(em), big.NewInt(int64(pub.E)), pub.N)
		return c.FillBytes(make([]byte, k))
	}
	block := func(edit func(em []byte)) []byte {
		em := make([]byte, k)
		em[1] = 2
		for i := 2; i < k-17; i++ {
			em[i] = 0x5a
		}
		copy(em[k-16:], "sixteen byte key")
		edit(em)
		return em
	}
	oaep, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, []byte("secret"), []byte("label"))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		ct   []byte
		opts crypto.DecrypterOpts
	}{
		"first byte not 0":      {encrypt(block(func(em []byte) { em[0] = 1 })), nil},
		"block type not 2":      {encrypt(block(func(em []byte) { em[1] = 1 })), nil},
		"no separator":          {encrypt(block(func(em []byte) { em[k-17] = 0x5a })), nil},
		"padding under 8 bytes": {encrypt(block(func(em []byte) { em[5] = 0 })), nil},
		"OAEP wrong label":      {oaep, &rsa.OAEPOptions{Hash: crypto.SHA256, Label: []byte("other")}},
		"OAEP of a v1.5 block":  {encrypt(block(func(em []byte) {})), &rsa.OAEPOptions{Hash: crypto.SHA256}},
		"ciphertext too long":   {append([]byte{1}, encrypt(block(func(em []byte) {}))...), nil},
		"ciphertext over n":     {pub.N.Bytes(), nil},
	}
	for name, tc := range cases {
		if _, err := s.Decrypt(rand.Reader, tc.ct, tc.opts); err != rsa.ErrDecryption {
			t.Errorf("%s: %v, want rsa.ErrDecryption itself", name, err)
		}
	}
	// The session-key form never fails on padding: a bad block gives a random key of the length.
	key, err := s.Decrypt(rand.Reader, encrypt(block(func(em []byte) { em[1] = 1 })), &rsa.PKCS1v15DecryptOptions{SessionKeyLen: 16})
	if err != nil || len(key) != 16 || string(key) == "sixteen byte key" {
		t.Errorf("session key of a bad block: %q, %v; want a random 16-byte key", key, err)
	}
	if got, err := s.Decrypt(rand.Reader, encrypt(block(func(em []byte) {})), nil); err != nil || string(got) != "sixteen byte key" {
		t.Errorf("the valid block: %q, %v", got, err)
	}
}
