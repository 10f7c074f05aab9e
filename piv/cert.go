package piv

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"github.com/pivauth/pivauth/internal/tlv"
)

// Tags inside a certificate data object (SP 800-73-4 part 1, appendix A).
const (
	tagCertificate = 0x70
	tagCertInfo    = 0x71
	tagErrorDetect = 0xFE

	certInfoCompressed = 0x01 // CertInfo bit: the certificate is gzip-compressed
	maxCertificateSize = 1 << 20
)

// ParseCertificateObject parses the value of a certificate data object (what
// GET DATA returns inside tag 53): the certificate in tag 70, CertInfo in
// tag 71, an optional MSCUID (72) and the error detection code (FE). A
// certificate is decompressed when CertInfo says it is compressed (gzip, as
// government cards store it; zlib is accepted too).
func ParseCertificateObject(b []byte) (*x509.Certificate, error) {
	der, err := certificateDER(b)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("piv: certificate object: %w", err)
	}
	return cert, nil
}

// certificateDER returns the DER certificate of a certificate object value.
func certificateDER(b []byte) ([]byte, error) {
	elems, err := tlv.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("piv: certificate object: %w", err)
	}
	var cert []byte
	var info byte
	var haveCert bool
	for _, e := range elems {
		switch e.Tag {
		case tagCertificate:
			cert, haveCert = e.Value, true
		case tagCertInfo:
			if len(e.Value) > 0 {
				info = e.Value[0]
			}
		}
	}
	if !haveCert || len(cert) == 0 {
		return nil, fmt.Errorf("piv: certificate object has no certificate (tag 70): %w", ErrNotFound)
	}
	if info&certInfoCompressed == 0 {
		return cert, nil
	}
	return decompress(cert)
}

// decompress inflates a compressed certificate, refusing more than
// maxCertificateSize bytes so a hostile card cannot exhaust memory.
func decompress(b []byte) ([]byte, error) {
	var r io.ReadCloser
	var err error
	if len(b) >= 2 && b[0] == 0x1F && b[1] == 0x8B {
		r, err = gzip.NewReader(bytes.NewReader(b))
	} else {
		r, err = zlib.NewReader(bytes.NewReader(b))
	}
	if err != nil {
		return nil, fmt.Errorf("piv: compressed certificate: %w", err)
	}
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, maxCertificateSize+1))
	if err != nil {
		return nil, fmt.Errorf("piv: compressed certificate: %w", err)
	}
	if len(out) > maxCertificateSize {
		return nil, errors.New("piv: compressed certificate inflates beyond 1 MiB")
	}
	return out, nil
}

// EncodeCertificateObject returns the value of a certificate data object for
// PUT DATA: the certificate (gzip-compressed when compress is set, for cards
// short of space), CertInfo and an empty error detection code.
func EncodeCertificateObject(cert *x509.Certificate, compress bool) ([]byte, error) {
	der, info := cert.Raw, byte(0)
	if compress {
		var buf bytes.Buffer
		w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(der); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		der, info = buf.Bytes(), certInfoCompressed
	}
	b := tlv.Append(nil, tagCertificate, der)
	b = tlv.Append(b, tagCertInfo, []byte{info})
	return tlv.Append(b, tagErrorDetect, nil), nil
}
