// Package loopback is the browser side of an authorization code sign-in with PKCE (RFC 7636) on
// a loopback redirect (RFC 8252 section 7.3), shared by the entra and oidc flows: the secrets of
// one sign-in (state, nonce, PKCE verifier), the redirect listener, and the browser that shows the
// sign-in page.
//
// The listener passes on only the redirect that carries the sign-in's state. Any other request
// (a stale tab, another program, a forgery) is answered 400 and ignored, so that whoever can
// reach the port can neither abort the sign-in nor put words in it. Each connection must send its
// headers within HeaderTimeout.
package loopback

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"time"

	"golang.org/x/oauth2"
)

// HeaderTimeout bounds how long the redirect listener waits for a request's headers: a
// connection that sends nothing cannot hold it. A variable for the tests only.
var HeaderTimeout = 10 * time.Second

// SignIn is one sign-in: its secrets and its redirect listener. Close it when done.
type SignIn struct {
	RedirectURI string // the redirect URI given, with the port actually listened on
	State       string // sent in the authorization request; the redirect must bring it back
	Nonce       string // for the ID token (OpenID Connect), when the flow asks for one
	Verifier    string // PKCE code verifier, sent when the code is redeemed
	Challenge   string // its S256 challenge, sent in the authorization request

	path    string
	check   func(url.Values) error
	servers []*http.Server
	results chan result
}

// result is what the sign-in's redirect brought: a code, or the error check found.
type result struct {
	code string
	err  error
}

// Start listens for the redirect to redirectURI: an http loopback URI (127.0.0.1, [::1] or
// localhost, which is served on 127.0.0.1 and, where available, [::1] on one port, since
// browsers resolve it to either). Without a port, or with port 0, a free one is used. check reads
// the redirect that carries this sign-in's state (the code, or the provider's error and what
// else the flow checks): its error ends the sign-in, and the person sees it.
func Start(redirectURI string, check func(url.Values) error) (*SignIn, error) {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return nil, fmt.Errorf("redirect URI: %w", err)
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	if u.Scheme != "http" || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		return nil, fmt.Errorf("redirect URI %s is not an http loopback URI (http://127.0.0.1/…)", redirectURI)
	}
	port := u.Port()
	if port == "" {
		port = "0"
	}
	first := host
	if host == "localhost" {
		first = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(first, port))
	if err != nil {
		return nil, fmt.Errorf("listen for the sign-in redirect on %s: %w", u.Host, err)
	}
	port = fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	lns := []net.Listener{ln}
	if host == "localhost" {
		if ln6, err := net.Listen("tcp", net.JoinHostPort("::1", port)); err == nil {
			lns = append(lns, ln6)
		}
	}
	u.Host = net.JoinHostPort(host, port)
	verifier := oauth2.GenerateVerifier()
	s := &SignIn{
		RedirectURI: u.String(), State: random(), Nonce: random(),
		Verifier: verifier, Challenge: oauth2.S256ChallengeFromVerifier(verifier),
		path: u.Path, check: check, results: make(chan result, 1),
	}
	for _, l := range lns {
		srv := &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: HeaderTimeout}
		s.servers = append(s.servers, srv)
		go func() { _ = srv.Serve(l) }() // ends with ErrServerClosed in Close
	}
	return s, nil
}

// serve takes the browser's redirect: code and state, or error (and error_description).
func (s *SignIn) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != s.path && (s.path != "" || r.URL.Path != "/") {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	q := r.Form
	if q.Get("code") == "" && q.Get("error") == "" {
		http.Error(w, "this address only takes the sign-in redirect", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(s.State)) != 1 {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, "<!DOCTYPE html><title>Not this sign-in</title><p>This redirect does not answer the sign-in pivauth is waiting for (its state differs). pivauth keeps waiting.</p>")
		return
	}
	res := result{code: q.Get("code"), err: s.check(q)}
	if res.err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "<!DOCTYPE html><title>Sign-in failed</title><p>Sign-in failed: %s</p>", html.EscapeString(res.err.Error()))
	} else {
		fmt.Fprint(w, "<!DOCTYPE html><title>Signed in</title><p>Signed in. You can close this window and return to pivauth.</p>")
	}
	select {
	case s.results <- res:
	default: // a second redirect (reload): the first one counts
	}
}

// Wait returns the authorization code once the browser comes back with the sign-in's state, or
// the error check found in that redirect, or ctx's error.
func (s *SignIn) Wait(ctx context.Context) (string, error) {
	select {
	case <-ctx.Done():
		return "", fmt.Errorf("gave up waiting for the browser sign-in at %s: %w", s.RedirectURI, ctx.Err())
	case res := <-s.results:
		return res.code, res.err
	}
}

// Close stops the listener.
func (s *SignIn) Close() {
	for _, srv := range s.servers {
		_ = srv.Close()
	}
}

// Show prints the sign-in URL to out, for machines without a browser, and opens it with open
// (nil: OpenBrowser). A browser that does not start is reported on out, not returned: the printed
// URL is the way in.
func Show(ctx context.Context, out io.Writer, open func(context.Context, string) error, authURL string) {
	fmt.Fprintf(out, "To sign in, open this URL in a browser:\n\n  %s\n\nWaiting for the sign-in to finish…\n", authURL)
	if open == nil {
		open = OpenBrowser
	}
	if err := open(ctx, authURL); err != nil {
		fmt.Fprintf(out, "(could not open a browser: %v)\n", err)
	}
}

// errNoBrowser: nothing can show a page here (a server, an SSH session); the printed URL is the
// way in.
var errNoBrowser = errors.New("no browser available; open the URL above on any device")

// OpenBrowser opens u with $BROWSER when it is set (the convention of xdg-open and many tools),
// else with the desktop's handler (open, rundll32, xdg-open), without waiting for it to exit.
func OpenBrowser(_ context.Context, u string) error {
	var cmd *exec.Cmd
	switch b := os.Getenv("BROWSER"); {
	case b != "":
		cmd = exec.Command(b, u)
	case runtime.GOOS == "darwin":
		cmd = exec.Command("open", u)
	case runtime.GOOS == "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return errNoBrowser
		}
		path, err := exec.LookPath("xdg-open")
		if err != nil {
			return errNoBrowser
		}
		cmd = exec.Command(path, u)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }() // reap; the browser's exit status says nothing useful
	return nil
}

// random returns 32 random bytes, base64url (crypto/rand never fails).
func random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
