package entra

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"

	"github.com/pivauth/pivauth/flows/internal/loopback"
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
	// OpenBrowser opens the sign-in URL; nil uses $BROWSER when set, else the system browser
	// (xdg-open, open, rundll32). The URL is printed to Output as well, for machines without a
	// browser.
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
	signIn, err := loopback.Start(fmt.Sprintf("http://localhost:%d", o.Port), func(q url.Values) error {
		if e := q.Get("error"); e != "" {
			return fmt.Errorf("%s: %s", netsafe.Printable(e), netsafe.Printable(firstLine(q.Get("error_description"))))
		}
		return nil
	})
	if err != nil {
		return Token{}, fmt.Errorf("entra: %w", err)
	}
	defer signIn.Close()
	authURL, err := c.authorizeURL(ctx, signIn, o)
	if err != nil {
		return Token{}, err
	}
	loopback.Show(ctx, out, o.OpenBrowser, authURL)
	code, err := signIn.Wait(ctx)
	switch {
	case err != nil && ctx.Err() != nil:
		return Token{}, fmt.Errorf("entra: %w", err)
	case err != nil:
		return Token{}, fmt.Errorf("entra: sign-in failed: %w", err)
	}
	res, err := c.msal.AcquireTokenByAuthCode(ctx, code, signIn.RedirectURI, o.Scopes, confidential.WithChallenge(signIn.Verifier))
	if err != nil {
		return Token{}, c.explain(err)
	}
	// MSAL checks no nonce for a confidential client's sign-in.
	if err := oidc.CheckNonce(res.IDToken.RawToken, signIn.Nonce); err != nil {
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
func (c *Client) authorizeURL(ctx context.Context, signIn *loopback.SignIn, o LoginOptions) (string, error) {
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
	raw, err := c.msal.AuthCodeURL(ctx, c.opts.ClientID, signIn.RedirectURI, scopes, opts...)
	if err != nil {
		return "", c.explain(err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("entra: authorize URL: %w", err)
	}
	q := u.Query()
	q.Set("code_challenge", signIn.Challenge)
	q.Set("code_challenge_method", "S256")
	q.Set("state", signIn.State)
	q.Set("nonce", signIn.Nonce)
	if o.Prompt != "" {
		q.Set("prompt", o.Prompt)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}
