package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pivauth/pivauth/flows/assertion"
	"github.com/pivauth/pivauth/internal/certinfo"
)

// certJSON is the JSON form of a certificate in `pivauth certs`, `cards` and `setup` output.
// Field names are part of the command-line contract.
type certJSON struct {
	Reader       string    `json:"reader,omitempty"`
	Card         string    `json:"card,omitempty"` // e.g. "YubiKey 5.7.1 serial 12345678"
	Slot         string    `json:"slot,omitempty"`
	Subject      string    `json:"subject"`
	Issuer       string    `json:"issuer"`
	SerialNumber string    `json:"serial_number"`
	NotBefore    time.Time `json:"not_before"`
	NotAfter     time.Time `json:"not_after"`
	Expired      bool      `json:"expired"`
	SelfSigned   bool      `json:"self_signed"`
	KeyType      string    `json:"key_type"`
	UPNs         []string  `json:"upn,omitempty"`
	DNSNames     []string  `json:"dns,omitempty"`
	Emails       []string  `json:"email,omitempty"`
	URIs         []string  `json:"uri,omitempty"`
	IPs          []string  `json:"ip,omitempty"`
	SHA1         string    `json:"sha1"`   // upper-case hex: the "Thumbprint" Entra and Windows show
	SHA256       string    `json:"sha256"` // upper-case hex
}

// describeCert builds the JSON/text view of cert found in slot (empty for a file).
func describeCert(slot string, cert *x509.Certificate, now time.Time) certJSON {
	s1, s256 := assertion.Thumbprints(cert)
	v := certJSON{
		Slot:         slot,
		Subject:      cert.Subject.String(),
		Issuer:       cert.Issuer.String(),
		SerialNumber: strings.ToUpper(cert.SerialNumber.Text(16)),
		NotBefore:    cert.NotBefore.UTC(),
		NotAfter:     cert.NotAfter.UTC(),
		Expired:      now.After(cert.NotAfter),
		// CheckSignatureFrom would insist on a CA certificate; a leaf signed by its own key is what
		// "self-signed" means for an app registration's certificate.
		SelfSigned: bytes.Equal(cert.RawIssuer, cert.RawSubject) &&
			cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) == nil,
		KeyType:  assertion.KeyType(cert.PublicKey),
		DNSNames: cert.DNSNames,
		Emails:   cert.EmailAddresses,
		SHA1:     s1,
		SHA256:   s256,
	}
	// A malformed SAN is shown as no UPN: x509.ParseCertificate already accepted the extension,
	// and `certs` must still show the rest of a card's certificate.
	v.UPNs, _ = certinfo.UPNs(cert)
	for _, u := range cert.URIs {
		v.URIs = append(v.URIs, u.String())
	}
	for _, ip := range cert.IPAddresses {
		v.IPs = append(v.IPs, ip.String())
	}
	return v
}

// writeText prints the certificate for a person, one field a line, indented under a heading.
func (v certJSON) writeText(w io.Writer, now time.Time) {
	row := func(k, val string) { fmt.Fprintf(w, "  %-9s %s\n", k+":", val) }
	row("Subject", v.Subject)
	row("Issuer", v.Issuer)
	row("Serial", v.SerialNumber)
	validity := fmt.Sprintf("%s to %s", v.NotBefore.Format(time.RFC3339), v.NotAfter.Format(time.RFC3339))
	switch {
	case v.Expired:
		validity += " (EXPIRED)"
	case now.Before(v.NotBefore):
		validity += " (not yet valid)"
	default:
		validity += fmt.Sprintf(" (%d days left)", int(v.NotAfter.Sub(now).Hours()/24))
	}
	row("Valid", validity)
	row("Key", v.KeyType)
	for _, u := range v.UPNs {
		row("UPN", u)
	}
	for _, d := range v.DNSNames {
		row("DNS", d)
	}
	for _, e := range v.Emails {
		row("Email", e)
	}
	for _, u := range v.URIs {
		row("URI", u)
	}
	for _, ip := range v.IPs {
		row("IP", ip)
	}
	row("SHA-1", v.SHA1+"  (thumbprint shown by Entra)")
	row("SHA-256", v.SHA256)
}

// writePEM writes cert as a PEM CERTIFICATE block.
func writePEM(w io.Writer, cert *x509.Certificate) error {
	return pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}
