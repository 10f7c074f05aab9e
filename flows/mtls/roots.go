package mtls

import (
	"crypto/x509"
	"fmt"
	"os"
)

// Roots returns the certificate pool servers are verified against: the system roots, plus the
// PEM file named by SSL_CERT_FILE (added to, not replacing, the system roots), plus extra.
func Roots(extra ...*x509.Certificate) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if file := os.Getenv("SSL_CERT_FILE"); file != "" {
		pem, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("mtls: SSL_CERT_FILE: %w; point it at a readable PEM file or unset it", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mtls: SSL_CERT_FILE=%s holds no PEM certificate", file)
		}
	}
	for _, c := range extra {
		pool.AddCert(c)
	}
	return pool, nil
}
