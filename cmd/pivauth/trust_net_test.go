//go:build linux

package main

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pivauth/pivauth/hw-test/benchtest"
	"github.com/pivauth/pivauth/hw-test/oidc/tlstest"
	"github.com/pivauth/pivauth/hw-test/vcard"
)

// seen is what a recording server saw of one request.
type seen struct {
	path, authorization string
	clientCert          bool
}

// recorder is a loopback server that records the requests it gets; handle answers them.
type recorder struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []seen
	handle func(w http.ResponseWriter, r *http.Request)
}

// startRecorder starts a recorder: with ca, over TLS asking for (not requiring) a client
// certificate, so that a card presented to it shows; without, plain http.
func startRecorder(t *testing.T, ca *tlstest.CA, handle func(w http.ResponseWriter, r *http.Request)) *recorder {
	t.Helper()
	rec := &recorder{handle: handle}
	rec.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.got = append(rec.got, seen{path: r.URL.Path, authorization: r.Header.Get("Authorization"),
			clientCert: r.TLS != nil && len(r.TLS.PeerCertificates) > 0})
		rec.mu.Unlock()
		if rec.handle != nil {
			rec.handle(w, r)
			return
		}
		_, _ = w.Write([]byte("recorded\n"))
	}))
	if ca != nil {
		rec.srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server(t, "127.0.0.1")}, ClientAuth: tls.RequestClientCert}
		rec.srv.StartTLS()
	} else {
		rec.srv.Start()
	}
	t.Cleanup(rec.srv.Close)
	return rec
}

func (r *recorder) requests() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.got...)
}

// TestRequestBearerRedirects: `request --bearer` sends the token, and the card's TLS identity, to
// the origin it was asked for only. A same-origin redirect keeps both; a redirect to another origin
// is followed without either (curl's rule for the Authorization header, extended to the client
// certificate); a redirect from https to http is refused and nothing reaches the http server.
func TestRequestBearerRedirects(t *testing.T) {
	o := startOIDCBench(t)
	ca := tlstest.NewCA(t, "hostile CA")
	trust := writeFile(t, o.c.dir, "hostile-ca.pem", string(tlstest.PEM(ca.Cert)), 0o644)
	c := o.c.with("SSL_CERT_FILE=" + trust)

	other := startRecorder(t, ca, nil)
	clear := startRecorder(t, nil, nil)
	hostile := startRecorder(t, ca, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "/landing", http.StatusFound)
		case "/cross":
			http.Redirect(w, r, other.srv.URL+"/stolen", http.StatusTemporaryRedirect)
		case "/clear":
			http.Redirect(w, r, clear.srv.URL+"/stolen", http.StatusFound)
		default:
			_, _ = w.Write([]byte("landed\n"))
		}
	})
	bearer := append([]string{"request", "--bearer"}, o.args("pkjwt", "--resource", apiIndicator, "--scope", "api:read")...)

	if r := c.ok(append(bearer, hostile.srv.URL+"/same")...); r.stdout != "landed\n" {
		t.Errorf("same-origin redirect: %q", r.stdout)
	}
	for _, s := range hostile.requests() {
		if !strings.HasPrefix(s.authorization, "Bearer ") || !s.clientCert {
			t.Errorf("the origin asked for got %+v, want the token and the card's certificate on every hop", s)
		}
	}

	if r := c.ok(append(bearer, "-X", "POST", "-d", "x=1", hostile.srv.URL+"/cross")...); r.stdout != "recorded\n" {
		t.Errorf("cross-origin redirect: %q", r.stdout)
	}
	if got := other.requests(); len(got) != 1 || got[0].authorization != "" || got[0].clientCert {
		t.Errorf("another origin got %+v, want one request without the token or the card's certificate", got)
	}

	// An Authorization header given with -H is the caller's token: it stays with the origin too.
	if r := c.ok("request", "--reader", o.b.Reader, "--pin-file", o.pin, "-H", "Authorization: Bearer given", hostile.srv.URL+"/cross"); r.stdout != "recorded\n" {
		t.Errorf("cross-origin redirect with -H: %q", r.stdout)
	}
	if got := other.requests(); len(got) != 2 || got[1].authorization != "" || got[1].clientCert {
		t.Errorf("another origin got %+v, want a second request without the header or the card's certificate", got)
	}

	c.fails(ExitNetwork, []string{"https to http"}, append(bearer, hostile.srv.URL+"/clear")...)
	if got := clear.requests(); len(got) != 0 {
		t.Errorf("the http server got %+v after a redirect from https", got)
	}
}

// noSuchReader names a reader that does not exist: a command that touched the card before failing
// would exit with ExitNoCard, not with the code asserted.
const noSuchReader = "pivauth test: no such reader"

// serveMetadata answers discovery with meta (issuer filled in with the server's URL) and passes
// other paths to next.
func serveMetadata(meta map[string]string, next http.HandlerFunc) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			if next != nil {
				next(w, r)
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(meta)
	}
}

// TestProviderURLsHTTPSOnly: an issuer, authority or discovered endpoint in clear (other than on a
// loopback address), and a discovery that redirects, are refused with exit code 2 before the card
// is touched.
func TestProviderURLsHTTPSOnly(t *testing.T) {
	c := newCLI(t)
	ca := tlstest.NewCA(t, "provider CA")
	trust := writeFile(t, c.dir, "provider-ca.pem", string(tlstest.PEM(ca.Cert)), 0o644)
	c = c.with("SSL_CERT_FILE=" + trust)
	base := []string{"token", "--reader", noSuchReader, "--client-id", "app", "--scope", "api", "--no-cache"}
	args := func(extra ...string) []string { return append(append([]string(nil), base...), extra...) }

	c.fails(ExitUsage, []string{"--issuer http://idp.example.com is not an https URL"}, args("--issuer", "http://idp.example.com")...)
	c.fails(ExitUsage, []string{"--authority", "not an https URL"}, args("--authority", "http://login.example.com/contoso.example")...)
	c.fails(ExitUsage, []string{"--issuer", "not an https URL"}, "login", "--device", "--reader", noSuchReader, "--client-id", "app", "--issuer", "http://idp.example.com")

	// Discovered endpoints in clear.
	for _, endpoint := range []string{"token_endpoint", "device_authorization_endpoint", "authorization_endpoint"} {
		var idp *recorder
		idp = startRecorder(t, ca, func(w http.ResponseWriter, r *http.Request) {
			meta := map[string]string{"issuer": idp.srv.URL, "token_endpoint": idp.srv.URL + "/token", endpoint: "http://idp.example.com/" + endpoint}
			serveMetadata(meta, nil)(w, r)
		})
		c.fails(ExitUsage, []string{endpoint + " http://idp.example.com/" + endpoint + " is not an https URL"}, args("--issuer", idp.srv.URL)...)
	}

	// Discovery redirected, to http and to another https server: not followed.
	clear := startRecorder(t, nil, nil)
	elsewhere := startRecorder(t, ca, nil)
	for _, target := range []string{clear.srv.URL, elsewhere.srv.URL} {
		idp := startRecorder(t, ca, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target+r.URL.Path, http.StatusFound)
		})
		c.fails(ExitUsage, []string{"redirect refused"}, args("--issuer", idp.srv.URL)...)
	}
	if n := len(clear.requests()) + len(elsewhere.requests()); n != 0 {
		t.Errorf("discovery followed a redirect: %d requests reached its target", n)
	}

	// A local provider in clear on a loopback address is accepted: discovery passes, and the
	// command goes on to the card (there is none).
	var local *recorder
	local = startRecorder(t, nil, func(w http.ResponseWriter, r *http.Request) {
		serveMetadata(map[string]string{"issuer": local.srv.URL, "token_endpoint": local.srv.URL + "/token"}, nil)(w, r)
	})
	c.fails(ExitNoCard, nil, args("--issuer", local.srv.URL)...)
}

// TestHTTPTimeout: a provider that accepts the connection and never answers fails the command
// after --http-timeout with the network exit code, naming the flag; the card is never touched.
func TestHTTPTimeout(t *testing.T) {
	c := newCLI(t)
	ca := tlstest.NewCA(t, "provider CA")
	c = c.with("SSL_CERT_FILE=" + writeFile(t, c.dir, "provider-ca.pem", string(tlstest.PEM(ca.Cert)), 0o644))
	stalled := make(chan struct{})
	t.Cleanup(func() { close(stalled) })
	idp := startRecorder(t, ca, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stalled:
		}
	})
	c.fails(ExitNetwork, []string{"--http-timeout 1s"}, "token", "--reader", noSuchReader, "--issuer", idp.srv.URL,
		"--client-id", "app", "--scope", "api", "--http-timeout", "1s")
	c.fails(ExitUsage, []string{"--http-timeout 0s"}, "token", "--reader", noSuchReader, "--issuer", idp.srv.URL,
		"--client-id", "app", "--scope", "api", "--http-timeout", "0")
}

// TestConfigFileTrust: a configuration file (it names the pinentry program that gets the PIN) that
// others could write, in a directory others could write, or that belongs to another user, is
// refused with exit code 2 and the command that fixes it, as ssh refuses its configuration.
func TestConfigFileTrust(t *testing.T) {
	c := newCLI(t)
	dir := filepath.Join(c.dir, "config", "pivauth")
	config := writeFile(t, dir, "config.json", `{"profiles": {"p": {"issuer": "https://idp.example.com", "client_id": "app"}}}`, 0o600)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c.ok("profile", "list") // a private file in a directory only its owner can write

	chmod := func(path string, mode os.FileMode) {
		t.Helper()
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	chmod(config, 0o664)
	c.fails(ExitUsage, []string{"chmod go-w " + config}, "profile", "list")
	c.fails(ExitUsage, []string{"chmod go-w " + config}, "token", "--reader", noSuchReader, "--scope", "api")
	chmod(config, 0o644)
	chmod(dir, 0o777)
	c.fails(ExitUsage, []string{"chmod go-w " + dir}, "profile", "list")
	chmod(dir, 0o755)

	// Through a symlink (a dotfiles checkout): the file it leads to is checked.
	elsewhere := writeFile(t, filepath.Join(c.dir, "dotfiles"), "pivauth.json", `{"profiles": {}}`, 0o600)
	chmod(elsewhere, 0o666)
	link := filepath.Join(c.dir, "link.json")
	if err := os.Symlink(elsewhere, link); err != nil {
		t.Fatal(err)
	}
	c.fails(ExitUsage, []string{"chmod go-w " + elsewhere}, "--config", link, "profile", "list")

	if os.Geteuid() == 0 {
		if err := os.Chown(config, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		c.fails(ExitUsage, []string{"belongs to uid 65534", "chown 0 " + config}, "profile", "list")
	}
}

// TestServerTextPrintable: an identity provider's error text reaches stderr without control
// characters: an ESC sequence cannot retitle or clear the terminal, a newline cannot forge a line
// of pivauth's own.
func TestServerTextPrintable(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	c := newCLI(t)
	ca := tlstest.NewCA(t, "provider CA")
	c = c.with("SSL_CERT_FILE=" + writeFile(t, c.dir, "provider-ca.pem", string(tlstest.PEM(ca.Cert)), 0o644))
	pin := writeFile(t, c.dir, "pin", factoryPIN+"\n", 0o600)
	var idp *recorder
	idp = startRecorder(t, ca, serveMetadata(nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request",
			"error_description": "bad request\x1b]0;pwned\x07\x1b[2J\npivauth: forged line\u202e"})
	}))
	idp.handle = serveMetadata(map[string]string{"issuer": idp.srv.URL, "token_endpoint": idp.srv.URL + "/token"}, idp.handle)
	r := c.fails(ExitRejected, []string{"invalid_request", "bad request", "forged line"}, "token", "--reader", b.Reader, "--pin-file", pin,
		"--issuer", idp.srv.URL, "--client-id", "app", "--scope", "api", "--no-cache")
	if strings.ContainsAny(r.stderr, "\x1b\x07\u202e") || strings.Contains(r.stderr, "\npivauth: forged") {
		t.Errorf("stderr keeps the server's control characters: %q", r.stderr)
	}
}

// TestEntraTokenRequestNotRedirected: a token request to an Entra authority that answers with a
// redirect (307 keeps the method and body: the client assertion would go along) is not followed.
func TestEntraTokenRequestNotRedirected(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	c := newCLI(t)
	ca := tlstest.NewCA(t, "authority CA")
	c = c.with("SSL_CERT_FILE=" + writeFile(t, c.dir, "authority-ca.pem", string(tlstest.PEM(ca.Cert)), 0o644))
	pin := writeFile(t, c.dir, "pin", factoryPIN+"\n", 0o600)
	other := startRecorder(t, ca, nil)
	var authority *recorder
	authority = startRecorder(t, ca, func(w http.ResponseWriter, r *http.Request) {
		base := authority.srv.URL + "/contoso.test"
		switch r.URL.Path {
		case "/contoso.test/v2.0/.well-known/openid-configuration":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"issuer": base + "/v2.0", "authorization_endpoint": base + "/oauth2/v2.0/authorize",
				"token_endpoint": base + "/oauth2/v2.0/token", "jwks_uri": base + "/discovery/v2.0/keys"})
		default:
			http.Redirect(w, r, other.srv.URL+"/stolen", http.StatusTemporaryRedirect)
		}
	})
	r := c.run("token", "--reader", b.Reader, "--pin-file", pin, "--authority", authority.srv.URL+"/contoso.test",
		"--client-id", "11111111-2222-3333-4444-555555555555", "--scope", "https://graph.microsoft.com/.default", "--no-cache")
	if r.code == ExitOK || !strings.Contains(r.stderr, "redirect refused") {
		t.Errorf("exit %d, stderr:\n%s\nwant a refused redirect", r.code, r.stderr)
	}
	if got := other.requests(); len(got) != 0 {
		t.Errorf("the redirect's target got %+v", got)
	}
}

// TestEntraNonEntraAnswerPrintable: an authority whose token endpoint answers with a body that is
// not an Entra error (a proxy's page, say) is quoted on stderr without its control characters.
func TestEntraNonEntraAnswerPrintable(t *testing.T) {
	b := benchtest.Start(t, vcard.ProfilePIV)
	c := newCLI(t)
	ca := tlstest.NewCA(t, "authority CA")
	c = c.with("SSL_CERT_FILE=" + writeFile(t, c.dir, "authority-ca.pem", string(tlstest.PEM(ca.Cert)), 0o644))
	pin := writeFile(t, c.dir, "pin", factoryPIN+"\n", 0o600)
	var authority *recorder
	authority = startRecorder(t, ca, func(w http.ResponseWriter, r *http.Request) {
		base := authority.srv.URL + "/contoso.test"
		if r.URL.Path == "/contoso.test/v2.0/.well-known/openid-configuration" {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"issuer": base + "/v2.0", "authorization_endpoint": base + "/oauth2/v2.0/authorize",
				"token_endpoint": base + "/oauth2/v2.0/token", "jwks_uri": base + "/discovery/v2.0/keys"})
			return
		}
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("bad gateway\x1b]0;pwned\x07\x1b[2J\npivauth: forged line"))
	})
	r := c.run("token", "--reader", b.Reader, "--pin-file", pin, "--authority", authority.srv.URL+"/contoso.test",
		"--client-id", "11111111-2222-3333-4444-555555555555", "--scope", "https://graph.microsoft.com/.default", "--no-cache")
	if r.code == ExitOK || !strings.Contains(r.stderr, "bad gateway") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if strings.ContainsAny(r.stderr, "\x1b\x07") || strings.Contains(r.stderr, "\npivauth: forged") {
		t.Errorf("stderr keeps the server's control characters: %q", r.stderr)
	}
}
