//go:build linux

package main

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/piv"
)

// slotKey reads the public key the card holds in slot (GET METADATA through PC/SC, as any other
// client would), nil for an empty slot: what the test compares `setup key`'s words with.
func slotKey(t *testing.T, b *benchtest.Bench, slot piv.Slot) crypto.PublicKey {
	t.Helper()
	ctx := context.Background()
	card, err := piv.Open(ctx, piv.Selector{Reader: b.Reader})
	if err != nil {
		t.Fatal(err)
	}
	defer card.Close()
	m, err := card.Metadata(ctx, slot.Key)
	if err != nil {
		if strings.Contains(err.Error(), "not found") {
			return nil
		}
		t.Fatal(err)
	}
	return m.PublicKey
}

// spkiSHA256 is the thumbprint `setup key` prints for a public key.
func spkiSHA256(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(spki)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// checkReportedKey: the key `setup key` printed (JSON) is the one now in the slot.
func checkReportedKey(t *testing.T, b *benchtest.Bench, slot piv.Slot, k setupKeyJSON) {
	t.Helper()
	in := slotKey(t, b, slot)
	if in == nil {
		t.Fatalf("slot %s is empty, but setup key reported a key", slot)
	}
	block, _ := pem.Decode([]byte(k.PublicKeyPEM))
	if block == nil {
		t.Fatalf("setup key printed no public key: %+v", k)
	}
	printed, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !publicKeysEqual(printed, in) || k.PublicKeySHA256 != spkiSHA256(t, in) {
		t.Errorf("slot %s holds %s, setup key reported %s", slot, spkiSHA256(t, in), k.PublicKeySHA256)
	}
}

// TestSetupKeyAttestationChecked: on the bench YubiKey, whose attestation does not chain to
// Yubico's roots, the key is generated and reported as such (text and JSON), with why its
// attestation was not verified, and exit 7.
func TestSetupKeyAttestationChecked(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	if b.Real() {
		t.Skip("a real YubiKey's attestation chains to Yubico's roots")
	}
	b.Destructive()
	c := newCLI(t)
	r := c.fails(ExitUnattested, []string{"the key was generated and is in slot 9e", "could not be verified", "unknown authority"},
		"setup", "key", "--reader", b.Reader, "--algorithm", "eccp256", "--slot", "9e")
	in := slotKey(t, b, piv.SlotCardAuthentication)
	if in == nil || !strings.Contains(r.stdout, "Generated a ECC P-256 key in slot 9e of YubiKey") ||
		!strings.Contains(r.stdout, spkiSHA256(t, in)) || !strings.Contains(r.stdout, "BEGIN PUBLIC KEY") ||
		!strings.Contains(r.stdout, "Attestation NOT verified") {
		t.Errorf("setup key output does not show the key in the slot:\n%s", r.stdout)
	}
	var k setupKeyJSON
	decodeJSON(t, c.fails(ExitUnattested, nil, "setup", "key", "--reader", b.Reader, "--algorithm", "eccp256", "--slot", "9e", "--force", "--output", "json"), &k)
	checkReportedKey(t, b, piv.SlotCardAuthentication, k)
	if k.Attestation != nil || !strings.Contains(k.AttestationError, "unknown authority") {
		t.Errorf("JSON attestation %+v, error %q", k.Attestation, k.AttestationError)
	}
}

// TestSetupKeyYubicoCompatible: a card that answers Yubico's instructions but is not a YubiKey
// (PivApplet-like, quirk yubico-compatible) is named as such; its lax-DER attestation is reported
// with the parser's reason; the attestation is required only with --attestation-roots (exit 7),
// else a warning; a P-384 key whose attestation answers 6F00 is in the slot all the same.
func TestSetupKeyYubicoCompatible(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey, benchtest.WithQuirks(vcard.QuirkYubicoCompatible))
	if b.Real() {
		t.Skip("a quirk of the virtual card")
	}
	b.Destructive()
	c := newCLI(t)
	var cards cardsJSON
	decodeJSON(t, c.ok("cards", "--reader", b.Reader, "--output", "json"), &cards)
	if card := cards.Readers[0].Card; card == nil || card.Kind != "piv" || card.Firmware != "5.4.0" || card.Serial == 0 {
		t.Fatalf("cards: %+v", cards.Readers[0].Card)
	}
	if text := c.ok("cards", "--reader", b.Reader).stdout; !strings.Contains(text, fmt.Sprintf("PIV card with Yubico extensions #%d (version 5.4.0", cards.Readers[0].Card.Serial)) ||
		strings.Contains(text, "YubiKey 5") {
		t.Errorf("cards text:\n%s", text)
	}

	// With --attestation-roots the attestation is required: RSA's negative modulus.
	var k setupKeyJSON
	r := c.fails(ExitUnattested, []string{"is in slot 9a", "not a valid DER certificate", "RSA modulus is not a positive number"},
		"setup", "key", "--reader", b.Reader, "--attestation-roots", benchRootsFile(t, b, c.dir), "--output", "json")
	decodeJSON(t, r, &k)
	checkReportedKey(t, b, piv.SlotAuthentication, k)
	if !strings.Contains(k.Card, "PIV card with Yubico extensions") || strings.Contains(k.Card, "YubiKey") {
		t.Errorf("card named %q", k.Card)
	}

	// Without: reported, not required. P-256: the signature's non-minimal length.
	r = c.ok("setup", "key", "--reader", b.Reader, "--slot", "9c", "--algorithm", "eccp256", "--output", "json")
	decodeJSON(t, r, &k)
	checkReportedKey(t, b, piv.SlotSignature, k)
	if !strings.Contains(k.AttestationError, "malformed signature") || !strings.Contains(r.stderr, "not a YubiKey by its answer to reset") {
		t.Errorf("attestation error %q, stderr:\n%s", k.AttestationError, r.stderr)
	}
	// P-384: ATTEST answers 6F00 right after GENERATE.
	r = c.ok("setup", "key", "--reader", b.Reader, "--slot", "9d", "--algorithm", "eccp384")
	if in := slotKey(t, b, piv.SlotKeyManagement); in == nil || !strings.Contains(r.stdout, spkiSHA256(t, in)) ||
		!strings.Contains(r.stdout, "Attestation NOT verified") || !strings.Contains(r.stdout, "6F00") {
		t.Errorf("P-384 key:\n%s\n%s", r.stdout, r.stderr)
	}
}

// TestSetupKeyUnsupportedAlgorithm: GENERATE answered 6A80 is "this card does not support ALG",
// and the slot keeps its key — on a YubiKey-like card and on a Yubico-compatible applet.
func TestSetupKeyUnsupportedAlgorithm(t *testing.T) {
	for name, quirks := range map[string][]vcard.Quirk{
		"yubikey":           {vcard.QuirkFewAlgorithms},
		"yubico-compatible": {vcard.QuirkFewAlgorithms, vcard.QuirkYubicoCompatible},
	} {
		t.Run(name, func(t *testing.T) {
			b := benchtest.Start(t, vcard.ProfileYubiKey, benchtest.WithQuirks(quirks...))
			if b.Real() {
				t.Skip("a quirk of the virtual card")
			}
			b.Destructive()
			c := newCLI(t)
			roots := benchRootsFile(t, b, c.dir)
			if name == "yubikey" {
				c.ok("setup", "key", "--reader", b.Reader, "--algorithm", "eccp256", "--attestation-roots", roots)
			} else {
				c.ok("setup", "key", "--reader", b.Reader, "--algorithm", "eccp256")
			}
			before := slotKey(t, b, piv.SlotAuthentication)
			for alg, name := range map[string]string{"ed25519": "Ed25519", "rsa4096": "RSA-4096"} {
				c.fails(ExitError, []string{"this card does not support " + name + " keys", "GENERATE answered 6A80", "nothing on the card was changed"},
					"setup", "key", "--reader", b.Reader, "--algorithm", alg, "--force")
				if after := slotKey(t, b, piv.SlotAuthentication); !publicKeysEqual(before, after) {
					t.Fatalf("%s refused, but slot 9a changed", alg)
				}
			}
		})
	}
}
