package oidc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/pivauth/pivauth/internal/netsafe"
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
// loopback redirect, then redeems the code authenticated by the card. A redirect with another
// state is answered with an error page and otherwise ignored: the sign-in goes on waiting for its
// own. It checks, where the provider sends it, the iss parameter (RFC 9207) of the redirect, and
// the nonce of an ID token in the answer (when "openid" is asked for).
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
	var nonce string
	if slices.Contains(req.Scopes, "openid") {
		if nonce, err = randomString(); err != nil {
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
	srv := &http.Server{ReadHeaderTimeout: loopbackHeaderTimeout, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != redirect.Path {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		q := r.URL.Query()
		if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
			// Not the answer to this sign-in (a stale tab, another program, a forgery): it
			// must not end the sign-in, or anyone who can reach the port could abort it.
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, "<!DOCTYPE html><title>Not this sign-in</title><p>This redirect does not answer the sign-in pivauth is waiting for (its state differs). pivauth keeps waiting.</p>")
			return
		}
		res := c.readCallback(q)
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
	tok, err := c.requestToken(ctx, form)
	if err != nil {
		return nil, err
	}
	idToken, _ := tok.Extra("id_token").(string)
	if err := CheckNonce(idToken, nonce); err != nil {
		return nil, fmt.Errorf("oidc: token endpoint %s: %w", c.meta.TokenEndpoint, err)
	}
	return tok, nil
}

// loopbackHeaderTimeout bounds how long the redirect listener waits for a request's headers: a
// connection that sends nothing cannot hold it. A variable for the tests only.
var loopbackHeaderTimeout = 10 * time.Second

// CheckNonce checks that idToken, an ID token from a token endpoint's answer, carries nonce, the one
// the authorization request sent (OpenID Connect Core 1.0 section 3.1.3.7, step 11): a code
// injected from another sign-in brings an ID token minted for another nonce. Nothing is checked
// when either is empty. The ID token came straight from the token endpoint over TLS, which that
// section accepts in place of checking its signature.
func CheckNonce(idToken, nonce string) error {
	if nonce == "" || idToken == "" {
		return nil
	}
	parts := strings.Split(idToken, ".")
	if len(parts) != 3 {
		return errors.New("the ID token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return fmt.Errorf("the ID token's claims: %w", err)
	}
	var claims struct {
		Nonce string `json:"nonce"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return fmt.Errorf("the ID token's claims: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(claims.Nonce), []byte(nonce)) != 1 {
		return errors.New("the ID token carries another nonce than this sign-in sent: the code is not from this sign-in (injected or replayed); sign in again")
	}
	return nil
}

// callbackResult is what the redirect brought: a code or an error.
type callbackResult struct {
	code string
	err  error
}

// readCallback checks the parameters of the redirect that carries this sign-in's state.
func (c *Client) readCallback(q url.Values) callbackResult {
	if iss := q.Get("iss"); (iss != "" || c.meta.AuthorizationResponseISSParameterSupported) && iss != c.meta.Issuer {
		return callbackResult{err: fmt.Errorf("oidc: the sign-in redirect comes from issuer %q, not %q (RFC 9207 mix-up defence)", netsafe.Printable(iss), c.meta.Issuer)}
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
