package signer

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"

	"github.com/pivauth/pivauth/internal/certinfo"
	"github.com/pivauth/pivauth/piv"
)

// TestCardName names each kind of card: a YubiKey by model, firmware and serial; a card with
// Yubico's extensions whose ATR names no YubiKey never as a YubiKey; a government card by its
// holder (common name and UPN), else its GUID, else its reader.
func TestCardName(t *testing.T) {
	san, err := certinfo.SANExtension([]string{"jane.doe@agency.gov"}, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	holder := &x509.Certificate{Subject: pkix.Name{CommonName: "Jane Doe"}, Extensions: []pkix.Extension{san}}
	upnOnly := &x509.Certificate{Extensions: []pkix.Extension{san}}
	v := piv.Version{Major: 5, Minor: 7, Patch: 1}
	for _, tc := range []struct {
		id   piv.Identity
		cert *x509.Certificate
		want string
	}{
		{piv.Identity{YubicoExtensions: true, YubiKey: true, Version: v, Serial: 96375739}, holder, "YubiKey 5.7.1 #96375739"},
		{piv.Identity{YubicoExtensions: true, Version: v, Serial: 1234}, nil, "PIV card with Yubico extensions #1234"},
		{piv.Identity{YubicoExtensions: true, Version: v}, holder, "PIV card of Jane Doe (jane.doe@agency.gov)"},
		{piv.Identity{GUID: "0123", Reader: "R"}, holder, "PIV card of Jane Doe (jane.doe@agency.gov)"},
		{piv.Identity{GUID: "0123", Reader: "R"}, upnOnly, "PIV card of jane.doe@agency.gov"},
		{piv.Identity{GUID: "0123", Reader: "R"}, nil, "PIV card GUID 0123"},
		{piv.Identity{Reader: "R"}, nil, `the card in "R"`},
	} {
		if got := CardName(tc.id, tc.cert); got != tc.want {
			t.Errorf("CardName(%+v) = %q, want %q", tc.id, got, tc.want)
		}
	}
}
