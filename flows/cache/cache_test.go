package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var key = Key{
	Authority:  "https://login.example.test/Tenant/",
	ClientID:   "11111111-2222-3333-4444-555555555555",
	Scopes:     []string{"https://graph.microsoft.com/.default"},
	Thumbprint: "ab12",
}

func openAt(t *testing.T, now time.Time) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "pivauth"))
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return now }
	return s
}

func TestPutGetPrivateFiles(t *testing.T) {
	now := time.Now()
	s := openAt(t, now)
	tok := Token{AccessToken: "at-1", TokenType: "Bearer", ExpiresOn: now.Add(time.Hour), Scopes: key.Scopes}
	if err := s.Put(key, tok); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Get(key)
	if err != nil || !ok || got.AccessToken != "at-1" || !got.Cached || !got.ExpiresOn.Equal(tok.ExpiresOn) {
		t.Fatalf("Get = %+v, %v, %v", got, ok, err)
	}
	files, _ := filepath.Glob(filepath.Join(s.Dir(), "*"))
	if len(files) != 1 {
		t.Fatalf("files %v, want one entry and no temp files", files)
	}
	// Windows has no mode bits to speak of; there Open and Get checked the owner and access list
	// (privfs).
	if runtime.GOOS != "windows" {
		if fi, _ := os.Stat(s.Dir()); fi.Mode().Perm() != 0o700 {
			t.Errorf("dir mode %v, want 0700", fi.Mode().Perm())
		}
		if fi, _ := os.Stat(files[0]); fi.Mode().Perm() != 0o600 {
			t.Errorf("entry mode %v, want 0600", fi.Mode().Perm())
		}
	}
	data, _ := os.ReadFile(files[0])
	if strings.Contains(filepath.Base(files[0]), key.ClientID) {
		t.Errorf("file name %s reveals the client id", files[0])
	}
	if !strings.Contains(string(data), "at-1") {
		t.Errorf("entry does not hold the token")
	}
}

func TestGetNeedsFiveMinutesLeft(t *testing.T) {
	now := time.Now()
	s := openAt(t, now)
	for _, c := range []struct {
		left time.Duration
		hit  bool
	}{{4 * time.Minute, false}, {MinRemaining, false}, {6 * time.Minute, true}, {-time.Minute, false}} {
		if err := s.Put(key, Token{AccessToken: "x", ExpiresOn: now.Add(c.left)}); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.Get(key); ok != c.hit {
			t.Errorf("%v left: hit = %v, want %v", c.left, ok, c.hit)
		}
	}
}

// TestKeyNormalizationAndSeparation: what names the same entry (scheme and host case, trailing
// slash, scope order and duplicates, thumbprint case) meets; what OAuth treats as case-sensitive
// (the issuer's path, the client id, scopes) keeps tokens apart.
func TestKeyNormalizationAndSeparation(t *testing.T) {
	now := time.Now()
	s := openAt(t, now)
	k := key
	k.ClientID = "build-Bot"
	k.Scopes = []string{"b", "a", "a"}
	if err := s.Put(k, Token{AccessToken: "x", ExpiresOn: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	same := Key{Authority: "HTTPS://LOGIN.example.test/Tenant", ClientID: k.ClientID, Scopes: []string{"a", "b"}, Thumbprint: "AB12"}
	if _, ok, _ := s.Get(same); !ok {
		t.Error("an equivalent key (scheme and host case, order, trailing slash, duplicates) missed")
	}
	for name, other := range map[string]Key{
		"another certificate": {Authority: k.Authority, ClientID: k.ClientID, Scopes: k.Scopes, Thumbprint: "cd34"},
		"another client":      {Authority: k.Authority, ClientID: "other", Scopes: k.Scopes, Thumbprint: k.Thumbprint},
		"another authority":   {Authority: "https://login.example.test/other", ClientID: k.ClientID, Scopes: k.Scopes, Thumbprint: k.Thumbprint},
		"other scopes":        {Authority: k.Authority, ClientID: k.ClientID, Scopes: []string{"a"}, Thumbprint: k.Thumbprint},
		"issuer path case":    {Authority: "https://login.example.test/tenant/", ClientID: k.ClientID, Scopes: k.Scopes, Thumbprint: k.Thumbprint},
		"client id case":      {Authority: k.Authority, ClientID: strings.ToUpper(k.ClientID), Scopes: k.Scopes, Thumbprint: k.Thumbprint},
		"scope case":          {Authority: k.Authority, ClientID: k.ClientID, Scopes: []string{"A", "b"}, Thumbprint: k.Thumbprint},
	} {
		if _, ok, _ := s.Get(other); ok {
			t.Errorf("%s: served a token cached for a different key", name)
		}
	}
}

func TestCorruptEntryIsAMiss(t *testing.T) {
	s := openAt(t, time.Now())
	if err := os.WriteFile(s.path(key), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Get(key); ok || err != nil {
		t.Errorf("Get = %v, %v; want a plain miss", ok, err)
	}
	if err := s.Delete(key); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(key); err != nil {
		t.Errorf("second Delete: %v", err)
	}
}

func TestOpenRefusesSharedDirectory(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("mode bits do not share a directory on Windows; privfs tests its access-list check")
	}
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "chmod 700") {
		t.Errorf("Open(world-writable dir) = %v, want a refusal saying how to fix it", err)
	}
}

func TestDefaultDirFollowsXDG(t *testing.T) {
	base := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", base)
	dir, err := DefaultDir()
	if err != nil || dir != filepath.Join(base, "pivauth") {
		t.Errorf("DefaultDir = %q, %v", dir, err)
	}
}

func TestFetchFetchesOnceAndKeepsErrorsOut(t *testing.T) {
	now := time.Now()
	s := openAt(t, now)
	calls := 0
	fetch := func(context.Context) (Token, error) {
		calls++
		return Token{AccessToken: fmt.Sprint("at-", calls), ExpiresOn: now.Add(time.Hour)}, nil
	}
	failing := func(context.Context) (Token, error) { return Token{}, errors.New("boom") }
	other := key
	other.ClientID = "other"
	if _, err := s.Fetch(context.Background(), other, failing); err == nil {
		t.Fatal("fetch error swallowed")
	}
	if _, ok, _ := s.Get(other); ok {
		t.Error("a failed fetch left an entry")
	}
	a, err := s.Fetch(context.Background(), key, fetch)
	if err != nil || a.Cached {
		t.Fatalf("first Fetch = %+v, %v", a, err)
	}
	b, err := s.Fetch(context.Background(), key, fetch)
	if err != nil || !b.Cached || b.AccessToken != a.AccessToken || calls != 1 {
		t.Fatalf("second Fetch = %+v, %v after %d fetches", b, err, calls)
	}
}

func TestFetchWaitHonoursContext(t *testing.T) {
	s := openAt(t, time.Now())
	unlock, err := lockFile(context.Background(), filepath.Join(s.Dir(), key.name()+".lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = s.Fetch(ctx, key, func(context.Context) (Token, error) {
		t.Error("fetched while another holds the lock")
		return Token{}, nil
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Fetch = %v, want the context's deadline", err)
	}
}

// helperTimeout bounds each helper process of TestTwoProcessesFetchOnce; they normally take well
// under a second.
const helperTimeout = 30 * time.Second

// TestTwoProcessesFetchOnce starts two processes that Fetch the same key at once; the fetch
// (standing in for a card signature and a token request) appends to a log and takes a while. Only
// one of them may fetch; the other must wait and read its token.
func TestTwoProcessesFetchOnce(t *testing.T) {
	if os.Getenv("PIVAUTH_CACHE_HELPER") != "" {
		t.Skip("helper mode")
	}
	dir := filepath.Join(t.TempDir(), "pivauth")
	logFile := filepath.Join(t.TempDir(), "fetches")
	// A helper that hangs (a lock never released) is killed at the deadline instead of hanging the
	// suite.
	ctx, cancel := context.WithTimeout(context.Background(), helperTimeout)
	defer cancel()
	var wg sync.WaitGroup
	outs := make([]string, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperFetch$", "-test.count=1")
			cmd.Env = append(os.Environ(), "PIVAUTH_CACHE_HELPER="+dir, "PIVAUTH_CACHE_LOG="+logFile)
			cmd.WaitDelay = time.Second // output pipes held open by a grandchild do not stall Wait either
			out, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(out), err
		}()
	}
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil {
			t.Fatalf("helper %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	log, _ := os.ReadFile(logFile)
	if n := strings.Count(string(log), "\n"); n != 1 {
		t.Errorf("fetched %d times across two processes, want 1:\n%s", n, log)
	}
	token := func(out string) string {
		_, after, _ := strings.Cut(out, "TOKEN=")
		tok, _, _ := strings.Cut(after, "\n")
		return tok
	}
	if a, b := token(outs[0]), token(outs[1]); a == "" || a != b {
		t.Errorf("processes got %q and %q, want the same token", a, b)
	}
}

// TestHelperFetch is the body of each process in TestTwoProcessesFetchOnce.
func TestHelperFetch(t *testing.T) {
	dir := os.Getenv("PIVAUTH_CACHE_HELPER")
	if dir == "" {
		t.Skip("only run as a helper process")
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Barrier: announce readiness, then wait for the other process, so both call Fetch together.
	ready := os.Getenv("PIVAUTH_CACHE_LOG") + ".ready"
	f, err := os.OpenFile(ready, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("x")
	f.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if b, _ := os.ReadFile(ready); len(b) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the other helper never became ready")
		}
	}
	tok, err := s.Fetch(context.Background(), key, func(context.Context) (Token, error) {
		f, err := os.OpenFile(os.Getenv("PIVAUTH_CACHE_LOG"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return Token{}, err
		}
		fmt.Fprintf(f, "pid %d\n", os.Getpid())
		f.Close()
		time.Sleep(300 * time.Millisecond) // long enough for the other process to be waiting
		return Token{AccessToken: fmt.Sprintf("from-%d", os.Getpid()), ExpiresOn: time.Now().Add(time.Hour)}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("TOKEN=%s\n", tok.AccessToken)
}

// memEntries keeps entries in memory, as pivauth's agent does, for Over.
type memEntries struct {
	data    map[string][]byte
	expires map[string]time.Time
	gets    int
}

func (m *memEntries) Get(_ context.Context, name string) ([]byte, bool, error) {
	m.gets++
	d, ok := m.data[name]
	return d, ok, nil
}

func (m *memEntries) Put(_ context.Context, name string, data []byte, expires time.Time) error {
	m.data[name], m.expires[name] = data, expires
	return nil
}

// A Cache over another store of entries serves what Store serves: a kept token while it has more
// than MinRemaining left, marked Cached; equal keys meet under one name; a token about to expire
// is fetched again.
func TestOverServesLikeStore(t *testing.T) {
	now := time.Now()
	m := &memEntries{data: map[string][]byte{}, expires: map[string]time.Time{}}
	c := Over(m).(entriesCache)
	c.now = func() time.Time { return now }
	fetches := 0
	fetch := func(left time.Duration) func(context.Context) (Token, error) {
		return func(context.Context) (Token, error) {
			fetches++
			return Token{AccessToken: fmt.Sprintf("at-%d", fetches), ExpiresOn: now.Add(left)}, nil
		}
	}
	ctx := context.Background()
	first, err := c.Fetch(ctx, key, fetch(time.Hour))
	if err != nil || first.AccessToken != "at-1" || first.Cached || fetches != 1 {
		t.Fatalf("first Fetch = %+v, %v after %d fetches; want a fresh at-1", first, err, fetches)
	}
	if len(m.data) != 1 {
		t.Fatalf("%d entries kept, want 1", len(m.data))
	}
	for name, exp := range m.expires {
		if len(name) != 64 || !exp.Equal(first.ExpiresOn) {
			t.Errorf("entry %q kept until %v; want a SHA-256 hex name, kept until the token expires (%v)", name, exp, first.ExpiresOn)
		}
	}
	same := Key{Authority: strings.ToUpper(key.Authority[:20]) + key.Authority[20:], ClientID: key.ClientID,
		Scopes: append([]string{key.Scopes[len(key.Scopes)-1]}, key.Scopes...), Thumbprint: strings.ToLower(key.Thumbprint)}
	again, err := c.Fetch(ctx, same, fetch(time.Hour))
	if err != nil || again.AccessToken != "at-1" || !again.Cached || fetches != 1 {
		t.Fatalf("Fetch of an equal key = %+v, %v after %d fetches; want at-1 from the cache", again, err, fetches)
	}
	other := key
	other.ClientID = "another-client"
	if tok, _ := c.Fetch(ctx, other, fetch(MinRemaining)); tok.AccessToken != "at-2" || fetches != 2 {
		t.Fatalf("another client got %+v after %d fetches; want a fetch of its own", tok, fetches)
	}
	// at-2 has exactly MinRemaining left: not worth serving.
	if tok, _ := c.Fetch(ctx, other, fetch(time.Hour)); tok.AccessToken != "at-3" || tok.Cached || fetches != 3 {
		t.Errorf("a token with MinRemaining left was served: %+v after %d fetches", tok, fetches)
	}
}
