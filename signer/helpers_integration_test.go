//go:build linux

package signer_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
)

// Factory credentials of both bench profiles (and of a YubiKey).
var (
	defaultPIN     = []byte("123456")
	defaultMgmtKey = []byte{1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8}
)

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// pinCounter is a PIN source that gives pin and counts how often it was
// asked, with the last request.
type pinCounter struct {
	pin   []byte
	asked atomic.Int32
	last  atomic.Pointer[signer.PINRequest]
}

func (p *pinCounter) PIN(_ context.Context, req signer.PINRequest) ([]byte, error) {
	p.asked.Add(1)
	p.last.Store(&req)
	return append([]byte(nil), p.pin...), nil
}

// noPIN is a PIN source for keys that must never ask.
func noPIN(t testing.TB) signer.PINSource {
	return signer.PINFunc(func(context.Context, signer.PINRequest) ([]byte, error) {
		t.Error("the PIN was asked for a key that needs none")
		return nil, signer.ErrPINCanceled
	})
}

// openSigner opens a signer on the bench's card and closes it at cleanup.
func openSigner(t testing.TB, b *benchtest.Bench, opts signer.Options) *signer.Signer {
	t.Helper()
	opts.Card = piv.Selector{Reader: b.Reader}
	s, err := signer.Open(testContext(t), opts)
	if err != nil {
		t.Fatalf("signer.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// keySpec is a key to generate on the yubikey profile.
type keySpec struct {
	slot  piv.Slot
	alg   piv.Algorithm
	pin   piv.PINPolicy
	touch piv.TouchPolicy
}

// provision generates keys on the bench's YubiKey through the engine and
// stores for each a certificate the bench CA issues (client and server
// authentication), as `pivauth setup` would.
func provision(t testing.TB, b *benchtest.Bench, keys ...keySpec) []*x509.Certificate {
	t.Helper()
	var certs []*x509.Certificate
	manage(t, b, func(tx *piv.Tx) error {
		for _, k := range keys {
			pub, err := tx.GenerateKey(k.slot, k.alg, k.pin, k.touch)
			if err != nil {
				return err
			}
			cert := issue(t, b, pub, "signer test "+k.alg.String())
			if err := tx.PutCertificate(k.slot, cert, false); err != nil {
				return err
			}
			certs = append(certs, cert)
		}
		return nil
	})
	return certs
}

// generate makes a key on the bench's YubiKey and stores no certificate for
// it, as `pivauth setup key` leaves a slot; it returns the public key.
func generate(t testing.TB, b *benchtest.Bench, k keySpec) crypto.PublicKey {
	t.Helper()
	var pub crypto.PublicKey
	manage(t, b, func(tx *piv.Tx) (err error) {
		pub, err = tx.GenerateKey(k.slot, k.alg, k.pin, k.touch)
		return err
	})
	return pub
}

// manage runs fn in one transaction on the bench's YubiKey, with the
// management key authenticated.
func manage(t testing.TB, b *benchtest.Bench, fn func(*piv.Tx) error) {
	t.Helper()
	b.Destructive()
	ctx := testContext(t)
	c, err := piv.Open(ctx, piv.Selector{Reader: b.Reader})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Transaction(ctx, func(tx *piv.Tx) error {
		mgmt, err := tx.ManagementKeyAlgorithm()
		if err != nil {
			return err
		}
		if err := tx.AuthenticateManagementKey(mgmt, defaultMgmtKey); err != nil {
			return err
		}
		return fn(tx)
	})
	if err != nil {
		t.Fatalf("provisioning: %v", err)
	}
}

// issue has the bench CA certify pub.
func issue(t testing.TB, b *benchtest.Bench, pub crypto.PublicKey, cn string) *x509.Certificate {
	t.Helper()
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"pivauth"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, b.CA.Cert, pub, b.CA.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// signingAlgorithms are the key algorithms the yubikey profile signs with.
var signingAlgorithms = []piv.Algorithm{
	piv.AlgRSA1024, piv.AlgRSA2048, piv.AlgRSA3072, piv.AlgRSA4096, piv.AlgECCP256, piv.AlgECCP384, piv.AlgEd25519,
}

// keyPerAlgorithm is one key of each signing algorithm, needing neither PIN nor touch, in the
// retired slots from 82 on.
func keyPerAlgorithm() []keySpec {
	specs := make([]keySpec, len(signingAlgorithms))
	for i, alg := range signingAlgorithms {
		specs[i] = keySpec{retired(i), alg, piv.PINPolicyNever, piv.TouchPolicyNever}
	}
	return specs
}

// retired is retired slot 0x82+i.
func retired(i int) piv.Slot {
	s, _ := piv.RetiredSlot(byte(0x82 + i))
	return s
}
