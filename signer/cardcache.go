package signer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pivauth/pivauth/internal/privfs"
	"github.com/pivauth/pivauth/piv"
)

// CardCache remembers, per slot certificate, what a cold process would
// otherwise ask the card before and after its first signature: which card
// holds the key (Yubico serial or CHUID GUID, firmware) and the key's PIN
// and touch policies. A signer opened with a certificate the cache knows
// skips GET METADATA (or the learning GENERAL AUTHENTICATE) and the card's
// identification APDUs.
//
// Nothing in it grants access: it holds no PIN, no key, no token, only what
// any program can read from the card without a PIN. What it says is a hint,
// never a proof: a key cached as needing no PIN that the card refuses (6982)
// is signed again with the PIN and the entry is rewritten; a certificate
// that differs is another entry; a PIN the signer holds is re-sent to a card
// on a new connection only when that card's identity was read from the card
// itself (see Signer.CardIdentity).
//
// Entries are files named by the certificate's SHA-256 and the slot, mode
// 0600 in a directory private to the user; a CardCache is safe for
// concurrent use within and across processes (each write replaces a file
// atomically).
type CardCache struct{ dir string }

// DefaultCardCacheDir returns the default card cache directory: "cards" in
// the user's pivauth cache directory ($XDG_CACHE_HOME/pivauth/cards, beside
// pivauth's token cache).
func DefaultCardCacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("card cache: no cache directory (%w); set XDG_CACHE_HOME or HOME", err)
	}
	return filepath.Join(base, "pivauth", "cards"), nil
}

// OpenCardCache returns the card cache in dir ("" = DefaultCardCacheDir),
// creating the directory private to the user. A directory that others can
// read or write is refused, with how to fix it.
func OpenCardCache(dir string) (*CardCache, error) {
	if dir == "" {
		var err error
		if dir, err = DefaultCardCacheDir(); err != nil {
			return nil, err
		}
	}
	if err := privfs.EnsureDir(dir); err != nil {
		return nil, fmt.Errorf("card cache: %w", err)
	}
	return &CardCache{dir: dir}, nil
}

// CardRecord is one entry of a CardCache: what the card told about itself
// and about the key of one slot.
type CardRecord struct {
	// YubicoExtensions: the card answered Yubico's instructions (GET
	// METADATA or GET SERIAL); Serial is its GET SERIAL answer.
	YubicoExtensions bool   `json:"yubico_extensions,omitempty"`
	Serial           uint32 `json:"serial,omitempty"`
	// Version is the firmware (GET VERSION), "" when it was not read.
	Version string `json:"version,omitempty"`
	// GUID is the CHUID's GUID (piv.GUIDString form), "" when not read.
	GUID string `json:"guid,omitempty"`
	// PINPolicy and TouchPolicy are the key's, from GET METADATA or from
	// the card's answers (6982: the PIN is needed); PINPolicyDefault when
	// not known, and then the slot's default applies.
	PINPolicy   piv.PINPolicy   `json:"pin_policy,omitempty"`
	TouchPolicy piv.TouchPolicy `json:"touch_policy,omitempty"`
}

// identity is the record as a piv.Identity of the card in reader with atr
// (YubiKey: the extensions and an ATR that names a YubiKey, as piv.Identity
// defines it).
func (r CardRecord) identity(reader string, atr []byte, atrYubiKey bool) piv.Identity {
	id := piv.Identity{Reader: reader, ATR: atr, YubicoExtensions: r.YubicoExtensions,
		YubiKey: r.YubicoExtensions && atrYubiKey, Serial: r.Serial, GUID: r.GUID}
	var v piv.Version
	if _, err := fmt.Sscanf(r.Version, "%d.%d.%d", &v.Major, &v.Minor, &v.Patch); err == nil {
		id.Version = v
	}
	return id
}

// withIdentity returns r with the card identity of id (policies kept).
func (r CardRecord) withIdentity(id piv.Identity) CardRecord {
	r.YubicoExtensions, r.Serial, r.GUID, r.Version = id.YubicoExtensions, id.Serial, id.GUID, ""
	if id.Version != (piv.Version{}) {
		r.Version = id.Version.String()
	}
	return r
}

// sameCard reports whether r and o name the same card.
func (r CardRecord) sameCard(o CardRecord) bool {
	return r.YubicoExtensions == o.YubicoExtensions && r.Serial == o.Serial && r.GUID == o.GUID
}

// cardCacheEntry is the file's content: the record and what it is keyed by,
// checked on load (a file renamed into another's place is a miss).
type cardCacheEntry struct {
	Certificate string     `json:"certificate_sha256"`
	Slot        string     `json:"slot"`
	Record      CardRecord `json:"record"`
}

func (c *CardCache) path(certSHA256, slot string) string {
	return filepath.Join(c.dir, certSHA256+"-"+slot+".json")
}

// certKey is the cache key of a certificate: its SHA-256 in hex.
func certKey(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// Load returns the record for the certificate cert (DER) in slot. A missing,
// unreadable or foreign entry is a miss (false); a file others could write
// is refused as a miss too, since a planted record could make a signer skip
// the PIN policy it would have learned.
func (c *CardCache) Load(cert []byte, slot piv.Slot) (CardRecord, bool) {
	key := certKey(cert)
	path := c.path(key, slot.String())
	if err := privfs.CheckFile(path); err != nil {
		return CardRecord{}, false
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return CardRecord{}, false
	}
	var e cardCacheEntry
	if json.Unmarshal(data, &e) != nil || e.Certificate != key || e.Slot != slot.String() {
		return CardRecord{}, false
	}
	return e.Record, true
}

// Store replaces the record for the certificate cert (DER) in slot,
// atomically, in a file of mode 0600.
func (c *CardCache) Store(cert []byte, slot piv.Slot, r CardRecord) error {
	key := certKey(cert)
	data, err := json.Marshal(cardCacheEntry{Certificate: key, Slot: slot.String(), Record: r})
	if err != nil {
		return fmt.Errorf("card cache: %w", err)
	}
	tmp, err := os.CreateTemp(c.dir, ".tmp-"+key+"-*") // created 0600
	if err != nil {
		return fmt.Errorf("card cache: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if _, err = tmp.Write(data); err == nil {
		err = tmp.Close()
	} else {
		tmp.Close()
	}
	if err == nil {
		err = os.Rename(tmp.Name(), c.path(key, slot.String()))
	}
	if err != nil {
		return fmt.Errorf("card cache: writing %s: %w", c.path(key, slot.String()), err)
	}
	return nil
}

// Delete removes the record for the certificate cert (DER) in slot, if any.
func (c *CardCache) Delete(cert []byte, slot piv.Slot) error {
	if err := os.Remove(c.path(certKey(cert), slot.String())); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("card cache: %w", err)
	}
	return nil
}
