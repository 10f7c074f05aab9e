package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pivauth/pivauth/flows/assertion"
	"github.com/pivauth/pivauth/flows/cache"
)

// getToken opens the card and gets an app-only (client credentials) token.
func (a *app) getToken(ctx context.Context, f *idpFlags) (cardKey, cache.Token, error) {
	kind, err := a.preflight(ctx, f)
	if err != nil {
		return nil, cache.Token{}, err
	}
	if kind == "entra" && len(f.scopes) == 0 {
		return nil, cache.Token{}, usageErrorf("--scope is required for Entra ID: one resource's .default scope, e.g. --scope https://graph.microsoft.com/.default (or scopes in the profile)")
	}
	s, err := a.openSigner(ctx)
	if err != nil {
		return nil, cache.Token{}, err
	}
	c, err := a.newClient(ctx, f, s)
	if err != nil {
		s.Close()
		return nil, cache.Token{}, err
	}
	tok, err := c.Token(ctx, f.scopes...)
	if err != nil {
		s.Close()
		return nil, cache.Token{}, err
	}
	a.log.Debug("token", "expires_on", tok.ExpiresOn, "cached", tok.Cached)
	return s, tok, nil
}

const tokenLong = `Get an app-only access token (OAuth 2.0 client credentials) with the certificate on the card as
the client credential, and print it.

Entra ID (--tenant or --authority): the card signs a client assertion (RFC 7523, PS256) for MSAL;
ask for one resource's .default scope. Only RSA keys work with Entra.
Any OpenID provider (--issuer): discovery, then --client-auth private_key_jwt (card-signed
assertion), tls_client_auth or self_signed_tls_client_auth (the card's key in the TLS handshake).

Tokens are cached under $XDG_CACHE_HOME/pivauth (mode 0600) by authority, client, scopes and
certificate, and served from there while they have 5 minutes left: no PIN, no card operation.
While 'pivauth agent' runs, the card is used through it and tokens are kept in its memory instead
(dropped when it locks); --no-cache keeps them nowhere.

Output: the bare token (default), --output json (access_token, token_type, expires_on,
scope, card, reader, slot, thumbprint, thumbprint_sha256, cached), --output exec-credential
for kubectl's exec credential plugin (client.authentication.k8s.io/v1), or --output claims:
the token's decoded (not verified) JWT claims, to check audience, roles and expiry locally.`

const tokenExample = `  # Exchange Online app-only, then in PowerShell:
  #   Connect-ExchangeOnline -AccessToken (pivauth token --profile exo) -Organization contoso.onmicrosoft.com
  pivauth token --tenant contoso.onmicrosoft.com --client-id 11111111-2222-3333-4444-555555555555 \
      --scope https://outlook.office365.com/.default

  # Microsoft Graph, as JSON
  pivauth token --profile graph --output json

  # any OIDC provider, the card in the TLS handshake
  pivauth token --issuer https://idp.example.com --client-id build-bot --client-auth tls_client_auth --scope api:read

  # kubectl: users[].user.exec = {apiVersion: client.authentication.k8s.io/v1, command: pivauth,
  #   args: [token, --profile, k8s, --output, exec-credential], interactiveMode: IfAvailable}`

func (a *app) tokenCommand() *cobra.Command {
	var f idpFlags
	cmd := &cobra.Command{
		Use:     "token",
		Short:   "Get an access token with the card's certificate (Entra ID or any OIDC provider)",
		Long:    tokenLong,
		Example: tokenExample,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return a.runToken(cmd.Context(), &f) },
	}
	f.register(cmd, true)
	setOutputFormats(cmd, "text", "json", "exec-credential", "claims")
	return cmd
}

// runToken gets a token with the flags and prints it.
func (a *app) runToken(ctx context.Context, f *idpFlags) error {
	s, tok, err := a.getToken(ctx, f)
	if err != nil {
		return err
	}
	defer s.Close()
	return a.writeToken(s, tok)
}

// tokenJSON is the JSON output of `token` and `login`. Field names are part of the contract.
type tokenJSON struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresOn        string `json:"expires_on"` // RFC 3339, UTC
	Scope            string `json:"scope"`      // granted scopes, space-separated
	Account          string `json:"account,omitempty"`
	Card             string `json:"card"`
	Reader           string `json:"reader"`
	Slot             string `json:"slot"`
	Thumbprint       string `json:"thumbprint"` // SHA-1 of the client certificate, upper-case hex (Entra's "Thumbprint")
	ThumbprintSHA256 string `json:"thumbprint_sha256"`
	Cached           bool   `json:"cached"` // served from the token cache: no card operation
}

// execCredential is kubectl's client.authentication.k8s.io/v1 ExecCredential.
type execCredential struct {
	Kind       string               `json:"kind"`
	APIVersion string               `json:"apiVersion"`
	Status     execCredentialStatus `json:"status"`
}

type execCredentialStatus struct {
	Token               string `json:"token"`
	ExpirationTimestamp string `json:"expirationTimestamp"`
}

// cardName names the card for output without asking the card: by the selector when it names
// the card, else by its reader.
func (a *app) cardName(s cardKey) string {
	switch {
	case a.opts.serial != 0:
		return fmt.Sprintf("card serial %d", a.opts.serial) // a YubiKey's, or another card's with Yubico's extensions
	case a.opts.guid != "":
		return "PIV card GUID " + a.opts.guid
	}
	return "card in " + s.Reader()
}

// slotName is --slot as pivauth writes slots ("9a").
func (a *app) slotName() string {
	if s, err := a.slot(); err == nil {
		return s.String()
	}
	return a.opts.slot
}

// writeToken prints a token in the chosen format: the bare token (default), JSON or an
// ExecCredential for kubectl.
func (a *app) writeToken(s cardKey, tok cache.Token) error {
	expires := tok.ExpiresOn.UTC().Format(time.RFC3339)
	switch a.format {
	case "json":
		sha1Hex, sha256Hex := assertion.Thumbprints(s.Certificate())
		tokenType := tok.TokenType
		if tokenType == "" {
			tokenType = "Bearer"
		}
		return writeJSON(a.stdout, tokenJSON{
			AccessToken: tok.AccessToken, TokenType: tokenType, ExpiresOn: expires, Scope: strings.Join(tok.Scopes, " "),
			Account: tok.Account, Card: a.cardName(s), Reader: s.Reader(), Slot: a.slotName(),
			Thumbprint: sha1Hex, ThumbprintSHA256: sha256Hex, Cached: tok.Cached,
		})
	case "claims":
		claims, err := jwtPayload(tok.AccessToken)
		if err != nil {
			return err
		}
		return writeJSON(a.stdout, claims)
	case "exec-credential":
		return writeJSON(a.stdout, execCredential{
			Kind: "ExecCredential", APIVersion: "client.authentication.k8s.io/v1",
			Status: execCredentialStatus{Token: tok.AccessToken, ExpirationTimestamp: expires},
		})
	}
	_, err := fmt.Fprintln(a.stdout, tok.AccessToken)
	return err
}

// jwtPayload decodes (without verifying: the resource server does that) the claims of a JWT
// access token, so that an admin can see its audience, roles and expiry without pasting the token
// into a web page.
func jwtPayload(token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("the access token is not a JWT (opaque to its client): --output claims cannot show it")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("the access token's claims: %w", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, fmt.Errorf("the access token's claims: %w", err)
	}
	return claims, nil
}
