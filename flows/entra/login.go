package entra

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
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
	"slices"
	"strconv"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"

	"github.com/pivauth/pivauth/flows/oidc"
	"github.com/pivauth/pivauth/internal/netsafe"
)

// LoginOptions configure an interactive sign-in.
type LoginOptions struct {
	// Scopes are the delegated permissions, e.g. https://graph.microsoft.com/User.Read or
	// https://outlook.office365.com/.default. openid, profile and offline_access are added.
	Scopes []string
	// LoginHint pre-fills the user name; Prompt is Entra's prompt parameter ("select_account",
	// "login", "consent"); both optional.
	LoginHint, Prompt string
	// Port is the loopback port to listen on; 0 picks a free one. The redirect URI is
	// http://localhost:<port>, which matches "http://localhost" registered on the app.
	Port int
	// OpenBrowser opens the sign-in URL; nil uses the system browser (xdg-open, open, rundll32).
	// The URL is printed to Output as well, for machines without a browser.
	OpenBrowser func(ctx context.Context, url string) error
	// Output receives the sign-in URL and progress lines; nil means os.Stderr.
	Output io.Writer
}

// Login signs a user in with the authorization code flow and PKCE (S256) on a loopback redirect;
// the card authenticates the application when the code is redeemed (one signature). It returns
// when the browser comes back or ctx ends.
func (c *Client) Login(ctx context.Context, o LoginOptions) (Token, error) {
	if len(o.Scopes) == 0 {
		return Token{}, errors.New("entra: no scope to sign in for, e.g. https://graph.microsoft.com/User.Read")
	}
	if err := c.checkValidity(); err != nil {
		return Token{}, err
	}
	out := o.Output
	if out == nil {
		out = os.Stderr
	}
	lb, err := listenLoopback(o.Port)
	if err != nil {
		return Token{}, err
	}
	defer lb.close()
	verifier, challenge := pkce()
	state, nonce := randomString(), randomString()
	lb.state = state
	authURL, err := c.authorizeURL(ctx, lb.redirectURI, state, nonce, challenge, o)
	if err != nil {
		return Token{}, err
	}
	fmt.Fprintf(out, "To sign in, open this URL in a browser:\n\n  %s\n\nWaiting for the sign-in to finish...\n", authURL)
	open := o.OpenBrowser
	if open == nil {
		open = openBrowser
	}
	if err := open(ctx, authURL); err != nil {
		fmt.Fprintf(out, "(could not open a browser: %v)\n", err)
	}
	code, err := lb.wait(ctx)
	if err != nil {
		return Token{}, err
	}
	res, err := c.msal.AcquireTokenByAuthCode(ctx, code, lb.redirectURI, o.Scopes, confidential.WithChallenge(verifier))
	if err != nil {
		return Token{}, c.explain(err)
	}
	// MSAL checks no nonce for a confidential client's sign-in.
	if err := oidc.CheckNonce(res.IDToken.RawToken, nonce); err != nil {
		return Token{}, fmt.Errorf("entra: %w", err)
	}
	return Token{
		AccessToken: res.AccessToken,
		TokenType:   "Bearer",
		ExpiresOn:   res.ExpiresOn,
		Scopes:      res.GrantedScopes,
		Account:     res.Account.PreferredUsername,
	}, nil
}

// authorizeURL asks MSAL for the authorize URL (it resolves the endpoint) and adds what MSAL's
// confidential client does not: PKCE, state, nonce, prompt and the OpenID scopes that bring back
// an ID token and refresh token.
func (c *Client) authorizeURL(ctx context.Context, redirectURI, state, nonce, challenge string, o LoginOptions) (string, error) {
	scopes := slices.Clone(o.Scopes)
	for _, s := range []string{"openid", "profile", "offline_access"} {
		if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	var opts []confidential.AuthCodeURLOption
	if o.LoginHint != "" {
		opts = append(opts, confidential.WithLoginHint(o.LoginHint))
	}
	raw, err := c.msal.AuthCodeURL(ctx, c.opts.ClientID, redirectURI, scopes, opts...)
	if err != nil {
		return "", c.explain(err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("entra: authorize URL: %w", err)
	}
	q := u.Query()
	q.Set("code_challenge", challenge)
	q.Set("code_challenge_method", "S256")
	q.Set("state", state)
	q.Set("nonce", nonce)
	if o.Prompt != "" {
		q.Set("prompt", o.Prompt)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// loopback is the redirect listener: 127.0.0.1 and, where available, [::1] on the same port, since
// browsers may resolve "localhost" to either.
type loopback struct {
	redirectURI string
	state       string // the sign-in's; a redirect with another is not its answer
	servers     []*http.Server
	results     chan callback
}

type callback struct {
	code, state, err, desc string
}

func listenLoopback(port int) (*loopback, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("entra: listen for the sign-in redirect: %w", err)
	}
	port = ln.Addr().(*net.TCPAddr).Port
	lb := &loopback{redirectURI: fmt.Sprintf("http://localhost:%d", port), results: make(chan callback, 1)}
	lns := []net.Listener{ln}
	if ln6, err := net.Listen("tcp", net.JoinHostPort("::1", strconv.Itoa(port))); err == nil {
		lns = append(lns, ln6)
	}
	for _, l := range lns {
		srv := &http.Server{Handler: http.HandlerFunc(lb.serve), ReadHeaderTimeout: 10 * time.Second}
		lb.servers = append(lb.servers, srv)
		go func() { _ = srv.Serve(l) }() // ends with ErrServerClosed in close
	}
	return lb, nil
}

// serve takes the browser's redirect: code and state, or error and error_description.
func (lb *loopback) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	cb := callback{code: r.Form.Get("code"), state: r.Form.Get("state"), err: r.Form.Get("error"), desc: r.Form.Get("error_description")}
	if cb.code == "" && cb.err == "" {
		http.Error(w, "this address only takes the sign-in redirect", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if subtle.ConstantTimeCompare([]byte(cb.state), []byte(lb.state)) != 1 {
		// A stale tab, another program or a forgery: answering it must not end the sign-in, or
		// anyone who can reach the port could abort it (or, with an error, put words in it).
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, "<!DOCTYPE html><title>pivauth</title><p>This redirect does not answer the sign-in pivauth is waiting for (its state differs). pivauth keeps waiting.</p>")
		return
	}
	if cb.err != "" {
		fmt.Fprintf(w, "<!DOCTYPE html><title>pivauth</title><p>Sign-in failed: %s</p>", html.EscapeString(firstLine(cb.desc)))
	} else {
		fmt.Fprint(w, "<!DOCTYPE html><title>pivauth</title><p>Signed in. You can close this window and return to pivauth.</p>")
	}
	select {
	case lb.results <- cb:
	default: // a second redirect (reload): the first one counts
	}
}

// wait returns the authorization code once the browser comes back with the sign-in's state
// (serve passes on no other redirect).
func (lb *loopback) wait(ctx context.Context) (string, error) {
	select {
	case <-ctx.Done():
		return "", fmt.Errorf("entra: gave up waiting for the browser sign-in: %w", ctx.Err())
	case cb := <-lb.results:
		if cb.err != "" {
			return "", fmt.Errorf("entra: sign-in failed: %s: %s", netsafe.Printable(cb.err), netsafe.Printable(firstLine(cb.desc)))
		}
		return cb.code, nil
	}
}

func (lb *loopback) close() {
	for _, s := range lb.servers {
		_ = s.Close()
	}
}

// pkce returns a code verifier (43 characters of base64url randomness, RFC 7636 §4.1) and its
// S256 challenge.
func pkce() (verifier, challenge string) {
	verifier = randomString()
	d := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(d[:])
}

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails
	return base64.RawURLEncoding.EncodeToString(b)
}
