//go:build linux

package piv_test

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/internal/tlv"
	"github.com/pivauth/pivauth/piv"
)

// expectSlot reads a slot back: it holds want, or nothing when want is nil.
func expectSlot(t *testing.T, c *piv.Card, slot piv.Slot, want *x509.Certificate) {
	t.Helper()
	got, err := c.Certificate(testContext(t), slot)
	switch {
	case want == nil && !errors.Is(err, piv.ErrNotFound):
		t.Errorf("slot %s: %v, want it empty", slot, err)
	case want != nil && err != nil:
		t.Errorf("slot %s: %v", slot, err)
	case want != nil && !got.Equal(want):
		t.Errorf("slot %s holds %q, want %q", slot, got.Subject, want.Subject)
	}
}

// certInfo is the CertInfo byte (tag 71) of a slot's certificate object.
func certInfo(t *testing.T, c *piv.Card, slot piv.Slot) byte {
	t.Helper()
	var obj []byte
	err := c.Transaction(testContext(t), func(tx *piv.Tx) (err error) {
		obj, err = tx.GetData(slot.Object)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	v, ok, err := tlv.Find(obj, 0x71)
	if err != nil || !ok || len(v) != 1 {
		t.Fatalf("slot %s object has no CertInfo: %X", slot, obj)
	}
	return v[0]
}

// TestManageCertificatesYubiKey: PutCertificate and DeleteCertificate find
// the management key's type in the metadata, each in one transaction that
// leaves the card unauthenticated; a wrong key changes nothing.
func TestManageCertificatesYubiKey(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	b.Destructive()
	c := openBench(t, b)
	ctx := testContext(t)
	if _, err := c.Identity(ctx); err != nil {
		t.Fatal(err)
	}

	plain, packed := piv.SelfSigned(t), piv.SelfSigned(t)
	var err error
	n := countAPDUs(t, b, func() { err = c.PutCertificate(ctx, defaultMgmtKey, piv.SlotAuthentication, plain, false) })
	if err != nil {
		t.Fatal(err)
	}
	// GET METADATA 9B, GENERAL AUTHENTICATE twice, PUT DATA; the card reset
	// that ends the authentication is no APDU.
	expectAPDUs(t, "PutCertificate", n, 4)
	expectSlot(t, c, piv.SlotAuthentication, plain)
	if err := c.PutCertificate(ctx, defaultMgmtKey, piv.SlotSignature, packed, true); err != nil {
		t.Fatal(err)
	}
	expectSlot(t, c, piv.SlotSignature, packed)
	if ci := certInfo(t, c, piv.SlotSignature); ci != 0x01 {
		t.Errorf("compressed certificate has CertInfo %02X, want 01", ci)
	}

	// The card is not left authenticated for the next transaction.
	err = c.Transaction(ctx, func(tx *piv.Tx) error { return tx.PutData(piv.SlotAuthentication.Object, nil) })
	if !errors.Is(err, piv.ErrSecurityStatus) {
		t.Errorf("PUT DATA after PutCertificate, without the management key: %v, want ErrSecurityStatus", err)
	}

	// A wrong key is ErrManagementKey, and the slot keeps its certificate.
	wrong := bytes.Repeat([]byte{0x11}, 24)
	if err := c.PutCertificate(ctx, wrong, piv.SlotAuthentication, packed, false); !errors.Is(err, piv.ErrManagementKey) {
		t.Errorf("PutCertificate with a wrong key: %v, want ErrManagementKey", err)
	}
	if err := c.DeleteCertificate(ctx, wrong, piv.SlotAuthentication); !errors.Is(err, piv.ErrManagementKey) {
		t.Errorf("DeleteCertificate with a wrong key: %v, want ErrManagementKey", err)
	}
	expectSlot(t, c, piv.SlotAuthentication, plain)

	// Delete; deleting an empty slot is no error.
	for range 2 {
		if err := c.DeleteCertificate(ctx, defaultMgmtKey, piv.SlotAuthentication); err != nil {
			t.Fatal(err)
		}
		expectSlot(t, c, piv.SlotAuthentication, nil)
	}

	// An AES-192 management key (what a YubiKey 5.7 ships with) is found in
	// the metadata too; a key of a length AES-192 cannot have is refused
	// without a try.
	aesKey := bytes.Repeat([]byte{0x5A}, 24)
	if err := c.SetManagementKey(ctx, defaultMgmtKey, aesKey, piv.AlgAES192, piv.ProtectedKeyOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.PutCertificate(ctx, aesKey, piv.SlotAuthentication, plain, false); err != nil {
		t.Fatalf("PutCertificate with an AES-192 key: %v", err)
	}
	expectSlot(t, c, piv.SlotAuthentication, plain)
	if err := c.PutCertificate(ctx, defaultMgmtKey, piv.SlotAuthentication, packed, false); !errors.Is(err, piv.ErrManagementKey) {
		t.Errorf("the old key: %v, want ErrManagementKey", err)
	}
	n = countAPDUs(t, b, func() { err = c.DeleteCertificate(ctx, aesKey[:16], piv.SlotAuthentication) })
	if !errors.Is(err, piv.ErrManagementKey) || !strings.Contains(err.Error(), "AES-192") {
		t.Errorf("a 16-byte key for an AES-192 management key: %v", err)
	}
	expectAPDUs(t, "refusing a key of the wrong length", n, 1) // GET METADATA; nothing authenticated, nothing to end
	expectSlot(t, c, piv.SlotAuthentication, plain)
}

// TestManageCertificatesPIVProfile: an issued card's management key is its
// issuer's; the factory key is refused with a clear error and nothing
// changes.
func TestManageCertificatesPIVProfile(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	b.Destructive() // tries management keys
	c := openBench(t, b)
	ctx := testContext(t)
	before, err := c.Certificate(ctx, piv.SlotAuthentication)
	if err != nil {
		t.Fatal(err)
	}
	for what, err := range map[string]error{
		"PutCertificate":    c.PutCertificate(ctx, defaultMgmtKey, piv.SlotAuthentication, piv.SelfSigned(t), false),
		"DeleteCertificate": c.DeleteCertificate(ctx, defaultMgmtKey, piv.SlotAuthentication),
	} {
		if !errors.Is(err, piv.ErrManagementKey) || !strings.Contains(err.Error(), "no 3DES or AES-192 management key") ||
			!strings.Contains(err.Error(), "issuer") || !strings.Contains(err.Error(), b.Reader) {
			t.Errorf("%s with the factory key on an issued card: %v", what, err)
		}
	}
	expectSlot(t, c, piv.SlotAuthentication, before)
}

// TestManageCertificatesWithoutMetadata: a card without metadata whose
// management key is AES-192 is tried with 3DES, refuses that, and takes
// AES-192.
func TestManageCertificatesWithoutMetadata(t *testing.T) {
	if os.Getenv("PIVAUTH_TEST_READER") != "" {
		t.Skip("needs a virtual card with a chosen management key")
	}
	// An issued card whose issuer chose an AES-192 key.
	state := filepath.Join(t.TempDir(), "card.json")
	if _, err := vcard.Open(state, vcard.ProfilePIV); err != nil {
		t.Fatal(err)
	}
	issuerKey := bytes.Repeat([]byte{0xC3}, 24)
	rewriteState(t, state, map[string]any{"mgmt_alg": piv.AlgAES192, "mgmt_key": issuerKey})
	b := benchtest.Start(t, vcard.ProfilePIV, benchtest.WithState(state))
	c := openBench(t, b)
	ctx := testContext(t)
	if _, err := c.Identity(ctx); err != nil {
		t.Fatal(err)
	}

	cert := piv.SelfSigned(t)
	var err error
	n := countAPDUs(t, b, func() { err = c.PutCertificate(ctx, issuerKey, piv.SlotAuthentication, cert, true) })
	if err != nil {
		t.Fatal(err)
	}
	// GENERAL AUTHENTICATE as 3DES (6A86), answered like a command that
	// missed the PIV application, so SELECT and once more (6A86); then as
	// AES-192 twice, and PUT DATA. No closing SELECT: it would not clear
	// the authentication of an SP 800-73-4 card.
	expectAPDUs(t, "PutCertificate", n, 6)
	expectSlot(t, c, piv.SlotAuthentication, cert)
	if ci := certInfo(t, c, piv.SlotAuthentication); ci != 0x01 {
		t.Errorf("compressed certificate has CertInfo %02X, want 01", ci)
	}
}

// rewriteState changes fields of a virtual card's state file.
func rewriteState(t *testing.T, path string, fields map[string]any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	for k, v := range fields {
		if _, ok := st[k]; !ok {
			t.Fatalf("the state file has no field %q", k)
		}
		st[k] = v
	}
	if data, err = json.Marshal(st); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
