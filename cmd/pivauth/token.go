package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"

	"github.com/pivauth/pivauth/flows/adapters"
	"github.com/pivauth/pivauth/flows/assertion"
	"github.com/pivauth/pivauth/flows/cache"
	"github.com/pivauth/pivauth/flows/entra"
	"github.com/pivauth/pivauth/flows/mtls"
	"github.com/pivauth/pivauth/flows/oidc"
	"github.com/pivauth/pivauth/internal/agent"
	"github.com/pivauth/pivauth/internal/netsafe"
)

func init() {
	classifiers = append(classifiers, func(err error) (int, bool) {
		var ee *entra.Error
		var oe *oidc.Error
		var he *httpStatusError
		switch {
		case errors.As(err, &ee), errors.As(err, &oe), errors.As(err, &he):
			return ExitRejected, true
		case errors.Is(err, entra.ErrKeyNotRSA), errors.Is(err, entra.ErrCertificateExpired), errors.Is(err, entra.ErrCertificateNotYetValid):
			return ExitError, true
		}
		var hs *mtls.HandshakeError
		if errors.As(err, &hs) {
			return ExitNetwork, true
		}
		// A provider URL that is not https, or discovery redirected elsewhere: the issuer or
		// authority given is not one to use as it is.
		var insecure *netsafe.InsecureURLError
		if errors.As(err, &insecure) || errors.Is(err, netsafe.ErrRedirect) {
			return ExitUsage, true
		}
		return 0, false
	})
}

// idpFlags choose the identity provider, the client and the trust of the connections: the flags
// of token, assertion, login, exec and request. A profile fills in those not given.
type idpFlags struct {
	tenant, authority, issuer string
	clientID                  string
	scopes                    []string
	clientAuth                string
	caFile                    string
	noCache                   bool
	x5c                       bool
	bound                     bool
	resources                 []string
	// meta is the OpenID provider's metadata, discovered by preflight before the card is used.
	meta *oidc.Metadata
}

func (f *idpFlags) register(cmd *cobra.Command, withScopes bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.tenant, "tenant", "", "Entra ID tenant: directory `ID` or verified domain (contoso.onmicrosoft.com)")
	fl.StringVar(&f.authority, "authority", "", "Entra ID authority `URL` (national clouds: https://login.microsoftonline.us/TENANT)")
	fl.StringVar(&f.issuer, "issuer", "", "OpenID provider issuer `URL` (any OIDC provider; discovery at /.well-known/openid-configuration)")
	fl.StringVar(&f.clientID, "client-id", "", "application (client) `ID`")
	if withScopes {
		fl.StringSliceVar(&f.scopes, "scope", nil, "`SCOPE` to ask for (repeatable); Entra app-only: RESOURCE/.default, e.g. https://graph.microsoft.com/.default")
		fl.BoolVar(&f.noCache, "no-cache", false, "do not use or fill the token cache ($XDG_CACHE_HOME/pivauth)")
		fl.StringSliceVar(&f.resources, "resource", nil, "OIDC: RFC 8707 resource `URI` (repeatable)")
		fl.BoolVar(&f.bound, "bound", false, "OIDC: ask for a certificate-bound token (RFC 8705), requested over the card's mTLS")
	}
	fl.StringVar(&f.clientAuth, "client-auth", "", "OIDC client authentication `METHOD`: private_key_jwt (default), tls_client_auth, self_signed_tls_client_auth")
	fl.StringVar(&f.caFile, "ca-file", "", "trust the CA certificates in `FILE` (PEM) besides the system roots and SSL_CERT_FILE")
	fl.BoolVar(&f.x5c, "x5c", false, "Entra: send the certificate in each assertion (subject name + issuer authentication)")
	_ = cmd.RegisterFlagCompletionFunc("client-auth", cobra.FixedCompletions([]string{string(oidc.PrivateKeyJWT), string(oidc.TLSClientAuth), string(oidc.SelfSignedTLSClientAuth)}, cobra.ShellCompDirectiveNoFileComp))
}

// kind says which provider the flags name: "entra" or "oidc".
func (f *idpFlags) kind() (string, error) {
	entraGiven := f.tenant != "" || f.authority != ""
	switch {
	case entraGiven && f.issuer != "":
		return "", usageErrorf("give either --tenant/--authority (Entra ID) or --issuer (OpenID provider), not both")
	case f.clientID == "":
		return "", usageErrorf("--client-id is required (or a profile with client_id: see 'pivauth help config')")
	case entraGiven:
		if f.clientAuth != "" {
			return "", usageErrorf("--client-auth applies to --issuer: Entra ID takes client assertions only")
		}
		return "entra", nil
	case f.issuer != "":
		switch oidc.AuthMethod(f.clientAuth) {
		case "", oidc.PrivateKeyJWT, oidc.TLSClientAuth, oidc.SelfSignedTLSClientAuth:
			return "oidc", nil
		}
		return "", usageErrorf("--client-auth %q: a card backs %s, %s or %s", f.clientAuth, oidc.PrivateKeyJWT, oidc.TLSClientAuth, oidc.SelfSignedTLSClientAuth)
	}
	return "", usageErrorf("name the identity provider: --tenant or --authority for Entra ID, --issuer for an OpenID provider (or a profile)")
}

// preflight checks what the flags name before the card is touched and returns the provider kind:
// the provider's URL must be https (plain http only on a loopback address), and an OpenID
// provider's metadata is discovered now, with the same checks on its endpoints. A provider pivauth
// would refuse is thus refused without a card operation or a PIN prompt, with exit code 2.
func (a *app) preflight(ctx context.Context, f *idpFlags) (string, error) {
	kind, err := f.kind()
	if err != nil {
		return "", err
	}
	if kind == "entra" {
		if f.authority != "" {
			if err := entra.CheckAuthority(f.authority); err != nil {
				return "", withCode(ExitUsage, fmt.Errorf("--authority: %w", err))
			}
		}
		return kind, nil
	}
	if err := netsafe.CheckURL("--issuer", f.issuer); err != nil {
		return "", withCode(ExitUsage, err)
	}
	roots, err := f.extraRoots()
	if err != nil {
		return "", err
	}
	discovery, err := mtls.NewClient(mtls.Identity{}, mtls.Options{ExtraRoots: roots, Timeout: a.opts.httpTimeout})
	if err != nil {
		return "", err
	}
	if f.meta, err = oidc.Discover(ctx, discovery, f.issuer); err != nil {
		return "", err
	}
	return kind, nil
}

// extraRoots reads --ca-file.
func (f *idpFlags) extraRoots() ([]*x509.Certificate, error) {
	if f.caFile == "" {
		return nil, nil
	}
	data, err := os.ReadFile(f.caFile)
	if err != nil {
		return nil, withCode(ExitUsage, fmt.Errorf("--ca-file: %w", err))
	}
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, withCode(ExitUsage, fmt.Errorf("--ca-file %s: %w", f.caFile, err))
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, usageErrorf("--ca-file %s holds no PEM certificate", f.caFile)
	}
	return certs, nil
}

// tokenCache opens the token cache unless --no-cache.
func (f *idpFlags) tokenCache() (*cache.Store, error) {
	if f.noCache {
		return nil, nil
	}
	return cache.Open("")
}

// client is a token provider over the card, with what the output reports about it.
type client struct {
	flow   adapters.TokenProvider // the Entra or OIDC client
	kind   string
	entra  *entra.Client // set for Entra
	oidc   *oidc.Client  // set for OIDC
	signer cardKey
	// agent keeps the tokens, in its memory, when an agent runs (and --no-cache is not given);
	// the flow then has no disk cache.
	agent *agent.Client
	log   *slog.Logger
}

// newClient builds the Entra or OIDC client over the key. OIDC discovers the provider. Tokens are
// cached in the agent when the key is the agent's, else on disk; neither with --no-cache.
func (a *app) newClient(ctx context.Context, f *idpFlags, s cardKey) (*client, error) {
	kind, err := f.kind()
	if err != nil {
		return nil, err
	}
	roots, err := f.extraRoots()
	if err != nil {
		return nil, err
	}
	c := &client{kind: kind, signer: s, log: a.log}
	var store *cache.Store
	if ak, ok := s.(agentKey); ok && !f.noCache {
		c.agent = ak.client
	} else if store, err = f.tokenCache(); err != nil {
		return nil, err
	}
	tlsOpts := mtls.Options{ExtraRoots: roots, Timeout: a.opts.httpTimeout}
	if kind == "entra" {
		httpClient, err := entra.SafeHTTPClient(tlsOpts)
		if err != nil {
			return nil, err
		}
		c.entra, err = entra.New(entra.Options{
			Authority: f.authority, Tenant: f.tenant, ClientID: f.clientID,
			Signer: s, Certificate: s.Certificate(), Chain: s.Chain()[1:], SendX5C: f.x5c,
			HTTPClient: httpClient, Cache: store,
		})
		if err != nil {
			return nil, err
		}
		c.flow = c.entra
		a.log.Debug("entra client", "authority", c.entra.Authority(), "client_id", f.clientID)
		return c, nil
	}
	c.oidc, err = oidc.New(ctx, oidc.Config{
		Issuer: f.issuer, ClientID: f.clientID, AuthMethod: oidc.AuthMethod(f.clientAuth),
		Identity: keyIdentity(s), TLS: tlsOpts, CertificateBound: f.bound, Resources: f.resources, Cache: store,
		HTTPTimeout: a.opts.httpTimeout, Metadata: f.meta,
	})
	if err != nil {
		return nil, err
	}
	c.flow = c.oidc
	a.log.Debug("oidc client", "issuer", f.issuer, "client_id", f.clientID, "algorithm", c.oidc.Algorithm())
	return c, nil
}

// Token returns a token for scopes from the flow, through the agent's memory when an agent keeps
// the tokens: one still valid for cache.MinRemaining costs no card operation there, as on disk.
// A token the agent cannot keep is still returned (the agent is only a cache).
func (c *client) Token(ctx context.Context, scopes ...string) (cache.Token, error) {
	if c.agent == nil {
		return c.flow.Token(ctx, scopes...)
	}
	var key cache.Key
	if c.entra != nil {
		key = c.entra.CacheKey(scopes...)
	} else {
		key = c.oidc.CacheKey(scopes...)
	}
	name := agentTokenName(key)
	if held, err := c.agent.Token(ctx, name); err != nil {
		return cache.Token{}, err
	} else if held != nil {
		var tok cache.Token
		if json.Unmarshal(held.Data, &tok) == nil && tok.ValidFor(time.Now(), cache.MinRemaining) {
			tok.Cached = true
			return tok, nil
		}
	}
	tok, err := c.flow.Token(ctx, scopes...)
	if err != nil {
		return cache.Token{}, err
	}
	data, err := json.Marshal(tok)
	if err == nil {
		err = c.agent.PutToken(ctx, name, agent.Token{Data: data, Expires: tok.ExpiresOn})
	}
	if err != nil {
		c.log.Debug("the agent did not keep the token", "error", err)
	}
	return tok, nil
}

// agentTokenName is the name a token is kept under in the agent: a digest of its normalized cache
// key, so that equal requests meet (as on disk) and the name itself tells nothing about tenant,
// client or scope.
func agentTokenName(k cache.Key) string {
	b, _ := json.Marshal(k.Normalize()) // a struct of strings always marshals
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
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

// getToken opens the card and gets an app-only (client credentials) token.
func (a *app) getToken(ctx context.Context, f *idpFlags) (cardKey, cache.Token, error) {
	if _, err := a.preflight(ctx, f); err != nil {
		return nil, cache.Token{}, err
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
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, tok, err := a.getToken(cmd.Context(), &f)
			if err != nil {
				return err
			}
			defer s.Close()
			return a.writeToken(s, tok)
		},
	}
	f.register(cmd, true)
	setOutputFormats(cmd, "raw", "json", "exec-credential", "claims")
	return cmd
}

// assertionJSON is the JSON output of `pivauth assertion`.
type assertionJSON struct {
	Assertion  string `json:"assertion"`
	Audience   string `json:"audience"`
	ClientID   string `json:"client_id"`
	Algorithm  string `json:"algorithm"`
	ExpiresOn  string `json:"expires_on"` // RFC 3339
	Thumbprint string `json:"thumbprint"` // SHA-1 of the certificate, upper-case hex
}

func (a *app) assertionCommand() *cobra.Command {
	var f idpFlags
	var audience string
	cmd := &cobra.Command{
		Use:   "assertion",
		Short: "Print a fresh client assertion (RFC 7523 JWT) signed by the card",
		Long: `Print a fresh client assertion: a JWT signed by the card's key that authenticates the client at a
token endpoint (client_assertion_type urn:ietf:params:oauth:client-assertion-type:jwt-bearer), for
tools that take one instead of a certificate. It is valid for 5 minutes and usable once.

The audience is the token endpoint: Entra's for --tenant/--authority, the discovered one for
--issuer, or --audience as given. Header: alg, typ JWT, x5t#S256 (and x5t for Entra).`,
		Example: `  pivauth assertion --tenant contoso.onmicrosoft.com --client-id 11111111-2222-3333-4444-555555555555
  curl -d grant_type=client_credentials -d client_id=build-bot \
       -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
       -d client_assertion="$(pivauth assertion --issuer https://idp.example.com --client-id build-bot)" \
       https://idp.example.com/token`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if audience == "" {
				if _, err := a.preflight(ctx, &f); err != nil {
					return err
				}
			} else if f.clientID == "" {
				return usageErrorf("--client-id is required")
			}
			s, err := a.openSigner(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			var jws, alg string
			switch {
			case audience != "":
				alg, err = assertion.DefaultAlgorithm(s.Public())
				if err == nil {
					jws, err = assertion.New(s, s.Certificate(), assertion.Options{Audience: audience, ClientID: f.clientID, Algorithm: alg, Context: ctx})
				}
			default:
				f.noCache = true // an assertion is never cached
				var c *client
				if c, err = a.newClient(ctx, &f, s); err != nil {
					return err
				}
				if c.entra != nil {
					audience, alg = c.entra.TokenEndpoint(), assertion.PS256
					jws, err = c.entra.Assertion(ctx)
				} else {
					audience, alg = c.oidc.Metadata().TokenEndpoint, c.oidc.Algorithm()
					if alg == "" {
						return usageErrorf("--client-auth %s authenticates with TLS, not with an assertion", f.clientAuth)
					}
					jws, err = assertion.New(s, s.Certificate(), assertion.Options{Audience: audience, ClientID: f.clientID, Algorithm: alg, Context: ctx})
				}
			}
			if err != nil {
				return err
			}
			if a.format != "json" {
				_, err = fmt.Fprintln(a.stdout, jws)
				return err
			}
			sha1Hex, _ := assertion.Thumbprints(s.Certificate())
			return writeJSON(a.stdout, assertionJSON{Assertion: jws, Audience: audience, ClientID: f.clientID, Algorithm: alg,
				ExpiresOn: assertionExpiry(jws), Thumbprint: sha1Hex})
		},
	}
	f.register(cmd, false)
	cmd.Flags().StringVar(&audience, "audience", "", "the assertion's aud `URL` (a token endpoint), without asking any provider")
	setOutputFormats(cmd, "raw", "json")
	return cmd
}

// assertionExpiry reads exp from the JWS we just made, for the JSON output.
func assertionExpiry(jws string) string {
	claims, err := jwtPayload(jws)
	exp, ok := claims["exp"].(float64)
	if err != nil || !ok {
		return ""
	}
	return time.Unix(int64(exp), 0).UTC().Format(time.RFC3339)
}

func (a *app) loginCommand() *cobra.Command {
	var f idpFlags
	var device bool
	var loginHint string
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
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			kind, err := f.kind()
			if err != nil {
				return err
			}
			if device && kind != "oidc" {
				return usageErrorf("--device works with --issuer (OpenID providers)")
			}
			if _, err := a.preflight(ctx, &f); err != nil {
				return err
			}
			f.noCache = true // a person's token is not shared through the app-only cache
			s, err := a.openSigner(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			c, err := a.newClient(ctx, &f, s)
			if err != nil {
				return err
			}
			var tok cache.Token
			if c.entra != nil {
				tok, err = c.entra.Login(ctx, entra.LoginOptions{Scopes: f.scopes, LoginHint: loginHint, Output: a.stderr, OpenBrowser: browserFromEnv()})
			} else {
				tok, err = a.oidcLogin(ctx, c.oidc, &f, device, loginHint)
			}
			if err != nil {
				return err
			}
			return a.writeToken(s, tok)
		},
	}
	f.register(cmd, true)
	cmd.Flags().BoolVar(&device, "device", false, "OIDC: use the device authorization grant (enter a code on another device)")
	cmd.Flags().StringVar(&loginHint, "login-hint", "", "pre-fill the user `NAME` on the sign-in page")
	setOutputFormats(cmd, "raw", "json", "exec-credential", "claims")
	return cmd
}

// oidcLogin runs the device grant or the authorization code grant with an OIDC provider.
func (a *app) oidcLogin(ctx context.Context, c *oidc.Client, f *idpFlags, device bool, loginHint string) (cache.Token, error) {
	req := oidc.TokenRequest{Scopes: f.scopes, Resources: f.resources}
	var tok *oauth2.Token
	var err error
	if device {
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
		open := browserFromEnv()
		ar := oidc.AuthCodeRequest{TokenRequest: req, Open: func(u string) error {
			fmt.Fprintf(a.stderr, "To sign in, open this URL in a browser:\n\n  %s\n\nWaiting for the sign-in to finish…\n", u)
			if open != nil {
				if err := open(ctx, u); err != nil {
					fmt.Fprintf(a.stderr, "(could not start $BROWSER: %v)\n", err)
				}
			}
			return nil
		}}
		if loginHint != "" {
			ar.AuthParams = map[string][]string{"login_hint": {loginHint}}
		}
		tok, err = c.AuthorizationCode(ctx, ar)
	}
	if err != nil {
		return cache.Token{}, err
	}
	granted := f.scopes
	if s, ok := tok.Extra("scope").(string); ok && s != "" {
		granted = strings.Fields(s)
	}
	return cache.Token{AccessToken: tok.AccessToken, TokenType: tok.TokenType, ExpiresOn: tok.Expiry, Scopes: granted}, nil
}

// browserFromEnv returns a function that opens URLs with $BROWSER (the convention of xdg-open and
// many tools), or nil when it is unset, leaving the choice to the flow's default.
func browserFromEnv() func(context.Context, string) error {
	b := os.Getenv("BROWSER")
	if b == "" {
		return nil
	}
	return func(_ context.Context, u string) error {
		cmd := exec.Command(b, u)
		if err := cmd.Start(); err != nil {
			return err
		}
		go func() { _ = cmd.Wait() }() // reap; the browser's exit status says nothing
		return nil
	}
}
