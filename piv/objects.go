package piv

import (
	"context"
	"crypto/x509"
	"fmt"

	"github.com/pivauth/pivauth/internal/tlv"
)

// Data object tags of SP 800-73-4 part 1, table 3 (certificates are in Slot).
const (
	ObjectCHUID          uint32 = 0x5FC102
	ObjectCCC            uint32 = 0x5FC107
	ObjectSecurity       uint32 = 0x5FC106
	ObjectPrintedInfo    uint32 = 0x5FC109
	ObjectFacialImage    uint32 = 0x5FC108
	ObjectFingerprints   uint32 = 0x5FC103
	ObjectKeyHistory     uint32 = 0x5FC10C
	ObjectIris           uint32 = 0x5FC121
	ObjectDiscovery      uint32 = 0x7E
	ObjectBiometricGroup uint32 = 0x7F61
)

// tagObject wraps every data object but the two with their own outer tag.
const tagObject = 0x53

// tagBytes is the big-endian encoding of a tag without leading zero bytes.
func tagBytes(tag uint32) []byte {
	switch {
	case tag > 0xFFFF:
		return []byte{byte(tag >> 16), byte(tag >> 8), byte(tag)}
	case tag > 0xFF:
		return []byte{byte(tag >> 8), byte(tag)}
	}
	return []byte{byte(tag)}
}

// outerTag is the tag the card wraps an object's value in: the discovery
// object and the biometric group template carry their own, all others 53.
func outerTag(object uint32) uint32 {
	if object == ObjectDiscovery || object == ObjectBiometricGroup {
		return object
	}
	return tagObject
}

// GetData reads a data object (GET DATA 00 CB 3F FF, tag list 5C) and
// returns its value, without the outer 53 (or 7E, 7F61) tag. A missing
// object is ErrNotFound.
func (tx *Tx) GetData(object uint32) ([]byte, error) {
	resp, err := tx.Transmit(Command{Ins: insGetData, P1: 0x3F, P2: 0xFF, Data: tlv.Encode(0x5C, tagBytes(object)), Ne: MaxNe})
	if err != nil {
		return nil, fmt.Errorf("piv: reading object %X: %w", object, err)
	}
	v, err := tlv.Unwrap(resp, outerTag(object))
	if err != nil {
		return nil, fmt.Errorf("piv: object %X: %w", object, err)
	}
	return v, nil
}

// PutData writes a data object (PUT DATA 00 DB 3F FF) with the given value,
// which PutData wraps in the object's outer tag. Most cards want the
// management key authenticated in the same transaction first.
func (tx *Tx) PutData(object uint32, value []byte) error {
	// The objects with their own outer tag go without a tag list.
	data := tlv.Encode(object, value)
	if outerTag(object) == tagObject {
		data = tlv.Append(tlv.Encode(0x5C, tagBytes(object)), tagObject, value)
	}
	if _, err := tx.Transmit(Command{Ins: insPutData, P1: 0x3F, P2: 0xFF, Data: data}); err != nil {
		return fmt.Errorf("piv: writing object %X: %w", object, err)
	}
	if object == ObjectCHUID {
		tx.c.ident = nil // the GUID and FASC-N may have changed
	}
	return nil
}

// Certificate reads and parses the certificate of a slot, compressed or not.
// An empty slot is ErrNotFound.
func (tx *Tx) Certificate(slot Slot) (*x509.Certificate, error) {
	v, err := tx.GetData(slot.Object)
	if err != nil {
		return nil, fmt.Errorf("piv: certificate of slot %s: %w", slot, err)
	}
	cert, err := ParseCertificateObject(v)
	if err != nil {
		return nil, fmt.Errorf("piv: certificate of slot %s: %w", slot, err)
	}
	return cert, nil
}

// PutCertificate stores a certificate in a slot's object, gzip-compressed
// when compress is set. The management key must have been authenticated in
// this transaction.
func (tx *Tx) PutCertificate(slot Slot, cert *x509.Certificate, compress bool) error {
	v, err := EncodeCertificateObject(cert, compress)
	if err != nil {
		return err
	}
	return tx.PutData(slot.Object, v)
}

// CHUID reads and parses the Card Holder Unique Identifier.
func (tx *Tx) CHUID() (*CHUID, error) {
	v, err := tx.GetData(ObjectCHUID)
	if err != nil {
		return nil, err
	}
	return ParseCHUID(v)
}

// Discovery reads and parses the Discovery Object.
func (tx *Tx) Discovery() (*Discovery, error) {
	v, err := tx.GetData(ObjectDiscovery)
	if err != nil {
		return nil, err
	}
	return ParseDiscovery(v)
}

// KeyHistory reads and parses the Key History Object.
func (tx *Tx) KeyHistory() (*KeyHistory, error) {
	v, err := tx.GetData(ObjectKeyHistory)
	if err != nil {
		return nil, err
	}
	return ParseKeyHistory(v)
}

// Certificate reads the certificate of a slot in its own transaction.
func (c *Card) Certificate(ctx context.Context, slot Slot) (*x509.Certificate, error) {
	var cert *x509.Certificate
	err := c.Transaction(ctx, func(tx *Tx) (err error) {
		cert, err = tx.Certificate(slot)
		return err
	})
	return cert, err
}
