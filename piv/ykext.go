package piv

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/pivauth/pivauth/internal/tlv"
)

// Version is a YubiKey firmware version.
type Version struct{ Major, Minor, Patch int }

// String formats the version as "5.7.1".
func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// atLeast reports whether v is at least major.minor.
func (v Version) atLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

// errOldFirmware is a Yubico extension the YubiKey's firmware predates.
var errOldFirmware = errors.New("firmware too old")

// ykProbe is what GET VERSION told about the card, asked once per connection.
type ykProbe struct {
	probed     bool
	extensions bool // GET VERSION answered: Yubico's extensions, not necessarily a YubiKey (Identity)
	version    Version
}

// YubiKeyVersion returns the firmware version (Yubico GET VERSION, 00 FD).
// The first call on a connection probes the card; a card that does not know
// the instruction is ErrNotYubiKey from then on, without another APDU.
func (tx *Tx) YubiKeyVersion() (Version, error) {
	p := &tx.c.yk
	if !p.probed {
		resp, err := tx.Transmit(Command{Ins: insYKGetVersion, Ne: MaxNe})
		var se *StatusError
		switch {
		case errors.As(err, &se) && (se.SW == 0x6D00 || se.SW == 0x6E00):
			*p = ykProbe{probed: true}
		case err != nil:
			return Version{}, err
		case len(resp) != 3:
			return Version{}, fmt.Errorf("piv: GET VERSION answered %d bytes, want 3", len(resp))
		default:
			*p = ykProbe{probed: true, extensions: true, version: Version{int(resp[0]), int(resp[1]), int(resp[2])}}
		}
	}
	if !p.extensions {
		return Version{}, ErrNotYubiKey
	}
	return p.version, nil
}

// YubiKeySerial returns the YubiKey's serial number (GET SERIAL, 00 F8;
// firmware 5 and later).
func (tx *Tx) YubiKeySerial() (uint32, error) {
	v, err := tx.YubiKeyVersion()
	if err != nil {
		return 0, err
	}
	if v.Major < 5 {
		return 0, fmt.Errorf("piv: reading the serial of YubiKey %s needs firmware 5 or later", v)
	}
	resp, err := tx.Transmit(Command{Ins: insYKGetSerial, Ne: MaxNe})
	if err != nil {
		return 0, err
	}
	if len(resp) != 4 {
		return 0, fmt.Errorf("piv: GET SERIAL answered %d bytes, want 4", len(resp))
	}
	return binary.BigEndian.Uint32(resp), nil
}

// Origin says whether a YubiKey key was generated on the card or imported.
type Origin byte

// Key origins as GET METADATA reports them.
const (
	OriginGenerated Origin = 1
	OriginImported  Origin = 2
)

// String names the origin.
func (o Origin) String() string {
	switch o {
	case OriginGenerated:
		return "generated"
	case OriginImported:
		return "imported"
	}
	return fmt.Sprintf("origin(%d)", byte(o))
}

// Metadata is what a YubiKey (5.3+) tells about a key, the PIN, the PUK or
// the management key (GET METADATA, 00 F7). Fields that do not apply to the
// reference asked for are zero.
type Metadata struct {
	Algorithm   Algorithm
	PINPolicy   PINPolicy
	TouchPolicy TouchPolicy
	Origin      Origin
	PublicKey   crypto.PublicKey
	// Default: the PIN, PUK or management key still has its factory value.
	Default bool
	// RetriesTotal and RetriesLeft count PIN or PUK tries.
	RetriesTotal, RetriesLeft int
}

// parseMetadata decodes a GET METADATA answer.
func parseMetadata(b []byte) (*Metadata, error) {
	elems, err := tlv.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("piv: metadata: %w", err)
	}
	m := new(Metadata)
	var pub []byte
	for _, e := range elems {
		v := e.Value
		switch {
		case e.Tag == 0x01 && len(v) == 1:
			m.Algorithm = Algorithm(v[0])
		case e.Tag == 0x02 && len(v) == 2:
			m.PINPolicy, m.TouchPolicy = PINPolicy(v[0]), TouchPolicy(v[1])
		case e.Tag == 0x03 && len(v) == 1:
			m.Origin = Origin(v[0])
		case e.Tag == 0x04:
			pub = v
		case e.Tag == 0x05 && len(v) == 1:
			m.Default = v[0] == 0x01
		case e.Tag == 0x06 && len(v) == 2:
			m.RetriesTotal, m.RetriesLeft = int(v[0]), int(v[1])
		case e.Tag >= 0x01 && e.Tag <= 0x06:
			return nil, fmt.Errorf("piv: metadata: tag %02X with %d bytes", e.Tag, len(v))
		}
	}
	if pub != nil {
		if m.PublicKey, err = parsePublicKey(m.Algorithm, pub); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Metadata returns the YubiKey metadata of a key reference: a slot's Key,
// KeyPIN, KeyPUK or KeyCardManagement. An empty slot is ErrNotFound.
func (tx *Tx) Metadata(key byte) (*Metadata, error) {
	v, err := tx.YubiKeyVersion()
	if err != nil {
		return nil, err
	}
	if !v.atLeast(5, 3) {
		return nil, fmt.Errorf("piv: key metadata needs YubiKey firmware 5.3 or later, this one has %s: %w", v, errOldFirmware)
	}
	resp, err := tx.Transmit(Command{Ins: insYKGetMetadata, P2: key, Ne: MaxNe})
	if err != nil {
		return nil, fmt.Errorf("piv: metadata of key %02x: %w", key, err)
	}
	return parseMetadata(resp)
}

// ManagementKeyAlgorithm returns the type of the management key: from the
// metadata on a YubiKey 5.3+, else 3DES, the SP 800-78 default. Tx.Authenticate
// needs no type: it also tries AES where the card cannot tell.
func (tx *Tx) ManagementKeyAlgorithm() (Algorithm, error) {
	m, err := tx.Metadata(KeyCardManagement)
	if err == nil {
		return m.Algorithm, nil
	}
	if errors.Is(err, ErrNotYubiKey) || errors.Is(err, errOldFirmware) {
		return AlgTDES, nil
	}
	return 0, err
}

// Attest returns the YubiKey's attestation certificate for the key in slot
// (ATTEST, 00 F9): signed by the card's attestation key (slot F9), it proves
// the key was generated on this card and carries its PIN and touch policies.
func (tx *Tx) Attest(slot Slot) (*x509.Certificate, error) {
	if _, err := tx.YubiKeyVersion(); err != nil {
		return nil, err
	}
	resp, err := tx.Transmit(Command{Ins: insYKAttest, P1: slot.Key, Ne: MaxNe})
	if err != nil {
		return nil, fmt.Errorf("piv: attesting slot %s: %w", slot, err)
	}
	if v, err := tlv.Unwrap(resp, tagCertificate); err == nil {
		resp = v
	}
	cert, err := x509.ParseCertificate(resp)
	if err != nil {
		return nil, fmt.Errorf("piv: the card's attestation certificate for slot %s is not a valid DER certificate: %w", slot, err)
	}
	return cert, nil
}

// Metadata returns the YubiKey metadata of a key reference in its own
// transaction (see Tx.Metadata).
func (c *Card) Metadata(ctx context.Context, key byte) (*Metadata, error) {
	var m *Metadata
	err := c.Transaction(ctx, func(tx *Tx) (err error) {
		m, err = tx.Metadata(key)
		return err
	})
	return m, err
}

// Attest returns the attestation certificate of a slot in its own
// transaction (see Tx.Attest).
func (c *Card) Attest(ctx context.Context, slot Slot) (*x509.Certificate, error) {
	var cert *x509.Certificate
	err := c.Transaction(ctx, func(tx *Tx) (err error) {
		cert, err = tx.Attest(slot)
		return err
	})
	return cert, err
}
