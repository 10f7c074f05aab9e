package piv

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/pivauth/pivauth/internal/tlv"
)

// TestProtectedKeyFormat decodes PRINTED as ykman and piv-go write it (53{88{89 key}}) and refuses
// what holds no key or a key of a length no management key has.
func TestProtectedKeyFormat(t *testing.T) {
	key := bytes.Repeat([]byte{0xA5}, 24)
	obj := tlv.Encode(tagObject, tlv.Encode(tagPivmanProtectedData, tlv.Encode(tagPivmanProtectedKey, key)))
	if hex.EncodeToString(obj[:6]) != "531c881a8918" {
		t.Fatalf("encoding: % X", obj[:6])
	}
	got, err := parseProtectedKey(obj)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("parseProtectedKey: % X, %v", got, err)
	}
	for name, b := range map[string][]byte{
		"empty 88":     tlv.Encode(tagObject, tlv.Encode(tagPivmanProtectedData, nil)),
		"no 88":        tlv.Encode(tagObject, tlv.Encode(0x01, []byte("USER, BENCH"))),
		"short key":    tlv.Encode(tagObject, tlv.Encode(tagPivmanProtectedData, tlv.Encode(tagPivmanProtectedKey, key[:7]))),
		"not a 53 obj": []byte{0x88, 0x00},
	} {
		_, err := parseProtectedKey(b)
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
		if name != "short key" && name != "not a 53 obj" && !errors.Is(err, ErrNoProtectedKey) {
			t.Errorf("%s: %v, want ErrNoProtectedKey", name, err)
		}
	}
}

// TestAdminDataFlags: setting the "stored key" flag keeps the PIN timestamp, drops a salt (a key
// derived from the PIN is no longer the key) and encodes as yubico-piv-tool reads it.
func TestAdminDataFlags(t *testing.T) {
	ad := adminData{flags: 0x01, hasFlags: true, others: []tlv.TLV{{Tag: tagPivmanSalt, Value: []byte{1, 2}}, {Tag: 0x83, Value: []byte{0, 0, 0, 9}}}}
	ad.flags |= pivmanFlagProtectedKey
	ad.others = withoutTag(ad.others, tagPivmanSalt)
	if got := hex.EncodeToString(ad.encode()); got != "8009810103830400000009" {
		t.Errorf("ADMIN DATA %s", got)
	}
	if got := hex.EncodeToString((adminData{flags: pivmanFlagProtectedKey}).encode()); got != "8003810102" {
		t.Errorf("fresh ADMIN DATA %s", got)
	}
}

// TestPrintedRedacted: a PUT DATA of PRINTED carries the management key and never reaches a trace.
func TestPrintedRedacted(t *testing.T) {
	key := bytes.Repeat([]byte{0x77}, 24)
	data := tlv.Append(tlv.Encode(0x5C, tagBytes(ObjectPrintedInfo)), tagObject, tlv.Encode(tagPivmanProtectedData, tlv.Encode(tagPivmanProtectedKey, key)))
	apdu := append([]byte{0x00, insPutData, 0x3F, 0xFF, byte(len(data))}, data...)
	if got := redactCommand(apdu); bytes.Contains(got, key[:8]) {
		t.Errorf("PUT DATA of PRINTED traced with the key: % X", got)
	}
	other := append([]byte{0x00, insPutData, 0x3F, 0xFF, 5}, 0x5C, 0x03, 0x5F, 0xC1, 0x05)
	if got := redactCommand(other); !bytes.Equal(got, other) {
		t.Errorf("PUT DATA of a certificate redacted: % X", got)
	}
}
