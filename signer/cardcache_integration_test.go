//go:build linux

package signer_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
)

// filePIN is signer.File with a count of the PINs it gave: a Promptless
// source, as a PIN file is.
type filePIN struct {
	file  signer.PINSource
	asked atomic.Int32
}

func newFilePIN(t testing.TB) *filePIN {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(path, []byte(defaultPIN), 0o600); err != nil {
		t.Fatal(err)
	}
	return &filePIN{file: signer.File(path)}
}

func (f *filePIN) PIN(ctx context.Context, req signer.PINRequest) ([]byte, error) {
	f.asked.Add(1)
	return f.file.PIN(ctx, req)
}

func (f *filePIN) Promptless() bool { return true }

// coldSign opens a signer on the bench's card with the cache, signs once,
// names the card as the audit record does and closes: a cold process. It
// returns the card's APDUs and what CardIdentity said.
func coldSign(t *testing.T, b *benchtest.Bench, cache *signer.CardCache, pins signer.PINSource, allowLast bool) (int, piv.Identity, bool) {
	t.Helper()
	b.ResetStats()
	s, err := signer.Open(testContext(t), signer.Options{Card: piv.Selector{Reader: b.Reader}, PIN: pins, CardCache: cache, AllowLastPINTry: allowLast})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := digest(crypto.SHA256, []byte("cold"))
	sig, err := s.Sign(rand.Reader, d, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	verify(t, s.Certificate(), d, sig)
	id, cached, err := s.CardIdentity(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	return b.Stats().APDUs, id, cached
}

// TestCardCacheColdPath: the APDU targets of a cold process with the PIN from
// a file (issue 13), on both profiles: the first-ever run learns the card's
// identity and the key's PIN policy (at most 8 APDUs) and stores them; every
// later run spends none on them (6; 5 with AllowLastPINTry), and names the
// card from the cache. The entry is private and holds no PIN.
func TestCardCacheColdPath(t *testing.T) {
	for _, profile := range []vcard.Profile{vcard.ProfileYubiKey, vcard.ProfilePIV} {
		t.Run(string(profile), func(t *testing.T) {
			b := benchtest.Start(t, profile)
			if profile == vcard.ProfileYubiKey {
				provision(t, b, keySpec{piv.SlotAuthentication, piv.AlgRSA2048, piv.PINPolicyOnce, piv.TouchPolicyNever})
			}
			dir := filepath.Join(t.TempDir(), "cards")
			cache, err := signer.OpenCardCache(dir)
			if err != nil {
				t.Fatal(err)
			}
			pins := newFilePIN(t)
			n, first, cached := coldSign(t, b, cache, pins, false)
			if n > 8 || cached {
				t.Errorf("first cold run: %d APDUs, identity cached %v; want at most 8, read from the card", n, cached)
			}
			entries, _ := filepath.Glob(filepath.Join(dir, "*.json"))
			if len(entries) != 1 {
				t.Fatalf("cache entries %v, want one", entries)
			}
			fi, err := os.Stat(entries[0])
			data, _ := os.ReadFile(entries[0])
			// The piv profile's keys have their slots' policies: nothing to record.
			if err != nil || fi.Mode().Perm() != 0o600 || strings.Contains(string(data), string(defaultPIN)) || strings.Contains(string(data), `"pin_policy":`) != (profile == vcard.ProfileYubiKey) {
				t.Errorf("cache entry %s (%v): mode %v, %s", entries[0], err, fi.Mode(), data)
			}
			n, again, cached := coldSign(t, b, cache, pins, false)
			if n > 6 || !cached || again.Serial != first.Serial || again.GUID != first.GUID || again.YubiKey != first.YubiKey {
				t.Errorf("later cold run: %d APDUs, identity %+v (cached %v); want at most 6, %+v from the cache", n, again, cached, first)
			}
			if n, _, _ := coldSign(t, b, cache, pins, true); n > 5 {
				t.Errorf("later cold run with AllowLastPINTry: %d APDUs, want at most 5", n)
			}
			if st := b.Stats(); st.PINVerifies != 1 || st.Signatures != 1 {
				t.Errorf("%d PINs, %d signatures in the last run", st.PINVerifies, st.Signatures)
			}
		})
	}
}

// TestCardCacheStalePolicy: a record that says the key needs no PIN while
// the card says it does (6982) is corrected: the signature is made with the
// PIN, and the next process presents it at once.
func TestCardCacheStalePolicy(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfileYubiKey)
	certs := provision(t, b, keySpec{piv.SlotAuthentication, piv.AlgECCP256, piv.PINPolicyOnce, piv.TouchPolicyNever})
	cache, err := signer.OpenCardCache(filepath.Join(t.TempDir(), "cards"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cache.Store(certs[0].Raw, piv.SlotAuthentication, signer.CardRecord{YubicoExtensions: true, Serial: 1, PINPolicy: piv.PINPolicyNever}); err != nil {
		t.Fatal(err)
	}
	pins := newFilePIN(t)
	coldSign(t, b, cache, pins, false)
	if st := b.Stats(); st.Instructions["87"] != 2 || st.PINVerifies != 1 {
		t.Errorf("stale record: %v, want the GENERAL AUTHENTICATE refused (6982), then with the PIN", st.Instructions)
	}
	if r, ok := cache.Load(certs[0].Raw, piv.SlotAuthentication); !ok || r.PINPolicy == piv.PINPolicyNever || r.Serial == 1 {
		t.Errorf("record after 6982: %+v (%v), want a PIN policy and the card's own identity", r, ok)
	}
	if n, _, _ := coldSign(t, b, cache, pins, false); n > 6 || b.Stats().Instructions["87"] != 1 {
		t.Errorf("next process: %d APDUs %v, want the PIN at once", n, b.Stats().Instructions)
	}
}

// TestCardCacheTwoCardsOneCertificate: two YubiKeys hold the same key and
// certificate (imported into both). The cache, keyed by the certificate,
// names them the same, and says so (cached); but a PIN is never bound to a
// cached identity: a PIN typed for card A goes to card B, which took A's
// place in the reader, only after the person is asked again, and a PIN from
// a file is read again for the new connection. Neither card is ever given
// the other's session PIN.
func TestCardCacheTwoCardsOneCertificate(t *testing.T) {
	stateA := filepath.Join(t.TempDir(), "a.json")
	b := benchtest.Start(t, vcard.ProfileYubiKey, benchtest.WithState(stateA))
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert := issue(t, b, priv.Public(), "one certificate, two cards")
	c, err := piv.Open(testContext(t), piv.Selector{Reader: b.Reader})
	if err != nil {
		t.Fatal(err)
	}
	err = c.ImportKey(testContext(t), defaultMgmtKey, piv.SlotAuthentication, priv, cert, piv.KeyOptions{PINPolicy: piv.PINPolicyOnce})
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Card B: A's state (key, certificate, PIN) under another serial.
	var state map[string]any
	data, err := os.ReadFile(stateA)
	if err == nil {
		err = json.Unmarshal(data, &state)
	}
	if err != nil {
		t.Fatal(err)
	}
	state["serial"] = state["serial"].(float64) + 1
	stateB := filepath.Join(t.TempDir(), "b.json")
	if data, err = json.Marshal(state); err == nil {
		err = os.WriteFile(stateB, data, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
	cache, err := signer.OpenCardCache(filepath.Join(t.TempDir(), "cards"))
	if err != nil {
		t.Fatal(err)
	}
	file := newFilePIN(t)
	_, idA, _ := coldSign(t, b, cache, file, false) // the cache names card A
	typed := &pinCounter{pin: defaultPIN}
	sTyped := openSigner(t, b, signer.Options{PIN: typed, CardCache: cache})
	sFile := openSigner(t, b, signer.Options{PIN: file, CardCache: cache})
	d := digest(crypto.SHA256, []byte("two cards"))
	for _, s := range []*signer.Signer{sTyped, sFile} {
		if _, err := s.Sign(rand.Reader, d, crypto.SHA256); err != nil {
			t.Fatal(err)
		}
	}
	fileAsked := file.asked.Load()

	// Card B, with the same key and certificate, in A's place.
	b.Pull()
	other := attachCard(t, b, stateB)
	other.card.ResetStats()
	for _, s := range []*signer.Signer{sTyped, sFile} {
		sig, err := s.Sign(rand.Reader, d, crypto.SHA256)
		if err != nil {
			t.Fatalf("card B: %v", err)
		}
		verify(t, cert, d, sig)
	}
	if n := typed.asked.Load(); n != 2 {
		t.Errorf("typed PIN asked %d times, want again for card B", n)
	}
	if n := file.asked.Load() - fileAsked; n != 1 {
		t.Errorf("PIN file read %d times for card B, want once more", n)
	}
	if st := other.card.Stats(); st.PINVerifies != 2 {
		t.Errorf("card B got %d PINs, want one per signer, each asked for it", st.PINVerifies)
	}
	// sTyped read B's identity from B before its PIN: the cache now names B.
	r, ok := cache.Load(cert.Raw, piv.SlotAuthentication)
	if !ok || r.Serial == idA.Serial || r.Serial == 0 {
		t.Errorf("record after card B was identified: %+v, want B's serial (A's is %d)", r, idA.Serial)
	}
	// A cold process on B names it from the cache, and says the name is the cache's.
	if _, id, cached := coldSign(t, b, cache, file, false); !cached || id.Serial != r.Serial {
		t.Errorf("cold process on B: %+v cached %v", id, cached)
	}
}
