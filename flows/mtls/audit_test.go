package mtls_test

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pivauth/pivauth/flows/assertion/assertiontest"
	"github.com/pivauth/pivauth/flows/mtls"
	"github.com/pivauth/pivauth/hw-test/oidc/tlstest"
	"github.com/pivauth/pivauth/signer/purpose"
)

// A handshake signature made for a request is made for the request's
// server, and with what the request's context said (the command); resumed sessions sign nothing
// .
func TestHandshakeRecordedWithServerName(t *testing.T) {
	ca := tlstest.NewCA(t, "audit CA")
	key, _ := assertiontest.Key(t, assertiontest.P256)
	cert := ca.Client(t, key.Public(), pkix.Name{CommonName: "audit client"})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server(t, "127.0.0.1")}, ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	defer srv.Close()

	for vname, version := range versions {
		t.Run(vname, func(t *testing.T) {
			recorded := &assertiontest.PurposeSigner{Signer: key}
			tr, err := mtls.NewTransport(mtls.Identity{Signer: recorded, Certificate: cert},
				mtls.Options{RootCAs: ca.Pool(), MinVersion: version, MaxVersion: version})
			if err != nil {
				t.Fatal(err)
			}
			ctx := purpose.With(context.Background(), purpose.Purpose{Command: "request"})
			for range 2 {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				tr.CloseIdleConnections() // the second request resumes the session
			}
			got := recorded.Purposes()
			if len(got) != 1 {
				t.Fatalf("the signer saw %d signatures, want 1 (one full handshake, one resumption)", len(got))
			}
			want := purpose.Purpose{ServerName: "127.0.0.1", Command: "request"}
			if got[0] != want {
				t.Errorf("handshake signed for %+v, want %+v", got[0], want)
			}
		})
	}
}
