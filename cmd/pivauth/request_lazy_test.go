//go:build linux

package main

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/oidc/tlstest"
	"github.com/pivauth/pivauth/hw-test/vcard"
)

// TestRequestOpensCardOnlyWhenAsked: a server that asks for no client certificate gets its
// answer without the card being touched (0 APDUs, no PIN read, not even a PIN file needed), and
// a missing card is then no error; a server that asks opens the card in the handshake.
func TestRequestOpensCardOnlyWhenAsked(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	c := newCLI(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "client certificates: %d", len(r.TLS.PeerCertificates))
	}))
	t.Cleanup(srv.Close)
	ca := writeFile(t, c.dir, "srv-ca.pem", string(tlstest.PEM(srv.Certificate())), 0o644)

	b.ResetStats()
	r := c.ok("request", "--reader", b.Reader, "--ca-file", ca, srv.URL+"/")
	if r.stdout != "client certificates: 0" {
		t.Errorf("answer %q", r.stdout)
	}
	if st := b.Stats(); st.APDUs != 0 {
		t.Errorf("a server asking no client certificate cost %d APDUs, want 0", st.APDUs)
	}
	// No card selected that exists: still fine, the card is never looked for.
	c.ok("request", "--reader", "no such reader", "--ca-file", ca, srv.URL+"/")

	asks := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "client certificates: %d", len(r.TLS.PeerCertificates))
	}))
	asks.TLS = srv.TLS.Clone()
	asks.TLS.ClientAuth = tls.RequireAnyClientCert
	asks.StartTLS()
	t.Cleanup(asks.Close)
	ca2 := writeFile(t, c.dir, "asks-ca.pem", string(tlstest.PEM(asks.Certificate())), 0o644)
	pin := writeFile(t, c.dir, "pin", factoryPIN+"\n", 0o600)
	b.ResetStats()
	if r := c.ok("request", "--reader", b.Reader, "--pin-file", pin, "--ca-file", ca2, asks.URL+"/"); !strings.Contains(r.stdout, "client certificates: 1") {
		t.Errorf("server asking a certificate got %q", r.stdout)
	}
	if st := b.Stats(); st.Signatures != 1 {
		t.Errorf("server asking a certificate: %d signatures, want 1", st.Signatures)
	}
	c.fails(ExitNoCard, nil, "request", "--reader", "no such reader", "--ca-file", ca2, asks.URL+"/")
}
