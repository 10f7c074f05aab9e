package vcard

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/pivauth/pivauth/internal/tlv"
)

func getData(tag uint32) []byte {
	var tb []byte
	switch {
	case tag > 0xFFFF:
		tb = []byte{byte(tag >> 16), byte(tag >> 8), byte(tag)}
	case tag > 0xFF:
		tb = []byte{byte(tag >> 8), byte(tag)}
	default:
		tb = []byte{byte(tag)}
	}
	return apdu(0, insGetData, 0x3F, 0xFF, tlv.Encode(0x5C, tb))
}

// allObjects is every container of SP 800-73-4 table 3 bar the two with
// their own tags.
func allObjects() map[uint32]bool {
	pin := map[uint32]bool{tagFingerprint: true, tagFacialImage: true, tagPrinted: true, tagIris: true, tagPairingCode: true}
	out := map[uint32]bool{}
	for _, tag := range []uint32{tagCardAuth, tagCHUID, tagFingerprint, tagPIVAuth, tagSecurityObj, tagCCC, tagFacialImage,
		tagPrinted, tagSignature, tagKeyMgmt, tagKeyHistory, tagIris, tagSMSigner, tagPairingCode} {
		out[tag] = pin[tag]
	}
	for tag := uint32(0x5FC10D); tag <= 0x5FC120; tag++ {
		out[tag] = false
	}
	return out
}

func TestEveryObjectPutAndGet(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	must(t, c, selectPIV)
	mgmtAuth(t, c, alg3DES, defaultMgmtKey)
	for tag, needsPIN := range allObjects() {
		value := []byte(fmt.Sprintf("object %X", tag))
		absent := uint16(0x6A82)
		if needsPIN {
			absent = 0x6982 // access is checked before existence
		}
		expect(t, c, getData(tag), absent)
		must(t, c, putData(tag, value))
		want := tlv.Encode(0x53, value)
		if needsPIN {
			expect(t, c, getData(tag), 0x6982)
			continue
		}
		if got := must(t, c, getData(tag)); !bytes.Equal(got, want) {
			t.Errorf("%X: %X, want %X", tag, got, want)
		}
	}
	must(t, c, verifyPIN("123456"))
	for tag, needsPIN := range allObjects() {
		if needsPIN {
			must(t, c, getData(tag))
		}
		must(t, c, putData(tag, nil)) // an empty value deletes
		expect(t, c, getData(tag), 0x6A82)
	}

	// Discovery and BIT group template carry their own tags.
	disc := must(t, c, getData(tagDiscovery))
	must(t, c, apdu(0, insPutData, 0x3F, 0xFF, tlv.Encode(0x7F61, tlv.Encode(0x02, []byte{0x01}))))
	if got := must(t, c, getData(tagBITGroup)); !bytes.Equal(got, unhex(t, "7F6103020101")) {
		t.Errorf("BIT group %X", got)
	}
	body, _ := tlv.Unwrap(disc, 0x7E)
	must(t, c, apdu(0, insPutData, 0x3F, 0xFF, tlv.Encode(0x7E, body)))

	// The largest object a YubiKey takes, through chaining and GET RESPONSE.
	big := bytes.Repeat([]byte{0xA5}, maxObject)
	cmd := tlv.Append(tlv.Encode(0x5C, []byte{0x5F, 0xC1, 0x05}), 0x53, big)
	for len(cmd) > 255 {
		expect(t, c, append([]byte{0x10, insPutData, 0x3F, 0xFF, 0xFF}, cmd[:255]...), 0x9000)
		cmd = cmd[255:]
	}
	must(t, c, apdu(0, insPutData, 0x3F, 0xFF, cmd))
	if got := must(t, c, getData(tagPIVAuth)); !bytes.Equal(got, tlv.Encode(0x53, big)) {
		t.Errorf("large object came back as %d bytes", len(got))
	}
	expect(t, c, apdu(0, insPutData, 0x3F, 0xFF, tlv.Append(tlv.Encode(0x5C, []byte{0x5F, 0xC1, 0x05}), 0x53, append(big, 0))), 0x6A84)
}

func TestObjectErrors(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	must(t, c, selectPIV)
	mgmtAuth(t, c, alg3DES, defaultMgmtKey)
	for name, tc := range map[string]struct {
		cmd  []byte
		want uint16
	}{
		"GET P1P2":              {apdu(0, insGetData, 0x3F, 0xFE, unhex(t, "5C035FC105")), 0x6A86},
		"GET no tag list":       {apdu(0, insGetData, 0x3F, 0xFF, unhex(t, "53035FC105")), 0x6A80},
		"GET tag too long":      {apdu(0, insGetData, 0x3F, 0xFF, unhex(t, "5C045FC10501")), 0x6A80},
		"GET empty tag":         {apdu(0, insGetData, 0x3F, 0xFF, unhex(t, "5C00")), 0x6A80},
		"GET unknown tag":       {getData(0x5FC150), 0x6A82},
		"GET no data":           {apdu(0, insGetData, 0x3F, 0xFF, nil), 0x6A80},
		"PUT P1P2":              {apdu(0, insPutData, 0x3F, 0x00, unhex(t, "5C035FC105 5300")), 0x6A86},
		"PUT unknown tag":       {putData(0x5FC150, []byte{1}), 0x6A80},
		"PUT 53 for discovery":  {apdu(0, insPutData, 0x3F, 0xFF, unhex(t, "5C017E 5300")), 0x6A80},
		"PUT without 53":        {apdu(0, insPutData, 0x3F, 0xFF, unhex(t, "5C035FC105")), 0x6A80},
		"PUT trailing garbage":  {apdu(0, insPutData, 0x3F, 0xFF, unhex(t, "5C035FC105 5300 00")), 0x6A80},
		"PUT bad length":        {apdu(0, insPutData, 0x3F, 0xFF, unhex(t, "5C035FC105 5305 00")), 0x6A80},
		"PUT yubico on GET tag": {putData(tagAdminData, []byte{0x80, 0x00}), 0x9000},
	} {
		t.Run(name, func(t *testing.T) { expect(t, c, tc.cmd, tc.want) })
	}
	p, _ := newCard(t, ProfilePIV)
	must(t, p, selectPIV)
	expect(t, p, getData(tagAdminData), 0x6A82)
	expect(t, p, getData(tagPrinted), 0x6982)
	must(t, p, verifyPIN("123456"))
	must(t, p, getData(tagPrinted))
	for _, tag := range []uint32{tagCCC, tagKeyHistory, tagDiscovery} {
		must(t, p, getData(tag))
	}
}
