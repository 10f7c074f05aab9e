package piv

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/pivauth/pivauth/internal/tlv"
)

// Yubico's "PIV manager" convention, which ykman, yubico-piv-tool, the
// Yubico Authenticator and piv-go share: the ADMIN DATA object (5FFF00,
// readable by anyone) holds 80{81 flags, 82 salt, 83 PIN timestamp}; flag 02
// says the management key is stored on the card, in the PRINTED object
// (5FC109, which the card gives out only after the PIN) as 88{89 key}. A
// card set up this way needs only the PIN for management.
const (
	ObjectAdminData uint32 = 0x5FFF00

	tagPivmanData          = 0x80
	tagPivmanFlags         = 0x81
	tagPivmanSalt          = 0x82
	tagPivmanProtectedData = 0x88
	tagPivmanProtectedKey  = 0x89

	pivmanFlagProtectedKey = 0x02
)

// insYKMoveKey is Yubico's MOVE KEY (00 F6 to from, firmware 5.7): "to" FF
// deletes the key.
const insYKMoveKey = 0xF6

// ErrNoProtectedKey reports a card whose ADMIN DATA does not say that it
// stores its management key under the PIN, or whose PRINTED object holds none.
var ErrNoProtectedKey = errors.New("the card stores no PIN-protected management key")

// adminData is the decoded ADMIN DATA object: the flags byte (absent on a
// card never set up by a Yubico tool) and the other elements as they were.
type adminData struct {
	flags    byte
	hasFlags bool
	others   []tlv.TLV // 82 salt, 83 PIN timestamp, anything newer
}

// readAdminData reads ADMIN DATA; a card without it has none of the flags.
func (tx *Tx) readAdminData() (adminData, error) {
	v, err := tx.GetData(ObjectAdminData)
	if errors.Is(err, ErrNotFound) {
		return adminData{}, nil
	}
	if err != nil {
		return adminData{}, err
	}
	inner, err := tlv.Unwrap(v, tagPivmanData)
	if err != nil {
		return adminData{}, fmt.Errorf("piv: ADMIN DATA (5FFF00): %w", err)
	}
	elems, err := tlv.Parse(inner)
	if err != nil {
		return adminData{}, fmt.Errorf("piv: ADMIN DATA (5FFF00): %w", err)
	}
	var ad adminData
	for _, e := range elems {
		if e.Tag == tagPivmanFlags && len(e.Value) == 1 {
			ad.flags, ad.hasFlags = e.Value[0], true
			continue
		}
		ad.others = append(ad.others, e)
	}
	return ad, nil
}

// encode is the ADMIN DATA value, with the flags when they were present or
// are set.
func (ad adminData) encode() []byte {
	var inner []byte
	if ad.hasFlags || ad.flags != 0 {
		inner = tlv.Append(inner, tagPivmanFlags, []byte{ad.flags})
	}
	for _, e := range ad.others {
		inner = tlv.Append(inner, e.Tag, e.Value)
	}
	return tlv.Encode(tagPivmanData, inner)
}

// ManagementKeyProtected reports whether the card's ADMIN DATA says that its
// management key is stored on it under the PIN. No PIN is needed to know.
func (tx *Tx) ManagementKeyProtected() (bool, error) {
	ad, err := tx.readAdminData()
	return ad.flags&pivmanFlagProtectedKey != 0, err
}

// ProtectedManagementKey reads the management key stored in PRINTED. The
// card gives the object out only while the PIN is verified, in the same
// transaction. The key never reaches an APDU trace. The caller wipes it.
func (tx *Tx) ProtectedManagementKey() ([]byte, error) {
	resp, err := tx.Transmit(Command{Ins: insGetData, P1: 0x3F, P2: 0xFF, Data: tlv.Encode(0x5C, tagBytes(ObjectPrintedInfo)), Ne: MaxNe, secretResp: true})
	defer clear(resp)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("piv: %w: PRINTED (5FC109) is empty", ErrNoProtectedKey)
	}
	if err != nil {
		return nil, fmt.Errorf("piv: reading the PIN-protected management key: %w", err)
	}
	key, err := parseProtectedKey(resp)
	if err != nil {
		return nil, err
	}
	return key, nil
}

// parseProtectedKey finds 53{88{89 key}} and returns a copy of the key.
func parseProtectedKey(resp []byte) ([]byte, error) {
	obj, err := tlv.Unwrap(resp, tagObject)
	if err != nil {
		return nil, fmt.Errorf("piv: PRINTED (5FC109): %w", err)
	}
	prot, err := tlv.Unwrap(obj, tagPivmanProtectedData)
	if err != nil {
		return nil, fmt.Errorf("piv: %w: PRINTED (5FC109) holds no protected data (88)", ErrNoProtectedKey)
	}
	key, found, err := tlv.Find(prot, tagPivmanProtectedKey)
	switch {
	case err != nil:
		return nil, fmt.Errorf("piv: PRINTED (5FC109): %w", err)
	case !found:
		return nil, fmt.Errorf("piv: %w: PRINTED (5FC109) has no key (89)", ErrNoProtectedKey)
	case len(key) != 16 && len(key) != 24 && len(key) != 32:
		return nil, fmt.Errorf("piv: PRINTED (5FC109) holds a management key of %d bytes, not 16, 24 or 32", len(key))
	}
	return append([]byte(nil), key...), nil
}

// ReadProtectedManagementKey presents the PIN and reads the management key
// the card stores under it, in one transaction that ends with the PIN no
// longer verified (ClearVerify). guard, unless nil, is given the PIN's tries
// left (-1: not known) before the PIN goes out, and refuses with an error
// (the caller's lockout guard). The caller wipes the key.
func (c *Card) ReadProtectedManagementKey(ctx context.Context, pin []byte, guard func(retries int) error) ([]byte, error) {
	var key []byte
	err := c.Transaction(ctx, func(tx *Tx) error {
		if guard != nil {
			n, err := tx.PINRetries()
			if err != nil {
				return err
			}
			if err := guard(n); err != nil {
				return err
			}
		}
		if err := tx.Verify(pin); err != nil {
			return err
		}
		k, err := tx.ProtectedManagementKey()
		if cerr := tx.ClearVerify(); err == nil {
			err = cerr
		}
		if err != nil {
			clear(k)
			return err
		}
		key = k
		return nil
	})
	return key, err
}

// ManagementKeyProtected reports in its own transaction whether the card
// stores its management key under the PIN (see Tx.ManagementKeyProtected).
func (c *Card) ManagementKeyProtected(ctx context.Context) (bool, error) {
	var p bool
	err := c.Transaction(ctx, func(tx *Tx) (err error) {
		p, err = tx.ManagementKeyProtected()
		return err
	})
	return p, err
}

// NewManagementKeyAlgorithm is the type of a new management key for the
// card: AES-192 where the card takes AES keys (YubiKey firmware 5.4 and
// later, as ykman and piv-go decide), else 3DES. Both are 24 bytes.
func NewManagementKeyAlgorithm(id Identity) Algorithm {
	if id.Version.atLeast(5, 4) {
		return AlgAES192
	}
	return AlgTDES
}

// ProtectedKeyOptions says where SetManagementKey keeps the new key.
type ProtectedKeyOptions struct {
	// PIN, when set, stores the new key on the card under it (PRINTED, with
	// the ADMIN DATA flag), as `ykman piv access change-management-key
	// --protect` does. Nil leaves the key with the caller; a key stored
	// before is then removed, since it would be stale.
	PIN []byte
	// Guard, unless nil, is the lockout guard run on the PIN's tries left
	// before the PIN goes out.
	Guard func(retries int) error
}

// SetManagementKey replaces the management key (Yubico's SET MANAGEMENT KEY,
// 00 FF FF FF) with newKey of type alg, authenticated with oldKey, in one
// transaction that ends with a card reset (see manage). With opts.PIN the
// PIN is verified and the new key written to PRINTED, and ADMIN DATA marked,
// before the key is replaced: if a write fails the card keeps its old key.
func (c *Card) SetManagementKey(ctx context.Context, oldKey, newKey []byte, alg Algorithm, opts ProtectedKeyOptions) error {
	if !slices.Contains(managementAlgorithms(len(newKey)), alg) {
		return fmt.Errorf("piv: a %s management key cannot have %d bytes", alg, len(newKey))
	}
	return c.manage(ctx, oldKey, func(tx *Tx) error {
		ad, err := tx.readAdminData()
		if err != nil {
			return err
		}
		switch {
		case opts.PIN != nil:
			if opts.Guard != nil {
				n, err := tx.PINRetries()
				if err != nil {
					return err
				}
				if err := opts.Guard(n); err != nil {
					return err
				}
			}
			if err := tx.Verify(opts.PIN); err != nil {
				return err
			}
			prot := tlv.Encode(tagPivmanProtectedData, tlv.Encode(tagPivmanProtectedKey, newKey))
			defer clear(prot)
			if err := tx.PutData(ObjectPrintedInfo, prot); err != nil {
				return fmt.Errorf("piv: storing the management key under the PIN: %w", err)
			}
			ad.flags |= pivmanFlagProtectedKey
			ad.hasFlags = true
			// A salt means a key derived from the PIN (an old pivman mode): no longer the key.
			ad.others = withoutTag(ad.others, tagPivmanSalt)
			if err := tx.PutData(ObjectAdminData, ad.encode()); err != nil {
				return fmt.Errorf("piv: marking the management key as PIN-protected in ADMIN DATA: %w", err)
			}
		case ad.flags&pivmanFlagProtectedKey != 0:
			ad.flags &^= pivmanFlagProtectedKey
			if err := tx.PutData(ObjectAdminData, ad.encode()); err != nil {
				return fmt.Errorf("piv: unmarking the PIN-protected management key in ADMIN DATA: %w", err)
			}
			if err := tx.PutData(ObjectPrintedInfo, tlv.Encode(tagPivmanProtectedData, nil)); err != nil {
				return fmt.Errorf("piv: removing the stale PIN-protected management key: %w", err)
			}
		}
		data := append([]byte{byte(alg), KeyCardManagement, byte(len(newKey))}, newKey...)
		defer clear(data)
		if _, err := tx.Transmit(Command{Ins: insYKSetMgmtKey, P1: 0xFF, P2: 0xFF, Data: data}); err != nil {
			return fmt.Errorf("piv: setting the management key: %w", err)
		}
		return nil
	})
}

func withoutTag(elems []tlv.TLV, tag uint32) []tlv.TLV {
	out := elems[:0:0]
	for _, e := range elems {
		if e.Tag != tag {
			out = append(out, e)
		}
	}
	return out
}

// KeyDeletion says what DeleteSlot removed.
type KeyDeletion struct {
	// KeyDeleted: the card deleted the key (MOVE KEY to FF). False when
	// the card has no such instruction (before YubiKey 5.7) or the slot had
	// no key.
	KeyDeleted bool
	// KeyCommand: the card has the instruction (whether a key was there or not).
	KeyCommand bool
}

// DeleteSlot empties a slot: its key with Yubico's MOVE KEY to FF where the
// card has it (YubiKey firmware 5.7 and later, as ykman requires; a card with
// Yubico's extensions that is not a YubiKey is asked and its 6D00 taken as
// "no"), then its certificate object, in one management transaction. The
// key of a card without the instruction stays in the slot.
func (c *Card) DeleteSlot(ctx context.Context, managementKey []byte, id Identity, slot Slot) (KeyDeletion, error) {
	var d KeyDeletion
	ask := id.YubicoExtensions && (!id.YubiKey || id.Version.atLeast(5, 7))
	err := c.manage(ctx, managementKey, func(tx *Tx) error {
		if ask {
			_, err := tx.Transmit(Command{Ins: insYKMoveKey, P1: 0xFF, P2: slot.Key})
			var se *StatusError
			switch {
			case err == nil:
				d.KeyCommand, d.KeyDeleted = true, true
			case errors.Is(err, ErrNotFound):
				d.KeyCommand = true // no key in the slot
			case errors.As(err, &se) && (se.SW == 0x6D00 || se.SW == 0x6E00):
			default:
				return fmt.Errorf("piv: deleting the key of slot %s: %w", slot, err)
			}
		}
		if err := tx.PutData(slot.Object, nil); err != nil {
			return fmt.Errorf("piv: deleting the certificate of slot %s: %w", slot, err)
		}
		return nil
	})
	return d, err
}
