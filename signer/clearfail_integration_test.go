//go:build linux

package signer_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/hw-test/vpcd"
	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
)

// TestOperationAndClearBothFail: when the operation fails and clearing the PIN status after it
// fails too, the error reports both (errors.Is/As reach either), so the caller learns that the card
// may be left verified. From the moment the card accepted the PIN, it answers every command with
// 6F00 (an internal error): the operation's GENERAL AUTHENTICATE and the VERIFY P1=FF that follows
// both meet it. The engine then ends the transaction with a card reset, which the outsider sees.
func TestOperationAndClearBothFail(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	provision(t, b, keySpec{piv.SlotAuthentication, piv.AlgECCP256, piv.PINPolicyOnce, piv.TouchPolicyNever})
	t.Cleanup(func() { b.Transport().SetFlaky(vpcd.Flaky{}) })
	s := openSigner(t, b, signer.Options{
		Slot: piv.SlotAuthentication,
		PIN: signer.PINFunc(func(context.Context, signer.PINRequest) ([]byte, error) {
			return append([]byte(nil), defaultPIN...), nil
		}),
		Trace: func(cmd, resp []byte) {
			// A VERIFY carrying a PIN (data present) that the card accepted.
			if len(cmd) > 5 && cmd[1] == 0x20 && cmd[2] == 0x00 && len(resp) == 2 && resp[0] == 0x90 {
				b.Transport().SetFlaky(vpcd.Flaky{Rate: 1, SW: 0x6F00})
			}
		},
	})
	_, err := s.Sign(rand.Reader, digest(crypto.SHA256, []byte("both fail")), crypto.SHA256)
	var se *piv.StatusError
	if !errors.As(err, &se) || se.SW != 0x6F00 || !strings.Contains(err.Error(), "clearing the PIN status") {
		t.Fatalf("got %v, want the operation's 6F00 and the failed clear", err)
	}
	if n := strings.Count(err.Error(), "6F00"); n != 2 {
		t.Errorf("error %q reports %d failures, want both", err, n)
	}
	b.Transport().SetFlaky(vpcd.Flaky{})
	b.CheckNotLeftOpen(t, "an operation whose PIN clear failed")
}
