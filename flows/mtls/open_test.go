package mtls_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pivauth/pivauth/flows/assertion/assertiontest"
	"github.com/pivauth/pivauth/flows/mtls"
	"github.com/pivauth/pivauth/hw-test/oidc/tlstest"
)

// TestOpenIdentityWhenAsked: with Options.OpenIdentity the identity is opened at the first
// handshake whose server asks for a client certificate, once, and never for a server that asks
// for none; a failure to open fails that handshake with the opener's error.
func TestOpenIdentityWhenAsked(t *testing.T) {
	key, cert := assertiontest.KeyWith(t, assertiontest.P256, assertiontest.CertOptions{CommonName: "lazy"})
	opened := 0
	var openErr error
	open := func(context.Context) (mtls.Identity, error) {
		opened++
		if openErr != nil {
			return mtls.Identity{}, openErr
		}
		return mtls.Identity{Signer: key, Certificate: cert}, nil
	}
	plain := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(plain.Close)
	pool := plain.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	tr, err := mtls.NewTransport(mtls.Identity{}, mtls.Options{RootCAs: pool, OpenIdentity: open})
	if err != nil {
		t.Fatal(err)
	}
	get(t, &http.Client{Transport: tr}, plain.URL)
	if opened != 0 {
		t.Fatalf("a server asking no certificate opened the identity %d times", opened)
	}

	srv := tlstest.StartNginx(t, tlstest.NginxOptions{ClientCAs: []*x509.Certificate{cert}})
	failing, err := mtls.NewTransport(mtls.Identity{}, mtls.Options{RootCAs: srv.CA.Pool(), OpenIdentity: open})
	if err != nil {
		t.Fatal(err)
	}
	openErr = errors.New("no card")
	if _, err := (&http.Client{Transport: failing}).Get(srv.URL); !errors.Is(err, openErr) {
		t.Errorf("opener failing: %v, want its error", err)
	}
	openErr, opened = nil, 0
	asked, err := mtls.NewTransport(mtls.Identity{}, mtls.Options{RootCAs: srv.CA.Pool(), OpenIdentity: open})
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: asked}
	for range 2 {
		if body := get(t, c, srv.URL); !strings.Contains(body, "verify=SUCCESS") {
			t.Errorf("nginx did not verify the opened identity: %s", body)
		}
		asked.CloseIdleConnections()
	}
	if opened != 1 || asked.Identity().Certificate != cert {
		t.Errorf("opened %d times, identity %v; want once, the opened one", opened, asked.Identity().Certificate)
	}
}
