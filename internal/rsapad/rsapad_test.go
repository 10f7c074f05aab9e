package rsapad

import (
	"bytes"
	"crypto"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1"
	"crypto/sha256"
	_ "crypto/sha3"
	_ "crypto/sha512"
	"errors"
	"math/big"
	"sync"
	"testing"
)

var (
	keysOnce sync.Once
	keys     []*rsa.PrivateKey
)

// testKeys returns software keys of the sizes PIV cards hold that test in
// reasonable time, plus one whose modulus is not a multiple of 8 bits (PSS
// then has emLen < k), generated once per test binary.
func testKeys(t testing.TB) []*rsa.PrivateKey {
	keysOnce.Do(func() {
		for _, bits := range []int{1024, 2048, 2049} {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k)
		}
	})
	return keys
}

// rawPrivate is the operation a PIV card performs in GENERAL AUTHENTICATE:
// m^d mod n, left-padded to k bytes, no padding of its own.
func rawPrivate(k *rsa.PrivateKey, in []byte) []byte {
	m := new(big.Int).SetBytes(in)
	c := new(big.Int).Exp(m, k.D, k.N)
	return c.FillBytes(make([]byte, k.Size()))
}

// everyHash is every hash crypto/rsa signs PKCS #1 v1.5 with.
var everyHash = []crypto.Hash{
	crypto.MD5, crypto.SHA1, crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512,
	crypto.SHA512_224, crypto.SHA512_256, crypto.SHA3_224, crypto.SHA3_256, crypto.SHA3_384,
	crypto.SHA3_512, crypto.MD5SHA1,
}

func digestOf(t *testing.T, h crypto.Hash, msg []byte) []byte {
	t.Helper()
	if h == crypto.MD5SHA1 {
		d := md5.Sum(msg)
		s := crypto.SHA1.New()
		s.Write(msg)
		return s.Sum(d[:])
	}
	hh := h.New()
	hh.Write(msg)
	return hh.Sum(nil)
}

func TestPKCS1v15SignaturesVerifyWithGo(t *testing.T) {
	msg := []byte("pivauth rsapad")
	for _, k := range testKeys(t) {
		for _, h := range everyHash {
			d := digestOf(t, h, msg)
			em, err := EncodePKCS1v15(h, d, k.Size())
			if err != nil {
				t.Fatalf("%d bits %v: %v", k.N.BitLen(), h, err)
			}
			sig := rawPrivate(k, em)
			if err := rsa.VerifyPKCS1v15(&k.PublicKey, h, d, sig); err != nil {
				t.Errorf("%d bits %v: Go rejects the signature: %v", k.N.BitLen(), h, err)
			}
			// The encoding is deterministic: Go's own signature is identical.
			want, err := rsa.SignPKCS1v15(nil, k, h, d)
			if err == nil && !bytes.Equal(sig, want) {
				t.Errorf("%d bits %v: differs from rsa.SignPKCS1v15", k.N.BitLen(), h)
			}
		}
	}
}

func TestPKCS1v15RawHash(t *testing.T) {
	k := testKeys(t)[1]
	data := []byte("TLS 1.0 style or pre-hashed input")
	em, err := EncodePKCS1v15(0, data, k.Size())
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(&k.PublicKey, 0, data, rawPrivate(k, em)); err != nil {
		t.Fatalf("raw PKCS #1 v1.5 signature rejected: %v", err)
	}
}

func TestPKCS1v15Errors(t *testing.T) {
	if _, err := EncodePKCS1v15(crypto.SHA256, make([]byte, 31), 256); err == nil {
		t.Error("wrong digest length accepted")
	}
	if _, err := EncodePKCS1v15(crypto.BLAKE2b_256, make([]byte, 32), 256); err == nil {
		t.Error("hash without DigestInfo accepted")
	}
	if _, err := EncodePKCS1v15(crypto.SHA512, make([]byte, 64), 64); !errors.Is(err, rsa.ErrMessageTooLong) {
		t.Errorf("SHA-512 in a 512-bit block: %v, want ErrMessageTooLong", err)
	}
}

func TestPSSEverySaltLength(t *testing.T) {
	msg := []byte("pivauth pss")
	for _, k := range testKeys(t) {
		bits := k.N.BitLen()
		for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512, crypto.SHA3_256} {
			d := digestOf(t, h, msg)
			for _, opt := range []int{rsa.PSSSaltLengthAuto, rsa.PSSSaltLengthEqualsHash, 1, 20, 32} {
				saltLen, err := PSSSaltLength(opt, h, bits)
				if err != nil {
					t.Fatal(err)
				}
				em, err := EncodePSS(rand.Reader, h, d, saltLen, bits)
				if errors.Is(err, rsa.ErrMessageTooLong) && bits == 1024 && h == crypto.SHA512 {
					continue // 64+64+2 > 128: the same limit Go enforces
				}
				if err != nil {
					t.Fatalf("%d bits %v salt %d: %v", bits, h, opt, err)
				}
				if len(em) != k.Size() {
					t.Fatalf("EncodePSS returned %d bytes, want %d", len(em), k.Size())
				}
				sig := rawPrivate(k, em)
				// Verify with the exact salt length, so a wrong length fails.
				if err := rsa.VerifyPSS(&k.PublicKey, h, d, sig, &rsa.PSSOptions{SaltLength: saltLen}); err != nil {
					t.Errorf("%d bits %v salt option %d (%d bytes): Go rejects: %v", bits, h, opt, saltLen, err)
				}
			}
		}
	}
}

func TestPSSAutoMatchesGo(t *testing.T) {
	k := testKeys(t)[1]
	d := digestOf(t, crypto.SHA256, []byte("x"))
	goSig, err := rsa.SignPSS(rand.Reader, k, crypto.SHA256, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	goSalt := k.Size() - 32 - 2 // Go's Auto = maximum for a 2048-bit key
	if err := rsa.VerifyPSS(&k.PublicKey, crypto.SHA256, d, goSig, &rsa.PSSOptions{SaltLength: goSalt}); err != nil {
		t.Fatalf("premise: Go's Auto salt is not %d: %v", goSalt, err)
	}
	n, _ := PSSSaltLength(rsa.PSSSaltLengthAuto, crypto.SHA256, k.N.BitLen())
	if n != goSalt {
		t.Errorf("Auto salt = %d, Go uses %d", n, goSalt)
	}
}

func TestPSSErrors(t *testing.T) {
	if _, err := PSSSaltLength(-2, crypto.SHA256, 2048); err == nil {
		t.Error("salt length -2 accepted")
	}
	// rsa.PSSOptions without Hash: an error, not the panic of Hash(0).Size.
	if _, err := PSSSaltLength(rsa.PSSSaltLengthAuto, 0, 2048); err == nil {
		t.Error("hash 0 accepted")
	}
	if _, err := EncodePSS(rand.Reader, 0, nil, 0, 2048); err == nil {
		t.Error("hash 0 accepted")
	}
	if _, err := EncodePSS(rand.Reader, crypto.SHA256, make([]byte, 20), 32, 2048); err == nil {
		t.Error("wrong digest length accepted")
	}
	if _, err := EncodePSS(rand.Reader, crypto.SHA256, make([]byte, 32), 256-32-1, 2048); !errors.Is(err, rsa.ErrMessageTooLong) {
		t.Errorf("oversized salt: %v", err)
	}
}

func TestDecodePKCS1v15(t *testing.T) {
	for _, k := range testKeys(t) {
		for _, n := range []int{0, 1, 16, 32, k.Size() - 11} {
			msg := make([]byte, n)
			rand.Read(msg)
			ct, err := rsa.EncryptPKCS1v15(rand.Reader, &k.PublicKey, msg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodePKCS1v15(rawPrivate(k, ct))
			if err != nil || !bytes.Equal(got, msg) {
				t.Errorf("%d bits, %d-byte message: got %x, %v", k.N.BitLen(), n, got, err)
			}
		}
	}
}

func TestDecodePKCS1v15Rejects(t *testing.T) {
	good := append([]byte{0, 2}, bytes.Repeat([]byte{0x55}, 20)...)
	good = append(good, 0, 'm')
	if _, err := DecodePKCS1v15(good); err != nil {
		t.Fatalf("premise: %v", err)
	}
	for name, mutate := range map[string]func([]byte){
		"first byte": func(b []byte) { b[0] = 1 },
		"block type": func(b []byte) { b[1] = 1 },
		"short PS":   func(b []byte) { b[5] = 0 },
		"no zero":    func(b []byte) { b[len(b)-2] = 7 },
	} {
		bad := append([]byte(nil), good...)
		mutate(bad)
		if _, err := DecodePKCS1v15(bad); !errors.Is(err, rsa.ErrDecryption) {
			t.Errorf("%s: err = %v, want rsa.ErrDecryption", name, err)
		}
	}
}

func TestDecodePKCS1v15SessionKey(t *testing.T) {
	k := testKeys(t)[1]
	secret := bytes.Repeat([]byte{0xAB}, 16)
	ct, _ := rsa.EncryptPKCS1v15(rand.Reader, &k.PublicKey, secret)
	em := rawPrivate(k, ct)

	key := make([]byte, 16)
	if err := DecodePKCS1v15SessionKey(em, key); err != nil || !bytes.Equal(key, secret) {
		t.Errorf("valid block: key %x err %v", key, err)
	}
	// Wrong length: key keeps the caller's random bytes, and no error.
	key = bytes.Repeat([]byte{0x11}, 24)
	if err := DecodePKCS1v15SessionKey(em, key); err != nil || !bytes.Equal(key, bytes.Repeat([]byte{0x11}, 24)) {
		t.Errorf("length mismatch: key %x err %v", key, err)
	}
	em[1] = 3
	key = bytes.Repeat([]byte{0x22}, 16)
	if err := DecodePKCS1v15SessionKey(em, key); err != nil || !bytes.Equal(key, bytes.Repeat([]byte{0x22}, 16)) {
		t.Errorf("invalid block: key %x err %v", key, err)
	}
}

func TestDecodeOAEP(t *testing.T) {
	for _, k := range testKeys(t) {
		for _, tc := range []struct{ h, mgf crypto.Hash }{
			{crypto.SHA1, 0}, {crypto.SHA256, 0}, {crypto.SHA256, crypto.SHA1}, {crypto.SHA384, crypto.SHA256},
		} {
			label := []byte("label")
			msg := []byte("session key 0123456789abcdef")
			opts := &rsa.OAEPOptions{Hash: tc.h, MGFHash: tc.mgf, Label: label}
			ct, err := rsa.EncryptOAEPWithOptions(rand.Reader, &k.PublicKey, msg, opts)
			if err != nil {
				t.Fatal(err)
			}
			em := rawPrivate(k, ct)
			got, err := DecodeOAEP(tc.h, tc.mgf, label, em)
			if err != nil || !bytes.Equal(got, msg) {
				t.Errorf("%d bits %v/%v: got %q, %v", k.N.BitLen(), tc.h, tc.mgf, got, err)
			}
			if _, err := DecodeOAEP(tc.h, tc.mgf, []byte("other"), em); !errors.Is(err, rsa.ErrDecryption) {
				t.Errorf("wrong label: %v", err)
			}
			em[0] = 1
			if _, err := DecodeOAEP(tc.h, tc.mgf, label, em); !errors.Is(err, rsa.ErrDecryption) {
				t.Errorf("bad first byte: %v", err)
			}
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(append([]byte{0, 2}, bytes.Repeat([]byte{1}, 100)...))
	f.Fuzz(func(t *testing.T, em []byte) {
		if m, err := DecodePKCS1v15(em); err == nil && len(m) > len(em)-11 {
			t.Fatalf("message of %d bytes from a %d-byte block", len(m), len(em))
		}
		_ = DecodePKCS1v15SessionKey(em, make([]byte, 16))
		if m, err := DecodeOAEP(crypto.SHA256, 0, nil, em); err == nil && len(m) > len(em)-66 {
			t.Fatalf("OAEP message of %d bytes from a %d-byte block", len(m), len(em))
		}
	})
}

// FuzzDecodeAgainstCryptoRSA checks the decoders against crypto/rsa's own: a block em shaped by
// the inputs (first two bytes, where the zero separator falls, the message at the end) is raised
// to the public exponent and decrypted by crypto/rsa, while rsapad decodes em itself, as it does
// the output of a card's raw private operation. Both must accept the same blocks with the same
// message, and the session-key forms must leave the same key.
func FuzzDecodeAgainstCryptoRSA(f *testing.F) {
	f.Add(byte(0), byte(2), uint16(100), []byte("session key"))
	f.Add(byte(0), byte(2), uint16(7), []byte("short padding"))
	f.Add(byte(0), byte(2), uint16(8), []byte("exactly 8"))
	f.Add(byte(0), byte(1), uint16(100), []byte("block type 1"))
	f.Add(byte(0), byte(2), uint16(0xffff), []byte{})
	f.Add(byte(0), byte(2), uint16(238), []byte("0123456789abcdef"))
	f.Add(byte(0), byte(0), uint16(3), []byte{0, 0, 1, 2})
	key := testKeys(f)[1]
	k := key.Size()
	f.Fuzz(func(t *testing.T, b0, b1 byte, sep uint16, msg []byte) {
		em := make([]byte, k)
		em[0], em[1] = b0, b1
		for i := 2; i < k; i++ {
			em[i] = 0x5a
		}
		if i := 2 + int(sep); i < k {
			em[i] = 0
		}
		if len(msg) <= k-2 {
			copy(em[k-len(msg):], msg)
		}
		m := new(big.Int).SetBytes(em)
		if m.Cmp(key.N) >= 0 {
			return // not a block the private operation can produce
		}
		ct := new(big.Int).Exp(m, big.NewInt(int64(key.E)), key.N).FillBytes(make([]byte, k))

		want, wantErr := rsa.DecryptPKCS1v15(nil, key, ct)
		got, err := DecodePKCS1v15(em)
		if (err == nil) != (wantErr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("PKCS #1 v1.5: rsapad %x, %v; crypto/rsa %x, %v", got, err, want, wantErr)
		}
		if err != nil && err != rsa.ErrDecryption {
			t.Fatalf("PKCS #1 v1.5 error %v, want rsa.ErrDecryption itself", err)
		}
		for _, n := range []int{1, 16, 32} {
			wantKey, gotKey := bytes.Repeat([]byte{0xaa}, n), bytes.Repeat([]byte{0xaa}, n)
			wantErr := rsa.DecryptPKCS1v15SessionKey(nil, key, ct, wantKey)
			err := DecodePKCS1v15SessionKey(em, gotKey)
			if (err == nil) != (wantErr == nil) || !bytes.Equal(gotKey, wantKey) {
				t.Fatalf("session key of %d bytes: rsapad %x, %v; crypto/rsa %x, %v", n, gotKey, err, wantKey, wantErr)
			}
		}
		wantOAEP, wantErr := rsa.DecryptOAEP(sha256.New(), nil, key, ct, msg)
		gotOAEP, err := DecodeOAEP(crypto.SHA256, 0, msg, em)
		if (err == nil) != (wantErr == nil) || !bytes.Equal(gotOAEP, wantOAEP) {
			t.Fatalf("OAEP: rsapad %x, %v; crypto/rsa %x, %v", gotOAEP, err, wantOAEP, wantErr)
		}
	})
}
