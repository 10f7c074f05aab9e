// Package cache keeps access tokens on disk so that a token still valid for a while costs no card
// operation (no PIN, no signature) and no network call.
//
// Entries live in one directory, by default $XDG_CACHE_HOME/pivauth (~/.cache/pivauth), private to
// the user (internal/privfs: 0700 and files 0600 on Unix, owner and access list on Windows), one file
// per Key written atomically (temp file + rename). Fetch holds a per-key file lock around "look up,
// else obtain and store", so two processes asking for the same token at once make one request and
// one card signature between them, on every system.
//
// Entries are keyed by authority, client id, scopes and the SHA-256 thumbprint of the client
// certificate: a token obtained with one card is never handed out for another.
//
// The flows take any Cache: Store is the disk one; Over builds one on any other place that keeps
// named, expiring entries (pivauth's agent keeps tokens in its memory that way), with the same
// keys and the same rule for what is still worth serving.
package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pivauth/pivauth/internal/privfs"
)

// MinRemaining is how long a cached token must still be valid to be served: a token about to
// expire is renewed instead, so the caller does not start work with a token that dies mid-way.
const MinRemaining = 5 * time.Minute

// Token is an access token and what is known about it.
type Token struct {
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type,omitempty"`
	ExpiresOn   time.Time `json:"expires_on"`
	Scopes      []string  `json:"scopes,omitempty"`
	// Account names the signed-in user of a delegated token; empty for app-only tokens.
	Account string `json:"account,omitempty"`
	// Cached reports that the token was served from the cache (no card operation, no request).
	Cached bool `json:"-"`
}

// ValidFor reports whether the token is still valid for at least d after now.
func (t Token) ValidFor(now time.Time, d time.Duration) bool {
	return t.AccessToken != "" && t.ExpiresOn.Sub(now) > d
}

// served returns a kept token as a cache serves it: only while it is valid for more than
// MinRemaining, marked Cached.
func served(t Token, now time.Time) (Token, bool) {
	if !t.ValidFor(now, MinRemaining) {
		return Token{}, false
	}
	t.Cached = true
	return t, true
}

// Cache keeps tokens by Key. Fetch returns the token kept for k while it is valid for more than
// MinRemaining (with Cached set), else calls fetch, keeps its token and returns it. A token that
// fetch got but the cache could not keep is returned with the error. The entra and oidc clients
// take a Cache; Store and Over implement it.
type Cache interface {
	Fetch(ctx context.Context, k Key, fetch func(context.Context) (Token, error)) (Token, error)
}

// Key identifies a cache entry.
type Key struct {
	Authority  string   `json:"authority"`  // authority or issuer URL; case matters in its path
	ClientID   string   `json:"client_id"`  // OAuth client id; case matters
	Scopes     []string `json:"scopes"`     // order does not matter, case does
	Thumbprint string   `json:"thumbprint"` // SHA-256 hex of the client certificate
}

// Normalize makes equal requests produce equal keys: the authority's scheme and host in lower
// case and without a trailing slash, the scopes sorted and without duplicates, the thumbprint in
// upper case. Nothing else is folded: OAuth client ids and scopes, and the paths of issuer URLs,
// are case-sensitive, so two that differ only in case name different clients, rights or tenants.
func (k Key) Normalize() Key {
	n := Key{
		Authority:  normalizeURL(strings.TrimSuffix(k.Authority, "/")),
		ClientID:   k.ClientID,
		Thumbprint: strings.ToUpper(k.Thumbprint),
	}
	n.Scopes = append(n.Scopes, k.Scopes...)
	slices.Sort(n.Scopes)
	n.Scopes = slices.Compact(n.Scopes)
	return n
}

// normalizeURL lowers the case of a URL's scheme and host, which RFC 3986 section 6.2.2.1 says
// do not matter; the rest is kept as it is. Anything not a URL with a host is kept as it is.
func normalizeURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	host, path, _ := strings.Cut(rest, "/")
	if path != "" || strings.HasSuffix(rest, "/") {
		path = "/" + path
	}
	return strings.ToLower(scheme) + "://" + strings.ToLower(host) + path
}

// same reports whether two keys name the same entry.
func (k Key) same(o Key) bool {
	a, b := k.Normalize(), o.Normalize()
	return a.Authority == b.Authority && a.ClientID == b.ClientID && a.Thumbprint == b.Thumbprint && slices.Equal(a.Scopes, b.Scopes)
}

// digest is a SHA-256 of the normalized key: equal requests meet under it, and it tells nothing
// about tenant, client or scope.
func (k Key) digest() [sha256.Size]byte {
	b, _ := json.Marshal(k.Normalize()) // a struct of strings always marshals
	return sha256.Sum256(b)
}

// name is the entry's file name: (half) the key's digest, so no key material shows in directory
// listings.
func (k Key) name() string {
	d := k.digest()
	return hex.EncodeToString(d[:16])
}

// entry is a cache file: the key (checked on read) and the token.
type entry struct {
	Key   Key   `json:"key"`
	Token Token `json:"token"`
}

// Store is a token cache directory. A Store is safe for concurrent use, within and across
// processes.
type Store struct {
	dir string
	now func() time.Time
}

// DefaultDir returns the default cache directory: $XDG_CACHE_HOME/pivauth, else ~/.cache/pivauth
// (on macOS ~/Library/Caches/pivauth, on Windows %LocalAppData%\pivauth).
func DefaultDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("token cache: no cache directory (%w); set XDG_CACHE_HOME or HOME", err)
	}
	return filepath.Join(base, "pivauth"), nil
}

// Open returns the store in dir ("" = DefaultDir), creating the directory private to the user. An
// existing directory that others can read or write is refused, with how to fix it.
func Open(dir string) (*Store, error) {
	if dir == "" {
		var err error
		if dir, err = DefaultDir(); err != nil {
			return nil, err
		}
	}
	if err := privfs.EnsureDir(dir); err != nil {
		return nil, fmt.Errorf("token cache: %w", err)
	}
	return &Store{dir: dir, now: time.Now}, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Get returns the cached token for k if it is valid for more than MinRemaining. A missing, expired
// or unreadable entry is a miss, not an error: the caller fetches a fresh token.
func (s *Store) Get(k Key) (Token, bool, error) {
	path := s.path(k)
	if err := privfs.CheckFile(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Token{}, false, nil
		}
		return Token{}, false, fmt.Errorf("token cache: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Token{}, false, nil
	}
	var e entry
	if json.Unmarshal(data, &e) != nil || !e.Key.same(k) {
		return Token{}, false, nil
	}
	t, ok := served(e.Token, s.now())
	return t, ok, nil
}

// Put stores t under k, replacing any entry atomically.
func (s *Store) Put(k Key, t Token) error {
	t.Cached = false
	data, err := json.Marshal(entry{Key: k.Normalize(), Token: t})
	if err != nil {
		return fmt.Errorf("token cache: %w", err)
	}
	tmp, err := os.CreateTemp(s.dir, ".tmp-"+k.name()+"-*") // created 0600
	if err != nil {
		return fmt.Errorf("token cache: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if _, err = tmp.Write(data); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.path(k))
	}
	if err != nil {
		return fmt.Errorf("token cache: write %s: %w", s.path(k), err)
	}
	return nil
}

// Delete removes the entry for k, if any.
func (s *Store) Delete(k Key) error {
	if err := os.Remove(s.path(k)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("token cache: %w", err)
	}
	return nil
}

// Fetch returns the cached token for k, or calls fetch, stores its token and returns it. The
// per-key lock is held throughout, so a second process asking meanwhile waits and then reads the
// first one's token instead of fetching (and signing) again. Waiting honours ctx.
func (s *Store) Fetch(ctx context.Context, k Key, fetch func(context.Context) (Token, error)) (Token, error) {
	unlock, err := lockFile(ctx, filepath.Join(s.dir, k.name()+".lock"))
	if err != nil {
		return Token{}, fmt.Errorf("token cache: %w", err)
	}
	defer unlock()
	if t, ok, err := s.Get(k); err != nil || ok {
		return t, err
	}
	t, err := fetch(ctx)
	if err != nil {
		return Token{}, err
	}
	if err := s.Put(k, t); err != nil {
		return t, err
	}
	return t, nil
}

func (s *Store) path(k Key) string { return filepath.Join(s.dir, k.name()+".json") }

// Entries is a place that keeps named, expiring entries, for Over: Get returns the data kept under
// name (ok false when there is none, or it expired); Put keeps data under name until expires.
type Entries interface {
	Get(ctx context.Context, name string) (data []byte, ok bool, err error)
	Put(ctx context.Context, name string, data []byte, expires time.Time) error
}

// Over returns a Cache that keeps tokens in e, named by the hex SHA-256 of their normalized Key
// (equal requests meet; the name tells nothing about tenant, client or scope). A failure to read
// e is returned; a failure to keep a fetched token is returned with the token, as Store does.
// Unlike Store, Over does not serialize fetches: two callers missing at once both fetch.
func Over(e Entries) Cache { return entriesCache{e: e, now: time.Now} }

type entriesCache struct {
	e   Entries
	now func() time.Time
}

func (c entriesCache) Fetch(ctx context.Context, k Key, fetch func(context.Context) (Token, error)) (Token, error) {
	d := k.digest()
	name := hex.EncodeToString(d[:])
	data, ok, err := c.e.Get(ctx, name)
	if err != nil {
		return Token{}, err
	}
	var kept Token
	if ok && json.Unmarshal(data, &kept) == nil {
		if t, ok := served(kept, c.now()); ok {
			return t, nil
		}
	}
	t, err := fetch(ctx)
	if err != nil {
		return Token{}, err
	}
	t.Cached = false
	if data, err = json.Marshal(t); err == nil {
		err = c.e.Put(ctx, name, data, t.ExpiresOn)
	}
	return t, err
}
