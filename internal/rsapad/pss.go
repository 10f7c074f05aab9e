package rsapad

import (
	"crypto"
	"crypto/rsa"
	"fmt"
	"hash"
	"io"
)

// PSSSaltLength resolves saltLength as rsa.PSSOptions.SaltLength means it:
// rsa.PSSSaltLengthAuto signs with the longest salt that fits (what
// rsa.SignPSS does), rsa.PSSSaltLengthEqualsHash with hash.Size(), any
// positive value as given.
func PSSSaltLength(saltLength int, hash crypto.Hash, modBits int) (int, error) {
	if !hash.Available() {
		return 0, fmt.Errorf("rsapad: PSS needs a hash linked into this binary, not %v", hash)
	}
	emLen := (modBits - 1 + 7) / 8
	switch {
	case saltLength == rsa.PSSSaltLengthAuto:
		n := emLen - hash.Size() - 2
		if n < 0 {
			return 0, fmt.Errorf("rsapad: a %d-bit key is too small for PSS with %v: %w", modBits, hash, rsa.ErrMessageTooLong)
		}
		return n, nil
	case saltLength == rsa.PSSSaltLengthEqualsHash:
		return hash.Size(), nil
	case saltLength > 0:
		return saltLength, nil
	}
	return 0, fmt.Errorf("rsapad: invalid PSS salt length %d", saltLength)
}

// EncodePSS returns the EMSA-PSS encoding of hashed (RFC 8017 9.1.1) with a
// random salt of saltLen bytes, for a modulus of modBits bits, left-padded
// with zeros to the modulus length so it is the input of the raw operation.
// MGF1 uses the same hash, as in crypto/rsa.
func EncodePSS(random io.Reader, h crypto.Hash, hashed []byte, saltLen, modBits int) ([]byte, error) {
	if !h.Available() {
		return nil, fmt.Errorf("rsapad: PSS needs a hash linked into this binary, not %v", h)
	}
	hLen := h.Size()
	if len(hashed) != hLen {
		return nil, fmt.Errorf("rsapad: %d-byte digest given for %v (%d bytes): pass the hash of the message, not the message", len(hashed), h, hLen)
	}
	emBits := modBits - 1
	emLen := (emBits + 7) / 8
	if saltLen < 0 || emLen < hLen+saltLen+2 {
		return nil, fmt.Errorf("rsapad: PSS with %v and a %d-byte salt does not fit a %d-bit key: %w", h, saltLen, modBits, rsa.ErrMessageTooLong)
	}
	k := (modBits + 7) / 8
	out := make([]byte, k)
	em := out[k-emLen:]
	psLen := emLen - saltLen - hLen - 2
	db := em[:emLen-hLen-1]
	salt := db[psLen+1:]
	if _, err := io.ReadFull(random, salt); err != nil {
		return nil, fmt.Errorf("rsapad: reading PSS salt: %w", err)
	}
	hh := h.New()
	var zeros [8]byte
	hh.Write(zeros[:])
	hh.Write(hashed)
	hh.Write(salt)
	mPrimeHash := hh.Sum(em[emLen-hLen-1 : emLen-hLen-1 : emLen-1])
	db[psLen] = 0x01
	mgf1XOR(db, hh, mPrimeHash)
	db[0] &= 0xff >> (8*emLen - emBits)
	em[emLen-1] = 0xbc
	return out, nil
}

// mgf1XOR XORs out with MGF1(seed) (RFC 8017 B.2.1).
func mgf1XOR(out []byte, h hash.Hash, seed []byte) {
	var counter [4]byte
	var digest []byte
	for done := 0; done < len(out); {
		h.Reset()
		h.Write(seed)
		h.Write(counter[:])
		digest = h.Sum(digest[:0])
		for i := 0; i < len(digest) && done < len(out); i++ {
			out[done] ^= digest[i]
			done++
		}
		for i := 3; i >= 0; i-- {
			counter[i]++
			if counter[i] != 0 {
				break
			}
		}
	}
}
