package mtls_test

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/pivauth/pivauth/flows/assertion/assertiontest"
	"github.com/pivauth/pivauth/flows/mtls"
	"github.com/pivauth/pivauth/hw-test/oidc/tlstest"
	"github.com/pivauth/pivauth/internal/audit"
)

// A handshake signature made for a request is recorded as a TLS handshake with the request's
// server, and with what the request's context said (the command); resumed sessions sign nothing
// and record nothing.
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
			dir := filepath.Join(t.TempDir(), "audit")
			log, err := audit.Open(dir, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			recorded := audit.Wrap(key, audit.Key{Slot: "9a", Certificate: cert.Raw}, log, nil)
			tr, err := mtls.NewTransport(mtls.Identity{Signer: recorded, Certificate: cert},
				mtls.Options{RootCAs: ca.Pool(), MinVersion: version, MaxVersion: version})
			if err != nil {
				t.Fatal(err)
			}
			ctx := audit.WithPurpose(context.Background(), audit.Purpose{Command: "request"})
			for range 2 {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				tr.CloseIdleConnections() // the second request resumes the session
			}
			evs, _, err := audit.Read(dir, audit.Filter{})
			if err != nil || len(evs) != 1 {
				t.Fatalf("audit: %d events, %v; want 1 (one full handshake, one resumption)", len(evs), err)
			}
			want := audit.Purpose{ServerName: "127.0.0.1", Command: "request"}
			if e := evs[0]; e.Operation != audit.OpTLSHandshake || e.Purpose != want || e.Result != audit.ResultOK {
				t.Errorf("handshake recorded as %+v, want a tls-handshake with purpose %+v", e, want)
			}
		})
	}
}
