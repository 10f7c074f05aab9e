//go:build linux

package piv_test

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/internal/rsapad"
	"github.com/pivauth/pivauth/piv"
)

// generate makes a key on the card through the engine, with the factory
// management key.
func generate(t testing.TB, c *piv.Card, slot piv.Slot, alg piv.Algorithm, pin piv.PINPolicy) crypto.PublicKey {
	t.Helper()
	var pub crypto.PublicKey
	err := c.Transaction(testContext(t), func(tx *piv.Tx) (err error) {
		if err := tx.Authenticate(defaultMgmtKey); err != nil {
			return err
		}
		pub, err = tx.GenerateKey(slot, alg, pin, piv.TouchPolicyNever)
		return err
	})
	if err != nil {
		t.Fatalf("generating %s in %s: %v", alg, slot, err)
	}
	return pub
}

// withPIN runs fn between VERIFY and VERIFY P1=FF in one transaction.
func withPIN(t testing.TB, c *piv.Card, fn func(tx *piv.Tx) error) error {
	t.Helper()
	return c.Transaction(testContext(t), func(tx *piv.Tx) error {
		if err := tx.Verify(defaultPIN); err != nil {
			return err
		}
		defer tx.ClearVerify()
		return fn(tx)
	})
}

func TestYubiKeyEngine(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	b.Destructive()
	c := openBench(t, b)
	ctx := testContext(t)

	// Factory metadata of the PIN and the management key.
	pinMeta, err := c.Metadata(ctx, piv.KeyPIN)
	if err != nil || !pinMeta.Default || pinMeta.RetriesTotal != 3 || pinMeta.RetriesLeft != 3 {
		t.Fatalf("PIN metadata %+v %v", pinMeta, err)
	}
	mgmtMeta, err := c.Metadata(ctx, piv.KeyCardManagement)
	if err != nil || !mgmtMeta.Default || mgmtMeta.Algorithm != piv.AlgTDES {
		t.Fatalf("management key metadata %+v %v", mgmtMeta, err)
	}

	// Every algorithm: generate, sign (or agree), verify with Go's crypto.
	msg := randomMessage(t)
	digest := sha256.Sum256(msg)
	for _, tc := range []struct {
		slot piv.Slot
		alg  piv.Algorithm
		pin  piv.PINPolicy
	}{
		{piv.SlotCardAuthentication, piv.AlgECCP256, piv.PINPolicyNever},
		{piv.SlotAuthentication, piv.AlgRSA2048, piv.PINPolicyOnce},
		{piv.SlotSignature, piv.AlgECCP384, piv.PINPolicyAlways},
		{piv.Slot{Key: 0x82, Object: 0x5FC10D}, piv.AlgEd25519, piv.PINPolicyNever},
		{piv.Slot{Key: 0x83, Object: 0x5FC10E}, piv.AlgRSA1024, piv.PINPolicyNever},
	} {
		pub := generate(t, c, tc.slot, tc.alg, tc.pin)
		in := digest[:]
		if k, ok := pub.(*rsa.PublicKey); ok {
			in = pkcs1(t, digest[:], k.Size())
		} else if tc.alg == piv.AlgEd25519 {
			in = msg
		}
		var sig []byte
		op := func(tx *piv.Tx) (err error) { sig, err = tx.Sign(tc.slot, tc.alg, in); return err }
		if tc.pin == piv.PINPolicyNever {
			err = c.Transaction(ctx, op)
		} else {
			err = withPIN(t, c, op)
		}
		if err != nil {
			t.Fatalf("%s in %s: %v", tc.alg, tc.slot, err)
		}
		if k, ok := pub.(ed25519.PublicKey); ok {
			if !ed25519.Verify(k, msg, sig) {
				t.Errorf("Ed25519 signature does not verify")
			}
		} else {
			checkSignature(t, pub, msg, sig)
		}
		m, err := c.Metadata(ctx, tc.slot.Key)
		if err != nil || m.Algorithm != tc.alg || m.PINPolicy != tc.pin || m.Origin != piv.OriginGenerated {
			t.Errorf("metadata of %s: %+v %v", tc.slot, m, err)
		} else if eq, ok := m.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(pub) {
			t.Errorf("metadata of %s has another public key", tc.slot)
		}
	}

	// RSA decryption (raw; the padding is the caller's).
	rsaPub := generate(t, c, piv.SlotKeyManagement, piv.AlgRSA2048, piv.PINPolicyNever).(*rsa.PublicKey)
	secret := []byte("session key material")
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, rsaPub, secret)
	if err != nil {
		t.Fatal(err)
	}
	var plain []byte
	err = c.Transaction(ctx, func(tx *piv.Tx) (err error) {
		plain, err = tx.Decrypt(piv.SlotKeyManagement, piv.AlgRSA2048, ct)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rsapad.DecodePKCS1v15(plain); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("decrypted %q: %v", got, err)
	}

	// Key agreement, P-256 and X25519, against Go's ECDH.
	for _, tc := range []struct {
		slot  piv.Slot
		alg   piv.Algorithm
		curve ecdh.Curve
	}{
		{piv.Slot{Key: 0x84, Object: 0x5FC10F}, piv.AlgECCP256, ecdh.P256()},
		{piv.Slot{Key: 0x85, Object: 0x5FC110}, piv.AlgX25519, ecdh.X25519()},
	} {
		pub := generate(t, c, tc.slot, tc.alg, piv.PINPolicyNever)
		var cardPub *ecdh.PublicKey
		switch k := pub.(type) {
		case *ecdsa.PublicKey:
			cardPub, err = k.ECDH()
		case *ecdh.PublicKey:
			cardPub = k
		}
		if err != nil {
			t.Fatal(err)
		}
		peer, _ := tc.curve.GenerateKey(rand.Reader)
		want, _ := peer.ECDH(cardPub)
		var got []byte
		err = c.Transaction(ctx, func(tx *piv.Tx) (err error) {
			got, err = tx.ECDH(tc.slot, tc.alg, peer.PublicKey().Bytes())
			return err
		})
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s key agreement: %v", tc.alg, err)
		}
	}

	// PUT DATA: a CHUID makes the YubiKey selectable by GUID; a certificate
	// stored compressed reads back.
	guid := [16]byte{0xC0, 0xFF, 0xEE, 0, 1, 2, 0x43, 4, 0x85, 6, 7, 8, 9, 10, 11, 12}
	chuid := append([]byte{0x34, 0x10}, guid[:]...)
	chuid = append(chuid, append([]byte{0x35, 0x08}, "20991231"...)...)
	certTmpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "stored"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	signer, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificate(rand.Reader, certTmpl, certTmpl, signer.Public(), signer)
	stored, _ := x509.ParseCertificate(der)
	err = c.Transaction(ctx, func(tx *piv.Tx) error {
		if err := tx.AuthenticateManagementKey(piv.AlgTDES, defaultMgmtKey); err != nil {
			return err
		}
		if err := tx.PutData(piv.ObjectCHUID, append(chuid, 0xFE, 0x00)); err != nil {
			return err
		}
		return tx.PutCertificate(piv.SlotCardAuthentication, stored, true)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Certificate(ctx, piv.SlotCardAuthentication); err != nil || !got.Equal(stored) {
		t.Errorf("stored certificate: %v", err)
	}
	byGUID, err := piv.Open(ctx, piv.Selector{Reader: b.Reader, GUID: piv.GUIDString(guid)})
	if err != nil {
		t.Fatalf("Open by the GUID just written: %v", err)
	}
	byGUID.Close()
	if id, err := c.Identity(ctx); err != nil || id.GUID != piv.GUIDString(guid) || !id.YubiKey {
		t.Errorf("identity after writing the CHUID: %+v %v", id, err)
	}

	// The engine's ATTEST verifies against the bench attestation CA.
	slotCert, err := c.Attest(ctx, piv.SlotCardAuthentication)
	if err != nil {
		t.Fatal(err)
	}
	intermediate, err := c.Certificate(ctx, piv.SlotAttestation)
	if err != nil {
		t.Fatal(err)
	}
	att, err := piv.VerifyAttestation(intermediate, slotCert, benchRoots(b))
	id, _ := c.Identity(ctx)
	if err != nil || att.Serial != id.Serial || att.Slot != piv.SlotCardAuthentication || att.PINPolicy != piv.PINPolicyNever {
		t.Errorf("attestation %+v %v", att, err)
	}
	// Yubico's roots do not vouch for the bench's card.
	if _, err := piv.VerifyAttestation(intermediate, slotCert, nil); err == nil {
		t.Error("a bench attestation verified against Yubico's roots")
	}
}

// benchRoots is a pool with the bench CA, the root of the virtual cards'
// attestations.
func benchRoots(b *benchtest.Bench) *x509.CertPool {
	roots := x509.NewCertPool()
	if b.CA != nil {
		roots.AddCert(b.CA.Cert)
	}
	return roots
}

func TestYubiKeyManagement(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	b.Destructive()
	c := openBench(t, b)
	ctx := testContext(t)
	id, err := c.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Generate with chosen policies; the attestation checks out.
	pub, att, err := c.GenerateKey(ctx, defaultMgmtKey, piv.SlotAuthentication,
		piv.KeyOptions{Algorithm: piv.AlgECCP256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyCached}, benchRoots(b))
	if err != nil {
		t.Fatal(err)
	}
	if att.Serial != id.Serial || att.PINPolicy != piv.PINPolicyOnce || att.TouchPolicy != piv.TouchPolicyCached || att.Slot != piv.SlotAuthentication {
		t.Errorf("attestation %+v", att)
	}
	// The engine signs with the new key.
	msg := randomMessage(t)
	in, _ := signInput(t, pub, msg)
	var sig []byte
	if err := withPIN(t, c, func(tx *piv.Tx) (err error) {
		sig, err = tx.Sign(piv.SlotAuthentication, piv.AlgECCP256, in)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	checkSignature(t, pub, msg, sig)

	// Import a key and its certificate.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "imported"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	cert, _ := x509.ParseCertificate(der)
	if err := c.ImportKey(ctx, defaultMgmtKey, piv.SlotSignature, key, cert, piv.KeyOptions{PINPolicy: piv.PINPolicyNever}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Certificate(ctx, piv.SlotSignature); err != nil || !got.Equal(cert) {
		t.Fatalf("imported certificate: %v", err)
	}
	in, _ = signInput(t, key.Public(), msg)
	if err := c.Transaction(ctx, func(tx *piv.Tx) (err error) { sig, err = tx.Sign(piv.SlotSignature, piv.AlgECCP256, in); return err }); err != nil {
		t.Fatal(err)
	}
	checkSignature(t, key.Public(), msg, sig)
	if m, err := c.Metadata(ctx, piv.SlotSignature.Key); err != nil || m.Origin != piv.OriginImported {
		t.Errorf("imported key metadata %+v %v", m, err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err := c.ImportKey(ctx, defaultMgmtKey, piv.SlotSignature, other, cert, piv.KeyOptions{}); err == nil {
		t.Error("imported a certificate for another key")
	}

	// A new management key (AES-192 on firmware 5.4+), then the old one fails.
	newMgmt := bytes.Repeat([]byte{0x5A}, 24)
	if err := c.SetManagementKey(ctx, defaultMgmtKey, newMgmt, piv.AlgAES192, piv.ProtectedKeyOptions{}); err != nil {
		t.Fatal(err)
	}
	err = c.Transaction(ctx, func(tx *piv.Tx) error {
		alg, err := tx.ManagementKeyAlgorithm()
		if err != nil {
			return err
		}
		if alg != piv.AlgAES192 {
			t.Errorf("management key type %s, want AES-192", alg)
		}
		if err := tx.AuthenticateManagementKey(alg, defaultMgmtKey); !errors.Is(err, piv.ErrManagementKey) {
			t.Errorf("old management key: %v, want ErrManagementKey", err)
		}
		return tx.AuthenticateManagementKey(alg, newMgmt)
	})
	if err != nil {
		t.Fatal(err)
	}

	// PIN change, blocking, unblocking with the PUK.
	newPIN := []byte("24681357")
	if err := c.ChangePIN(ctx, defaultPIN, newPIN); err != nil {
		t.Fatal(err)
	}
	verify := func(pin []byte) error {
		return c.Transaction(ctx, func(tx *piv.Tx) error {
			if err := tx.Verify(pin); err != nil {
				return err
			}
			return tx.ClearVerify()
		})
	}
	if err := verify(newPIN); err != nil {
		t.Fatalf("new PIN: %v", err)
	}
	for want := 2; want >= 0; want-- {
		err := verify(defaultPIN)
		var ae piv.AuthError
		if !errors.As(err, &ae) || ae.Retries != want {
			t.Fatalf("wrong PIN: %v, want %d tries left", err, want)
		}
	}
	if err := verify(newPIN); !errors.Is(err, piv.ErrPINBlocked) || err.Error() == "" {
		t.Fatalf("blocked PIN: %v", err)
	}
	err = c.UnblockPIN(ctx, []byte("87654321"), defaultPIN)
	var ae piv.AuthError
	if !errors.As(err, &ae) || !ae.PUK || ae.Retries != 2 || err.Error() != "PUK incorrect: 2 tries left" {
		t.Fatalf("wrong PUK: %v", err)
	}
	if err := c.UnblockPIN(ctx, defaultPUK, defaultPIN); err != nil {
		t.Fatal(err)
	}
	if err := verify(defaultPIN); err != nil {
		t.Fatalf("PIN after unblocking: %v", err)
	}

	// Retries: 5 PIN and 4 PUK tries.
	if err := c.SetRetries(ctx, newMgmt, defaultPIN, 5, 4, nil); err != nil {
		t.Fatal(err)
	}
	if m, err := c.Metadata(ctx, piv.KeyPIN); err != nil || m.RetriesTotal != 5 || m.RetriesLeft != 5 {
		t.Errorf("PIN metadata after SetRetries: %+v %v", m, err)
	}
	if m, err := c.Metadata(ctx, piv.KeyPUK); err != nil || m.RetriesTotal != 4 {
		t.Errorf("PUK metadata after SetRetries: %+v %v", m, err)
	}

	// Reset: keys, certificates and credentials back to the factory's.
	if err := c.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Certificate(ctx, piv.SlotSignature); !errors.Is(err, piv.ErrNotFound) {
		t.Errorf("certificate after reset: %v", err)
	}
	if _, err := c.Metadata(ctx, piv.SlotAuthentication.Key); !errors.Is(err, piv.ErrNotFound) {
		t.Errorf("key metadata after reset: %v", err)
	}
	if m, err := c.Metadata(ctx, piv.KeyCardManagement); err != nil || !m.Default {
		t.Errorf("management key after reset: %+v %v", m, err)
	}
	if err := verify(defaultPIN); err != nil {
		t.Errorf("factory PIN after reset: %v", err)
	}
}
