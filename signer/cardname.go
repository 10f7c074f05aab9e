package signer

import (
	"crypto/x509"
	"fmt"

	"github.com/pivauth/pivauth/internal/certinfo"
	"github.com/pivauth/pivauth/piv"
)

// CardName names a card as its holder knows it, for prompts and messages:
//
//   - a YubiKey (piv.Identity.YubiKey) by model, firmware and serial:
//     "YubiKey 5.7.1 #96375739";
//   - a card that answers Yubico's extensions but whose answer to reset names
//     no YubiKey by the serial it answers: "PIV card with Yubico extensions
//     #12345678" (never "YubiKey": the version is the applet's own);
//   - any other PIV card by its cardholder, from cert (the certificate of the
//     slot in use, nil when not known): "PIV card of Jane Doe
//     (jane.doe@agency.gov)", the subject's common name and the UPN;
//   - failing that by the CHUID's GUID, and last by its reader.
func CardName(id piv.Identity, cert *x509.Certificate) string {
	switch {
	case id.YubiKey && id.Serial != 0 && id.Version != (piv.Version{}):
		return fmt.Sprintf("YubiKey %s #%d", id.Version, id.Serial)
	case id.YubiKey && id.Serial != 0:
		// The firmware was not read (a cold run identifies a card by its
		// serial alone, to spare an APDU).
		return fmt.Sprintf("YubiKey #%d", id.Serial)
	case id.YubiKey:
		return fmt.Sprintf("YubiKey %s", id.Version)
	case id.YubicoExtensions && id.Serial != 0:
		return fmt.Sprintf("PIV card with Yubico extensions #%d", id.Serial)
	}
	if holder := cardholder(cert); holder != "" {
		return "PIV card of " + holder
	}
	switch {
	case id.GUID != "":
		return "PIV card GUID " + id.GUID
	case id.Reader != "":
		return fmt.Sprintf("the card in %q", id.Reader)
	}
	return "the card"
}

// cardholder is the holder a certificate names: "CN (UPN)", the common name
// or the first UPN alone, or "" when it names neither.
func cardholder(cert *x509.Certificate) string {
	if cert == nil {
		return ""
	}
	cn := cert.Subject.CommonName
	var upn string
	if upns, err := certinfo.UPNs(cert); err == nil && len(upns) > 0 {
		upn = upns[0]
	}
	switch {
	case cn != "" && upn != "" && cn != upn:
		return cn + " (" + upn + ")"
	case cn != "":
		return cn
	}
	return upn
}
