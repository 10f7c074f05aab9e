package oidc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/oauth2"
)

// DefaultRedirectURI is the loopback redirect of the authorization code flow; its port is
// chosen free at run time, which providers allow for loopback redirects (RFC 8252 section 7.3).
const DefaultRedirectURI = "http://127.0.0.1/callback"

// AuthCodeRequest describes an interactive sign-in.
type AuthCodeRequest struct {
	TokenRequest
	// RedirectURI is an http loopback URI (127.0.0.1, [::1] or localhost); "" means
	// DefaultRedirectURI. Without a port a free one is used.
	RedirectURI string
	// Open shows the authorization URL to the person: opens a browser, or prints the URL where
	// there is none. Required.
	Open func(authURL string) error
	// AuthParams are extra authorization request parameters (prompt, login_hint, domain_hint …).
	AuthParams url.Values
}

// AuthorizationCode signs a person in with the authorization code grant and PKCE (S256) on a
// loopback redirect, then redeems the code authenticated by the card. It checks the state and,
// where the provider sends it, the iss parameter (RFC 9207) of the redirect.
func (c *Client) AuthorizationCode(ctx context.Context, req AuthCodeRequest) (*oauth2.Token, error) {
	if req.Open == nil {
		return nil, errors.New("oidc: AuthCodeRequest.Open is required to show the sign-in page")
	}
	if c.meta.AuthorizationEndpoint == "" {
		return nil, fmt.Errorf("oidc: %s does not advertise an authorization endpoint", c.cfg.Issuer)
	}
	if m := c.meta.CodeChallengeMethodsSupported; len(m) > 0 && !slices.Contains(m, "S256") {
		return nil, fmt.Errorf("oidc: %s does not support PKCE S256 (it offers %s)", c.cfg.Issuer, strings.Join(m, ", "))
	}
	redirect, listener, err := listenLoopback(req.RedirectURI)
	if err != nil {
		return nil, err
	}
	defer listener.Close()

	state, err := randomString()
	if err != nil {
		return nil, err
	}
	verifier := oauth2.GenerateVerifier()
	authURL, err := url.Parse(c.meta.AuthorizationEndpoint)
	if err != nil {
		return nil, fmt.Errorf("oidc: authorization endpoint: %w", err)
	}
	q := authURL.Query()
	q.Set("response_type", "code")
	q.Set("client_id", c.cfg.ClientID)
	q.Set("redirect_uri", redirect.String())
	q.Set("state", state)
	q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(verifier))
	q.Set("code_challenge_method", "S256")
	if len(req.Scopes) > 0 {
		q.Set("scope", strings.Join(req.Scopes, " "))
	}
	if slices.Contains(req.Scopes, "openid") {
		nonce, err := randomString()
		if err != nil {
			return nil, err
		}
		q.Set("nonce", nonce)
	}
	for _, res := range req.Resources {
		q.Add("resource", res)
	}
	for k, vs := range req.AuthParams {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	authURL.RawQuery = q.Encode()

	results := make(chan callbackResult, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != redirect.Path {
			http.NotFound(w, r)
			return
		}
		res := c.readCallback(r.URL.Query(), state)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if res.err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "<!DOCTYPE html><title>Sign-in failed</title><p>Sign-in failed: %s</p>", html.EscapeString(res.err.Error()))
		} else {
			fmt.Fprint(w, "<!DOCTYPE html><title>Signed in</title><p>Signed in. You can close this window.</p>")
		}
		select {
		case results <- res:
		default: // a repeated callback (reload) changes nothing
		}
	})}
	go func() { _ = srv.Serve(listener) }()
	defer srv.Close()

	if err := req.Open(authURL.String()); err != nil {
		return nil, fmt.Errorf("oidc: show the sign-in page: %w", err)
	}
	var res callbackResult
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("oidc: waiting for the sign-in at %s: %w", redirect, ctx.Err())
	case res = <-results:
	}
	if res.err != nil {
		return nil, res.err
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {res.code},
		"redirect_uri":  {redirect.String()},
		"code_verifier": {verifier},
	}
	for _, r := range req.Resources {
		form.Add("resource", r)
	}
	return c.requestToken(ctx, form)
}

// callbackResult is what the redirect brought: a code or an error.
type callbackResult struct {
	code string
	err  error
}

// readCallback checks the redirect's parameters.
func (c *Client) readCallback(q url.Values, state string) callbackResult {
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
		return callbackResult{err: errors.New("oidc: the sign-in redirect carries another state: it is not the answer to this request; start again")}
	}
	if iss := q.Get("iss"); (iss != "" || c.meta.AuthorizationResponseISSParameterSupported) && iss != c.meta.Issuer {
		return callbackResult{err: fmt.Errorf("oidc: the sign-in redirect comes from issuer %q, not %q (RFC 9207 mix-up defence)", iss, c.meta.Issuer)}
	}
	if code := q.Get("error"); code != "" {
		return callbackResult{err: &Error{Endpoint: c.meta.AuthorizationEndpoint, Code: code,
			Description: q.Get("error_description"), URI: q.Get("error_uri"), grant: "authorization_code", client: c}}
	}
	if q.Get("code") == "" {
		return callbackResult{err: errors.New("oidc: the sign-in redirect carries neither a code nor an error")}
	}
	return callbackResult{code: q.Get("code")}
}

// listenLoopback listens on the redirect URI's loopback address and returns the URI with the
// port actually used.
func listenLoopback(raw string) (*url.URL, net.Listener, error) {
	if raw == "" {
		raw = DefaultRedirectURI
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("oidc: redirect URI: %w", err)
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	if u.Scheme != "http" || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		return nil, nil, fmt.Errorf("oidc: redirect URI %s is not an http loopback URI (http://127.0.0.1/…)", raw)
	}
	port := u.Port()
	if port == "" {
		port = "0"
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, nil, fmt.Errorf("oidc: listen for the sign-in redirect on %s: %w", u.Host, err)
	}
	u.Host = net.JoinHostPort(host, fmt.Sprint(l.Addr().(*net.TCPAddr).Port))
	if u.Path == "" {
		u.Path = "/"
	}
	return u, l, nil
}

// randomString returns 32 random bytes, base64url.
func randomString() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("oidc: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
