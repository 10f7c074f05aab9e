package vcard

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// stateVersion is bumped when the file layout changes incompatibly.
const stateVersion = 1

// persistent is everything a card keeps across power cycles. It is the JSON
// content of the state file.
type persistent struct {
	Version int     `json:"version"`
	Profile Profile `json:"profile"`
	Serial  uint32  `json:"serial"`

	PIN         []byte `json:"pin"` // 8 bytes, 0xFF padded, as VERIFY carries it
	PUK         []byte `json:"puk"`
	PINTries    int    `json:"pin_tries"` // remaining
	PUKTries    int    `json:"puk_tries"`
	PINMaxTries int    `json:"pin_max_tries"`
	PUKMaxTries int    `json:"puk_max_tries"`
	MgmtAlg     byte   `json:"mgmt_alg"`
	MgmtKey     []byte `json:"mgmt_key"`
	MgmtTouch   bool   `json:"mgmt_touch,omitempty"`
	DefaultMgmt []byte `json:"default_mgmt"` // factory key, for the "default" flag of GET METADATA

	// Keys by key reference as two hex digits ("9a", "f9").
	Keys map[string]*slotKey `json:"keys"`
	// Objects by tag as hex ("5fc105", "7e"): the value GET DATA wraps in 53
	// (or the whole 7E / 7F61 element for those two objects).
	Objects map[string][]byte `json:"objects"`

	// Quirks are the ways this card departs from the model's default
	// behaviour (quirks.go), sorted.
	Quirks []Quirk `json:"quirks,omitempty"`
}

// slotKey is an asymmetric private key in a slot.
type slotKey struct {
	Alg         byte   `json:"alg"`
	PINPolicy   byte   `json:"pin_policy"`   // resolved: 1 never, 2 once, 3 always
	TouchPolicy byte   `json:"touch_policy"` // resolved: 1 never, 2 always, 3 cached
	Origin      byte   `json:"origin"`       // 1 generated, 2 imported
	PKCS8       []byte `json:"pkcs8"`

	priv crypto.PrivateKey // parsed PKCS8, cached
}

// private returns the parsed private key.
func (k *slotKey) private() (crypto.PrivateKey, error) {
	if k.priv == nil {
		p, err := x509.ParsePKCS8PrivateKey(k.PKCS8)
		if err != nil {
			return nil, fmt.Errorf("vcard: stored key does not parse: %w", err)
		}
		k.priv = p
	}
	return k.priv, nil
}

// loadState reads a state file. It returns an error wrapping os.ErrNotExist
// when there is none.
func loadState(path string) (*persistent, []byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := decodeState(b)
	if err != nil {
		return nil, nil, fmt.Errorf("vcard: state file %s: %w (delete it for a factory-fresh card)", path, err)
	}
	return st, b, nil
}

// decodeState parses and sanity-checks a state file's content.
func decodeState(b []byte) (*persistent, error) {
	var st persistent
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("state version %d, this card model reads %d", st.Version, stateVersion)
	}
	if st.Profile != ProfileYubiKey && st.Profile != ProfilePIV {
		return nil, fmt.Errorf("unknown profile %q", st.Profile)
	}
	if len(st.PIN) != 8 || len(st.PUK) != 8 {
		return nil, errors.New("PIN or PUK is not 8 bytes")
	}
	if _, ok := mgmtAlgorithms[st.MgmtAlg]; !ok || len(st.MgmtKey) != mgmtAlgorithms[st.MgmtAlg].keyLen {
		return nil, errors.New("management key type and length do not match")
	}
	if st.Keys == nil {
		st.Keys = map[string]*slotKey{}
	}
	if st.Objects == nil {
		st.Objects = map[string][]byte{}
	}
	for _, q := range st.Quirks {
		if _, ok := quirkDocs[q]; !ok {
			return nil, fmt.Errorf("unknown quirk %q", q)
		}
	}
	for ref, k := range st.Keys {
		if k == nil {
			return nil, fmt.Errorf("key %s is null", ref)
		}
		if _, err := k.private(); err != nil {
			return nil, fmt.Errorf("key %s: %w", ref, err)
		}
	}
	return &st, nil
}

// encode serialises the state for the file.
func (st *persistent) encode() ([]byte, error) {
	return json.MarshalIndent(st, "", " ")
}

// writeFileAtomic replaces path with data so that a crash leaves either the
// old or the new content, never a torn file: temp file in the same directory,
// fsync, rename, fsync of the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	// The rename itself is durable only once the directory is synced.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
