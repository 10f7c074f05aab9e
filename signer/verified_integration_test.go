//go:build linux

package signer_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/internal/testio"
	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
)

var swLine = regexp.MustCompile(`Received \(SW1=0x([0-9A-Fa-f]{2}), SW2=0x([0-9A-Fa-f]{2})\)`)

// otherProcess runs opensc-tool (its own process and PC/SC context) to send
// APDUs to the card in reader, and returns the status word of the last.
// "-c default" keeps OpenSC from probing card drivers first: its probes
// SELECT other applications, which would wipe the very security status
// being looked at.
func otherProcess(t *testing.T, reader string, apdus ...string) string {
	t.Helper()
	args := []string{"--reader", reader, "-c", "default"}
	for _, a := range apdus {
		args = append(args, "--send-apdu", a)
	}
	out, err := testio.CombinedOutput(exec.Command("opensc-tool", args...), 30*time.Second)
	if err != nil {
		t.Fatalf("opensc-tool: %v\n%s", err, out)
	}
	m := swLine.FindAllStringSubmatch(string(out), -1)
	if len(m) != len(apdus) {
		t.Fatalf("opensc-tool printed %d status words for %d APDUs:\n%s", len(m), len(apdus), out)
	}
	last := m[len(m)-1]
	return strings.ToUpper(last[1] + last[2])
}

// pinStatusFromOtherProcess sends the empty VERIFY from another process,
// without selecting the PIV application first (a YubiKey clears its
// security status on SELECT, which would hide a card left verified): 9000
// if the card is PIN-verified, 63Cx if not.
func pinStatusFromOtherProcess(t *testing.T, reader string) string {
	t.Helper()
	sw := otherProcess(t, reader, "00:20:00:80")
	if sw != "9000" && !strings.HasPrefix(sw, "63C") {
		t.Fatalf("the empty VERIFY from another process got %s: the PIV application was not left selected, so the check says nothing", sw)
	}
	return sw
}

// TestNeverLeftVerified checks, from another process, that the card is not
// PIN-verified after each kind of operation on PIN-protected keys: a
// signature with a PIN-once key (first and later ones), a PIN-always key, a
// decryption, a refused PIN, and an operation on a card another process had
// left verified. It also shows the check can see a card left verified.
func TestNeverLeftVerified(t *testing.T) {
	if _, err := exec.LookPath("opensc-tool"); err != nil {
		t.Skip("opensc-tool not installed")
	}
	b := benchtest.Start(t, vcard.ProfilePIV)
	notVerified := func(after string) {
		t.Helper()
		if sw := pinStatusFromOtherProcess(t, b.Reader); !strings.HasPrefix(sw, "63C") {
			t.Errorf("after %s another process's empty VERIFY got %s, want 63Cx (card left verified)", after, sw)
		}
	}
	auth := openSigner(t, b, signer.Options{Slot: piv.SlotAuthentication, PIN: &pinCounter{pin: defaultPIN}})
	d := digest(crypto.SHA256, []byte("left verified?"))
	if _, err := auth.Sign(rand.Reader, d, crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	notVerified("a 9A signature")
	if _, err := auth.Sign(rand.Reader, d, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}); err != nil {
		t.Fatal(err)
	}
	notVerified("a second 9A signature (PIN from the session)")
	// The government-style card has no 9D key; 9A decrypts when the caller allows it.
	authDecrypt := openSigner(t, b, signer.Options{Slot: piv.SlotAuthentication, PIN: &pinCounter{pin: defaultPIN}, AllowDecryptOnAnySlot: true})
	ct, _ := rsa.EncryptPKCS1v15(rand.Reader, auth.Public().(*rsa.PublicKey), []byte("k"))
	if _, err := authDecrypt.Decrypt(rand.Reader, ct, nil); err != nil {
		t.Fatal(err)
	}
	notVerified("a decryption")

	sig := openSigner(t, b, signer.Options{Slot: piv.SlotSignature, PIN: &pinCounter{pin: defaultPIN}})
	if _, err := sig.Sign(rand.Reader, d, crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	notVerified("a 9C (PIN always) signature")

	wrong := openSigner(t, b, signer.Options{PIN: &pinCounter{pin: []byte("999999")}})
	var pe *signer.PINError
	if _, err := wrong.Sign(rand.Reader, d, crypto.SHA256); !errors.As(err, &pe) {
		t.Fatalf("wrong PIN: %v", err)
	}
	notVerified("a refused PIN")

	// The check can fail: a process that verifies and leaves (as OpenSC
	// does) is seen by the next one.
	if sw := otherProcess(t, b.Reader, "00:A4:04:00:09:A0:00:00:03:08:00:00:10:00", "00:20:00:80:08:31:32:33:34:35:36:FF:FF"); sw != "9000" {
		t.Fatalf("verifying from another process: %s", sw)
	}
	if sw := pinStatusFromOtherProcess(t, b.Reader); sw != "9000" {
		t.Errorf("premise: after another process verified and left, the empty VERIFY got %s, want 9000", sw)
	}
	// And the signer's next operation leaves it cleared again.
	if _, err := auth.Sign(rand.Reader, d, crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	notVerified("a signature on a card another process had left verified")
}
