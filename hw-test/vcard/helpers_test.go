package vcard

import (
	"bytes"
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pivauth/pivauth/internal/tlv"
)

// testCA is one bench CA for the whole test binary, so fresh cards are cheap.
var (
	testCAOnce sync.Once
	testCADir  string
	testCA     *CA
	testCAErr  error

	// factoryStates caches one factory-fresh state file per profile: a piv
	// card costs an RSA-2048 key generation, tests copy the file instead.
	factoryMu     sync.Mutex
	factoryStates = map[Profile][]byte{}
)

func benchCA(t testing.TB) (*CA, string) {
	t.Helper()
	testCAOnce.Do(func() {
		testCADir, testCAErr = os.MkdirTemp("", "vcard-ca")
		if testCAErr == nil {
			testCA, testCAErr = BenchCA(testCADir)
		}
	})
	if testCAErr != nil {
		t.Fatal(testCAErr)
	}
	return testCA, testCADir
}

// newCard opens a factory-fresh card of the profile in a temporary file.
func newCard(t testing.TB, profile Profile) (*Card, string) {
	t.Helper()
	ca, _ := benchCA(t)
	path := filepath.Join(t.TempDir(), "card.json")
	factoryMu.Lock()
	state, ok := factoryStates[profile]
	if !ok {
		c, err := OpenWithCA(path, profile, ca)
		if err != nil {
			factoryMu.Unlock()
			t.Fatal(err)
		}
		state = c.saved
		factoryStates[profile] = state
	}
	factoryMu.Unlock()
	if err := os.WriteFile(path, state, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := OpenWithCA(path, profile, ca)
	if err != nil {
		t.Fatal(err)
	}
	return c, path
}

// apdu builds a short or (when the data needs it or ext is set) extended
// command APDU without Le.
func apdu(cla, ins, p1, p2 byte, data []byte) []byte {
	b := []byte{cla, ins, p1, p2}
	switch {
	case len(data) == 0:
	case len(data) <= 255:
		b = append(b, byte(len(data)))
	default:
		b = append(b, 0, byte(len(data)>>8), byte(len(data)))
	}
	return append(b, data...)
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// send transmits one APDU and returns its data and status word, following
// 61xx with GET RESPONSE as a terminal does.
func send(t testing.TB, c *Card, cmd []byte) ([]byte, uint16) {
	t.Helper()
	var data []byte
	resp := c.Transmit(cmd)
	for {
		if len(resp) < 2 {
			t.Fatalf("response %x shorter than a status word", resp)
		}
		data = append(data, resp[:len(resp)-2]...)
		status := uint16(resp[len(resp)-2])<<8 | uint16(resp[len(resp)-1])
		if status>>8 != 0x61 {
			return data, status
		}
		resp = c.Transmit([]byte{0x00, 0xC0, 0x00, 0x00, 0x00})
	}
}

// must sends an APDU that has to succeed.
func must(t testing.TB, c *Card, cmd []byte) []byte {
	t.Helper()
	data, status := send(t, c, cmd)
	if status != 0x9000 {
		t.Fatalf("APDU %x: status %04X", cmd, status)
	}
	return data
}

// expect sends an APDU and checks its status word.
func expect(t testing.TB, c *Card, cmd []byte, want uint16) []byte {
	t.Helper()
	data, status := send(t, c, cmd)
	if status != want {
		t.Fatalf("APDU %x: status %04X, want %04X", cmd, status, want)
	}
	return data
}

var selectPIV = []byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}

func verifyPIN(pin string) []byte { return apdu(0, insVerify, 0, refPIN, padPIN(pin)) }

// mgmtAuth authenticates with a 3DES or AES management key the way piv-go
// and yubico-piv-tool do (mutual authentication) and checks the card's
// answer to our challenge.
func mgmtAuth(t testing.TB, c *Card, alg byte, key []byte) {
	t.Helper()
	var block cipher.Block
	var err error
	if alg == alg3DES {
		block, err = des.NewTripleDESCipher(key)
	} else {
		block, err = mgmtAlgorithms[alg].cipher(key)
	}
	if err != nil {
		t.Fatal(err)
	}
	bs := block.BlockSize()
	resp := must(t, c, apdu(0, insAuthenticate, alg, keyCardManagement, []byte{0x7C, 0x02, 0x80, 0x00}))
	enc, err := tlv.Unwrap(resp, 0x7C)
	if err != nil {
		t.Fatal(err)
	}
	enc, err = tlv.Unwrap(enc, 0x80)
	if err != nil || len(enc) != bs {
		t.Fatalf("witness %x: %v", resp, err)
	}
	witness := make([]byte, bs)
	block.Decrypt(witness, enc)
	challenge := make([]byte, bs)
	rand.Read(challenge)
	body := tlv.Append(tlv.Encode(0x80, witness), 0x81, challenge)
	resp = must(t, c, apdu(0, insAuthenticate, alg, keyCardManagement, tlv.Encode(0x7C, body)))
	want := make([]byte, bs)
	block.Encrypt(want, challenge)
	if !bytes.Equal(resp, tlv.Encode(0x7C, tlv.Encode(0x82, want))) {
		t.Fatalf("card's response to our challenge %x, want 7C{82 %x}", resp, want)
	}
}
