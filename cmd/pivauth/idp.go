package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pivauth/pivauth/flows/adapters"
	"github.com/pivauth/pivauth/flows/entra"
	"github.com/pivauth/pivauth/flows/mtls"
	"github.com/pivauth/pivauth/flows/oidc"
	"github.com/pivauth/pivauth/internal/netsafe"
)

// flowExitCode maps the errors of the identity-provider flows (entra, oidc, mtls) and of the
// provider checks to exit codes.
func flowExitCode(err error) (int, bool) {
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

// fromEnvironment fills in what neither a flag nor the profile set from the variables the Azure
// SDKs read: AZURE_TENANT_ID (when no provider is named), AZURE_CLIENT_ID, and
// AZURE_AUTHORITY_HOST, the login host the tenant's authority is made from.
func (f *idpFlags) fromEnvironment() {
	if f.tenant == "" && f.authority == "" && f.issuer == "" {
		f.tenant = os.Getenv("AZURE_TENANT_ID")
	}
	if f.clientID == "" {
		f.clientID = os.Getenv("AZURE_CLIENT_ID")
	}
	if host := os.Getenv("AZURE_AUTHORITY_HOST"); host != "" && f.tenant != "" && f.authority == "" {
		f.authority = strings.TrimSuffix(host, "/") + "/" + f.tenant
	}
}

// kind says which provider the flags name: "entra" or "oidc".
func (f *idpFlags) kind() (string, error) {
	f.fromEnvironment()
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

// client is a token provider over the card (its Token is the Entra or OIDC client's), with what
// the output reports about it.
type client struct {
	adapters.TokenProvider
	kind   string
	entra  *entra.Client // set for Entra
	oidc   *oidc.Client  // set for OIDC
	signer cardKey
}

// newClient builds the Entra or OIDC client over the key. OIDC discovers the provider. Tokens are
// cached as tokenCache says.
func (a *app) newClient(ctx context.Context, f *idpFlags, s cardKey) (*client, error) {
	kind, err := f.kind()
	if err != nil {
		return nil, err
	}
	roots, err := f.extraRoots()
	if err != nil {
		return nil, err
	}
	c := &client{kind: kind, signer: s}
	tokens, err := a.tokenCache(f, s)
	if err != nil {
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
			HTTPClient: httpClient, Cache: tokens,
		})
		if err != nil {
			return nil, err
		}
		c.TokenProvider = c.entra
		a.log.Debug("entra client", "authority", c.entra.Authority(), "client_id", f.clientID)
		return c, nil
	}
	c.oidc, err = oidc.New(ctx, oidc.Config{
		Issuer: f.issuer, ClientID: f.clientID, AuthMethod: oidc.AuthMethod(f.clientAuth),
		Identity: keyIdentity(s), TLS: tlsOpts, CertificateBound: f.bound, Resources: f.resources, Cache: tokens,
		HTTPTimeout: a.opts.httpTimeout, Metadata: f.meta,
	})
	if err != nil {
		return nil, err
	}
	c.TokenProvider = c.oidc
	a.log.Debug("oidc client", "issuer", f.issuer, "client_id", f.clientID, "algorithm", c.oidc.Algorithm())
	return c, nil
}
