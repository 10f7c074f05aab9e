package vcard

import (
	"bytes"
	"fmt"

	"github.com/pivauth/pivauth/internal/tlv"
)

// managementAID is Yubico's management application, which the yubikey
// profile knows only far enough to select it (leaving PIV, as
// yubico-piv-tool does to drop the management-key authentication) and read
// the device information.
var managementAID = []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17}

// pivAID is the full AID of the PIV card application (SP 800-73-4 2.2).
var pivAID = []byte{0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00}

// otherApps are the applications beside PIV that each profile carries, so
// that another program selecting one of them takes the card away from PIV
// the way it does on a real card: a YubiKey's OTP and OpenPGP applications,
// a government card's CAC applets.
var otherApps = map[Profile][][]byte{
	ProfileYubiKey: {
		{0xA0, 0x00, 0x00, 0x05, 0x27, 0x20, 0x01, 0x01}, // Yubico OTP
		{0xD2, 0x76, 0x00, 0x01, 0x24, 0x01},             // OpenPGP
	},
	ProfilePIV: {
		{0xA0, 0x00, 0x00, 0x00, 0x79, 0x01, 0x00}, // CAC PKI certificate applet
		{0xA0, 0x00, 0x00, 0x00, 0x79, 0x03, 0x00}, // CAC access control applet
	},
}

// Data object tags.
const (
	tagDiscovery   = 0x7E
	tagBITGroup    = 0x7F61
	tagCardAuth    = 0x5FC101
	tagCHUID       = 0x5FC102
	tagFingerprint = 0x5FC103
	tagPIVAuth     = 0x5FC105
	tagSecurityObj = 0x5FC106
	tagCCC         = 0x5FC107
	tagFacialImage = 0x5FC108
	tagPrinted     = 0x5FC109
	tagSignature   = 0x5FC10A
	tagKeyMgmt     = 0x5FC10B
	tagKeyHistory  = 0x5FC10C
	tagIris        = 0x5FC121
	tagSMSigner    = 0x5FC122
	tagPairingCode = 0x5FC123
	tagAdminData   = 0x5FFF00 // Yubico: PUK blocked / management key stored flags
	tagAttestCert  = 0x5FFF01 // Yubico: certificate of the F9 attestation key
)

// objectAccess is the read rule of a data object (SP 800-73-4 table 3).
type objectAccess int

const (
	readAlways objectAccess = iota
	readPIN
)

// objectRead returns the read rule of a data object tag and whether the
// profile knows the tag at all.
func (c *Card) objectRead(tag uint32) (objectAccess, bool) {
	switch tag {
	case tagDiscovery, tagBITGroup, tagCardAuth, tagCHUID, tagPIVAuth, tagSecurityObj,
		tagCCC, tagSignature, tagKeyMgmt, tagKeyHistory, tagSMSigner:
		return readAlways, true
	case tagFingerprint, tagFacialImage, tagPrinted, tagIris, tagPairingCode:
		return readPIN, true
	}
	if tag >= 0x5FC10D && tag <= 0x5FC120 { // retired key management certificates
		return readAlways, true
	}
	// A YubiKey stores any object in its proprietary 5FFFxx range too
	// (admin data, attestation certificate, Microsoft minidriver maps).
	if c.st.Profile == ProfileYubiKey && tag >= tagAdminData && tag <= 0x5FFF15 {
		return readAlways, true
	}
	return 0, false
}

// certObject maps a key slot to the data object holding its certificate.
func certObject(ref byte) uint32 {
	switch ref {
	case keyAuthentication:
		return tagPIVAuth
	case keySignature:
		return tagSignature
	case keyKeyManagement:
		return tagKeyMgmt
	case keyCardAuthentication:
		return tagCardAuth
	case keyAttestation:
		return tagAttestCert
	}
	return 0x5FC10D + uint32(ref-0x82) // retired 82..95
}

func objectName(tag uint32) string { return fmt.Sprintf("%x", tag) }

// wrapperTag is the tag GET DATA answers with: the discovery object and the
// BIT group template are their own tags, everything else is wrapped in 53.
func wrapperTag(tag uint32) uint32 {
	if tag == tagDiscovery || tag == tagBITGroup {
		return tag
	}
	return 0x53
}

// maxObject is the largest object value a YubiKey stores (5.x firmware).
const maxObject = 3052

// cmdSelect is SELECT (00 A4 04 00|0C, the PIV AID or a right-truncated
// version of it no shorter than the 5-byte RID), answering with the
// application property template.
func (c *Card) cmdSelect(cmd command) ([]byte, int) {
	if status, ok := c.selectNotRecognised(cmd); ok {
		return nil, status
	}
	if cmd.p1 != 0x04 || cmd.p2 != 0x00 && cmd.p2 != 0x0C {
		return nil, swIncorrectP1P2
	}
	// A Java Card applet with Yubico's PIV extensions (quirk
	// yubico-compatible) has no Yubico management application beside it.
	if c.st.Profile == ProfileYubiKey && !c.has(QuirkYubicoCompatible) && bytes.Equal(cmd.data, managementAID) {
		c.vol = volatile{app: appManagement, lastTouch: c.vol.lastTouch}
		if cmd.p2 == 0x0C {
			return nil, swOK
		}
		return []byte(fmt.Sprintf("Firmware version %d.%d.%d", firmware[0], firmware[1], firmware[2])), swOK
	}
	for _, aid := range otherApps[c.st.Profile] {
		if len(cmd.data) >= 5 && bytes.HasPrefix(aid, cmd.data) {
			// Another application: the PIV application and all its
			// security status are gone.
			c.vol = volatile{app: appOther, lastTouch: c.vol.lastTouch}
			return nil, swOK
		}
	}
	if len(cmd.data) < 5 || !bytes.HasPrefix(pivAID, cmd.data) {
		// ISO 7816-4 5.3.1: a SELECT that finds nothing leaves the current
		// application, and its security status, as they were.
		return nil, swNotFound
	}
	// SP 800-73-4 keeps the security status when the PIV application is
	// selected again; a YubiKey resets it (yubico-piv-tool relies on that to
	// read the PIN tries, OpenSC knows it as CI_PIV_AID_LOSE_STATE).
	// QuirkStatusAcrossSelect makes a YubiKey-like card keep it too, as a
	// Java Card applet does (a re-selected applet is not deselected, so its
	// CLEAR_ON_DESELECT state survives: PivApplet).
	resets := c.st.Profile == ProfileYubiKey && !c.has(QuirkStatusAcrossSelect)
	if c.vol.app != appPIV || resets {
		c.vol = volatile{app: appPIV, lastTouch: c.vol.lastTouch}
	}
	if cmd.p2 == 0x0C {
		return nil, swOK
	}
	return c.applicationProperties(), swOK
}

// applicationProperties is the APT of SP 800-73-4 3.1.1.
func (c *Card) applicationProperties() []byte {
	apt := tlv.Encode(0x4F, pivAID[5:])
	apt = tlv.Append(apt, 0x79, tlv.Encode(0x4F, pivAID[:5]))
	if c.st.Profile == ProfilePIV {
		apt = tlv.Append(apt, 0x50, []byte("pivauth bench PIV"))
		var algs []byte
		for _, a := range []byte{algRSA2048, algECCP256, algECCP384, algAES128} {
			algs = tlv.Append(algs, 0x80, []byte{a})
		}
		algs = tlv.Append(algs, 0x06, []byte{0x00})
		apt = tlv.Append(apt, 0xAC, algs)
	}
	return tlv.Encode(0x61, apt)
}

// objectTag decodes the tag list of GET/PUT DATA (5C len tag).
func objectTag(b []byte) (uint32, bool) {
	if len(b) < 1 || len(b) > 3 {
		return 0, false
	}
	var tag uint32
	for _, x := range b {
		tag = tag<<8 | uint32(x)
	}
	return tag, true
}

// cmdGetData is GET DATA (00 CB 3F FF, 5C len tag).
func (c *Card) cmdGetData(cmd command) ([]byte, int) {
	if cmd.p1 != 0x3F || cmd.p2 != 0xFF {
		return nil, swIncorrectP1P2
	}
	list, err := tlv.Unwrap(cmd.data, 0x5C)
	if err != nil {
		return nil, swIncorrectData
	}
	tag, ok := objectTag(list)
	if !ok {
		return nil, swIncorrectData
	}
	access, known := c.objectRead(tag)
	if !known {
		return nil, swNotFound
	}
	if access == readPIN && !c.vol.pinVerified {
		return nil, swSecurityStatus
	}
	value, ok := c.st.Objects[objectName(tag)]
	if !ok {
		return nil, swNotFound
	}
	return tlv.Encode(wrapperTag(tag), value), swOK
}

// cmdPutData is PUT DATA (00 DB 3F FF, 5C len tag 53 len value; or the whole
// 7E / 7F61 element): needs the management key. An empty value deletes the
// object.
func (c *Card) cmdPutData(cmd command) ([]byte, int) {
	if cmd.p1 != 0x3F || cmd.p2 != 0xFF {
		return nil, swIncorrectP1P2
	}
	if !c.vol.mgmtAuth {
		return nil, swSecurityStatus
	}
	elems, err := tlv.Parse(cmd.data)
	if err != nil || len(elems) == 0 || len(elems) > 2 {
		return nil, swIncorrectData
	}
	var tag uint32
	var value []byte
	switch {
	case len(elems) == 1 && (elems[0].Tag == tagDiscovery || elems[0].Tag == tagBITGroup):
		tag, value = elems[0].Tag, elems[0].Value
	case len(elems) == 2 && elems[0].Tag == 0x5C && elems[1].Tag == 0x53:
		var ok bool
		if tag, ok = objectTag(elems[0].Value); !ok || wrapperTag(tag) != 0x53 {
			return nil, swIncorrectData
		}
		value = elems[1].Value
	default:
		return nil, swIncorrectData
	}
	if _, known := c.objectRead(tag); !known {
		return nil, swIncorrectData
	}
	if len(value) > maxObject {
		return nil, swNotEnoughMemory
	}
	if len(value) == 0 {
		delete(c.st.Objects, objectName(tag))
	} else {
		c.st.Objects[objectName(tag)] = bytes.Clone(value)
	}
	return nil, c.commit()
}
