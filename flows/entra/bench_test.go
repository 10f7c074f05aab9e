package entra

import (
	"context"
	"crypto"
	"crypto/x509"
	"path/filepath"
	"testing"
	"time"

	"github.com/pivauth/pivauth/flows/assertion/assertiontest"
	"github.com/pivauth/pivauth/flows/cache"
	standin "github.com/pivauth/pivauth/hw-test/entra"
)

// tokenRun gets n app-only tokens as n fresh processes would: a new Client each time (endpoint
// discovery, no in-memory token), with the disk cache when store is set. It returns the time taken.
func tokenRun(tb testing.TB, srv *standin.Server, s crypto.Signer, cert *x509.Certificate, store *cache.Store, n int) time.Duration {
	tb.Helper()
	start := time.Now()
	for range n {
		c, err := New(Options{Authority: srv.Authority(), ClientID: testClientID, Signer: s, Certificate: cert, HTTPClient: srv.HTTPClient(), Cache: store})
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := c.Token(context.Background(), exoDefault); err != nil {
			tb.Fatal(err)
		}
	}
	return time.Since(start)
}

// benchServer starts a stand-in with the certificate registered.
func benchServer(tb testing.TB, cert *x509.Certificate) *standin.Server {
	tb.Helper()
	srv, err := standin.Start(standin.Options{Apps: []standin.App{{ClientID: testClientID, Certificates: []standin.Credential{{Cert: cert}}}}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	return srv
}

// BenchmarkSoftwareToken reports signatures per token and the time per token with a software RSA
// key: fresh (every token requested) and cached (the disk cache answers).
func BenchmarkSoftwareToken(b *testing.B) {
	key, cert := assertiontest.Key(b, assertiontest.RSA2048)
	cs := &assertiontest.CountingSigner{Signer: key}
	srv := benchServer(b, cert)
	b.Run("fresh", func(b *testing.B) {
		before := cs.Count()
		for b.Loop() {
			tokenRun(b, srv, cs, cert, nil, 1)
		}
		b.ReportMetric(float64(cs.Count()-before)/float64(b.N), "signatures/token")
	})
	b.Run("cached", func(b *testing.B) {
		store, err := cache.Open(filepath.Join(b.TempDir(), "cache"))
		if err != nil {
			b.Fatal(err)
		}
		tokenRun(b, srv, cs, cert, store, 1) // fill the cache
		before := cs.Count()
		for b.Loop() {
			tokenRun(b, srv, cs, cert, store, 1)
		}
		b.ReportMetric(float64(cs.Count()-before)/float64(b.N), "signatures/token")
	})
}
