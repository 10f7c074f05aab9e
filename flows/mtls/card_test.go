//go:build linux

package mtls_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"strings"
	"testing"

	"github.com/pivauth/pivauth/flows/mtls"
	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/oidc/oidctest"
	"github.com/pivauth/pivauth/hw-test/oidc/tlstest"
	"github.com/pivauth/pivauth/hw-test/vcard"
)

// TestCardResumption: the card's RSA-2048 key (piv profile, certificate from the bench CA)
// authenticates to nginx in TLS 1.2 and 1.3; N requests on new connections cost one card
// signature per TLS version, counted by the card itself.
func TestCardResumption(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	s := oidctest.CardSigner(t, b)
	cas := []*x509.Certificate{s.Certificate()}
	if b.CA != nil {
		cas = append(cas, b.CA.Cert)
	}
	srv := tlstest.StartNginx(t, tlstest.NginxOptions{ClientCAs: cas, Tickets: true, SessionCache: true})
	for _, v := range []struct {
		name    string
		version uint16
	}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}} {
		t.Run(v.name, func(t *testing.T) {
			id, err := mtls.FromTLSCertificate(s.TLSCertificate())
			if err != nil {
				t.Fatal(err)
			}
			tr, err := mtls.NewTransport(id, mtls.Options{RootCAs: srv.CA.Pool(), MinVersion: v.version, MaxVersion: v.version})
			if err != nil {
				t.Fatal(err)
			}
			c := &http.Client{Transport: tr}
			ops := s.Operations()
			var before vcard.Stats
			if !b.Real() {
				before = b.Stats()
			}
			const n = 3
			for i := range n {
				if body := get(t, c, srv.URL); !strings.Contains(body, "verify=SUCCESS") {
					t.Fatalf("request %d: %s", i, body)
				}
				tr.CloseIdleConnections()
			}
			if got := s.Operations() - ops; got != 1 {
				t.Errorf("%d connections cost %d card operations, want 1", n, got)
			}
			if !b.Real() {
				if got := b.Stats().Signatures - before.Signatures; got != 1 {
					t.Errorf("the card counted %d signatures for %d connections, want 1", got, n)
				}
			}
		})
	}
}

// BenchmarkCardNewConnection reports card signatures and APDUs per request when each request
// dials anew and resumes its TLS session.
func BenchmarkCardNewConnection(b *testing.B) {
	bench := benchtest.Start(b, vcard.ProfilePIV)
	if bench.Real() {
		b.Skip("APDU counts need the virtual card")
	}
	s := oidctest.CardSigner(b, bench)
	srv := tlstest.StartNginx(b, tlstest.NginxOptions{ClientCAs: []*x509.Certificate{bench.CA.Cert}, Tickets: true})
	tr, err := mtls.NewTransport(mtls.Identity{Signer: s, Certificate: s.Certificate()}, mtls.Options{RootCAs: srv.CA.Pool()})
	if err != nil {
		b.Fatal(err)
	}
	c := &http.Client{Transport: tr}
	before := bench.Stats()
	for b.Loop() {
		get(b, c, srv.URL)
		tr.CloseIdleConnections()
	}
	after := bench.Stats()
	b.ReportMetric(float64(after.Signatures-before.Signatures)/float64(b.N), "signatures/request")
	b.ReportMetric(float64(after.APDUs-before.APDUs)/float64(b.N), "APDUs/request")
}
