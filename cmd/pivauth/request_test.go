//go:build linux

package main

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/oidc/tlstest"
	"github.com/pivauth/pivauth/hw-test/vcard"
)

// TestRequestMTLS calls nginx with ssl_verify_client on: the card's 9A certificate is verified by
// nginx, the request flags reach it, and an untrusted server or a missing PIN fail with their codes.
func TestRequestMTLS(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	if b.CA == nil {
		t.Skip("needs the bench CA")
	}
	c := newCLI(t)
	ngx := tlstest.StartNginx(t, tlstest.NginxOptions{ClientCAs: []*x509.Certificate{b.CA.Cert}})
	ca := writeFile(t, c.dir, "nginx-ca.pem", string(tlstest.PEM(ngx.CA.Cert)), 0o644)
	pin := writeFile(t, c.dir, "pin", factoryPIN+"\n", 0o600)
	block, _ := pem.Decode([]byte(c.ok("certs", "--reader", b.Reader, "--output", "pem").stdout))
	cert, _ := x509.ParseCertificate(block.Bytes)

	out := filepath.Join(c.dir, "answer.txt")
	body := writeFile(t, c.dir, "body.json", `{"job": 1}`, 0o644)
	r := c.ok("request", "--reader", b.Reader, "--pin-file", pin, "--ca-file", ca, "-X", "GET", "-H", "X-Test: 1", "-d", "@"+body, "-o", out, "-i", ngx.URL+"/v1/status")
	if r.stdout != "" {
		t.Errorf("-o still printed:\n%s", r.stdout)
	}
	answer, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(answer), "HTTP/1.1 200 OK") || !strings.Contains(string(answer), "verify=SUCCESS") ||
		!strings.Contains(string(answer), "subject="+cert.Subject.String()) {
		t.Errorf("nginx answered:\n%s", answer)
	}

	// The server is not trusted without its CA; there is no switch to skip the check.
	c.fails(ExitNetwork, []string{"not trusted"}, "request", "--reader", b.Reader, "--pin-file", pin, ngx.URL)
	c.with("SSL_CERT_FILE="+ca).ok("request", "--reader", b.Reader, "--pin-file", pin, ngx.URL)
	// The handshake needs the card's signature, and that the PIN.
	c.fails(ExitPIN, []string{"no PIN available"}, "request", "--reader", b.Reader, "--ca-file", ca, ngx.URL)
	c.fails(ExitUsage, []string{"HTTPS only"}, "request", "--reader", b.Reader, "http://127.0.0.1/")
	c.fails(ExitUsage, []string{`-H "broken"`}, "request", "--reader", b.Reader, "-H", "broken", ngx.URL)
}
