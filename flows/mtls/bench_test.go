package mtls_test

import (
	"crypto/x509"
	"net/http"
	"testing"

	"github.com/pivauth/pivauth/flows/assertion/assertiontest"
	"github.com/pivauth/pivauth/flows/mtls"
	"github.com/pivauth/pivauth/hw-test/oidc/tlstest"
)

// BenchmarkNewConnection reports signatures per request when every request dials a new
// connection to nginx: with session resumption the cost tends to zero, without it one.
func BenchmarkNewConnection(b *testing.B) {
	key, cert := assertiontest.Key(b, assertiontest.P256)
	counting := &assertiontest.CountingSigner{Signer: key}
	for _, tickets := range []bool{true, false} {
		name := map[bool]string{true: "resumed", false: "full-handshake"}[tickets]
		b.Run(name, func(b *testing.B) {
			srv := tlstest.StartNginx(b, tlstest.NginxOptions{ClientCAs: []*x509.Certificate{cert}, Tickets: tickets})
			tr, err := mtls.NewTransport(mtls.Identity{Signer: counting, Certificate: cert}, mtls.Options{RootCAs: srv.CA.Pool()})
			if err != nil {
				b.Fatal(err)
			}
			c := &http.Client{Transport: tr}
			before := counting.Count()
			for b.Loop() {
				get(b, c, srv.URL)
				tr.CloseIdleConnections()
			}
			b.ReportMetric(float64(counting.Count()-before)/float64(b.N), "signatures/request")
		})
	}
}
