package piv

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// DefaultManagementKey returns the factory management key of YubiKeys (and
// of many other PIV cards): 0102030405060708 three times. YubiKeys before
// firmware 5.7 ship it as a 3DES key, 5.7 and later as AES-192;
// Tx.Authenticate finds out which. The key is public knowledge: whoever holds
// a card that still has it can replace the card's keys and certificates.
// Each call returns a new slice, so that callers may wipe theirs after use.
func DefaultManagementKey() []byte {
	return []byte{1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8}
}

// managementAlgorithms are the types a management key of n bytes can have,
// in the order a card without metadata is tried: 3DES first, the SP 800-78
// default and what older cards only know.
func managementAlgorithms(n int) []Algorithm {
	switch n {
	case 16:
		return []Algorithm{AlgAES128}
	case 24:
		return []Algorithm{AlgTDES, AlgAES192}
	case 32:
		return []Algorithm{AlgAES256}
	}
	return nil
}

// Authenticate authenticates with the card management key (9B), whatever
// its type. A YubiKey 5.3 or later names the type in its metadata (one
// APDU); another card is tried with each type a key of this length can have
// (a 24-byte key as 3DES, then as AES-192), the next one when the card
// answers that the algorithm is not its key's. A key the card refuses, or
// a card that takes none of the types, is ErrManagementKey. The commands
// that need the management key (PUT DATA, GENERATE ASYMMETRIC KEY PAIR)
// follow in the same transaction.
func (tx *Tx) Authenticate(managementKey []byte) error {
	m, err := tx.Metadata(KeyCardManagement)
	switch {
	case err == nil:
		if !slices.Contains(managementAlgorithms(len(managementKey)), m.Algorithm) {
			return fmt.Errorf("piv: %w: the card's management key is %s, which a key of %d bytes cannot be", ErrManagementKey, m.Algorithm, len(managementKey))
		}
		return tx.AuthenticateManagementKey(m.Algorithm, managementKey)
	case !errors.Is(err, ErrNotYubiKey) && !errors.Is(err, errOldFirmware):
		return err
	}
	algs := managementAlgorithms(len(managementKey))
	if len(algs) == 0 {
		return fmt.Errorf("piv: %w: a management key has 16, 24 or 32 bytes, this one %d", ErrManagementKey, len(managementKey))
	}
	names := make([]string, len(algs))
	for i, alg := range algs {
		err := tx.AuthenticateManagementKey(alg, managementKey)
		var se *StatusError
		switch {
		case errors.As(err, &se) && (se.SW == 0x6A86 || se.SW == 0x6A80):
			// The card has no management key of this type.
			names[i] = alg.String()
		case errors.As(err, &se) && se.SW == 0x6982:
			return fmt.Errorf("piv: %w: the card in %q refuses management-key authentication (6982): its issuer manages it", ErrManagementKey, tx.c.reader)
		default:
			return err
		}
	}
	return fmt.Errorf("piv: %w: the card in %q has no %s management key: a card its issuer manages has a key only the issuer knows",
		ErrManagementKey, tx.c.reader, strings.Join(names, " or "))
}

// manage runs fn in one transaction after authenticating with the
// management key, and ends the transaction with a card reset once the key
// was accepted: no command ends the management-key authentication (a
// YubiKey forgets it on SELECT, SP 800-73-4 cards and Java Card applets keep
// it), and a card left authenticated lets any other application replace its
// keys and certificates. Management is rare; the reset costs the next
// operation a SELECT.
func (c *Card) manage(ctx context.Context, managementKey []byte, fn func(*Tx) error) error {
	return c.Transaction(ctx, func(tx *Tx) error {
		if err := tx.Authenticate(managementKey); err != nil {
			return err
		}
		tx.resetAtEnd("no command ends the management-key authentication on every card")
		return fn(tx)
	})
}

// PutCertificate stores cert in the slot's data object, gzip-compressed when
// compress is set (as government cards store theirs, to save space). The
// management key is authenticated (see Tx.Authenticate) and the object
// written in one transaction.
func (c *Card) PutCertificate(ctx context.Context, managementKey []byte, slot Slot, cert *x509.Certificate, compress bool) error {
	return c.manage(ctx, managementKey, func(tx *Tx) error {
		if err := tx.PutCertificate(slot, cert, compress); err != nil {
			return fmt.Errorf("piv: storing the certificate of slot %s: %w", slot, err)
		}
		return nil
	})
}

// DeleteCertificate empties the slot's certificate object, authenticating
// with the management key in the same transaction. The key in the slot
// stays; deleting a certificate that is not there is not an error.
func (c *Card) DeleteCertificate(ctx context.Context, managementKey []byte, slot Slot) error {
	return c.manage(ctx, managementKey, func(tx *Tx) error {
		if err := tx.PutData(slot.Object, nil); err != nil {
			return fmt.Errorf("piv: deleting the certificate of slot %s: %w", slot, err)
		}
		return nil
	})
}
