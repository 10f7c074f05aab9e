package signer

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"math/big"
	"slices"
	"testing"
)

func TestECDSADERForms(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("forms"))
	der, err := ecdsa.SignASN1(rand.Reader, key, d[:])
	if err != nil {
		t.Fatal(err)
	}
	var r, s big.Int
	// Recover r and s through the function under test, then build the other
	// encodings a card might answer.
	canon, err := ecdsaDER(der, 32)
	if err != nil || !bytes.Equal(canon, der) {
		t.Fatalf("canonical DER changed: %x, %v", canon, err)
	}
	parseRS(t, der, &r, &s)
	raw := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	lax := []byte{0x30, 0}
	for _, v := range []*big.Int{&r, &s} {
		body := append([]byte{0, 0}, v.Bytes()...) // non-minimal: extra leading zeros
		lax = append(lax, 0x02, byte(len(body)))
		lax = append(lax, body...)
	}
	lax[1] = byte(len(lax) - 2)
	for name, in := range map[string][]byte{"r||s": raw, "non-minimal DER": lax} {
		got, err := ecdsaDER(in, 32)
		if err != nil || !bytes.Equal(got, der) || !ecdsa.VerifyASN1(&key.PublicKey, d[:], got) {
			t.Errorf("%s: %x, %v; want %x", name, got, err, der)
		}
	}
	for name, in := range map[string][]byte{"short": raw[:63], "trailing": append(append([]byte(nil), der...), 0), "negative": {0x30, 6, 2, 1, 0x80, 2, 1, 1}} {
		if _, err := ecdsaDER(in, 32); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

// parseRS reads r and s from a DER signature with encoding/asn1's rules.
func parseRS(t *testing.T, der []byte, r, s *big.Int) {
	t.Helper()
	// Two INTEGERs inside a SEQUENCE with short lengths (P-256).
	i := 2
	for _, v := range []*big.Int{r, s} {
		n := int(der[i+1])
		v.SetBytes(der[i+2 : i+2+n])
		i += 2 + n
	}
}

func FuzzECDSADER(f *testing.F) {
	f.Add([]byte{0x30, 6, 2, 1, 1, 2, 1, 1})
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := ecdsaDER(in, 32)
		if err != nil {
			return
		}
		// Whatever was accepted comes out as DER that reads back the same.
		again, err := ecdsaDER(out, 32)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("%x -> %x -> %x, %v", in, out, again, err)
		}
	})
}

func TestSignatureSchemes(t *testing.T) {
	for _, tc := range []struct {
		bits int
		want []tls.SignatureScheme
	}{
		// 1024 bits: PSS with SHA-512 needs 130 bytes of encoding, there are 128.
		{1024, []tls.SignatureScheme{tls.PSSWithSHA256, tls.PSSWithSHA384, tls.PKCS1WithSHA256, tls.PKCS1WithSHA384, tls.PKCS1WithSHA512}},
		{2048, []tls.SignatureScheme{tls.PSSWithSHA256, tls.PSSWithSHA384, tls.PSSWithSHA512, tls.PKCS1WithSHA256, tls.PKCS1WithSHA384, tls.PKCS1WithSHA512}},
	} {
		k, err := rsa.GenerateKey(rand.Reader, tc.bits)
		if err != nil {
			t.Fatal(err)
		}
		if got := signatureSchemes(&k.PublicKey); !slices.Equal(got, tc.want) {
			t.Errorf("RSA-%d: %v, want %v", tc.bits, got, tc.want)
		}
		// Every scheme listed is one Go can sign with this key.
		for _, scheme := range signatureSchemes(&k.PublicKey) {
			opts, h := schemeOpts(scheme)
			d := h.New()
			d.Write([]byte("x"))
			if _, err := k.Sign(rand.Reader, d.Sum(nil), opts); err != nil {
				t.Errorf("RSA-%d %v: Go cannot sign it: %v", tc.bits, scheme, err)
			}
		}
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if got := signatureSchemes(&p384.PublicKey); !slices.Equal(got, []tls.SignatureScheme{tls.ECDSAWithP384AndSHA384}) {
		t.Errorf("P-384: %v", got)
	}
}

// schemeOpts is how crypto/tls signs with an RSA scheme.
func schemeOpts(s tls.SignatureScheme) (crypto.SignerOpts, crypto.Hash) {
	h := map[tls.SignatureScheme]crypto.Hash{
		tls.PSSWithSHA256: crypto.SHA256, tls.PSSWithSHA384: crypto.SHA384, tls.PSSWithSHA512: crypto.SHA512,
		tls.PKCS1WithSHA256: crypto.SHA256, tls.PKCS1WithSHA384: crypto.SHA384, tls.PKCS1WithSHA512: crypto.SHA512,
	}[s]
	switch s {
	case tls.PSSWithSHA256, tls.PSSWithSHA384, tls.PSSWithSHA512:
		return &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}, h
	}
	return h, h
}
