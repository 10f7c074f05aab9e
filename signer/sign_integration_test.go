//go:build linux

package signer_test

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1"
	_ "crypto/sha256"
	_ "crypto/sha3"
	_ "crypto/sha512"
	"crypto/x509"
	"fmt"
	"testing"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
)

// everyHash is every hash crypto/rsa signs PKCS #1 v1.5 with, and 0 (raw).
var everyHash = []crypto.Hash{
	0, crypto.MD5, crypto.SHA1, crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512,
	crypto.SHA512_224, crypto.SHA512_256, crypto.SHA3_224, crypto.SHA3_256, crypto.SHA3_384,
	crypto.SHA3_512, crypto.MD5SHA1,
}

// digest hashes msg with h; for h 0 it returns msg itself (raw PKCS #1 v1.5).
func digest(h crypto.Hash, msg []byte) []byte {
	switch h {
	case 0:
		return msg
	case crypto.MD5SHA1:
		m := md5.Sum(msg)
		s := crypto.SHA1.New()
		s.Write(msg)
		return s.Sum(m[:])
	}
	hh := h.New()
	hh.Write(msg)
	return hh.Sum(nil)
}

func TestSignEveryAlgorithm(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	specs := keyPerAlgorithm()
	certs := provision(t, b, specs...)
	msg := []byte("pivauth signer: every algorithm")
	for i, spec := range specs {
		cert := certs[i]
		t.Run(spec.alg.String(), func(t *testing.T) {
			s := openSigner(t, b, signer.Options{Slot: spec.slot, PIN: noPIN(t)})
			if !s.Certificate().Equal(cert) || s.Algorithm() != spec.alg {
				t.Fatalf("signer holds %v %s, want the provisioned certificate", s.Certificate().Subject, s.Algorithm())
			}
			checkSignatures(t, s, cert, msg, spec.alg == piv.AlgRSA2048)
		})
	}
}

// checkSignatures signs msg with s in every way its key allows and verifies each signature
// against cert with Go's crypto; allRSA tries every RSA hash and salt option (checkRSA).
func checkSignatures(t *testing.T, s *signer.Signer, cert *x509.Certificate, msg []byte, allRSA bool) {
	t.Helper()
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		checkRSA(t, s, pub, msg, allRSA)
	case *ecdsa.PublicKey:
		for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			d := digest(h, msg)
			sig, err := s.Sign(rand.Reader, d, h)
			if err != nil {
				t.Fatalf("%v: %v", h, err)
			}
			if !ecdsa.VerifyASN1(pub, d, sig) {
				t.Errorf("%v: Go rejects the ECDSA signature", h)
			}
		}
	case ed25519.PublicKey:
		sig, err := s.Sign(rand.Reader, msg, crypto.Hash(0))
		if err != nil {
			t.Fatal(err)
		}
		if !ed25519.Verify(pub, msg, sig) {
			t.Error("Go rejects the Ed25519 signature")
		}
		if _, err := s.Sign(rand.Reader, digest(crypto.SHA512, msg), crypto.SHA512); err == nil {
			t.Error("Ed25519ph accepted; the card cannot do it")
		}
	default:
		t.Fatalf("no check for %T", pub)
	}
}

// checkRSA signs with PKCS #1 v1.5 and PSS and verifies every signature with
// crypto/rsa against the certificate's key. all tries every hash and salt
// option; otherwise a representative few.
func checkRSA(t *testing.T, s *signer.Signer, pub *rsa.PublicKey, msg []byte, all bool) {
	hashes := []crypto.Hash{0, crypto.SHA256}
	if all {
		hashes = everyHash
	}
	for _, h := range hashes {
		d := digest(h, msg)
		sig, err := s.Sign(rand.Reader, d, h)
		if err != nil {
			t.Fatalf("PKCS #1 v1.5 %v: %v", h, err)
		}
		if err := rsa.VerifyPKCS1v15(pub, h, d, sig); err != nil {
			t.Errorf("PKCS #1 v1.5 %v: Go rejects: %v", h, err)
		}
	}
	pssHashes := []crypto.Hash{crypto.SHA256}
	if all {
		pssHashes = []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512, crypto.SHA3_256}
	}
	for _, h := range pssHashes {
		for _, salt := range []int{rsa.PSSSaltLengthAuto, rsa.PSSSaltLengthEqualsHash, 20} {
			d := digest(h, msg)
			sig, err := s.Sign(rand.Reader, d, &rsa.PSSOptions{SaltLength: salt, Hash: h})
			if err != nil {
				t.Fatalf("PSS %v salt %d: %v", h, salt, err)
			}
			// The salt length each option means, so a wrong one fails.
			want := salt
			switch salt {
			case rsa.PSSSaltLengthAuto:
				want = (pub.N.BitLen()-1+7)/8 - h.Size() - 2
			case rsa.PSSSaltLengthEqualsHash:
				want = h.Size()
			}
			if err := rsa.VerifyPSS(pub, h, d, sig, &rsa.PSSOptions{SaltLength: want}); err != nil {
				t.Errorf("PSS %v salt option %d: Go rejects with salt %d: %v", h, salt, want, err)
			}
		}
	}
}

func TestDecryptAndECDH(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	specs := []keySpec{
		{piv.SlotKeyManagement, piv.AlgRSA2048, piv.PINPolicyOnce, piv.TouchPolicyNever},
		{retired(0), piv.AlgECCP256, piv.PINPolicyNever, piv.TouchPolicyNever},
		{retired(1), piv.AlgECCP384, piv.PINPolicyNever, piv.TouchPolicyNever},
	}
	certs := provision(t, b, specs...)

	pins := &pinCounter{pin: defaultPIN}
	s := openSigner(t, b, signer.Options{Slot: piv.SlotKeyManagement, PIN: pins})
	pub := certs[0].PublicKey.(*rsa.PublicKey)
	secret := []byte("a 32-byte content encryption key")
	for name, tc := range map[string]struct {
		encrypt func() ([]byte, error)
		opts    crypto.DecrypterOpts
	}{
		"PKCS1v15":   {func() ([]byte, error) { return rsa.EncryptPKCS1v15(rand.Reader, pub, secret) }, nil},
		"SessionKey": {func() ([]byte, error) { return rsa.EncryptPKCS1v15(rand.Reader, pub, secret) }, &rsa.PKCS1v15DecryptOptions{SessionKeyLen: len(secret)}},
		"OAEP-SHA256": {func() ([]byte, error) {
			return rsa.EncryptOAEP(crypto.SHA256.New(), rand.Reader, pub, secret, []byte("label"))
		}, &rsa.OAEPOptions{Hash: crypto.SHA256, Label: []byte("label")}},
	} {
		ct, err := tc.encrypt()
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Decrypt(rand.Reader, ct, tc.opts)
		if err != nil || string(got) != string(secret) {
			t.Errorf("%s: Decrypt = %q, %v", name, got, err)
		}
	}
	if n := pins.asked.Load(); n != 1 {
		t.Errorf("PIN asked %d times in the session, want 1", n)
	}

	for i, cert := range certs[1:] {
		s := openSigner(t, b, signer.Options{Slot: specs[i+1].slot, PIN: noPIN(t)})
		cardPub, err := cert.PublicKey.(*ecdsa.PublicKey).ECDH()
		if err != nil {
			t.Fatal(err)
		}
		peer, err := cardPub.Curve().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.ECDH(peer.PublicKey())
		if err != nil {
			t.Fatalf("%s: ECDH: %v", specs[i+1].alg, err)
		}
		want, _ := peer.ECDH(cardPub)
		if string(got) != string(want) {
			t.Errorf("%s: card and Go disagree on the shared secret", specs[i+1].alg)
		}
		if _, err := s.Decrypt(rand.Reader, make([]byte, 32), nil); err == nil {
			t.Errorf("%s: an EC key decrypted", specs[i+1].alg)
		}
		other, _ := ecdh.P521().GenerateKey(rand.Reader)
		if _, err := s.ECDH(other.PublicKey()); err == nil {
			t.Errorf("%s: a peer key on another curve accepted", specs[i+1].alg)
		}
	}
}

// TestPIVProfileSlots signs with the three keys of the government-style
// card: 9A (PIN once), 9C (PIN always), 9E (no PIN). The PIN is typed once
// per session whatever the policy.
func TestPIVProfileSlots(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	msg := []byte("piv profile")
	for _, tc := range []struct {
		slot  piv.Slot
		asked int32
	}{{piv.SlotAuthentication, 1}, {piv.SlotSignature, 1}, {piv.SlotCardAuthentication, 0}} {
		t.Run(tc.slot.String(), func(t *testing.T) {
			pins := &pinCounter{pin: defaultPIN}
			s := openSigner(t, b, signer.Options{Slot: tc.slot, PIN: pins})
			for i := range 2 {
				d := digest(crypto.SHA256, []byte(fmt.Sprint(string(msg), i)))
				sig, err := s.Sign(rand.Reader, d, crypto.SHA256)
				if err != nil {
					t.Fatal(err)
				}
				verify(t, s.Certificate(), d, sig)
			}
			if n := pins.asked.Load(); n != tc.asked {
				t.Errorf("PIN asked %d times for two signatures, want %d", n, tc.asked)
			}
		})
	}
}

// verify checks a signature over a SHA-256 digest (PKCS #1 v1.5 for RSA).
func verify(t testing.TB, cert *x509.Certificate, d, sig []byte) {
	t.Helper()
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d, sig); err != nil {
			t.Fatalf("RSA signature does not verify: %v", err)
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, d, sig) {
			t.Fatal("ECDSA signature does not verify")
		}
	default:
		t.Fatalf("no verifier for %T", pub)
	}
}

// TestX25519ECDH does key agreement with an X25519 key (YubiKey 5.7), opened with
// Options.PublicKey since Go's crypto/x509 cannot issue a certificate for it: the card and a Go
// peer compute the same secret, and the card counts one private-key operation for it.
func TestX25519ECDH(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	pub := generate(t, b, keySpec{piv.SlotKeyManagement, piv.AlgX25519, piv.PINPolicyOnce, piv.TouchPolicyNever})
	cardPub, ok := pub.(*ecdh.PublicKey)
	if !ok || cardPub.Curve() != ecdh.X25519() {
		t.Fatalf("generated X25519 key: %T %v, want an X25519 *ecdh.PublicKey", pub, pub)
	}
	pins := &pinCounter{pin: defaultPIN}
	s := openSigner(t, b, signer.Options{Slot: piv.SlotKeyManagement, PIN: pins, PublicKey: cardPub})
	if s.Certificate() != nil {
		t.Errorf("a slot without a certificate gave the signer one")
	}
	peer, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b.ResetStats()
	got, err := s.ECDH(peer.PublicKey())
	if err != nil {
		t.Fatalf("X25519 ECDH: %v", err)
	}
	want, err := peer.ECDH(cardPub)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("card and Go disagree on the X25519 shared secret:\ncard %x\nGo   %x", got, want)
	}
	if st := b.Stats(); st.Signatures != 1 || st.PINVerifies != 1 {
		t.Errorf("card: %d private-key operations, %d PIN verifications; want 1 and 1", st.Signatures, st.PINVerifies)
	}
	if n := pins.asked.Load(); n != 1 {
		t.Errorf("PIN asked %d times, want 1", n)
	}
	other, _ := ecdh.P256().GenerateKey(rand.Reader)
	if _, err := s.ECDH(other.PublicKey()); err == nil {
		t.Error("a P-256 peer key accepted by an X25519 key")
	}
}
