package main

import (
	"bufio"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// bundle is what `setup import` loads: a certificate and, for a PFX or a PEM with a key, its
// private key.
type bundle struct {
	cert *x509.Certificate
	key  crypto.PrivateKey
}

// loadBundle reads a certificate (PEM or DER), a PEM file with a private key and its certificate,
// or a PFX/PKCS#12 file.
func loadBundle(ctx context.Context, path, passwordFile string) (bundle, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return bundle{}, withCode(ExitUsage, err)
	}
	ext := strings.ToLower(filepath.Ext(path))
	if ext == ".pfx" || ext == ".p12" {
		return loadPFX(ctx, path, data, passwordFile)
	}
	if strings.Contains(string(data), "-----BEGIN") {
		return loadPEM(path, data)
	}
	if cert, err := x509.ParseCertificate(data); err == nil {
		return bundle{cert: cert}, nil
	}
	// DER that is not a certificate: a PFX with another file name.
	return loadPFX(ctx, path, data, passwordFile)
}

// loadPEM reads the first certificate and the private key (if any) of a PEM file.
func loadPEM(path string, data []byte) (bundle, error) {
	var b bundle
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		var err error
		switch block.Type {
		case "CERTIFICATE":
			if b.cert == nil {
				b.cert, err = x509.ParseCertificate(block.Bytes)
			}
		case "PRIVATE KEY":
			b.key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			b.key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			b.key, err = x509.ParseECPrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			err = errors.New("encrypted PEM keys are not supported: convert it to a PFX (openssl pkcs12 -export) and import that")
		}
		if strings.HasSuffix(block.Type, "PRIVATE KEY") {
			clear(block.Bytes) // the parsed key holds its own copy; a certificate keeps block.Bytes as Raw
		}
		if err != nil {
			return bundle{}, withCode(ExitUsage, fmt.Errorf("%s: %s: %w", path, block.Type, err))
		}
	}
	if b.cert == nil {
		return bundle{}, usageErrorf("%s holds no certificate", path)
	}
	return b, nil
}

// loadPFX decodes a PKCS#12 file. The password comes from passwordFile, else the terminal; with
// neither, the empty password is tried (PFX files exported for automation often have none).
func loadPFX(ctx context.Context, path string, data []byte, passwordFile string) (bundle, error) {
	var password string
	switch {
	case passwordFile != "":
		f, err := os.Open(passwordFile)
		if err != nil {
			return bundle{}, withCode(ExitUsage, err)
		}
		line, err := bufio.NewReader(f).ReadString('\n')
		f.Close()
		if err != nil && line == "" {
			return bundle{}, withCode(ExitUsage, fmt.Errorf("password file %s: %w", passwordFile, err))
		}
		password = strings.TrimRight(line, "\r\n")
	default:
		if key, cert, _, err := pkcs12.DecodeChain(data, ""); err == nil {
			return bundle{cert: cert, key: key}, nil
		}
		b, err := readSecret(ctx, "Password for "+filepath.Base(path))
		if errors.Is(err, errNoTerminal) {
			return bundle{}, withCode(ExitUsage, fmt.Errorf("%s needs a password and there is no terminal to ask for it: give it with --password-file", path))
		}
		if err != nil {
			return bundle{}, err
		}
		password = string(b) // go-pkcs12 takes a string; the typed bytes are wiped
		clear(b)
	}
	key, cert, _, err := pkcs12.DecodeChain(data, password)
	if errors.Is(err, pkcs12.ErrIncorrectPassword) {
		return bundle{}, withCode(ExitUsage, fmt.Errorf("%s: wrong password", path))
	}
	if err != nil {
		return bundle{}, withCode(ExitUsage, fmt.Errorf("%s: not a certificate, PEM or PFX file: %w", path, err))
	}
	return bundle{cert: cert, key: key}, nil
}
