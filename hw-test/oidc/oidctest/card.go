//go:build linux

package oidctest

import (
	"context"
	"crypto/x509/pkix"
	"os"
	"testing"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/oidc/tlstest"
	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
)

// FactoryPIN is the PIN of the bench's virtual cards.
const FactoryPIN = "123456"

// ProvisionKey generates a key of alg in slot 9A of the bench's YubiKey (factory management
// key) and stores a client certificate for it issued by the bench CA, as `pivauth setup` would.
// It needs PIVAUTH_TEST_DESTRUCTIVE=1 on a real card.
func ProvisionKey(t testing.TB, b *benchtest.Bench, alg piv.Algorithm) {
	t.Helper()
	b.Destructive()
	if b.CA == nil {
		t.Skip("provisioning needs the bench CA")
	}
	ctx := context.Background()
	c, err := piv.Open(ctx, piv.Selector{Reader: b.Reader})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ca := &tlstest.CA{Cert: b.CA.Cert, Key: b.CA.Key}
	err = c.Transaction(ctx, func(tx *piv.Tx) error {
		mgmt, err := tx.ManagementKeyAlgorithm()
		if err != nil {
			return err
		}
		if err := tx.AuthenticateManagementKey(mgmt, piv.DefaultManagementKey()); err != nil {
			return err
		}
		pub, err := tx.GenerateKey(piv.SlotAuthentication, alg, piv.PINPolicyDefault, piv.TouchPolicyDefault)
		if err != nil {
			return err
		}
		cert := ca.Client(t, pub, pkix.Name{CommonName: "pivauth flows " + alg.String(), Organization: []string{"pivauth bench"}})
		return tx.PutCertificate(piv.SlotAuthentication, cert, false)
	})
	if err != nil {
		t.Fatalf("provision a %s key in 9A: %v", alg, err)
	}
}

// CardSigner opens the 9A key of the bench card b through the real PC/SC stack, with the PIN from
// PIVAUTH_PIN for a real card, else the virtual card's factory PIN. It is closed when the test ends.
func CardSigner(t testing.TB, b *benchtest.Bench) *signer.Signer {
	t.Helper()
	pin := FactoryPIN
	if b.Real() {
		if pin = os.Getenv("PIVAUTH_PIN"); pin == "" {
			t.Skip("set PIVAUTH_PIN to run card flows on a real card")
		}
	}
	s, err := signer.Open(context.Background(), signer.Options{
		Card: piv.Selector{Reader: b.Reader},
		Slot: piv.SlotAuthentication,
		PIN: signer.PINFunc(func(context.Context, signer.PINRequest) ([]byte, error) {
			return []byte(pin), nil
		}),
	})
	if err != nil {
		t.Fatalf("open the card's 9A key: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
