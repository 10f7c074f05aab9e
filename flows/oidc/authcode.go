package oidc

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"

	"golang.org/x/oauth2"

	"github.com/pivauth/pivauth/flows/internal/loopback"
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
	// Open shows the authorization URL to the person; nil prints it to Output and opens it with
	// $BROWSER when set, else the system browser (xdg-open, open, rundll32). An error from Open
	// ends the sign-in.
	Open func(authURL string) error
	// Output receives the sign-in URL when Open is nil; nil means os.Stderr.
	Output io.Writer
	// AuthParams are extra authorization request parameters (prompt, login_hint, domain_hint …).
	AuthParams url.Values
}

// AuthorizationCode signs a person in with the authorization code grant and PKCE (S256) on a
// loopback redirect, then redeems the code authenticated by the card. A redirect with another
// state is answered with an error page and otherwise ignored: the sign-in goes on waiting for its
// own. It checks, where the provider sends it, the iss parameter (RFC 9207) of the redirect, and
// the nonce of an ID token in the answer (when "openid" is asked for).
func (c *Client) AuthorizationCode(ctx context.Context, req AuthCodeRequest) (*oauth2.Token, error) {
	if c.meta.AuthorizationEndpoint == "" {
		return nil, fmt.Errorf("oidc: %s does not advertise an authorization endpoint", c.cfg.Issuer)
	}
	if m := c.meta.CodeChallengeMethodsSupported; len(m) > 0 && !slices.Contains(m, "S256") {
		return nil, fmt.Errorf("oidc: %s does not support PKCE S256 (it offers %s)", c.cfg.Issuer, strings.Join(m, ", "))
	}
	redirect := req.RedirectURI
	if redirect == "" {
		redirect = DefaultRedirectURI
	} else if u, err := url.Parse(redirect); err == nil && u.Path == "" {
		u.Path = "/"
		redirect = u.String()
	}
	signIn, err := loopback.Start(redirect, c.readCallback)
	if err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}
	defer signIn.Close()
	authURL, err := url.Parse(c.meta.AuthorizationEndpoint)
	if err != nil {
		return nil, fmt.Errorf("oidc: authorization endpoint: %w", err)
	}
	q := authURL.Query()
	q.Set("response_type", "code")
	q.Set("client_id", c.cfg.ClientID)
	q.Set("redirect_uri", signIn.RedirectURI)
	q.Set("state", signIn.State)
	q.Set("code_challenge", signIn.Challenge)
	q.Set("code_challenge_method", "S256")
	if len(req.Scopes) > 0 {
		q.Set("scope", strings.Join(req.Scopes, " "))
	}
	var nonce string
	if slices.Contains(req.Scopes, "openid") {
		nonce = signIn.Nonce
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

	if req.Open == nil {
		out := req.Output
		if out == nil {
			out = os.Stderr
		}
		loopback.Show(ctx, out, nil, authURL.String())
	} else if err := req.Open(authURL.String()); err != nil {
		return nil, fmt.Errorf("oidc: show the sign-in page: %w", err)
	}
	code, err := signIn.Wait(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("oidc: %w", err)
		}
		return nil, err
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {signIn.RedirectURI},
		"code_verifier": {signIn.Verifier},
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

// readCallback checks the redirect that carries this sign-in's state: the issuer it names (RFC
// 9207), and the provider's error when it brings one instead of a code.
func (c *Client) readCallback(q url.Values) error {
	if iss := q.Get("iss"); (iss != "" || c.meta.AuthorizationResponseISSParameterSupported) && iss != c.meta.Issuer {
		return fmt.Errorf("oidc: the sign-in redirect comes from issuer %q, not %q (RFC 9207 mix-up defence)", netsafe.Printable(iss), c.meta.Issuer)
	}
	if code := q.Get("error"); code != "" {
		return &Error{Endpoint: c.meta.AuthorizationEndpoint, Code: code,
			Description: q.Get("error_description"), URI: q.Get("error_uri"), grant: "authorization_code", client: c}
	}
	return nil
}
