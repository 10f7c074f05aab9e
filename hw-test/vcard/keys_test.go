package vcard

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"math/big"
	"testing"
	"time"

	"github.com/pivauth/pivauth/internal/tlv"
)

// generate runs GENERATE ASYMMETRIC KEY PAIR and decodes the public key the
// card returns.
func generate(t testing.TB, c *Card, slot, alg byte, policies ...byte) crypto.PublicKey {
	t.Helper()
	tmpl := tlv.Encode(0x80, []byte{alg})
	if len(policies) == 2 {
		tmpl = tlv.Append(tmpl, 0xAA, policies[:1])
		tmpl = tlv.Append(tmpl, 0xAB, policies[1:])
	}
	resp := must(t, c, apdu(0, insGenerate, 0, slot, tlv.Encode(0xAC, tmpl)))
	return decodePublic(t, alg, resp)
}

// decodePublic decodes a 7F49 public key template.
func decodePublic(t testing.TB, alg byte, resp []byte) crypto.PublicKey {
	t.Helper()
	body, err := tlv.Unwrap(resp, 0x7F49)
	if err != nil {
		t.Fatalf("public key %x: %v", resp, err)
	}
	if _, ok := rsaBits[alg]; ok {
		n, _, _ := tlv.Find(body, 0x81)
		e, _, _ := tlv.Find(body, 0x82)
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	point, ok, err := tlv.Find(body, 0x86)
	if err != nil || !ok {
		t.Fatalf("public key %x has no point", resp)
	}
	switch alg {
	case algECCP256, algECCP384:
		curve := ecdh.P256()
		if alg == algECCP384 {
			curve = ecdh.P384()
		}
		k, err := curve.NewPublicKey(point)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(map[byte]elliptic.Curve{algECCP256: elliptic.P256(), algECCP384: elliptic.P384()}[alg], k.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		return pub
	case algEd25519:
		return ed25519.PublicKey(point)
	case algX25519:
		k, err := ecdh.X25519().NewPublicKey(point)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	t.Fatalf("algorithm %02X", alg)
	return nil
}

// authenticate runs GENERAL AUTHENTICATE on a key slot with 81 (sign) or 85
// (ECDH) and returns the content of the 82 response.
func authenticate(t testing.TB, c *Card, alg, slot byte, tag uint32, in []byte) []byte {
	t.Helper()
	resp := must(t, c, apdu(0, insAuthenticate, alg, slot, tlv.Encode(0x7C, tlv.Append([]byte{0x82, 0x00}, tag, in))))
	return gaResult(t, resp)
}

func gaResult(t testing.TB, resp []byte) []byte {
	t.Helper()
	body, err := tlv.Unwrap(resp, 0x7C)
	if err != nil {
		t.Fatalf("GA response %x: %v", resp, err)
	}
	out, err := tlv.Unwrap(body, 0x82)
	if err != nil {
		t.Fatalf("GA response %x: %v", resp, err)
	}
	return out
}

// pkcs1 pads a SHA-256 digest for an RSA PKCS#1 v1.5 signature of size bytes.
func pkcs1(digest []byte, size int) []byte {
	prefix := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	t := append(prefix, digest...)
	em := append([]byte{0x00, 0x01}, bytes.Repeat([]byte{0xFF}, size-3-len(t))...)
	return append(append(em, 0x00), t...)
}

func TestGenerateAndSign(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	must(t, c, selectPIV)
	mgmtAuth(t, c, alg3DES, defaultMgmtKey)
	msg := []byte("pivauth signs this")
	digest := sha256.Sum256(msg)

	for _, tc := range []struct {
		name string
		alg  byte
		slot byte
	}{{"P-256", algECCP256, 0x9A}, {"P-384", algECCP384, 0x82}, {"Ed25519", algEd25519, 0x9E}} {
		t.Run(tc.name, func(t *testing.T) {
			pub := generate(t, c, tc.slot, tc.alg)
			must(t, c, apdu(0, insVerify, 0xFF, refPIN, nil)) // forget the PIN of the previous case
			if tc.slot != 0x9E {                              // 9E defaults to PIN policy never
				expect(t, c, apdu(0, insAuthenticate, tc.alg, tc.slot, tlv.Encode(0x7C, tlv.Append([]byte{0x82, 0x00}, 0x81, digest[:]))), 0x6982)
				must(t, c, verifyPIN("123456"))
			}
			switch k := pub.(type) {
			case *ecdsa.PublicKey:
				in := digest[:]
				if tc.alg == algECCP384 {
					d := sha512.Sum384(msg)
					in = d[:]
				}
				sig := authenticate(t, c, tc.alg, tc.slot, 0x81, in)
				if !ecdsa.VerifyASN1(k, in, sig) {
					t.Fatal("ECDSA signature does not verify")
				}
			case ed25519.PublicKey:
				sig := authenticate(t, c, tc.alg, tc.slot, 0x81, msg)
				if !ed25519.Verify(k, msg, sig) {
					t.Fatal("Ed25519 signature does not verify")
				}
			}
		})
	}
}

func TestRSAChainingAndGetResponse(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	must(t, c, selectPIV)
	mgmtAuth(t, c, alg3DES, defaultMgmtKey)
	pub := generate(t, c, 0x9A, algRSA2048).(*rsa.PublicKey)
	if pub.N.BitLen() != 2048 || pub.E != 65537 {
		t.Fatalf("RSA public key %d bits, e=%d", pub.N.BitLen(), pub.E)
	}
	must(t, c, verifyPIN("123456"))
	digest := sha256.Sum256([]byte("chained"))
	body := tlv.Encode(0x7C, tlv.Append([]byte{0x82, 0x00}, 0x81, pkcs1(digest[:], 256)))
	// 264 bytes of command data: two parts, as piv-go and yubico-piv-tool chain.
	first := append([]byte{0x10, insAuthenticate, algRSA2048, 0x9A, 0xFF}, body[:255]...)
	if r := c.Transmit(first); !bytes.Equal(r, []byte{0x90, 0x00}) {
		t.Fatalf("first chained part: %X", r)
	}
	last := apdu(0, insAuthenticate, algRSA2048, 0x9A, body[255:])
	r := c.Transmit(last)
	// 7C 82 01 04 82 82 01 00 + 256: 264 bytes, 256 now and 8 later.
	if len(r) != 258 || r[256] != 0x61 || r[257] != 0x08 {
		t.Fatalf("response %d bytes ending %X, want 256 + 6108", len(r), r[len(r)-2:])
	}
	rest := c.Transmit([]byte{0x00, 0xC0, 0x00, 0x00, 0x00})
	if len(rest) != 10 || rest[8] != 0x90 {
		t.Fatalf("GET RESPONSE %X", rest)
	}
	sig := gaResult(t, append(r[:256], rest[:8]...))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		t.Fatal(err)
	}
	// The same operation as one extended APDU answers in one piece.
	ext := append(apdu(0, insAuthenticate, algRSA2048, 0x9A, body), 0x00, 0x00)
	r = c.Transmit(ext)
	if len(r) != 266 || !bytes.Equal(r[264:], []byte{0x90, 0x00}) {
		t.Fatalf("extended response %d bytes ending %X", len(r), r[len(r)-2:])
	}
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], gaResult(t, r[:264])); err != nil {
		t.Fatal(err)
	}
	// Decryption is the same raw operation.
	secret := []byte("session key")
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, secret)
	if err != nil {
		t.Fatal(err)
	}
	pt := authenticate(t, c, algRSA2048, 0x9A, 0x81, ct)
	if !bytes.HasSuffix(pt, append([]byte{0}, secret...)) || pt[0] != 0 || pt[1] != 2 {
		t.Fatalf("decrypted block %x", pt)
	}
}

func TestStatePersists(t *testing.T) {
	c, path := newCard(t, ProfileYubiKey)
	must(t, c, selectPIV)
	mgmtAuth(t, c, alg3DES, defaultMgmtKey)
	pub := generate(t, c, 0x9C, algECCP256, pinNever, touchNever).(*ecdsa.PublicKey)
	expect(t, c, verifyPIN("000000"), 0x63C2)

	ca, _ := benchCA(t)
	again, err := OpenWithCA(path, ProfileYubiKey, ca)
	if err != nil {
		t.Fatal(err)
	}
	must(t, again, selectPIV)
	expect(t, again, apdu(0, insVerify, 0, refPIN, nil), 0x63C2)
	digest := sha256.Sum256([]byte("after restart"))
	sig := authenticate(t, again, algECCP256, 0x9C, 0x81, digest[:])
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		t.Fatal("key did not survive reopening")
	}
	if _, err := OpenWithCA(path, ProfilePIV, ca); err == nil {
		t.Fatal("opening a yubikey state as piv card succeeded")
	}
}

func TestGenerateRSASizes(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	must(t, c, selectPIV)
	mgmtAuth(t, c, alg3DES, defaultMgmtKey)
	must(t, c, verifyPIN("123456"))
	digest := sha256.Sum256([]byte("sizes"))
	// 2048 is covered by TestRSAChainingAndGetResponse; 4096 costs seconds,
	// so it is generated here once.
	for alg, bits := range map[byte]int{algRSA1024: 1024, algRSA3072: 3072, algRSA4096: 4096} {
		pub := generate(t, c, 0x9D, alg, pinOnce, touchNever).(*rsa.PublicKey)
		if pub.N.BitLen() != bits {
			t.Fatalf("alg %02X: %d-bit key", alg, pub.N.BitLen())
		}
		// Through GET RESPONSE for the larger ones, as a short APDU.
		sig := authenticate(t, c, alg, 0x9D, 0x81, pkcs1(digest[:], bits/8))
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			t.Fatalf("alg %02X: %v", alg, err)
		}
		// The block must be exactly the modulus size and below the modulus.
		expect(t, c, apdu(0, insAuthenticate, alg, 0x9D, tlv.Encode(0x7C, tlv.Append([]byte{0x82, 0x00}, 0x81, digest[:]))), 0x6A80)
		expect(t, c, apdu(0, insAuthenticate, alg, 0x9D, tlv.Encode(0x7C, tlv.Append([]byte{0x82, 0x00}, 0x81, bytes.Repeat([]byte{0xFF}, bits/8)))), 0x6A80)
	}
}

func TestECDH(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	must(t, c, selectPIV)
	mgmtAuth(t, c, alg3DES, defaultMgmtKey)
	for _, tc := range []struct {
		alg   byte
		curve ecdh.Curve
	}{{algECCP256, ecdh.P256()}, {algECCP384, ecdh.P384()}, {algX25519, ecdh.X25519()}} {
		pub := generate(t, c, 0x9D, tc.alg, pinNever, touchNever)
		var cardPub *ecdh.PublicKey
		switch k := pub.(type) {
		case *ecdsa.PublicKey:
			var err error
			if cardPub, err = k.ECDH(); err != nil {
				t.Fatal(err)
			}
		case *ecdh.PublicKey:
			cardPub = k
		}
		peer, err := tc.curve.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		want, err := peer.ECDH(cardPub)
		if err != nil {
			t.Fatal(err)
		}
		got := authenticate(t, c, tc.alg, 0x9D, 0x85, peer.PublicKey().Bytes())
		if !bytes.Equal(got, want) {
			t.Errorf("alg %02X: shared secret %X, want %X", tc.alg, got, want)
		}
		// A point not on the curve, and signing with an agreement-only key.
		bad := bytes.Clone(peer.PublicKey().Bytes())
		bad[len(bad)-1] ^= 1
		if tc.alg != algX25519 {
			expect(t, c, apdu(0, insAuthenticate, tc.alg, 0x9D, tlv.Encode(0x7C, tlv.Append([]byte{0x82, 0x00}, 0x85, bad))), 0x6A80)
		}
	}
	expect(t, c, apdu(0, insAuthenticate, algX25519, 0x9D, tlv.Encode(0x7C, tlv.Append([]byte{0x82, 0x00}, 0x81, make([]byte, 32)))), 0x6A80)
	if got := c.Stats().Signatures; got != 3 {
		t.Errorf("Signatures = %d, want 3 completed agreements", got)
	}
}

func TestPINAlwaysAndTouch(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	must(t, c, selectPIV)
	mgmtAuth(t, c, alg3DES, defaultMgmtKey)
	generate(t, c, 0x9A, algEd25519, pinAlways, touchAlways)
	sign := apdu(0, insAuthenticate, algEd25519, 0x9A, tlv.Encode(0x7C, tlv.Append([]byte{0x82, 0x00}, 0x81, []byte("m"))))
	expect(t, c, sign, 0x6982)
	must(t, c, verifyPIN("123456"))
	const delay = 30 * time.Millisecond
	c.SetTouchDelay(delay)
	start := time.Now()
	must(t, c, sign)
	if waited := time.Since(start); waited < delay {
		t.Errorf("signing with touch policy always took %v, less than the touch delay", waited)
	}
	expect(t, c, sign, 0x6982)
	// VERIFY P1=FF drops the PIN, the always-grant with it.
	must(t, c, verifyPIN("123456"))
	must(t, c, apdu(0, insVerify, 0xFF, refPIN, nil))
	expect(t, c, sign, 0x6982)
}

func TestGeneralAuthenticateErrors(t *testing.T) {
	c, _ := newCard(t, ProfileYubiKey)
	must(t, c, selectPIV)
	mgmtAuth(t, c, alg3DES, defaultMgmtKey)
	digest := sha256.Sum256([]byte("errors"))
	body := tlv.Encode(0x7C, tlv.Append([]byte{0x82, 0x00}, 0x81, digest[:]))
	expect(t, c, apdu(0, insAuthenticate, algECCP256, 0x9A, body), 0x6A88) // empty slot
	generate(t, c, 0x9A, algECCP256, pinNever, touchNever)
	for name, tc := range map[string]struct {
		cmd  []byte
		want uint16
	}{
		"wrong algorithm":   {apdu(0, insAuthenticate, algECCP384, 0x9A, body), 0x6A86},
		"attestation slot":  {apdu(0, insAuthenticate, algECCP256, keyAttestation, body), 0x6A86},
		"not a slot":        {apdu(0, insAuthenticate, algECCP256, 0x42, body), 0x6A86},
		"no template":       {apdu(0, insAuthenticate, algECCP256, 0x9A, digest[:]), 0x6A80},
		"no response tag":   {apdu(0, insAuthenticate, algECCP256, 0x9A, tlv.Encode(0x7C, tlv.Encode(0x81, digest[:]))), 0x6A80},
		"digest too long":   {apdu(0, insAuthenticate, algECCP256, 0x9A, tlv.Encode(0x7C, tlv.Append([]byte{0x82, 0x00}, 0x81, make([]byte, 33)))), 0x6A80},
		"empty digest":      {apdu(0, insAuthenticate, algECCP256, 0x9A, tlv.Encode(0x7C, tlv.Append([]byte{0x82, 0x00}, 0x81, nil))), 0x6A80},
		"both 81 and 85":    {apdu(0, insAuthenticate, algECCP256, 0x9A, tlv.Encode(0x7C, tlv.Append(tlv.Append([]byte{0x82, 0x00}, 0x81, digest[:]), 0x85, digest[:]))), 0x6A80},
		"truncated TLV":     {apdu(0, insAuthenticate, algECCP256, 0x9A, body[:len(body)-1]), 0x6A80},
		"generate P1":       {apdu(0, insGenerate, 1, 0x9A, unhex(t, "AC03800111")), 0x6A86},
		"generate alg":      {apdu(0, insGenerate, 0, 0x9A, unhex(t, "AC03800142")), 0x6A80},
		"generate policy":   {apdu(0, insGenerate, 0, 0x9A, unhex(t, "AC06800111AA0109")), 0x6A80},
		"generate template": {apdu(0, insGenerate, 0, 0x9A, unhex(t, "AB03800111")), 0x6A80},
		"generate in F9":    {apdu(0, insGenerate, 0, keyAttestation, unhex(t, "AC03800111")), 0x6A86},
	} {
		t.Run(name, func(t *testing.T) { expect(t, c, tc.cmd, tc.want) })
	}
	if got := c.Stats().Signatures; got != 0 {
		t.Errorf("Signatures = %d after failed operations only", got)
	}
}
