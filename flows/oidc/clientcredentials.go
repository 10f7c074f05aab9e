package oidc

import (
	"context"
	"net/url"

	"golang.org/x/oauth2"
)

// ClientCredentials gets an app-only token (RFC 6749 section 4.4) authenticated by the card: one
// card signature per token with private_key_jwt, at most one per TLS session with the TLS methods.
func (c *Client) ClientCredentials(ctx context.Context, req TokenRequest) (*oauth2.Token, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	req.apply(form)
	return c.requestToken(ctx, form)
}

// TokenSource returns an oauth2.TokenSource of client credentials tokens for req, reusing each
// token until shortly before it expires.
func (c *Client) TokenSource(ctx context.Context, req TokenRequest) oauth2.TokenSource {
	return oauth2.ReuseTokenSource(nil, tokenSourceFunc(func() (*oauth2.Token, error) {
		return c.ClientCredentials(ctx, req)
	}))
}

// tokenSourceFunc adapts a function to oauth2.TokenSource.
type tokenSourceFunc func() (*oauth2.Token, error)

// Token calls the function.
func (f tokenSourceFunc) Token() (*oauth2.Token, error) { return f() }
