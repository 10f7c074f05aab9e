package rsapad

import (
	"crypto"
	"crypto/rsa"
	"crypto/subtle"
	"fmt"
)

// DecodeOAEP returns the message inside an EME-OAEP block (RFC 8017 7.1.2
// step 3; em is the k-byte output of the raw private operation), checked
// against label, or rsa.ErrDecryption. mgfHash 0 means hash, as in
// rsa.OAEPOptions.
func DecodeOAEP(h, mgfHash crypto.Hash, label, em []byte) ([]byte, error) {
	if mgfHash == 0 {
		mgfHash = h
	}
	if !h.Available() || !mgfHash.Available() {
		return nil, fmt.Errorf("rsapad: OAEP hash %v/%v is not linked into this binary", h, mgfHash)
	}
	hLen := h.Size()
	if len(em) < 2*hLen+2 {
		return nil, rsa.ErrDecryption
	}
	em = append([]byte(nil), em...) // unmasked in place
	hh := h.New()
	hh.Write(label)
	lHash := hh.Sum(nil)

	firstByteIsZero := subtle.ConstantTimeByteEq(em[0], 0)
	seed := em[1 : hLen+1]
	db := em[hLen+1:]
	mh := mgfHash.New()
	mgf1XOR(seed, mh, db)
	mgf1XOR(db, mh, seed)
	lHashGood := subtle.ConstantTimeCompare(lHash, db[:hLen])

	// DB = lHash' || PS (zeros) || 01 || M
	var lookingForIndex, index, invalid int
	lookingForIndex = 1
	rest := db[hLen:]
	for i := range rest {
		equals0 := subtle.ConstantTimeByteEq(rest[i], 0)
		equals1 := subtle.ConstantTimeByteEq(rest[i], 1)
		index = subtle.ConstantTimeSelect(lookingForIndex&equals1, i, index)
		lookingForIndex = subtle.ConstantTimeSelect(equals1, 0, lookingForIndex)
		invalid = subtle.ConstantTimeSelect(lookingForIndex&^equals0, 1, invalid)
	}
	if firstByteIsZero&lHashGood&^invalid&^lookingForIndex != 1 {
		return nil, rsa.ErrDecryption
	}
	return rest[index+1:], nil
}
