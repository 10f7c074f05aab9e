package entra

import (
	"context"
	"crypto"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pivauth/pivauth/flows/assertion"
	"github.com/pivauth/pivauth/flows/assertion/assertiontest"
	"github.com/pivauth/pivauth/flows/cache"
	standin "github.com/pivauth/pivauth/hw-test/entra"
)

func TestAppOnlyTokens(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		scope, aud string
		roles      []string
	}{
		{graphDefault, "https://graph.microsoft.com", []string{"Mail.Read", "User.Read.All"}},
		{exoDefault, "https://outlook.office365.com", []string{"Exchange.ManageAsApp"}},
	} {
		before := f.signer.Count()
		tok, err := f.client.Token(ctx, tc.scope)
		if err != nil {
			t.Fatalf("%s: %v", tc.scope, err)
		}
		if f.signer.Count() != before+1 {
			t.Errorf("%s: %d signatures, want 1", tc.scope, f.signer.Count()-before)
		}
		if tok.Cached || tok.TokenType != "Bearer" || time.Until(tok.ExpiresOn) < 50*time.Minute {
			t.Errorf("%s: token %+v", tc.scope, tok)
		}
		c := f.verifyToken(t, tok.AccessToken)
		if c["aud"] != tc.aud || c["tid"] != f.srv.Tenant() || c["appid"] != testClientID || c["azp"] != testClientID || c["idtyp"] != "app" {
			t.Errorf("%s: claims %v", tc.scope, c)
		}
		var roles []string
		for _, r := range c["roles"].([]any) {
			roles = append(roles, r.(string))
		}
		if !slices.Equal(roles, tc.roles) {
			t.Errorf("%s: roles %v, want %v", tc.scope, roles, tc.roles)
		}
	}
	// MSAL's in-memory cache answers the same request again without the card.
	before, requests := f.signer.Count(), f.srv.Stats().Token
	tok, err := f.client.Token(ctx, graphDefault)
	if err != nil || !tok.Cached || f.signer.Count() != before || f.srv.Stats().Token != requests {
		t.Errorf("repeat: cached=%v err=%v, %d signatures, %d requests", tok.Cached, err, f.signer.Count()-before, f.srv.Stats().Token-requests)
	}
}

func TestTenantByDomainAndCloudAuthority(t *testing.T) {
	f := newFixture(t, func(so *standin.Options, co *Options) {})
	c, err := New(Options{Cloud: f.srv.URL(), Tenant: "PIVAUTH.TEST", ClientID: testClientID, Signer: f.signer, Certificate: f.cert, HTTPClient: f.srv.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	if c.Authority() != f.srv.URL()+"/PIVAUTH.TEST" {
		t.Errorf("authority %s", c.Authority())
	}
	if _, err := c.Token(context.Background(), graphDefault); err != nil {
		t.Fatalf("tenant by verified domain: %v", err)
	}
	for name, want := range map[string]string{"": PublicCloud, "usgov": USGovernmentCloud, "AzureChinaCloud": ChinaCloud} {
		got, err := CloudByName(name)
		if err != nil || got != want {
			t.Errorf("CloudByName(%q) = %q, %v", name, got, err)
		}
	}
	if _, err := CloudByName("mars"); err == nil {
		t.Error("unknown cloud accepted")
	}
	gov, err := New(Options{Cloud: USGovernmentCloud, Tenant: "contoso.us", ClientID: testClientID, Signer: f.signer, Certificate: f.cert})
	if err != nil || gov.TokenEndpoint() != "https://login.microsoftonline.us/contoso.us/oauth2/v2.0/token" {
		t.Errorf("US Gov client: %v, %v", gov, err)
	}
}

// TestRefusedBeforeNetwork: an EC or Ed25519 key, an expired or future certificate and a
// certificate of another key are refused without a request and without a signature.
func TestRefusedBeforeNetwork(t *testing.T) {
	f := newFixture(t, nil)
	now := time.Now()
	ecKey, ecCert := assertiontest.Key(t, assertiontest.P256)
	edKey, edCert := assertiontest.Key(t, assertiontest.Ed25519)
	rsaKey, _ := assertiontest.Key(t, assertiontest.RSA2048)
	expKey, expCert := assertiontest.KeyWith(t, assertiontest.RSA2048, assertiontest.CertOptions{NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.Add(-time.Hour)})
	futKey, futCert := assertiontest.KeyWith(t, assertiontest.RSA2048, assertiontest.CertOptions{NotBefore: now.Add(time.Hour), NotAfter: now.AddDate(1, 0, 0)})
	cases := []struct {
		name string
		opts Options
		want error
	}{
		{"EC P-256", Options{Signer: ecKey, Certificate: ecCert}, ErrKeyNotRSA},
		{"Ed25519", Options{Signer: edKey, Certificate: edCert}, ErrKeyNotRSA},
		{"expired", Options{Signer: expKey, Certificate: expCert}, ErrCertificateExpired},
		{"not yet valid", Options{Signer: futKey, Certificate: futCert}, ErrCertificateNotYetValid},
		{"other key", Options{Signer: rsaKey, Certificate: f.cert}, assertion.ErrKeyMismatch},
	}
	for _, tc := range cases {
		cs := &assertiontest.CountingSigner{Signer: tc.opts.Signer}
		tc.opts.Signer, tc.opts.ClientID, tc.opts.Authority, tc.opts.HTTPClient = cs, testClientID, f.srv.Authority(), f.srv.HTTPClient()
		_, err := New(tc.opts)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if cs.Count() != 0 {
			t.Errorf("%s: signed", tc.name)
		}
	}
	// A certificate that expires while the client lives is caught at the next request.
	clock := now
	late := newFixture(t, func(_ *standin.Options, co *Options) { co.Now = func() time.Time { return clock } })
	clock = late.cert.NotAfter.Add(time.Minute)
	if _, err := late.client.Token(context.Background(), graphDefault); !errors.Is(err, ErrCertificateExpired) || !strings.Contains(err.Error(), "upload it to app") {
		t.Errorf("Token after expiry: %v", err)
	}
	for _, s := range []*standin.Server{f.srv, late.srv} {
		if st := s.Stats(); st.Discovery+st.Token != 0 {
			t.Errorf("network calls made: %+v", st)
		}
	}
	if late.signer.Count() != 0 {
		t.Error("signed with an expired certificate")
	}
}

// TestRejections drives each rejection of the stand-in through MSAL and checks the explanation.
func TestRejections(t *testing.T) {
	ctx := context.Background()
	_, otherCert := assertiontest.Key(t, assertiontest.RSA2048)

	t.Run("AADSTS700027 certificate not registered", func(t *testing.T) {
		f := newFixture(t, func(so *standin.Options, _ *Options) {
			so.Apps[0].Certificates = []standin.Credential{{Cert: otherCert}}
		})
		_, err := f.client.Token(ctx, graphDefault)
		sha1Hex, _ := assertion.Thumbprints(f.cert)
		wantAADSTS(t, err, 700027, sha1Hex, testClientID, "Certificates & secrets")
	})
	t.Run("AADSTS7000274 registered credential expired", func(t *testing.T) {
		f := newFixture(t, func(so *standin.Options, _ *Options) {
			so.Apps[0].Certificates[0].EndDate = time.Now().Add(-time.Hour)
		})
		_, err := f.client.Token(ctx, graphDefault)
		wantAADSTS(t, err, 7000274, "expired", "make a new one on the card")
	})
	t.Run("AADSTS700024 clock skew", func(t *testing.T) {
		f := newFixture(t, func(_ *standin.Options, co *Options) {
			co.Now = func() time.Time { return time.Now().Add(-30 * time.Minute) }
		})
		_, err := f.client.Token(ctx, graphDefault)
		wantAADSTS(t, err, 700024, "system time")
	})
	t.Run("AADSTS90002 unknown tenant", func(t *testing.T) {
		f := newFixture(t, nil)
		c, err := New(Options{Authority: f.srv.URL() + "/no-such-tenant.example", ClientID: testClientID, Signer: f.signer, Certificate: f.cert, HTTPClient: f.srv.HTTPClient()})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Token(ctx, graphDefault)
		wantAADSTS(t, err, 90002, "tenant not found", "no-such-tenant.example")
		if f.signer.Count() != 0 {
			t.Error("signed although the tenant does not exist")
		}
	})
	t.Run("AADSTS700016 unknown app", func(t *testing.T) {
		f := newFixture(t, func(_ *standin.Options, co *Options) { co.ClientID = "00000000-dead-beef-0000-000000000000" })
		_, err := f.client.Token(ctx, graphDefault)
		wantAADSTS(t, err, 700016, "00000000-dead-beef-0000-000000000000", "client id")
	})
	t.Run("AADSTS1002012 scope without .default", func(t *testing.T) {
		f := newFixture(t, nil)
		_, err := f.client.Token(ctx, "https://graph.microsoft.com/Mail.Read")
		wantAADSTS(t, err, 1002012, ".default")
	})
	t.Run("AADSTS500011 unknown resource", func(t *testing.T) {
		f := newFixture(t, nil)
		_, err := f.client.Token(ctx, "https://nothing.example/.default")
		wantAADSTS(t, err, 500011)
	})

	// The rest need assertions a correct client never makes: mint builds them.
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
	t.Run("AADSTS700021 assertion for another client", func(t *testing.T) {
		f := newFixture(t, nil)
		f.client.mint = mint(f, assertion.Options{ClientID: "someone-else"})
		_, err := f.client.Token(ctx, graphDefault)
		wantAADSTS(t, err, 700021, testClientID)
	})
	t.Run("AADSTS50048 subject differs from issuer", func(t *testing.T) {
		f := newFixture(t, nil)
		f.client.mint = func(_ context.Context, aud, cid string) (string, error) { return subjectMismatch(t, f, aud, cid) }
		_, err := f.client.Token(ctx, graphDefault)
		wantAADSTS(t, err, 50048, testClientID)
	})
	t.Run("AADSTS700023 wrong audience", func(t *testing.T) {
		f := newFixture(t, nil)
		f.client.mint = mint(f, assertion.Options{Audience: "https://login.microsoftonline.com/other/oauth2/v2.0/token"})
		_, err := f.client.Token(ctx, graphDefault)
		wantAADSTS(t, err, 700023, "audience")
	})
	t.Run("AADSTS50013 replayed jti", func(t *testing.T) {
		f := newFixture(t, nil)
		f.replayFirstAssertion()
		if _, err := f.client.Token(ctx, graphDefault); err != nil {
			t.Fatal(err)
		}
		_, err := f.client.Token(ctx, exoDefault) // another resource: MSAL asks the server again
		wantAADSTS(t, err, 50013, "fresh assertion")
	})
	t.Run("AADSTS5002738 EC key", func(t *testing.T) {
		ecKey, ecCert := assertiontest.Key(t, assertiontest.P256)
		f := newFixture(t, func(so *standin.Options, _ *Options) {
			so.Apps[0].Certificates = append(so.Apps[0].Certificates, standin.Credential{Cert: ecCert})
		})
		f.client.mint = func(_ context.Context, aud, cid string) (string, error) {
			return assertion.New(ecKey, ecCert, assertion.Options{Audience: aud, ClientID: cid})
		}
		_, err := f.client.Token(ctx, graphDefault)
		wantAADSTS(t, err, 5002738, "RSA")
	})
}

// subjectMismatch signs an assertion whose sub differs from iss, with the fixture's key.
func subjectMismatch(t *testing.T, f *fixture, aud, cid string) (string, error) {
	t.Helper()
	return signClaims(f, map[string]any{
		"aud": aud, "iss": cid, "sub": "someone-else", "jti": time.Now().String(),
		"nbf": time.Now().Unix(), "exp": time.Now().Add(5 * time.Minute).Unix(),
	})
}

func TestCacheServesWithoutCard(t *testing.T) {
	store, err := cache.Open(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(_ *standin.Options, co *Options) { co.Cache = store })
	ctx := context.Background()
	first, err := f.client.Token(ctx, exoDefault)
	if err != nil || first.Cached {
		t.Fatalf("first: %+v %v", first, err)
	}
	// A new client (as in a new process) with the same card finds the token on disk.
	again, err := New(Options{Authority: f.srv.Authority(), ClientID: testClientID, Signer: f.signer, Certificate: f.cert, HTTPClient: f.srv.HTTPClient(), Cache: store})
	if err != nil {
		t.Fatal(err)
	}
	signs, st := f.signer.Count(), f.srv.Stats()
	tok, err := again.Token(ctx, exoDefault)
	if err != nil || !tok.Cached || tok.AccessToken != first.AccessToken {
		t.Fatalf("second: cached=%v err=%v", tok.Cached, err)
	}
	if f.signer.Count() != signs || f.srv.Stats().Token != st.Token || f.srv.Stats().Discovery != st.Discovery {
		t.Errorf("cached token cost %d signatures and %d requests", f.signer.Count()-signs, f.srv.Stats().Token+f.srv.Stats().Discovery-st.Token-st.Discovery)
	}
	// Another certificate for the same app does not get the first one's token.
	k2, c2 := assertiontest.Key(t, assertiontest.RSA2048)
	if err := f.srv.Register(standin.App{ClientID: testClientID, Certificates: []standin.Credential{{Cert: f.cert}, {Cert: c2}}}); err != nil {
		t.Fatal(err)
	}
	other, err := New(Options{Authority: f.srv.Authority(), ClientID: testClientID, Signer: k2, Certificate: c2, HTTPClient: f.srv.HTTPClient(), Cache: store})
	if err != nil {
		t.Fatal(err)
	}
	tok2, err := other.Token(ctx, exoDefault)
	if err != nil || tok2.Cached || tok2.AccessToken == first.AccessToken {
		t.Errorf("other certificate: cached=%v err=%v", tok2.Cached, err)
	}
}

func TestCacheRenewsTokensAboutToExpire(t *testing.T) {
	store, err := cache.Open(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(so *standin.Options, co *Options) {
		so.TokenLifetime = 4 * time.Minute // less than cache.MinRemaining
		co.Cache = store
	})
	ctx := context.Background()
	if _, err := f.client.Token(ctx, graphDefault); err != nil {
		t.Fatal(err)
	}
	fresh, err := New(Options{Authority: f.srv.Authority(), ClientID: testClientID, Signer: f.signer, Certificate: f.cert, HTTPClient: f.srv.HTTPClient(), Cache: store})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := fresh.Token(ctx, graphDefault)
	if err != nil || tok.Cached || f.signer.Count() != 2 {
		t.Errorf("a token with 4 minutes left was served from the cache (cached=%v, %d signatures, %v)", tok.Cached, f.signer.Count(), err)
	}
}

func TestAssertionForCLI(t *testing.T) {
	f := newFixture(t, nil)
	tok, err := f.client.Assertion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || f.signer.Count() != 1 {
		t.Fatalf("assertion %q, %d signatures", tok, f.signer.Count())
	}
	claims := decodePart(t, parts[1])
	if claims["aud"] != f.srv.TokenEndpoint() || claims["iss"] != testClientID {
		t.Errorf("claims %v", claims)
	}
	hdr := decodePart(t, parts[0])
	if hdr["alg"] != "PS256" || hdr["x5t"] != assertion.X5T(f.cert) || hdr["x5t#S256"] != assertion.X5TS256(f.cert) {
		t.Errorf("header %v", hdr)
	}
}

func TestLoginAuthCodePKCE(t *testing.T) {
	f := newFixture(t, nil)
	var out strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tok, err := f.client.Login(ctx, LoginOptions{
		Scopes:      []string{"https://graph.microsoft.com/User.Read"},
		OpenBrowser: browserUser(f.srv),
		Output:      &out,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if tok.Account != f.srv.User().UPN || f.signer.Count() != 1 {
		t.Errorf("account %q, %d signatures", tok.Account, f.signer.Count())
	}
	c := f.verifyToken(t, tok.AccessToken)
	if c["scp"] != "User.Read" || c["upn"] != f.srv.User().UPN || c["azp"] != testClientID || c["aud"] != "https://graph.microsoft.com" {
		t.Errorf("claims %v", c)
	}
	if !strings.Contains(out.String(), "code_challenge_method=S256") {
		t.Errorf("printed URL lacks PKCE:\n%s", out.String())
	}
}

func TestLoginUnregisteredRedirect(t *testing.T) {
	f := newFixture(t, func(so *standin.Options, _ *Options) {
		so.Apps[0].RedirectURIs = []string{"https://app.example/callback"}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := f.client.Login(ctx, LoginOptions{Scopes: []string{"User.Read"}, OpenBrowser: browserUser(f.srv), Output: &strings.Builder{}})
	if !errors.Is(err, context.DeadlineExceeded) || !slices.Contains(f.srv.Stats().Rejections, 50011) {
		t.Errorf("err = %v, rejections %v; want a timeout after Entra's AADSTS50011 page", err, f.srv.Stats().Rejections)
	}
}

// failingSigner fails as a card does on a wrong PIN.
type failingSigner struct {
	crypto.Signer
	err error
}

func (f failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) { return nil, f.err }

func TestSignerErrorPassesThrough(t *testing.T) {
	errPIN := errors.New("PIN incorrect: 2 tries left")
	f := newFixture(t, nil)
	c, err := New(Options{Authority: f.srv.Authority(), ClientID: testClientID, Signer: failingSigner{f.signer, errPIN}, Certificate: f.cert, HTTPClient: f.srv.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Token(context.Background(), graphDefault)
	if !errors.Is(err, errPIN) || !strings.Contains(err.Error(), "2 tries left") {
		t.Errorf("err = %v, want the signer's error", err)
	}
	if st := f.srv.Stats(); st.Token != 0 {
		t.Errorf("a token request was sent without an assertion: %+v", st)
	}
}
