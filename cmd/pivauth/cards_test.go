//go:build linux

package main

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
)

// benchUPN is the UPN in the certificate of the piv profile's slot 9a (hw-test/vcard).
const benchUPN = "bench.user@pivauth.test"

// decodeJSON decodes a command's JSON output strictly: a field the struct does not know fails
// the test, so the schema the tests describe is the schema the program prints.
func decodeJSON(t *testing.T, r result, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding JSON output: %v\n%s", err, r.stdout)
	}
}

// thumbprints computes SHA-1 and SHA-256 of a DER certificate independently of the program.
func thumbprints(der []byte) (string, string) {
	s1, s256 := sha1.Sum(der), sha256.Sum256(der)
	return strings.ToUpper(hex.EncodeToString(s1[:])), strings.ToUpper(hex.EncodeToString(s256[:]))
}

// TestCardsAndCertsPIVProfile reads a government-style card: identity from the CHUID, four
// slots with certificates (9a compressed, with a UPN), in every output format.
func TestCardsAndCertsPIVProfile(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	c := newCLI(t)

	var cards cardsJSON
	decodeJSON(t, c.ok("cards", "--reader", b.Reader, "--output", "json"), &cards)
	if len(cards.Readers) != 1 || cards.Readers[0].Reader != b.Reader || cards.Readers[0].Card == nil {
		t.Fatalf("cards: %+v", cards)
	}
	card := cards.Readers[0].Card
	if card.Kind != "piv" || card.Serial != 0 || card.GUID == "" || card.FASCN == "" || card.Select != "--guid "+card.GUID {
		t.Errorf("card identity: %+v", card)
	}
	// A government card is named by its holder, from the 9a certificate: name and UPN.
	const name = "PIV card of Bench User (" + benchUPN + ")"
	if text := c.ok("cards", "--reader", b.Reader).stdout; card.Name != name || !strings.Contains(text, "  "+name+", GUID "+card.GUID) {
		t.Errorf("card name %q, text:\n%s", card.Name, text)
	}
	var slots []string
	for _, s := range card.Slots {
		slots = append(slots, s.Slot)
	}
	if strings.Join(slots, ",") != "9a,9c,9d,9e" {
		t.Errorf("slots with certificates: %v, want 9a,9c,9d,9e", slots)
	}

	// The card is selectable by the GUID `cards` printed, and its 9a certificate matches in
	// PEM and JSON, with thumbprints computed here.
	pemOut := c.ok("certs", "--guid", card.GUID, "--output", "pem").stdout
	block, rest := pem.Decode([]byte(pemOut))
	if block == nil || block.Type != "CERTIFICATE" || len(strings.TrimSpace(string(rest))) != 0 {
		t.Fatalf("certs --output pem:\n%s", pemOut)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	wantSHA1, wantSHA256 := thumbprints(block.Bytes)

	var v certJSON
	decodeJSON(t, c.ok("certs", "--reader", b.Reader, "--output", "json"), &v)
	if v.Slot != "9a" || v.SHA1 != wantSHA1 || v.SHA256 != wantSHA256 || v.Subject != cert.Subject.String() ||
		v.KeyType != "RSA-2048" || len(v.UPNs) != 1 || v.UPNs[0] != benchUPN || v.Expired ||
		!v.NotAfter.Equal(cert.NotAfter) || v.Reader != b.Reader || !strings.Contains(v.Card, card.GUID) {
		t.Errorf("certs --output json: %+v\nwant SHA-1 %s SHA-256 %s", v, wantSHA1, wantSHA256)
	}
	if sc := card.Slots[0]; sc.SHA1 != wantSHA1 {
		t.Errorf("cards shows 9a SHA-1 %s, certs %s", sc.SHA1, wantSHA1)
	}

	text := c.ok("certs", "--reader", b.Reader, "--slot", "9c").stdout
	for _, want := range []string{"Slot 9c (digital signature)", "SHA-1:", "SHA-256:", "(thumbprint shown by Entra)", "days left"} {
		if !strings.Contains(text, want) {
			t.Errorf("certs text lacks %q:\n%s", want, text)
		}
	}
	text = c.ok("certs", "--reader", b.Reader).stdout
	if !strings.Contains(text, "UPN:      "+benchUPN) || !strings.Contains(text, wantSHA1) {
		t.Errorf("certs text for 9a lacks UPN or thumbprint:\n%s", text)
	}

	var all []certJSON
	decodeJSON(t, c.ok("certs", "--reader", b.Reader, "--all", "--output", "json"), &all)
	if len(all) != 4 || all[3].Slot != "9e" {
		t.Errorf("certs --all: %d certificates", len(all))
	}

	c.fails(ExitError, []string{"slot 82 of PIV card", "holds no certificate", "pivauth setup"}, "certs", "--reader", b.Reader, "--slot", "82")
	c.fails(ExitUsage, []string{"--slot"}, "certs", "--reader", b.Reader, "--slot", "zz")
	c.fails(ExitUsage, []string{`--output "exec-credential" is not offered`}, "certs", "--reader", b.Reader, "--output", "exec-credential")
}

// TestCardsYubiKey identifies a YubiKey by serial and firmware; it has no certificates yet.
func TestCardsYubiKey(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	c := newCLI(t)
	var cards cardsJSON
	decodeJSON(t, c.ok("cards", "--reader", b.Reader, "--output", "json"), &cards)
	card := cards.Readers[0].Card
	if card == nil || card.Kind != "yubikey" || card.Serial == 0 || card.Firmware == "" || len(card.Slots) != 0 {
		t.Fatalf("yubikey card: %+v", card)
	}
	text := c.ok("cards", "--serial", itoa(card.Serial)).stdout
	name := fmt.Sprintf("YubiKey %s #%d", card.Firmware, card.Serial)
	if !strings.Contains(text, b.Reader) || !strings.Contains(text, name) || card.Name != name || !strings.Contains(text, "no certificates") {
		t.Errorf("cards --serial text:\n%s", text)
	}
}

// TestNoCard covers a card that is not there: without a terminal and without --timeout the
// command fails at once (exit 3); with --timeout it waits and goes on when the card arrives,
// or gives up after the timeout.
func TestNoCard(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	c := newCLI(t)
	b.Pull()

	start := time.Now()
	c.fails(ExitNoCard, []string{"no card found", "--timeout"}, "certs", "--reader", b.Reader)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("failing without a card took %v: it must not wait", d)
	}
	c.fails(ExitNoCard, []string{"was inserted within 1s"}, "certs", "--reader", b.Reader, "--timeout", "1s")

	go func() {
		time.Sleep(2 * time.Second)
		b.Insert()
	}()
	r := c.ok("certs", "--reader", b.Reader, "--timeout", "30s", "--output", "json")
	if !strings.Contains(r.stderr, "Insert the PIV card") {
		t.Errorf("waiting printed no notice:\n%s", r.stderr)
	}
	var v certJSON
	decodeJSON(t, r, &v)
	if v.Slot != "9a" {
		t.Errorf("after insertion: %+v", v)
	}
}
