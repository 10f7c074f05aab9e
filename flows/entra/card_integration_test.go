//go:build linux

package entra

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"

	"github.com/pivauth/pivauth/flows/assertion"
	"github.com/pivauth/pivauth/flows/assertion/assertiontest"
	"github.com/pivauth/pivauth/flows/cache"
	"github.com/pivauth/pivauth/hw-test/benchtest"
	standin "github.com/pivauth/pivauth/hw-test/entra"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/piv"
	"github.com/pivauth/pivauth/signer"
)

// benchPIN is the piv profile's PIN (TEAM.md); on a real card PIVAUTH_PIN may override it.
var benchPIN = signer.Chain(signer.Env(), signer.PINFunc(func(context.Context, signer.PINRequest) ([]byte, error) {
	return []byte("123456"), nil
}))

// cardSigner opens the slot of the bench card.
func cardSigner(tb testing.TB, b *benchtest.Bench, slot piv.Slot) *signer.Signer {
	tb.Helper()
	s, err := signer.Open(context.Background(), signer.Options{Card: piv.Selector{Reader: b.Reader}, Slot: slot, PIN: benchPIN})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// cardFixture is a stand-in tenant with an app whose certificate is the bench card's 9A
// certificate, and a client signing through the card (counted, so the count also works on a real
// card, where the card's own counters are not available).
func cardFixture(t *testing.T, b *benchtest.Bench, edit func(*standin.Options, *Options)) *fixture {
	t.Helper()
	s := cardSigner(t, b, piv.SlotAuthentication)
	cert := s.Certificate()
	f := &fixture{signer: &assertiontest.CountingSigner{Signer: s}, cert: cert}
	so := standin.Options{Apps: []standin.App{{ClientID: testClientID, Certificates: []standin.Credential{{Cert: cert}},
		Roles: map[string][]string{"https://outlook.office365.com": {"Exchange.ManageAsApp"}}}}}
	f.start(t, so, edit)
	return f
}

// TestCardTokenAndCache: on the piv profile card, a fresh app-only token costs one card signature
// (one PIN verification), and the same token from the disk cache, in a new client as in a new
// process, costs no APDU at all.
func TestCardTokenAndCache(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	store, err := cache.Open(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	f := cardFixture(t, b, func(_ *standin.Options, co *Options) { co.Cache = store })
	ctx := context.Background()
	if !b.Real() {
		b.ResetStats()
	}
	tok, err := f.client.Token(ctx, exoDefault)
	if err != nil {
		t.Fatal(err)
	}
	if f.signer.Count() != 1 {
		t.Errorf("%d signatures for a fresh token, want 1", f.signer.Count())
	}
	if !b.Real() {
		st := b.Stats()
		if st.Signatures != 1 || st.PINVerifies != 1 {
			t.Errorf("card: %d signatures, %d PIN verifications for one token; want 1 and 1", st.Signatures, st.PINVerifies)
		}
		t.Logf("fresh token: %d APDUs", st.APDUs)
	}
	c := f.verifyToken(t, tok.AccessToken)
	if c["aud"] != "https://outlook.office365.com" || c["appid"] != testClientID {
		t.Errorf("claims %v", c)
	}

	again, err := New(Options{Authority: f.srv.Authority(), ClientID: testClientID, Signer: f.signer, Certificate: f.cert, HTTPClient: f.srv.HTTPClient(), Cache: store})
	if err != nil {
		t.Fatal(err)
	}
	var before vcard.Stats
	if !b.Real() {
		before = b.Stats()
	}
	cached, err := again.Token(ctx, exoDefault)
	if err != nil || !cached.Cached || cached.AccessToken != tok.AccessToken {
		t.Fatalf("cached: %v %v", cached.Cached, err)
	}
	if f.signer.Count() != 1 {
		t.Errorf("the cached token cost %d signatures", f.signer.Count()-1)
	}
	if !b.Real() {
		if after := b.Stats(); after.APDUs != before.APDUs {
			t.Errorf("the cached token cost %d APDUs, want 0", after.APDUs-before.APDUs)
		}
	}
}

// TestCardLogin: interactive sign-in (authorization code + PKCE) with the card authenticating the
// app when the code is redeemed: one card signature.
func TestCardLogin(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	f := cardFixture(t, b, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := f.client.Login(ctx, LoginOptions{Scopes: []string{"https://graph.microsoft.com/User.Read"}, OpenBrowser: browserUser(f.srv), Output: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Account != f.srv.User().UPN || f.signer.Count() != 1 {
		t.Errorf("account %q, %d card signatures; want %q and 1", tok.Account, f.signer.Count(), f.srv.User().UPN)
	}
	if c := f.verifyToken(t, tok.AccessToken); c["scp"] != "User.Read" || c["azp"] != testClientID {
		t.Errorf("claims %v", c)
	}
}

// TestCardECSlotRefused: the piv profile's 9E slot holds a P-256 key, which Entra cannot use; it
// is refused before any signature or request.
func TestCardECSlotRefused(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	s := cardSigner(t, b, piv.SlotCardAuthentication)
	srv := benchServer(t, s.Certificate())
	if !b.Real() {
		b.ResetStats()
	}
	_, err := New(Options{Authority: srv.Authority(), ClientID: testClientID, Signer: s, Certificate: s.Certificate(), HTTPClient: srv.HTTPClient()})
	if !errors.Is(err, ErrKeyNotRSA) {
		t.Fatalf("err = %v, want ErrKeyNotRSA", err)
	}
	t.Log(err)
	if st := srv.Stats(); st.Discovery+st.Token != 0 {
		t.Errorf("requests: %+v", st)
	}
	if !b.Real() && b.Stats().Signatures != 0 {
		t.Errorf("card signed %d times", b.Stats().Signatures)
	}
}

// TestCardRejections drives Entra's rejections through MSAL with assertions signed by the card.
func TestCardRejections(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	ctx := context.Background()
	_, otherCert := assertiontest.Key(t, assertiontest.RSA2048)
	mint := func(f *fixture, o assertion.Options) func(context.Context, string, string) (string, error) {
		return func(_ context.Context, aud, cid string) (string, error) {
			if o.Audience == "" {
				o.Audience = aud
			}
			if o.ClientID == "" {
				o.ClientID = cid
			}
			return assertion.New(f.signer, f.cert, o)
		}
	}
	cases := []struct {
		name  string
		edit  func(*standin.Options, *Options)
		mint  func(*fixture) func(context.Context, string, string) (string, error)
		code  int
		signs int
	}{
		{"AADSTS700027 certificate not registered", func(so *standin.Options, _ *Options) {
			so.Apps[0].Certificates = []standin.Credential{{Cert: otherCert}}
		}, nil, 700027, 1},
		{"AADSTS7000274 registered credential expired", func(so *standin.Options, _ *Options) {
			so.Apps[0].Certificates[0].EndDate = time.Now().Add(-time.Hour)
		}, nil, 7000274, 1},
		{"AADSTS700024 clock skew", func(_ *standin.Options, co *Options) {
			co.Now = func() time.Time { return time.Now().Add(-30 * time.Minute) }
		}, nil, 700024, 1},
		{"AADSTS700016 unknown app", func(_ *standin.Options, co *Options) { co.ClientID = "00000000-dead-beef-0000-000000000000" }, nil, 700016, 1},
		{"AADSTS90002 unknown tenant", func(so *standin.Options, _ *Options) { so.Domain = "" }, nil, 90002, 0},
		{"AADSTS700021 other client", nil, func(f *fixture) func(context.Context, string, string) (string, error) {
			return mint(f, assertion.Options{ClientID: "someone-else"})
		}, 700021, 1},
		{"AADSTS50048 subject differs from issuer", nil, func(f *fixture) func(context.Context, string, string) (string, error) {
			return func(_ context.Context, aud, cid string) (string, error) {
				return signWith(f.signer, f.cert, map[string]any{"aud": aud, "iss": cid, "sub": "someone-else", "jti": time.Now().String(),
					"nbf": time.Now().Unix(), "exp": time.Now().Add(5 * time.Minute).Unix()})
			}
		}, 50048, 1},
		{"AADSTS700023 wrong audience", nil, func(f *fixture) func(context.Context, string, string) (string, error) {
			return mint(f, assertion.Options{Audience: "https://login.microsoftonline.com/other/oauth2/v2.0/token"})
		}, 700023, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := cardFixture(t, b, tc.edit)
			client := f.client
			if tc.code == 90002 {
				var err error
				client, err = New(Options{Authority: f.srv.URL() + "/no-such-tenant.example", ClientID: testClientID, Signer: f.signer, Certificate: f.cert, HTTPClient: f.srv.HTTPClient()})
				if err != nil {
					t.Fatal(err)
				}
			}
			if tc.mint != nil {
				client.mint = tc.mint(f)
			}
			_, err := client.Token(ctx, exoDefault)
			wantAADSTS(t, err, tc.code)
			if f.signer.Count() != tc.signs {
				t.Errorf("%d card signatures, want %d", f.signer.Count(), tc.signs)
			}
		})
	}
	t.Run("AADSTS50013 replayed jti", func(t *testing.T) {
		f := cardFixture(t, b, nil)
		f.replayFirstAssertion()
		if _, err := f.client.Token(ctx, exoDefault); err != nil {
			t.Fatal(err)
		}
		_, err := f.client.Token(ctx, graphDefault)
		wantAADSTS(t, err, 50013)
	})
	t.Run("AADSTS5002738 EC key", func(t *testing.T) {
		ec := cardSigner(t, b, piv.SlotCardAuthentication)
		f := cardFixture(t, b, func(so *standin.Options, _ *Options) {
			so.Apps[0].Certificates = append(so.Apps[0].Certificates, standin.Credential{Cert: ec.Certificate()})
		})
		f.client.mint = func(_ context.Context, aud, cid string) (string, error) {
			return assertion.New(ec, ec.Certificate(), assertion.Options{Audience: aud, ClientID: cid})
		}
		_, err := f.client.Token(ctx, exoDefault)
		wantAADSTS(t, err, 5002738)
	})
}

// signWith signs arbitrary claims (RS256, x5t#S256) through any crypto.Signer.
func signWith(s crypto.Signer, cert *x509.Certificate, claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: cryptosigner.Opaque(s)},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("x5t#S256", assertion.X5TS256(cert)))
	if err != nil {
		return "", err
	}
	obj, err := js.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// BenchmarkCardToken reports, on the bench card, card signatures and APDUs per token, fresh and
// cached, and the end-to-end time per fresh token as a ratio to the same flow with a software key.
func BenchmarkCardToken(b *testing.B) {
	bench := benchtest.Start(b, vcard.ProfilePIV)
	s := cardSigner(b, bench, piv.SlotAuthentication)
	cs := &assertiontest.CountingSigner{Signer: s}
	srv := benchServer(b, s.Certificate())
	softKey, softCert := assertiontest.Key(b, assertiontest.RSA2048)
	if err := srv.Register(standin.App{ClientID: testClientID, Certificates: []standin.Credential{{Cert: s.Certificate()}, {Cert: softCert}}}); err != nil {
		b.Fatal(err)
	}
	perToken := func(b *testing.B, before vcard.Stats) {
		if bench.Real() {
			return
		}
		st := bench.Stats()
		b.ReportMetric(float64(st.APDUs-before.APDUs)/float64(b.N), "apdus/token")
		b.ReportMetric(float64(st.Signatures-before.Signatures)/float64(b.N), "card-signatures/token")
	}
	stats := func() vcard.Stats {
		if bench.Real() {
			return vcard.Stats{}
		}
		return bench.Stats()
	}
	b.Run("fresh", func(b *testing.B) {
		tokenRun(b, srv, cs, s.Certificate(), nil, 1) // warm up: connections, first PIN
		before, signs := stats(), cs.Count()
		var card time.Duration
		for b.Loop() {
			card += tokenRun(b, srv, cs, s.Certificate(), nil, 1)
		}
		perToken(b, before)
		b.ReportMetric(float64(cs.Count()-signs)/float64(b.N), "signatures/token")
		soft := tokenRun(b, srv, softKey, softCert, nil, b.N)
		b.ReportMetric(float64(card)/float64(soft), "x-software-time")
	})
	b.Run("cached", func(b *testing.B) {
		store, err := cache.Open(filepath.Join(b.TempDir(), "cache"))
		if err != nil {
			b.Fatal(err)
		}
		tokenRun(b, srv, cs, s.Certificate(), store, 1)
		before, signs := stats(), cs.Count()
		for b.Loop() {
			tokenRun(b, srv, cs, s.Certificate(), store, 1)
		}
		perToken(b, before)
		b.ReportMetric(float64(cs.Count()-signs)/float64(b.N), "signatures/token")
	})
}
