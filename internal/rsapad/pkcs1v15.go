package rsapad

import (
	"crypto"
	"crypto/rsa"
	"crypto/subtle"
	"fmt"
)

// digestInfoPrefixes are the DER encodings of DigestInfo up to the digest
// bytes (RFC 8017 9.2 note 1), for every hash crypto/rsa signs with. MD5SHA1
// is TLS 1.0/1.1's concatenation, signed without a prefix.
var digestInfoPrefixes = map[crypto.Hash][]byte{
	crypto.MD5:        {0x30, 0x20, 0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05, 0x05, 0x00, 0x04, 0x10},
	crypto.SHA1:       {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA224:     {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c},
	crypto.SHA256:     {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384:     {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512:     {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
	crypto.SHA512_224: {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x05, 0x05, 0x00, 0x04, 0x1c},
	crypto.SHA512_256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x06, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA3_224:   {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x07, 0x05, 0x00, 0x04, 0x1c},
	crypto.SHA3_256:   {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x08, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA3_384:   {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x09, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA3_512:   {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x0a, 0x05, 0x00, 0x04, 0x40},
	crypto.MD5SHA1:    {},
	crypto.RIPEMD160:  {0x30, 0x20, 0x30, 0x08, 0x06, 0x06, 0x28, 0xcf, 0x06, 0x03, 0x00, 0x31, 0x04, 0x14},
}

// EncodePKCS1v15 returns EM = 00 01 FF..FF 00 DigestInfo(hash, hashed), k
// bytes long (RFC 8017 9.2). hash 0 signs hashed as it is, without a
// DigestInfo, as rsa.SignPKCS1v15 does.
func EncodePKCS1v15(hash crypto.Hash, hashed []byte, k int) ([]byte, error) {
	var prefix []byte
	if hash != 0 {
		p, ok := digestInfoPrefixes[hash]
		if !ok {
			return nil, fmt.Errorf("rsapad: PKCS #1 v1.5 has no DigestInfo for %v", hash)
		}
		if len(hashed) != hash.Size() {
			return nil, fmt.Errorf("rsapad: %d-byte digest given for %v (%d bytes): pass the hash of the message, not the message", len(hashed), hash, hash.Size())
		}
		prefix = p
	}
	tLen := len(prefix) + len(hashed)
	// At least 8 bytes of FF padding (RFC 8017 9.2 step 3).
	if k < tLen+11 {
		return nil, fmt.Errorf("rsapad: %d-byte DigestInfo does not fit a %d-bit key: %w", tLen, 8*k, rsa.ErrMessageTooLong)
	}
	em := make([]byte, k)
	em[1] = 0x01
	for i := 2; i < k-tLen-1; i++ {
		em[i] = 0xff
	}
	copy(em[k-tLen:], prefix)
	copy(em[k-len(hashed):], hashed)
	return em, nil
}

// decodePKCS1v15 checks EM = 00 02 PS 00 M in constant time, PS at least 8
// non-zero bytes. It returns valid = 1 and the index of M, or valid = 0.
func decodePKCS1v15(em []byte) (valid, index int) {
	if len(em) < 11 {
		return 0, 0
	}
	firstByteIsZero := subtle.ConstantTimeByteEq(em[0], 0)
	secondByteIsTwo := subtle.ConstantTimeByteEq(em[1], 2)
	lookingForIndex := 1
	for i := 2; i < len(em); i++ {
		equals0 := subtle.ConstantTimeByteEq(em[i], 0)
		index = subtle.ConstantTimeSelect(lookingForIndex&equals0, i, index)
		lookingForIndex = subtle.ConstantTimeSelect(equals0, 0, lookingForIndex)
	}
	validPS := subtle.ConstantTimeLessOrEq(2+8, index)
	valid = firstByteIsZero & secondByteIsTwo & (^lookingForIndex & 1) & validPS
	return valid, subtle.ConstantTimeSelect(valid, index+1, 0)
}

// DecodePKCS1v15 returns the message inside an EME-PKCS1-v1_5 block (the
// output of the raw private operation on a PKCS #1 v1.5 ciphertext), or
// rsa.ErrDecryption.
func DecodePKCS1v15(em []byte) ([]byte, error) {
	valid, index := decodePKCS1v15(em)
	if valid == 0 {
		return nil, rsa.ErrDecryption
	}
	return append([]byte(nil), em[index:]...), nil
}

// DecodePKCS1v15SessionKey copies the message of em into key when em is
// valid and the message is exactly len(key) bytes, and leaves key (which the
// caller filled with random bytes) untouched otherwise, in constant time —
// the countermeasure of rsa.DecryptPKCS1v15SessionKey against Bleichenbacher's
// attack. It reports an error only when em is too short to hold key at all,
// which depends on public sizes alone.
func DecodePKCS1v15SessionKey(em, key []byte) error {
	if len(em)-(len(key)+3+8) < 0 {
		return rsa.ErrDecryption
	}
	valid, index := decodePKCS1v15(em)
	valid &= subtle.ConstantTimeEq(int32(len(em)-index), int32(len(key)))
	subtle.ConstantTimeCopy(valid, key, em[len(em)-len(key):])
	return nil
}
