package certinfo

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"reflect"
	"testing"
)

// TestUPNsFromOpenSSL reads a certificate made by OpenSSL (testdata/upn.pem: two UPNs, a DNS
// name, an e-mail address and a FASC-N otherName), so the parser is checked against an encoder
// nobody here wrote.
func TestUPNsFromOpenSSL(t *testing.T) {
	data, err := os.ReadFile("testdata/upn.pem")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	upns, err := UPNs(cert)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"alice@contoso.example", "bob@contoso.example"}; !reflect.DeepEqual(upns, want) {
		t.Errorf("UPNs = %q, want %q", upns, want)
	}
}

// TestSANExtensionRoundTrip encodes a SAN with every kind of name, signs a certificate with it and
// checks that Go's parser and ours read back what went in.
func TestSANExtensionRoundTrip(t *testing.T) {
	u, _ := url.Parse("spiffe://example/bot")
	ext, err := SANExtension([]string{"user@example.com"}, []string{"a.example"}, []string{"m@example.com"}, []*url.URL{u}, []net.IP{net.ParseIP("192.0.2.1"), net.ParseIP("2001:db8::1")})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"}, ExtraExtensions: []pkix.Extension{ext}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	upns, err := UPNs(cert)
	if err != nil || !reflect.DeepEqual(upns, []string{"user@example.com"}) {
		t.Errorf("UPNs = %q, %v", upns, err)
	}
	if !reflect.DeepEqual(cert.DNSNames, []string{"a.example"}) || !reflect.DeepEqual(cert.EmailAddresses, []string{"m@example.com"}) ||
		len(cert.URIs) != 1 || cert.URIs[0].String() != u.String() || len(cert.IPAddresses) != 2 || !cert.IPAddresses[1].Equal(net.ParseIP("2001:db8::1")) {
		t.Errorf("Go parsed %v %v %v %v", cert.DNSNames, cert.EmailAddresses, cert.URIs, cert.IPAddresses)
	}
	if _, err := SANExtension(nil, nil, nil, nil, nil); err == nil {
		t.Error("an empty SAN was encoded")
	}
}

// FuzzUPNs feeds arbitrary extension bytes to the parser: it must return, never panic.
func FuzzUPNs(f *testing.F) {
	ext, _ := SANExtension([]string{"u@x"}, []string{"d"}, nil, nil, nil)
	f.Add(ext.Value)
	f.Add([]byte{0x30, 0x03, 0xa0, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		_, _ = upnsFromSAN(der)
	})
}
