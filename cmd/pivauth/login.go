package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"

	"github.com/pivauth/pivauth/flows/cache"
	"github.com/pivauth/pivauth/flows/entra"
	"github.com/pivauth/pivauth/flows/oidc"
	"github.com/pivauth/pivauth/internal/netsafe"
)

// loginOptions are the flags of `pivauth login`.
type loginOptions struct {
	idp       idpFlags
	device    bool   // --device: the device authorization grant (OIDC)
	loginHint string // --login-hint
}

func (a *app) loginCommand() *cobra.Command {
	var o loginOptions
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign a person in (authorization code + PKCE, or device code) with the card authenticating the app",
		Long: `Sign a person in interactively and print the delegated access token. The card authenticates the
application (confidential client) when the authorization code is redeemed.

The sign-in page opens in the browser ($BROWSER when set, else the desktop's); the URL is also
printed on stderr, for machines without a browser. Redirect: a loopback address on a free port
(register http://localhost for Entra, http://127.0.0.1/callback for OIDC providers).
--device (OIDC): the device authorization grant; the code to enter is printed on stderr.`,
		Example: `  pivauth login --tenant contoso.onmicrosoft.com --client-id 11111111-2222-3333-4444-555555555555 \
      --scope https://graph.microsoft.com/User.Read
  pivauth login --issuer https://idp.example.com --client-id admin-cli --scope openid --device`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runLogin(cmd.Context(), &o) },
	}
	o.idp.register(cmd, true)
	cmd.Flags().BoolVar(&o.device, "device", false, "OIDC: use the device authorization grant (enter a code on another device)")
	cmd.Flags().StringVar(&o.loginHint, "login-hint", "", "pre-fill the user `NAME` on the sign-in page")
	setOutputFormats(cmd, "text", "json", "exec-credential", "claims")
	return cmd
}

// runLogin signs a person in with the provider the flags name and prints the delegated token.
func (a *app) runLogin(ctx context.Context, o *loginOptions) error {
	kind, err := o.idp.kind()
	if err != nil {
		return err
	}
	if o.device && kind != "oidc" {
		return usageErrorf("--device works with --issuer (OpenID providers)")
	}
	if _, err := a.preflight(ctx, &o.idp); err != nil {
		return err
	}
	o.idp.noCache = true // a person's token is not shared through the app-only cache
	s, err := a.openSigner(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	c, err := a.newClient(ctx, &o.idp, s)
	if err != nil {
		return err
	}
	var tok cache.Token
	if c.entra != nil {
		tok, err = c.entra.Login(ctx, entra.LoginOptions{Scopes: o.idp.scopes, LoginHint: o.loginHint, Output: a.stderr})
	} else {
		tok, err = a.oidcLogin(ctx, c.oidc, o)
	}
	if err != nil {
		return err
	}
	return a.writeToken(s, tok)
}

// oidcLogin runs the device grant or the authorization code grant with an OIDC provider.
func (a *app) oidcLogin(ctx context.Context, c *oidc.Client, o *loginOptions) (cache.Token, error) {
	req := oidc.TokenRequest{Scopes: o.idp.scopes, Resources: o.idp.resources}
	var tok *oauth2.Token
	var err error
	if o.device {
		tok, err = c.Device(ctx, req, func(d oidc.DeviceCode) error {
			// The provider chose these strings: printed without control characters.
			fmt.Fprintf(a.stderr, "To sign in, open %s and enter the code %s", netsafe.Printable(d.VerificationURI), netsafe.Printable(d.UserCode))
			if d.VerificationURIComplete != "" {
				fmt.Fprintf(a.stderr, "\n(or open %s)", netsafe.Printable(d.VerificationURIComplete))
			}
			fmt.Fprintln(a.stderr, "\nWaiting for the sign-in to finish…")
			return nil
		})
	} else {
		ar := oidc.AuthCodeRequest{TokenRequest: req, Output: a.stderr}
		if o.loginHint != "" {
			ar.AuthParams = map[string][]string{"login_hint": {o.loginHint}}
		}
		tok, err = c.AuthorizationCode(ctx, ar)
	}
	if err != nil {
		return cache.Token{}, err
	}
	granted := o.idp.scopes
	if s, ok := tok.Extra("scope").(string); ok && s != "" {
		granted = strings.Fields(s)
	}
	return cache.Token{AccessToken: tok.AccessToken, TokenType: tok.TokenType, ExpiresOn: tok.Expiry, Scopes: granted}, nil
}
