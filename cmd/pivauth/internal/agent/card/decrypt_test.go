//go:build linux

package card

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"path/filepath"
	"testing"

	"github.com/pivauth/pivauth/cmd/pivauth/internal/audit"
	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
	"github.com/pivauth/pivauth/signer/purpose"
)

// Decryptions through the audited card key are recorded like signatures, the one refused on the
// 9A key (not a key management slot) included, with the card's name and the purpose; with
// AllowDecryptOnAnySlot the 9A key decrypts, recorded too.
func TestDecryptAudited(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	dir := filepath.Join(t.TempDir(), "state")
	rec, err := audit.Open(dir, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	open := func(allow bool) *audit.Signer {
		s, err := signer.Open(context.Background(), signer.Options{Card: piv.Selector{Reader: b.Reader}, Slot: piv.SlotAuthentication,
			PIN: signer.PINFunc(func(context.Context, signer.PINRequest) ([]byte, error) { return []byte(benchPIN), nil }), AllowDecryptOnAnySlot: allow})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return Audited(s, rec)
	}
	refused, allowed := open(false), open(true)
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, refused.Public().(*rsa.PublicKey), []byte("session key"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := purpose.With(context.Background(), purpose.Purpose{Command: "decrypt-test"})
	if _, err := refused.DecryptContext(ctx, rand.Reader, ct, nil); !errors.Is(err, signer.ErrNotKeyManagementSlot) {
		t.Fatalf("decrypt with 9A: %v, want ErrNotKeyManagementSlot", err)
	}
	if pt, err := allowed.DecryptContext(ctx, rand.Reader, ct, nil); err != nil || string(pt) != "session key" {
		t.Fatalf("decrypt with 9A allowed: %q, %v", pt, err)
	}
	evs, _, err := audit.Read(dir, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{audit.ResultError, audit.ResultOK}
	if len(evs) != len(want) {
		t.Fatalf("audit: %d events, want %d: %+v", len(evs), len(want), evs)
	}
	for i, ev := range evs {
		if ev.Operation != audit.OpDecrypt || ev.Result != want[i] || ev.Slot != "9a" || ev.Reader != b.Reader ||
			ev.Purpose.Command != "decrypt-test" || ev.CertSHA256 == "" {
			t.Errorf("event %d: %+v, want a %s decryption by 9a with its purpose", i, ev, want[i])
		}
	}
}
