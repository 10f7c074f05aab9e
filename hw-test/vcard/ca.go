package vcard

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// CA is the bench certificate authority: it issues the attestation
// certificate of every yubikey-profile card and the certificates of every
// piv-profile card. Tests trust it to verify attestations and client
// certificates.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// CADirEnv names the environment variable that, when set, is the directory
// of the bench CA used by Open for new cards.
const CADirEnv = "PIVAUTH_BENCH_CA_DIR"

// File names of the bench CA in its directory: the certificate with its key
// (0600), and the certificate alone for whoever wants to trust it.
const (
	caKeyFile  = "bench-ca.pem"
	CACertFile = "bench-ca.crt" // CACertFile is the PEM certificate of the bench CA, for export.
)

// DefaultCADir is where Open finds or creates the bench CA for a new card
// whose state lives at statePath: $PIVAUTH_BENCH_CA_DIR, else the state
// file's directory.
func DefaultCADir(statePath string) string {
	if d := os.Getenv(CADirEnv); d != "" {
		return d
	}
	return filepath.Dir(statePath)
}

// BenchCA loads the bench CA from dir, creating it (ECDSA P-256, valid for 20
// years) when dir holds none. Concurrent creators agree on one CA: the first
// to link its file into place wins and the others load it.
func BenchCA(dir string) (*CA, error) {
	path := filepath.Join(dir, caKeyFile)
	ca, err := loadCA(path)
	if err == nil {
		return ca, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("vcard: bench CA directory: %w", err)
	}
	pemData, err := newCA()
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "."+caKeyFile+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("vcard: creating bench CA: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(pemData)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if err = os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("vcard: creating bench CA: %w", err)
	}
	if ca, err = loadCA(path); err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
	if err := writeFileAtomic(filepath.Join(dir, CACertFile), certPEM); err != nil {
		return nil, fmt.Errorf("vcard: writing bench CA certificate: %w", err)
	}
	return ca, nil
}

// newCA makes a CA key and self-signed certificate, PEM encoded together.
func newCA() ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "pivauth bench CA", Organization: []string{"pivauth bench"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1, // the attestation chain has the card's F9 certificate below
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...), nil
}

// loadCA reads the certificate and key file.
func loadCA(path string) (*CA, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ca CA
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "CERTIFICATE":
			ca.Cert, err = x509.ParseCertificate(blk.Bytes)
		case "PRIVATE KEY":
			var k any
			k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
			if s, ok := k.(crypto.Signer); ok {
				ca.Key = s
			}
		}
		if err != nil {
			return nil, fmt.Errorf("vcard: bench CA %s: %w", path, err)
		}
	}
	if ca.Cert == nil || ca.Key == nil {
		return nil, fmt.Errorf("vcard: bench CA %s lacks a certificate or key: delete it to make a new CA", path)
	}
	return &ca, nil
}

// issue signs a certificate for pub.
func (ca *CA) issue(tmpl *x509.Certificate, pub crypto.PublicKey) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("vcard: issuing %q: %w", tmpl.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

// randomSerial is a positive 127-bit certificate serial number.
func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return n.Add(n, big.NewInt(1))
}
