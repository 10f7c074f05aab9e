package mtls

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// CertificateRequest is what a server asked for when it requested a client certificate.
type CertificateRequest struct {
	// Server is the host:port that asked.
	Server string
	// Version is the TLS version of the handshake.
	Version uint16
	// AcceptableCAs are the RFC 4514 names of the CAs the server accepts; empty means any.
	AcceptableCAs []string
	// SignatureSchemes are the signature algorithms the server accepts.
	SignatureSchemes []tls.SignatureScheme
	// Unsuitable says why our certificate does not fit the request (issued by none of the
	// AcceptableCAs, or no common signature scheme); nil when it fits.
	Unsuitable error
	// NoCertificate is set when the server asked but the transport has no identity to give.
	NoCertificate bool
}

// newCertificateRequest summarizes cri and whether cert (nil: none configured) fits it.
func newCertificateRequest(cri *tls.CertificateRequestInfo, cert *tls.Certificate) CertificateRequest {
	cr := CertificateRequest{Version: cri.Version, SignatureSchemes: cri.SignatureSchemes, NoCertificate: cert == nil}
	for _, der := range cri.AcceptableCAs {
		cr.AcceptableCAs = append(cr.AcceptableCAs, distinguishedName(der))
	}
	if cert != nil {
		cr.Unsuitable = cri.SupportsCertificate(cert)
	}
	return cr
}

// distinguishedName renders a DER Name as RFC 4514 text (hex when it does not parse).
func distinguishedName(der []byte) string {
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(der, &seq); err != nil || len(rest) != 0 {
		return "#" + hex.EncodeToString(der)
	}
	var name pkix.Name
	name.FillFromRDNSequence(&seq)
	return name.String()
}

// HandshakeError is a TLS failure with a server, with what the server asked for.
type HandshakeError struct {
	// Server is the host:port of the server.
	Server string
	// Certificate is the client certificate that was offered (nil: none configured).
	Certificate *x509.Certificate
	// Request is the server's certificate request; nil when it did not ask for one.
	Request *CertificateRequest
	// Err is the underlying failure; a signer error (wrong PIN, card removed) keeps its type.
	Err error
}

// Error names the server, the failure and what to do.
func (e *HandshakeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mtls: TLS with %s failed: %v", e.Server, e.Err)
	var verify *tls.CertificateVerificationError
	switch {
	case errors.As(e.Err, &verify):
		b.WriteString("; the server's certificate is not trusted: add its CA to SSL_CERT_FILE or the extra roots")
	case errors.Is(e.Err, ErrKeyChanged):
		// The error already says what happened.
	case e.Request != nil && e.Request.NoCertificate:
		b.WriteString("; the server asked for a client certificate and none is configured")
		e.writeCAs(&b)
	case e.Request != nil && e.Request.Unsuitable != nil:
		fmt.Fprintf(&b, "; the server asked for a client certificate")
		e.writeCAs(&b)
		fmt.Fprintf(&b, " and ours (%s) does not fit it (%v): use a certificate issued by one of those CAs, or have the server trust %q",
			describe(e.Certificate), e.Request.Unsuitable, e.Certificate.Issuer.String())
	case e.Request != nil:
		fmt.Fprintf(&b, "; the server rejected our client certificate (%s): check that it trusts the issuer and that the certificate is valid and registered",
			describe(e.Certificate))
	}
	return b.String()
}

// writeCAs appends the CA names of the request.
func (e *HandshakeError) writeCAs(b *strings.Builder) {
	if len(e.Request.AcceptableCAs) > 0 {
		fmt.Fprintf(b, " issued by one of %q", e.Request.AcceptableCAs)
	}
}

// Unwrap returns the underlying failure.
func (e *HandshakeError) Unwrap() error { return e.Err }

// describe names a certificate for messages: subject, issuer, SHA-256 thumbprint.
func describe(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return fmt.Sprintf("%q issued by %q, SHA-256 %s", c.Subject.String(), c.Issuer.String(), hex.EncodeToString(sum[:]))
}

// Explain returns a *HandshakeError for a response that rejected the client certificate at the
// HTTP level, as nginx does (400 "The SSL certificate error") after a handshake it let finish:
// a 400, 401, 403, 495 or 496 from a server whose certificate request our certificate did not
// fit. Otherwise it returns nil: the status is about something else.
func (t *Transport) Explain(resp *http.Response) error {
	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, 495, 496:
	default:
		return nil
	}
	server := hostPort(resp.Request)
	req, ok := t.CertificateRequest(server)
	if !ok || (req.Unsuitable == nil && !req.NoCertificate) {
		return nil
	}
	return &HandshakeError{Server: server, Certificate: t.Identity().Certificate, Request: &req,
		Err: fmt.Errorf("the server answered %q", resp.Status)}
}
