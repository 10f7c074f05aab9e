package vcard

import (
	"bytes"
	"crypto/des"
	"testing"
	"time"

	"github.com/pivauth/pivauth/internal/tlv"
)

var witnessRequest = []byte{0x7C, 0x02, 0x80, 0x00}

func putData(tag uint32, value []byte) []byte {
	tagBytes := []byte{byte(tag >> 16), byte(tag >> 8), byte(tag)}
	return apdu(0, insPutData, 0x3F, 0xFF, tlv.Append(tlv.Encode(0x5C, tagBytes), 0x53, value))
}

func TestManagementKeyMutualAuth(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	must(t, c, selectPIV)
	printed := tlv.Encode(0x01, []byte("X"))
	expect(t, c, putData(tagPrinted, printed), 0x6982)

	// A wrong key: the card's witness decrypts to garbage, 6982.
	wrong := bytes.Repeat([]byte{0x42}, 24)
	block, _ := des.NewTripleDESCipher(wrong)
	resp := must(t, c, apdu(0, insAuthenticate, alg3DES, keyCardManagement, witnessRequest))
	w := make([]byte, 8)
	block.Decrypt(w, resp[4:12])
	expect(t, c, apdu(0, insAuthenticate, alg3DES, keyCardManagement,
		tlv.Encode(0x7C, tlv.Append(tlv.Encode(0x80, w), 0x81, make([]byte, 8)))), 0x6982)
	expect(t, c, putData(tagPrinted, printed), 0x6982)

	// A witness is good for the very next command only.
	resp = must(t, c, apdu(0, insAuthenticate, alg3DES, keyCardManagement, witnessRequest))
	block, _ = des.NewTripleDESCipher(defaultMgmtKey)
	block.Decrypt(w, resp[4:12])
	must(t, c, apdu(0, insGetVersion, 0, 0, nil))
	expect(t, c, apdu(0, insAuthenticate, alg3DES, keyCardManagement,
		tlv.Encode(0x7C, tlv.Append(tlv.Encode(0x80, w), 0x81, make([]byte, 8)))), 0x6A80)

	// The algorithm in P1 must be the key's.
	expect(t, c, apdu(0, insAuthenticate, algAES192, keyCardManagement, witnessRequest), 0x6A86)

	mgmtAuth(t, c, alg3DES, defaultMgmtKey)
	must(t, c, putData(tagPrinted, printed))
}

func TestManagementKeyExternalAuth(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	must(t, c, selectPIV)
	resp := must(t, c, apdu(0, insAuthenticate, alg3DES, keyCardManagement, []byte{0x7C, 0x02, 0x81, 0x00}))
	body, err := tlv.Unwrap(resp, 0x7C)
	if err != nil {
		t.Fatal(err)
	}
	challenge, err := tlv.Unwrap(body, 0x81)
	if err != nil || len(challenge) != 8 {
		t.Fatalf("challenge %X", resp)
	}
	block, _ := des.NewTripleDESCipher(defaultMgmtKey)
	answer := make([]byte, 8)
	block.Encrypt(answer, challenge)
	must(t, c, apdu(0, insAuthenticate, alg3DES, keyCardManagement, tlv.Encode(0x7C, tlv.Encode(0x82, answer))))
	must(t, c, putData(tagCHUID, []byte{0x34, 0x01, 0x00}))
	// Replaying the answer fails: the challenge was used up.
	expect(t, c, apdu(0, insAuthenticate, alg3DES, keyCardManagement, tlv.Encode(0x7C, tlv.Encode(0x82, answer))), 0x6A80)
	expect(t, c, putData(tagCHUID, []byte{0x34, 0x01, 0x00}), 0x6982)
}

func TestSetManagementKeyAES(t *testing.T) {
	c, path := newCard(t, ProfileYubiKey)
	must(t, c, selectPIV)
	meta := must(t, c, apdu(0, insGetMetadata, 0, keyCardManagement, nil))
	if want := unhex(t, "010103 02020001 050101"); !bytes.Equal(meta, want) {
		t.Errorf("9B metadata %X, want %X", meta, want)
	}
	key := defaultMgmtKey
	alg := byte(alg3DES)
	for _, next := range []struct {
		alg byte
		len int
	}{{algAES128, 16}, {algAES192, 24}, {algAES256, 32}, {alg3DES, 24}} {
		newKey := bytes.Repeat([]byte{next.alg}, next.len)
		set := apdu(0, insSetMgmtKey, 0xFF, 0xFF, append([]byte{next.alg, 0x9B, byte(next.len)}, newKey...))
		c.Reset()
		must(t, c, selectPIV)
		expect(t, c, set, 0x6982)
		mgmtAuth(t, c, alg, key)
		expect(t, c, apdu(0, insSetMgmtKey, 0xFF, 0xFF, append([]byte{next.alg, 0x9B, byte(next.len + 1)}, newKey...)), 0x6A80)
		must(t, c, set)
		key, alg = newKey, next.alg
		meta := must(t, c, apdu(0, insGetMetadata, 0, keyCardManagement, nil))
		if want := append([]byte{0x01, 0x01, alg}, unhex(t, "02020001 050100")...); !bytes.Equal(meta, want) {
			t.Errorf("9B metadata %X, want %X", meta, want)
		}
		mgmtAuth(t, c, alg, key)
	}
	ca, _ := benchCA(t)
	again, err := OpenWithCA(path, ProfileYubiKey, ca)
	if err != nil {
		t.Fatal(err)
	}
	must(t, again, selectPIV)
	mgmtAuth(t, again, alg3DES, key)
}

func TestManagementKeyTouch(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	must(t, c, selectPIV)
	mgmtAuth(t, c, alg3DES, defaultMgmtKey)
	must(t, c, apdu(0, insSetMgmtKey, 0xFF, 0xFE, append([]byte{algAES128, 0x9B, 16}, make([]byte, 16)...)))
	meta := must(t, c, apdu(0, insGetMetadata, 0, keyCardManagement, nil))
	if want := unhex(t, "010108 02020002 050100"); !bytes.Equal(meta, want) {
		t.Errorf("9B metadata %X, want %X", meta, want)
	}
	const delay = 30 * time.Millisecond
	c.SetTouchDelay(delay)
	start := time.Now()
	mgmtAuth(t, c, algAES128, make([]byte, 16))
	if waited := time.Since(start); waited < delay {
		t.Errorf("authentication with a touch key took %v, less than the touch delay", waited)
	}
}
