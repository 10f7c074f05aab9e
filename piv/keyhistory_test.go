package piv

import (
	"testing"

	"github.com/pivauth/pivauth/internal/tlv"
)

func keyHistoryObject(on, off byte, url string) []byte {
	b := tlv.Append(nil, tagKeysWithOnCardCerts, []byte{on})
	b = tlv.Append(b, tagKeysWithOffCardCerts, []byte{off})
	if url != "" {
		b = tlv.Append(b, tagOffCardCertURL, []byte(url))
	}
	return tlv.Append(b, tagErrorDetect, nil)
}

func TestParseKeyHistory(t *testing.T) {
	h, err := ParseKeyHistory(keyHistoryObject(2, 1, "http://pki.example/certs/1234.p7c"))
	if err != nil {
		t.Fatal(err)
	}
	if h.OnCardCerts != 2 || h.OffCardCerts != 1 || h.OffCardURL != "http://pki.example/certs/1234.p7c" {
		t.Errorf("%+v", h)
	}
	for name, b := range map[string][]byte{
		"off-card without URL": keyHistoryObject(0, 1, ""),
		"too many keys":        keyHistoryObject(15, 6, "http://x"),
		"no counts":            tlv.Encode(tagErrorDetect, nil),
		"two-byte count":       tlv.Append(tlv.Encode(tagKeysWithOnCardCerts, []byte{0, 1}), tagKeysWithOffCardCerts, []byte{0}),
	} {
		if _, err := ParseKeyHistory(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func FuzzParseKeyHistory(f *testing.F) {
	f.Add(keyHistoryObject(2, 0, ""))
	f.Add(keyHistoryObject(1, 3, "http://pki.example/a.p7c"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseKeyHistory(b)
		if err != nil {
			return
		}
		if h.OnCardCerts+h.OffCardCerts > 20 || h.OffCardCerts > 0 && h.OffCardURL == "" {
			t.Fatalf("accepted an inconsistent key history: %+v", h)
		}
	})
}
