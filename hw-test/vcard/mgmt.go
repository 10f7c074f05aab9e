package vcard

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"

	"github.com/pivauth/pivauth/internal/tlv"
)

// Management key algorithms (SP 800-78-4 table 6-1).
const (
	alg3DES   = 0x03
	algAES128 = 0x08
	algAES192 = 0x0A
	algAES256 = 0x0C
)

// mgmtAlgorithm describes one symmetric management key type.
type mgmtAlgorithm struct {
	keyLen int
	cipher func(key []byte) (cipher.Block, error)
}

var mgmtAlgorithms = map[byte]mgmtAlgorithm{
	alg3DES:   {24, des.NewTripleDESCipher},
	algAES128: {16, aes.NewCipher},
	algAES192: {24, aes.NewCipher},
	algAES256: {32, aes.NewCipher},
}

// defaultMgmtKey is the factory management key of a YubiKey.
var defaultMgmtKey = []byte{
	1, 2, 3, 4, 5, 6, 7, 8,
	1, 2, 3, 4, 5, 6, 7, 8,
	1, 2, 3, 4, 5, 6, 7, 8,
}

// mgmtChallenge is the card's half of a management-key authentication, valid
// for the next command only.
type mgmtChallenge struct {
	tag   uint32 // 0x80: witness (mutual auth), 0x81: challenge (external auth)
	value []byte // plaintext witness or challenge
}

// mgmtAuthenticate is GENERAL AUTHENTICATE with the card management key 9B.
// The card supports both flows of SP 800-73-4 appendix A:
//
//	mutual:   7C{80 00} -> 7C{80 E(W)};  7C{80 W, 81 C} -> 7C{82 E(C)}
//	external: 7C{81 00} -> 7C{81 C};     7C{82 E(C)}    -> 9000
//
// Any failure clears the management-key security status.
func (c *Card) mgmtAuthenticate(alg byte, tmpl []byte) ([]byte, int) {
	c.vol.mgmtAuth = false
	if alg != c.st.MgmtAlg {
		return nil, swIncorrectP1P2
	}
	elems, ok := uniqueTLVs(tmpl)
	if !ok {
		return nil, swIncorrectData
	}
	block, err := mgmtAlgorithms[alg].cipher(c.st.MgmtKey)
	if err != nil {
		return nil, swNoPreciseDiagnostic
	}
	bs := block.BlockSize()
	witness, hasWitness := elems[0x80]
	challenge, hasChallenge := elems[0x81]
	response, hasResponse := elems[0x82]
	pending := c.vol.cur.challenge
	switch {
	case len(elems) == 1 && hasWitness && len(witness) == 0,
		len(elems) == 1 && hasChallenge && len(challenge) == 0:
		tag := uint32(0x80)
		if hasChallenge {
			tag = 0x81
		}
		value := make([]byte, bs)
		if _, err := rand.Read(value); err != nil {
			return nil, swNoPreciseDiagnostic
		}
		c.vol.challenge = &mgmtChallenge{tag: tag, value: value}
		out := value
		if tag == 0x80 {
			out = make([]byte, bs)
			block.Encrypt(out, value)
		}
		return tlv.Encode(0x7C, tlv.Encode(tag, out)), swOK

	case hasWitness && !hasResponse && len(elems) <= 2:
		if pending == nil || pending.tag != 0x80 || len(witness) != bs || hasChallenge && len(challenge) != bs {
			return nil, swIncorrectData
		}
		if !equalSecret(witness, pending.value) {
			return nil, swSecurityStatus
		}
		c.mgmtAuthenticated()
		if !hasChallenge {
			return nil, swOK
		}
		out := make([]byte, bs)
		block.Encrypt(out, challenge)
		return tlv.Encode(0x7C, tlv.Encode(0x82, out)), swOK

	case hasResponse && len(elems) == 1:
		if pending == nil || pending.tag != 0x81 || len(response) != bs {
			return nil, swIncorrectData
		}
		want := make([]byte, bs)
		block.Encrypt(want, pending.value)
		if !equalSecret(response, want) {
			return nil, swSecurityStatus
		}
		c.mgmtAuthenticated()
		return nil, swOK
	}
	return nil, swIncorrectData
}

// mgmtAuthenticated sets the management-key security status, after the touch
// a touch-protected management key wants.
func (c *Card) mgmtAuthenticated() {
	if c.st.MgmtTouch {
		c.touch(touchAlways)
	}
	c.vol.mgmtAuth = true
}

// cmdSetMgmtKey is Yubico's SET MANAGEMENT KEY (00 FF FF FF|FE,
// alg 9B len key): FE also requires touch for every authentication.
func (c *Card) cmdSetMgmtKey(cmd command) ([]byte, int) {
	if cmd.p1 != 0xFF || cmd.p2 != 0xFF && cmd.p2 != 0xFE {
		return nil, swIncorrectP1P2
	}
	if !c.vol.mgmtAuth {
		return nil, swSecurityStatus
	}
	d := cmd.data
	if len(d) < 3 || d[1] != keyCardManagement || int(d[2]) != len(d)-3 {
		return nil, swIncorrectData
	}
	a, ok := mgmtAlgorithms[d[0]]
	if !ok || a.keyLen != len(d)-3 {
		return nil, swIncorrectData
	}
	c.st.MgmtAlg = d[0]
	c.st.MgmtKey = bytes.Clone(d[3:])
	c.st.MgmtTouch = cmd.p2 == 0xFE
	return nil, c.commit()
}
