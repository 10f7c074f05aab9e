package certinfo

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
)

func TestParseDN(t *testing.T) {
	for _, tc := range []struct{ in, want, first string }{
		{"CN=app,O=Contoso,C=US", "CN=app,O=Contoso,C=US", "US"},
		{"/C=US/O=Contoso/CN=app", "CN=app,O=Contoso,C=US", "US"},
		{"cn = pivauth exo , ou=IT", "CN=pivauth exo,OU=IT", "IT"},
		{`CN=Smith\, John,O=Contoso`, `CN=Smith\, John,O=Contoso`, "Contoso"},
	} {
		rdns, err := ParseDN(tc.in)
		if err != nil {
			t.Errorf("ParseDN(%q): %v", tc.in, err)
			continue
		}
		if rdns.String() != tc.want {
			t.Errorf("ParseDN(%q) = %q, want %q", tc.in, rdns.String(), tc.want)
		}
		// Encoding order: the most significant attribute comes first in the DER.
		der, err := asn1.Marshal(rdns)
		if err != nil {
			t.Fatal(err)
		}
		var back pkix.RDNSequence
		if _, err := asn1.Unmarshal(der, &back); err != nil {
			t.Fatal(err)
		}
		if back[0][0].Value != tc.first {
			t.Errorf("ParseDN(%q): first encoded attribute %v, want %q", tc.in, back[0][0].Value, tc.first)
		}
	}
	// DC is an IA5String under its own OID, encoded in the order of the domain.
	rdns, err := ParseDN("CN=a,DC=contoso,DC=com")
	if err != nil {
		t.Fatal(err)
	}
	der, _ := asn1.Marshal(rdns)
	var back pkix.RDNSequence
	if _, err := asn1.Unmarshal(der, &back); err != nil {
		t.Fatal(err)
	}
	if !back[0][0].Type.Equal(dnAttributes["DC"]) || back[0][0].Value != "com" || back[1][0].Value != "contoso" {
		t.Errorf("DC encoded as %v", back)
	}
	if ia5 := append([]byte{asn1.TagIA5String, 7}, "contoso"...); !bytes.Contains(der, ia5) {
		t.Errorf("DC value not an IA5String: % x", der)
	}
	for _, bad := range []string{"", "CN", "XX=1", "  ,  "} {
		if _, err := ParseDN(bad); err == nil {
			t.Errorf("ParseDN(%q) accepted", bad)
		}
	}
}
