//go:build linux

package piv_test

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/internal/testio"
	"github.com/pivauth/pivauth/piv"
)

var (
	oidSAN   = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidFASCN = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 6, 6}
	oidUPN   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}
)

// sanOtherName returns the value of an otherName in a certificate's subject
// alternative names, the independent record of the FASC-N and UPN the card
// issuer put into the certificate.
func sanOtherName(t *testing.T, cert *x509.Certificate, id asn1.ObjectIdentifier) []byte {
	t.Helper()
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidSAN) {
			continue
		}
		var names []asn1.RawValue
		if _, err := asn1.Unmarshal(ext.Value, &names); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if n.Class != asn1.ClassContextSpecific || n.Tag != 0 {
				continue
			}
			var on struct {
				ID    asn1.ObjectIdentifier
				Value asn1.RawValue `asn1:"explicit,tag:0"`
			}
			if _, err := asn1.UnmarshalWithParams(n.FullBytes, &on, "tag:0"); err != nil {
				t.Fatal(err)
			}
			if on.ID.Equal(id) {
				var v asn1.RawValue // the OCTET STRING or UTF8String inside [0]
				if _, err := asn1.Unmarshal(on.Value.Bytes, &v); err != nil {
					t.Fatal(err)
				}
				return v.Bytes
			}
		}
	}
	return nil
}

// ykStatus asks yubico-piv-tool, an independent implementation on the same
// PC/SC stack, for the version and serial of the card in reader.
func ykStatus(t *testing.T, reader string) (version string, serial uint32, ok bool) {
	t.Helper()
	if _, err := exec.LookPath("yubico-piv-tool"); err != nil {
		return "", 0, false
	}
	out, err := testio.CombinedOutput(exec.Command("yubico-piv-tool", "-r", reader, "-a", "status"), 30*time.Second)
	if err != nil {
		t.Fatalf("yubico-piv-tool -a status: %v\n%s", err, out)
	}
	v := regexp.MustCompile(`(?m)^Version:\s*(\S+)`).FindSubmatch(out)
	s := regexp.MustCompile(`(?m)^Serial Number:\s*(\d+)`).FindSubmatch(out)
	if v == nil || s == nil {
		t.Fatalf("yubico-piv-tool -a status printed no version or serial:\n%s", out)
	}
	n, _ := strconv.ParseUint(string(s[1]), 10, 32)
	return string(v[1]), uint32(n), true
}

func TestIdentifyAndSelect(t *testing.T) {
	yk := benchtest.Start(t, vcard.ProfileYubiKey)
	pv := benchtest.Start(t, vcard.ProfilePIV)
	ctx := testContext(t)

	readers, err := piv.Readers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{yk.Reader, pv.Reader} {
		if !strings.Contains(strings.Join(readers, "\n"), r) {
			t.Fatalf("Readers() = %q lacks %q", readers, r)
		}
	}

	// The YubiKey: serial and firmware, as yubico-piv-tool sees them.
	ykCard := openBench(t, yk)
	var ykID piv.Identity
	n := countAPDUs(t, yk, func() {
		if ykID, err = ykCard.Identity(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if !ykID.YubiKey || ykID.Serial == 0 || ykID.Version.Major < 5 || ykID.Reader != yk.Reader {
		t.Fatalf("YubiKey identity %+v", ykID)
	}
	// GET VERSION, GET SERIAL, GET DATA CHUID (none on a fresh YubiKey).
	expectAPDUs(t, "YubiKey identity", n, 3)
	if !ykCard.ATRSaysYubiKey() {
		t.Errorf("ATRSaysYubiKey false for a YubiKey's ATR % X", ykCard.ATR())
	}
	expectAPDUs(t, "cached identity", countAPDUs(t, yk, func() { ykCard.Identity(ctx) }), 0)
	// Tx.Identity shares the cache: identifying inside another operation's transaction is free.
	expectAPDUs(t, "cached identity in a transaction", countAPDUs(t, yk, func() {
		if err := ykCard.Transaction(ctx, func(tx *piv.Tx) error {
			id, err := tx.Identity()
			if err == nil && id.Serial != ykID.Serial {
				t.Errorf("Tx.Identity serial %d, Card.Identity %d", id.Serial, ykID.Serial)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}), 0)
	// Our open card does not keep yubico-piv-tool out, nor the other way round.
	if v, s, ok := ykStatus(t, yk.Reader); ok && (v != ykID.Version.String() || s != ykID.Serial) {
		t.Errorf("yubico-piv-tool says version %s serial %d; we read %s %d", v, s, ykID.Version, ykID.Serial)
	}
	if st, err := ykCard.PINStatus(ctx); err != nil || st.Retries != 3 {
		t.Errorf("PIN status after yubico-piv-tool used the card: %+v %v", st, err)
	}

	// The PIV card: CHUID GUID and FASC-N, as the issuer wrote them into the
	// card authentication certificate.
	pvCard := openBench(t, pv)
	var pvID piv.Identity
	n = countAPDUs(t, pv, func() {
		if pvID, err = pvCard.Identity(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if pvID.YubiKey || pvID.GUID == "" || pvID.FASCN == nil || pvID.CHUID.Expiry.IsZero() {
		t.Fatalf("PIV identity %+v", pvID)
	}
	expectAPDUs(t, "PIV identity", n, 2) // GET DATA CHUID, GET VERSION answered 6D00
	if pvCard.ATRSaysYubiKey() {
		t.Errorf("ATRSaysYubiKey true for the PIV card's ATR % X", pvCard.ATR())
	}
	cardAuth, err := pvCard.Certificate(ctx, piv.SlotCardAuthentication)
	if err != nil {
		t.Fatal(err)
	}
	if len(cardAuth.URIs) != 1 || cardAuth.URIs[0].String() != "urn:uuid:"+pvID.GUID {
		t.Errorf("CHUID GUID %s; the card authentication certificate names %v", pvID.GUID, cardAuth.URIs)
	}
	if raw := sanOtherName(t, cardAuth, oidFASCN); !bytes.Equal(raw, pvID.CHUID.FASCNRaw) {
		t.Errorf("CHUID FASC-N % X; certificate % X", pvID.CHUID.FASCNRaw, raw)
	}
	if id := pvID.FASCN; !strings.HasSuffix(id.PersonIdentifier, id.CredentialNumber) || len(id.AgencyCode) != 4 {
		t.Errorf("FASC-N fields %+v", *id)
	}
	t.Logf("%s; %s", ykID, pvID)

	// Every card present is listed, identified.
	cards, err := piv.Cards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, ci := range cards {
		switch ci.Reader {
		case yk.Reader:
			found++
			if ci.Err != nil || ci.Serial != ykID.Serial {
				t.Errorf("Cards: YubiKey %+v", ci)
			}
		case pv.Reader:
			found++
			if ci.Err != nil || ci.GUID != pvID.GUID {
				t.Errorf("Cards: PIV card %+v", ci)
			}
		}
	}
	if found != 2 {
		t.Errorf("Cards found %d of our 2 cards", found)
	}

	// Selection by serial, by GUID (any case, dashes or not), by part of
	// the reader name.
	for _, sel := range []piv.Selector{
		{Serial: ykID.Serial},
		{GUID: strings.ToUpper(strings.ReplaceAll(pvID.GUID, "-", ""))},
		{Reader: pv.Reader[len(pv.Reader)-8:], GUID: pvID.GUID},
	} {
		c, err := piv.Open(ctx, sel)
		if err != nil {
			t.Fatalf("Open(%s): %v", sel, err)
		}
		want := yk.Reader
		if sel.GUID != "" {
			want = pv.Reader
		}
		if c.Reader() != want {
			t.Errorf("Open(%s) opened %q", sel, c.Reader())
		}
		c.Close()
	}
	if _, err := piv.Open(ctx, piv.Selector{Reader: yk.Reader, GUID: pvID.GUID}); !errors.Is(err, piv.ErrNoCard) {
		t.Errorf("Open with a GUID the reader's card lacks: %v", err)
	}

	// A selector both cards match (the readers' common prefix; other
	// tests' cards may match too) is an AmbiguousError identifying each.
	prefix := yk.Reader
	for !strings.HasPrefix(pv.Reader, prefix) {
		prefix = prefix[:len(prefix)-1]
	}
	if prefix == "" || yk.Real() {
		return
	}
	_, err = piv.Open(ctx, piv.Selector{Reader: prefix})
	var amb *piv.AmbiguousError
	if !errors.As(err, &amb) || amb.Selector.Reader != prefix {
		t.Fatalf("Open(reader %q) with two cards: %v, want an AmbiguousError", prefix, err)
	}
	matched := map[string]piv.Identity{}
	for _, id := range amb.Cards {
		matched[id.Reader] = id
	}
	if id := matched[yk.Reader]; id.Serial != ykID.Serial {
		t.Errorf("AmbiguousError lists the YubiKey as %+v", id)
	}
	if id := matched[pv.Reader]; id.GUID != pvID.GUID {
		t.Errorf("AmbiguousError lists the PIV card as %+v", id)
	}
	if msg := err.Error(); !strings.Contains(msg, strconv.Quote(yk.Reader)) || !strings.Contains(msg, strconv.Quote(pv.Reader)) {
		t.Errorf("AmbiguousError does not name the readers: %s", msg)
	}
}
