package oidc

import (
	"context"
	"strings"

	"github.com/pivauth/pivauth/flows/assertion"
	"github.com/pivauth/pivauth/flows/cache"
)

// Token returns a client credentials token for the scopes and Config.Resources. With
// Config.Cache set, a cached token valid for more than cache.MinRemaining is returned without a
// request or card operation, and a second process asking meanwhile waits for the first one's
// token. Token makes *Client an adapters.TokenProvider.
func (c *Client) Token(ctx context.Context, scopes ...string) (cache.Token, error) {
	req := TokenRequest{Scopes: scopes, Resources: c.cfg.Resources}
	if c.cfg.Cache == nil {
		return c.fetch(ctx, req)
	}
	return c.cfg.Cache.Fetch(ctx, c.cacheKey(scopes...), func(ctx context.Context) (cache.Token, error) { return c.fetch(ctx, req) })
}

// cacheKey is what Token's token for scopes is cached under: issuer, client id, scopes with
// Config.Resources (and whether the token is certificate-bound), and the certificate's thumbprint.
func (c *Client) cacheKey(scopes ...string) cache.Key {
	_, sha256Hex := assertion.Thumbprints(c.cfg.Identity.Certificate)
	// The resources are part of what was asked: they go into the key beside the scopes. So does
	// binding: a bound token is useless to a caller that does not present the certificate.
	keyScopes := append([]string(nil), scopes...)
	for _, r := range c.cfg.Resources {
		keyScopes = append(keyScopes, "resource="+r)
	}
	if c.cfg.CertificateBound {
		keyScopes = append(keyScopes, "certificate-bound")
	}
	return cache.Key{Authority: c.meta.Issuer, ClientID: c.cfg.ClientID, Scopes: keyScopes, Thumbprint: sha256Hex}
}

// fetch gets a client credentials token as a cache.Token.
func (c *Client) fetch(ctx context.Context, req TokenRequest) (cache.Token, error) {
	tok, err := c.ClientCredentials(ctx, req)
	if err != nil {
		return cache.Token{}, err
	}
	granted := req.Scopes
	if s, ok := tok.Extra("scope").(string); ok && s != "" {
		granted = strings.Fields(s)
	}
	return cache.Token{AccessToken: tok.AccessToken, TokenType: tok.TokenType, ExpiresOn: tok.Expiry, Scopes: granted}, nil
}
