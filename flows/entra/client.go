package entra

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"

	"github.com/pivauth/pivauth/flows/assertion"
	"github.com/pivauth/pivauth/flows/cache"
	"github.com/pivauth/pivauth/flows/mtls"
	"github.com/pivauth/pivauth/internal/netsafe"
)

// Token is an access token with its expiry, scopes and, for sign-in, the user.
type Token = cache.Token

// Errors for credentials refused before any network call.
var (
	// ErrKeyNotRSA: Entra accepts client assertions signed with RSA keys only.
	ErrKeyNotRSA = errors.New("Entra ID accepts only RSA keys for certificate credentials")
	// ErrCertificateExpired: the certificate's NotAfter has passed.
	ErrCertificateExpired = errors.New("the certificate has expired")
	// ErrCertificateNotYetValid: the certificate's NotBefore is in the future.
	ErrCertificateNotYetValid = errors.New("the certificate is not valid yet")
)

// Options configure a Client.
type Options struct {
	// Authority is the full authority URL: login host and tenant, for example
	// https://login.microsoftonline.us/contoso.onmicrosoft.com. When empty, Cloud and Tenant make it.
	Authority string
	// Cloud is the login host (PublicCloud, USGovernmentCloud, ChinaCloud); "" = PublicCloud.
	Cloud string
	// Tenant is the directory (tenant) id or a verified domain.
	Tenant string
	// ClientID is the application (client) id of the app registration.
	ClientID string
	// Signer signs the client assertions (the card slot); it must be an RSA key.
	Signer crypto.Signer
	// Certificate is the signer's certificate, as uploaded to the app registration.
	Certificate *x509.Certificate
	// Chain holds intermediates, sent in x5c when SendX5C is set.
	Chain []*x509.Certificate
	// SendX5C sends the certificate chain in each assertion, for subject name + issuer
	// authentication (apps configured with trustedCertificateSubjects).
	SendX5C bool
	// HTTPClient carries the requests; nil means SafeHTTPClient(mtls.Options{}): system roots
	// and SSL_CERT_FILE, https only, no redirect, a 30 s deadline per exchange. A client given
	// here is used as it is: give it the same properties (SafeHTTPClient makes one).
	HTTPClient *http.Client
	// Cache keeps tokens across processes (a cache.Store on disk, or any cache.Cache); nil keeps
	// them only in this Client's memory.
	Cache cache.Cache
	// Now returns the current time (certificate checks, assertion times); nil means time.Now.
	Now func() time.Time
}

// Client gets Entra tokens with a card-held certificate. It is safe for concurrent use.
type Client struct {
	opts      Options
	authority string
	sha1Hex   string
	sha256Hex string
	msal      confidential.Client
	// mint makes the assertion for MSAL's callback: sign, except in tests that send assertions a
	// correct client never would, to check that Entra's rejections are explained.
	mint func(ctx context.Context, audience, clientID string) (string, error)
}

// New checks the credential (RSA key, certificate matching the key and valid now) and prepares
// the MSAL client. It makes no network call.
func New(opts Options) (*Client, error) {
	if opts.ClientID == "" {
		return nil, errors.New("entra: a client id (the app registration's Application (client) ID) is required")
	}
	authority := opts.Authority
	if authority == "" {
		if opts.Tenant == "" {
			return nil, errors.New("entra: a tenant (directory id or domain) or an authority URL is required")
		}
		authority = AuthorityURL(opts.Cloud, opts.Tenant)
	}
	authority, err := checkAuthority(authority)
	if err != nil {
		return nil, err
	}
	if opts.Signer == nil || opts.Certificate == nil {
		return nil, errors.New("entra: a signer and its certificate are required")
	}
	if _, ok := opts.Signer.Public().(*rsa.PublicKey); !ok {
		return nil, fmt.Errorf("entra: the key is %s: %w; use a slot holding an RSA-2048 (or larger) key and its certificate",
			assertion.KeyType(opts.Signer.Public()), ErrKeyNotRSA)
	}
	if err := assertion.MatchCertificate(opts.Signer.Public(), opts.Certificate); err != nil {
		return nil, fmt.Errorf("entra: %w", err)
	}
	c := &Client{opts: opts, authority: authority}
	c.mint = c.sign
	c.sha1Hex, c.sha256Hex = assertion.Thumbprints(opts.Certificate)
	if err := c.checkValidity(); err != nil {
		return nil, err
	}
	httpClient := opts.HTTPClient
	if httpClient == nil {
		if httpClient, err = SafeHTTPClient(mtls.Options{}); err != nil {
			return nil, fmt.Errorf("entra: %w", err)
		}
	}
	mopts := []confidential.Option{confidential.WithInstanceDiscovery(false), confidential.WithHTTPClient(httpClient)}
	c.msal, err = confidential.New(authority, opts.ClientID, confidential.NewCredFromAssertionCallback(c.assertionFor), mopts...)
	if err != nil {
		return nil, fmt.Errorf("entra: %w", err)
	}
	return c, nil
}

// SafeHTTPClient returns the HTTP client New uses when Options.HTTPClient is nil, with the trust
// and deadline of opts: https only (a discovered endpoint in clear is refused), a deadline on every
// exchange (opts.Timeout), and no redirect followed at all: Entra's endpoints answer where they
// are, and a followed 307 would send a token request, client assertion included, elsewhere.
// MSAL's own default client has none of these.
func SafeHTTPClient(opts mtls.Options) (*http.Client, error) {
	c, err := mtls.NewClient(mtls.Identity{}, opts)
	if err != nil {
		return nil, err
	}
	c.CheckRedirect = netsafe.NoRedirects
	return c, nil
}

// Authority returns the authority URL in use.
func (c *Client) Authority() string { return c.authority }

// TokenEndpoint returns the authority's v2.0 token endpoint, the audience of client assertions.
func (c *Client) TokenEndpoint() string { return c.authority + "/oauth2/v2.0/token" }

// Thumbprints returns the certificate's SHA-1 and SHA-256 thumbprints (upper-case hex); the SHA-1
// one is what the Entra portal lists under Certificates & secrets.
func (c *Client) Thumbprints() (sha1Hex, sha256Hex string) { return c.sha1Hex, c.sha256Hex }

// Token returns an app-only access token for the scopes (one resource's ".default", for example
// https://graph.microsoft.com/.default). A cached token valid for more than cache.MinRemaining is
// returned without touching the card.
func (c *Client) Token(ctx context.Context, scopes ...string) (Token, error) {
	if len(scopes) == 0 {
		return Token{}, errors.New("entra: no scope: ask for a resource's .default scope, e.g. https://graph.microsoft.com/.default")
	}
	if err := c.checkValidity(); err != nil {
		return Token{}, err
	}
	if c.opts.Cache == nil {
		return c.acquire(ctx, scopes)
	}
	return c.opts.Cache.Fetch(ctx, c.cacheKey(scopes...), func(ctx context.Context) (Token, error) { return c.acquire(ctx, scopes) })
}

// cacheKey is what a token for scopes is cached under: authority, client id, scopes and the
// certificate's thumbprint.
func (c *Client) cacheKey(scopes ...string) cache.Key {
	return cache.Key{Authority: c.authority, ClientID: c.opts.ClientID, Scopes: scopes, Thumbprint: c.sha256Hex}
}

func (c *Client) acquire(ctx context.Context, scopes []string) (Token, error) {
	res, err := c.msal.AcquireTokenByCredential(ctx, scopes)
	if err != nil {
		return Token{}, c.explain(err)
	}
	return Token{
		AccessToken: res.AccessToken,
		TokenType:   "Bearer",
		ExpiresOn:   res.ExpiresOn,
		Scopes:      res.GrantedScopes,
		Cached:      res.Metadata.TokenSource == confidential.TokenSourceCache,
	}, nil
}

// Assertion returns a fresh client assertion (valid five minutes) for the token endpoint, for tools
// that send a client_assertion themselves, such as curl scripts. It costs one signature, made in
// ctx (see assertion.Options.Context).
func (c *Client) Assertion(ctx context.Context) (string, error) {
	if err := c.checkValidity(); err != nil {
		return "", err
	}
	return c.sign(ctx, c.TokenEndpoint(), c.opts.ClientID)
}

// assertionFor is MSAL's assertion callback: one signature per token request, in the context of
// the token request (MSAL passes the one given to AcquireTokenByCredential on), so that a PIN
// prompt is cancelled with it and the audit record carries its purpose.
func (c *Client) assertionFor(ctx context.Context, o confidential.AssertionRequestOptions) (string, error) {
	return c.mint(ctx, o.TokenEndpoint, o.ClientID)
}

func (c *Client) sign(ctx context.Context, audience, clientID string) (string, error) {
	tok, err := assertion.New(c.opts.Signer, c.opts.Certificate, assertion.Options{
		Context:   ctx,
		Audience:  audience,
		ClientID:  clientID,
		Algorithm: assertion.PS256,
		// x5t (SHA-1) besides x5t#S256: older Entra deployments and ADFS look the certificate up
		// by its SHA-1 thumbprint.
		X5T:   true,
		X5C:   c.opts.SendX5C,
		Chain: c.opts.Chain,
		Now:   c.opts.Now,
	})
	if err != nil {
		return "", fmt.Errorf("client assertion: %w", err)
	}
	return tok, nil
}

// checkValidity refuses a certificate outside its validity period: Entra would refuse the
// assertion anyway, after a PIN prompt and a card signature.
func (c *Client) checkValidity() error {
	now := c.now()
	cert := c.opts.Certificate
	switch {
	case now.After(cert.NotAfter):
		return fmt.Errorf("entra: certificate %q (SHA-1 %s) expired on %s: %w; make a new one on the card and upload it to app %s",
			cert.Subject.CommonName, c.sha1Hex, cert.NotAfter.UTC().Format(time.DateOnly), ErrCertificateExpired, c.opts.ClientID)
	case now.Before(cert.NotBefore):
		return fmt.Errorf("entra: certificate %q (SHA-1 %s) is valid only from %s: %w; check the system clock",
			cert.Subject.CommonName, c.sha1Hex, cert.NotBefore.UTC().Format(time.RFC3339), ErrCertificateNotYetValid)
	}
	return nil
}

func (c *Client) now() time.Time {
	if c.opts.Now != nil {
		return c.opts.Now()
	}
	return time.Now()
}
