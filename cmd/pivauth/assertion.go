package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/pivauth/pivauth/flows/assertion"
)

// assertionJSON is the JSON output of `pivauth assertion`.
type assertionJSON struct {
	Assertion  string `json:"assertion"`
	Audience   string `json:"audience"`
	ClientID   string `json:"client_id"`
	Algorithm  string `json:"algorithm"`
	ExpiresOn  string `json:"expires_on"` // RFC 3339
	Thumbprint string `json:"thumbprint"` // SHA-1 of the certificate, upper-case hex
}

// assertionOptions are the flags of `pivauth assertion`.
type assertionOptions struct {
	idp      idpFlags
	audience string // --audience: sign for this token endpoint without asking a provider
}

func (a *app) assertionCommand() *cobra.Command {
	var o assertionOptions
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
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runAssertion(cmd.Context(), &o) },
	}
	o.idp.register(cmd, false)
	cmd.Flags().StringVar(&o.audience, "audience", "", "the assertion's aud `URL` (a token endpoint), without asking any provider")
	setOutputFormats(cmd, "text", "json")
	return cmd
}

// runAssertion signs a client assertion for the provider (or --audience) and prints it.
func (a *app) runAssertion(ctx context.Context, o *assertionOptions) error {
	audience := o.audience
	if audience == "" {
		if _, err := a.preflight(ctx, &o.idp); err != nil {
			return err
		}
	} else if o.idp.clientID == "" {
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
			jws, err = assertion.New(s, s.Certificate(), assertion.Options{Audience: audience, ClientID: o.idp.clientID, Algorithm: alg, Context: ctx})
		}
	default:
		o.idp.noCache = true // an assertion is never cached
		var c *client
		if c, err = a.newClient(ctx, &o.idp, s); err != nil {
			return err
		}
		if c.entra != nil {
			audience, alg = c.entra.TokenEndpoint(), assertion.PS256
			jws, err = c.entra.Assertion(ctx)
		} else {
			audience, alg = c.oidc.Metadata().TokenEndpoint, c.oidc.Algorithm()
			if alg == "" {
				return usageErrorf("--client-auth %s authenticates with TLS, not with an assertion", o.idp.clientAuth)
			}
			jws, err = assertion.New(s, s.Certificate(), assertion.Options{Audience: audience, ClientID: o.idp.clientID, Algorithm: alg, Context: ctx})
		}
	}
	if err != nil {
		return err
	}
	sha1Hex, _ := assertion.Thumbprints(s.Certificate())
	return a.emit(assertionJSON{Assertion: jws, Audience: audience, ClientID: o.idp.clientID, Algorithm: alg,
		ExpiresOn: assertionExpiry(jws), Thumbprint: sha1Hex}, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, jws)
		return err
	})
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
