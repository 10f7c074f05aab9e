package piv

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Identity says which card this is: a card with Yubico's extensions by
// serial number and version, any PIV card by the GUID and FASC-N of its
// CHUID.
//
// What "YubiKey" means to pivauth, in three steps of evidence:
//
//   - YubicoExtensions: the card answers Yubico's GET VERSION. It then
//     offers Yubico's serial, metadata, attestation and management
//     instructions, which pivauth uses as capabilities, each one checked by
//     its answer. Independent PIV applets (Java Card applets such as
//     PivApplet) answer them too, with a version of their own choosing:
//     this says nothing about who made the card.
//   - YubiKey: the card has the extensions and its answer to reset names a
//     YubiKey. This is what pivauth calls a YubiKey in what it prints, and
//     where it relies on the firmware version (which algorithms the card
//     has) and requires a verified attestation of a generated key. It is
//     still the card's claim.
//   - A verified attestation (VerifyAttestation, GenerateKey): a key's
//     attestation certificate chains to Yubico's attestation roots (or the
//     roots given). Only this proves a YubiKey generated the key.
type Identity struct {
	Reader string
	ATR    []byte
	// YubicoExtensions: the card answers Yubico's GET VERSION.
	YubicoExtensions bool
	// YubiKey: YubicoExtensions, and the ATR names a YubiKey.
	YubiKey bool
	// Serial and Version are what a card with YubicoExtensions answers to
	// GET SERIAL and GET VERSION (the version of an independent applet is
	// the applet's, not a YubiKey firmware). Version is zero when it was not
	// read (QuickIdentity, or a signer's card metadata cache).
	Serial  uint32
	Version Version
	// CHUID is nil when the card has none; GUID and FASCN come from it.
	CHUID *CHUID
	GUID  string // GUIDString form, "" if none
	FASCN *FASCN
}

// String describes the card in one line, e.g. "YubiKey 5.7.1 serial
// 12345678", "PIV card with Yubico extensions (version 5.4.0, serial
// 12345678)" or "PIV card, GUID 0123…, FASC-N 0032-…".
func (id Identity) String() string {
	var parts []string
	switch {
	case id.YubiKey && id.Version == (Version{}):
		parts = append(parts, fmt.Sprintf("YubiKey serial %d", id.Serial))
	case id.YubiKey:
		parts = append(parts, fmt.Sprintf("YubiKey %s serial %d", id.Version, id.Serial))
	case id.YubicoExtensions && id.Version == (Version{}):
		parts = append(parts, fmt.Sprintf("PIV card with Yubico extensions (serial %d)", id.Serial))
	case id.YubicoExtensions:
		parts = append(parts, fmt.Sprintf("PIV card with Yubico extensions (version %s, serial %d)", id.Version, id.Serial))
	default:
		parts = append(parts, "PIV card")
	}
	if id.GUID != "" {
		parts = append(parts, "GUID "+id.GUID)
	}
	if id.FASCN != nil {
		parts = append(parts, "FASC-N "+id.FASCN.String())
	}
	return strings.Join(parts, ", ")
}

// identify probes the card. The ATR decides only the order: a card that
// calls itself a YubiKey is asked GET VERSION first, others the CHUID, so
// the first answer also confirms the PIV selection and the second probe's
// "not supported" or "not found" is final without a re-SELECT.
func (tx *Tx) identify() (*Identity, error) {
	id := &Identity{Reader: tx.c.reader, ATR: append([]byte(nil), tx.c.atr...)}
	readCHUID := func() error {
		chuid, err := tx.CHUID()
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		id.CHUID, id.GUID, id.FASCN = chuid, GUIDString(chuid.GUID), chuid.FASCN
		return nil
	}
	probeYubiKey := func() error {
		v, err := tx.YubiKeyVersion()
		if errors.Is(err, ErrNotYubiKey) {
			return nil
		}
		if err != nil {
			return err
		}
		id.YubicoExtensions, id.Version = true, v
		id.YubiKey = atrSaysYubiKey(tx.c.atr)
		if v.Major >= 5 {
			id.Serial, err = tx.YubiKeySerial()
		}
		return err
	}
	steps := []func() error{readCHUID, probeYubiKey}
	if atrSaysYubiKey(tx.c.atr) {
		steps = []func() error{probeYubiKey, readCHUID}
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, fmt.Errorf("piv: identifying the card in %q: %w", tx.c.reader, err)
		}
	}
	return id, nil
}

// Identity returns the card's identity, probing it on first use (2 or 3
// APDUs) and from a cache afterwards; a reconnection after removal probes
// again.
func (c *Card) Identity(ctx context.Context) (Identity, error) {
	var id Identity
	err := c.Transaction(ctx, func(tx *Tx) (err error) {
		id, err = tx.Identity()
		return err
	})
	return id, err
}

// Identity is Card.Identity inside a transaction, for a caller that checks
// something else about the card in the same transaction. It shares
// Card.Identity's cache.
func (tx *Tx) Identity() (Identity, error) {
	if tx.c.ident == nil {
		got, err := tx.identify()
		if err != nil {
			return Identity{}, err
		}
		tx.c.ident = got
	}
	return *tx.c.ident, nil
}

// Selector picks a card. Its zero value picks the only PIV card present.
type Selector struct {
	// Reader is a reader name, or a part of one that matches a single
	// reader (case-insensitive).
	Reader string
	// Serial is the serial number of a card with Yubico's extensions.
	Serial uint32
	// GUID is a CHUID GUID, with or without dashes.
	GUID string
}

// String describes the selector for messages.
func (s Selector) String() string {
	var parts []string
	if s.Reader != "" {
		parts = append(parts, fmt.Sprintf("reader %q", s.Reader))
	}
	if s.Serial != 0 {
		parts = append(parts, fmt.Sprintf("serial %d", s.Serial))
	}
	if s.GUID != "" {
		parts = append(parts, "GUID "+s.GUID)
	}
	if len(parts) == 0 {
		return "any card"
	}
	return strings.Join(parts, ", ")
}

// needsIdentity reports whether matching needs the card's identity.
func (s Selector) needsIdentity() bool { return s.Serial != 0 || s.GUID != "" }

// matches reports whether an identity satisfies the serial and GUID.
func (s Selector) matches(id Identity) bool {
	if s.Serial != 0 && (!id.YubicoExtensions || id.Serial != s.Serial) {
		return false
	}
	return s.GUID == "" || normalizeGUID(s.GUID) == normalizeGUID(id.GUID)
}

// filterReaders keeps the readers the selector's Reader names: an exact
// name, else the readers containing it (case-insensitive).
func (s Selector) filterReaders(readers []string) []string {
	if s.Reader == "" {
		return readers
	}
	for _, r := range readers {
		if r == s.Reader {
			return []string{r}
		}
	}
	var out []string
	for _, r := range readers {
		if strings.Contains(strings.ToLower(r), strings.ToLower(s.Reader)) {
			out = append(out, r)
		}
	}
	return out
}

// CardInfo is one card found by Cards: its identity, or the error that kept
// it from being identified (a card without PIV, one held exclusively by
// another application).
type CardInfo struct {
	Identity
	Err error
}

// Cards identifies every card present in a reader.
func Cards(ctx context.Context) ([]CardInfo, error) {
	sc, err := establish()
	if err != nil {
		return nil, err
	}
	readers, err := presentReaders(sc)
	sc.Release()
	if err != nil {
		return nil, err
	}
	var out []CardInfo
	for _, r := range readers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		info := CardInfo{Identity: Identity{Reader: r}}
		c, err := openReader(r)
		if err == nil {
			info.Identity, err = c.Identity(ctx)
			if err != nil {
				info.Identity = Identity{Reader: r, ATR: c.ATR()}
			}
			c.Close()
		}
		info.Err = err
		out = append(out, info)
	}
	return out, nil
}

// Open opens the card the selector picks: in shared mode, with the PIV
// application selected (one APDU). A selector by serial or GUID identifies
// every card present in the readers it allows. More than one match (more
// than one PIV card, for the zero selector) is an *AmbiguousError with the
// matches identified.
func Open(ctx context.Context, sel Selector) (*Card, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sc, err := establish()
	if err != nil {
		return nil, err
	}
	present, err := presentReaders(sc)
	sc.Release()
	if err != nil {
		return nil, err
	}
	candidates := sel.filterReaders(present)
	if len(candidates) == 0 {
		return nil, fmt.Errorf("piv: %w (%s): insert a card or choose another with --reader, --serial or --guid", ErrNoCard, sel)
	}
	var found []*Card
	var errs []error
	for _, r := range candidates {
		c, err := openMatching(ctx, r, sel)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if c != nil {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		if len(errs) > 0 && !sel.needsIdentity() {
			// Cards are present but none could be opened (one that does
			// not answer as PIV, one another application holds): that, not
			// "no card", is what happened.
			return nil, fmt.Errorf("piv: %w", errors.Join(errs...))
		}
		if len(errs) > 0 {
			return nil, fmt.Errorf("piv: %w (%s); cards that could not be identified: %w", ErrNoCard, sel, errors.Join(errs...))
		}
		return nil, fmt.Errorf("piv: %w (%s)", ErrNoCard, sel)
	}
	amb := &AmbiguousError{Selector: sel, Cards: make([]Identity, len(found))}
	for i, c := range found {
		id, err := c.Identity(ctx)
		if err != nil {
			id = Identity{Reader: c.reader, ATR: c.ATR()}
		}
		amb.Cards[i] = id
		c.Close()
	}
	return nil, amb
}

// openMatching opens the card in reader and returns it if it satisfies the
// selector, nil if it does not.
func openMatching(ctx context.Context, reader string, sel Selector) (*Card, error) {
	c, err := openReader(reader)
	if err != nil {
		return nil, err
	}
	if !sel.needsIdentity() {
		return c, nil
	}
	id, err := c.Identity(ctx)
	if err != nil || !sel.matches(id) {
		c.Close()
		return nil, err
	}
	return c, nil
}

// KnownIdentity returns the card's identity when it was already read on this
// connection (by Identity or QuickIdentity), without an APDU; ok is false
// otherwise.
func (tx *Tx) KnownIdentity() (id Identity, ok bool) {
	if tx.c.ident == nil {
		return Identity{}, false
	}
	return *tx.c.ident, true
}

// QuickIdentity identifies the card with as few APDUs as naming it needs: a
// card whose ATR names a YubiKey, or that answered GET VERSION on this
// connection, is asked GET SERIAL alone (one APDU; the CHUID is not read, and
// Version is zero unless GET VERSION was answered); any other card, or one
// that does not answer GET SERIAL (firmware before 5), is asked what
// Identity asks (the CHUID, and GET VERSION unless its answer is known). The
// result is kept for the connection like Identity's.
func (tx *Tx) QuickIdentity() (Identity, error) {
	p := tx.c.yk
	if tx.c.ident != nil || !(p.extensions || !p.probed && atrSaysYubiKey(tx.c.atr)) || p.probed && p.version.Major < 5 {
		return tx.Identity()
	}
	resp, err := tx.Transmit(Command{Ins: insYKGetSerial, Ne: MaxNe})
	if err != nil || len(resp) != 4 {
		return tx.Identity()
	}
	tx.c.ident = &Identity{
		Reader:           tx.c.reader,
		ATR:              append([]byte(nil), tx.c.atr...),
		YubicoExtensions: true,
		YubiKey:          atrSaysYubiKey(tx.c.atr),
		Serial:           binary.BigEndian.Uint32(resp),
		Version:          p.version,
	}
	return *tx.c.ident, nil
}
