package piv

import (
	"bytes"
	"compress/gzip"
	"errors"
	"strings"
	"testing"

	"github.com/pivauth/pivauth/internal/tlv"
)

func TestCertificateObjectRoundTrip(t *testing.T) {
	cert := selfSigned(t)
	for _, compress := range []bool{false, true} {
		obj, err := EncodeCertificateObject(cert, compress)
		if err != nil {
			t.Fatal(err)
		}
		info, _, _ := tlv.Find(obj, tagCertInfo)
		if (info[0] == certInfoCompressed) != compress {
			t.Errorf("compress=%v: CertInfo %02X", compress, info[0])
		}
		inner, _, _ := tlv.Find(obj, tagCertificate)
		if compress == bytes.Equal(inner, cert.Raw) {
			t.Errorf("compress=%v: tag 70 holds the raw certificate: %v", compress, !compress)
		}
		got, err := ParseCertificateObject(obj)
		if err != nil {
			t.Fatalf("compress=%v: %v", compress, err)
		}
		if !got.Equal(cert) {
			t.Errorf("compress=%v: certificate differs", compress)
		}
	}
}

func TestCertificateObjectErrors(t *testing.T) {
	if _, err := ParseCertificateObject(nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("empty object: %v, want ErrNotFound", err)
	}
	if _, err := ParseCertificateObject(unhex(t, "7003010203")); err == nil {
		t.Error("truncated object parsed")
	}
	if _, err := ParseCertificateObject(unhex(t, "70020102710101FE00")); err == nil {
		t.Error("garbage marked compressed parsed")
	}
	// A gzip bomb: 2 MiB of zeros compress to a few KiB.
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(make([]byte, 2<<20))
	w.Close()
	obj := tlv.Append(tlv.Append(nil, tagCertificate, buf.Bytes()), tagCertInfo, []byte{1})
	if _, err := ParseCertificateObject(obj); err == nil || !strings.Contains(err.Error(), "1 MiB") {
		t.Errorf("gzip bomb: %v", err)
	}
}

func FuzzParseCertificateObject(f *testing.F) {
	cert := selfSigned(f)
	for _, compress := range []bool{false, true} {
		obj, err := EncodeCertificateObject(cert, compress)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(obj)
	}
	f.Add([]byte{0x70, 0x00, 0x71, 0x01, 0x01, 0xFE, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCertificateObject(b)
		if err == nil && c == nil {
			t.Fatal("nil certificate without an error")
		}
		if err != nil {
			return
		}
		// Whatever parsed re-encodes to an object that parses to the same certificate.
		again, err := EncodeCertificateObject(c, false)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := ParseCertificateObject(again)
		if err != nil || !c2.Equal(c) {
			t.Fatalf("re-encoded certificate does not round-trip: %v", err)
		}
	})
}
