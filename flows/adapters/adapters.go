// Package adapters lets Go SDKs use card-backed tokens: an azcore.TokenCredential for the Azure SDK
// for Go and an oauth2.TokenSource for golang.org/x/oauth2 clients, over any TokenProvider (an
// *entra.Client, or another flow with the same Token method).
package adapters

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"golang.org/x/oauth2"

	"github.com/pivauth/pivauth/flows/cache"
)

// TokenProvider returns an access token for scopes; *entra.Client is one. Providers cache, so
// asking again for a token still valid costs no card operation.
type TokenProvider interface {
	Token(ctx context.Context, scopes ...string) (cache.Token, error)
}

// AzureCredential adapts p to azcore.TokenCredential, so Azure SDK for Go clients (armresources,
// azblob, azkeys, …) authenticate with the card.
func AzureCredential(p TokenProvider) azcore.TokenCredential { return credential{p} }

type credential struct{ p TokenProvider }

// GetToken implements azcore.TokenCredential. Claims challenges (Conditional Access, CAE) and
// per-request tenants are not supported by app-only card credentials and are refused with a reason
// rather than answered with a token that would be rejected again.
func (c credential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if o.Claims != "" {
		return azcore.AccessToken{}, errors.New("pivauth: the service asked for additional claims (a Conditional Access or CAE challenge), which app-only certificate credentials cannot satisfy; check the tenant's policies for this app")
	}
	if len(o.Scopes) == 0 {
		return azcore.AccessToken{}, errors.New("pivauth: the Azure SDK asked for a token without scopes")
	}
	t, err := c.p.Token(ctx, o.Scopes...)
	if err != nil {
		return azcore.AccessToken{}, err
	}
	return azcore.AccessToken{Token: t.AccessToken, ExpiresOn: t.ExpiresOn, RefreshOn: t.ExpiresOn.Add(-cache.MinRemaining)}, nil
}

// OAuth2TokenSource adapts p to oauth2.TokenSource for the scopes; oauth2.NewClient(ctx, ts) then
// sends card-backed bearer tokens. Tokens are reused until cache.MinRemaining before they expire.
// ctx is used for every token request the source makes.
func OAuth2TokenSource(ctx context.Context, p TokenProvider, scopes ...string) oauth2.TokenSource {
	return oauth2.ReuseTokenSourceWithExpiry(nil, source{ctx: ctx, p: p, scopes: scopes}, cache.MinRemaining)
}

type source struct {
	ctx    context.Context
	p      TokenProvider
	scopes []string
}

func (s source) Token() (*oauth2.Token, error) {
	t, err := s.p.Token(s.ctx, s.scopes...)
	if err != nil {
		return nil, fmt.Errorf("pivauth: %w", err)
	}
	typ := t.TokenType
	if typ == "" {
		typ = "Bearer"
	}
	return &oauth2.Token{AccessToken: t.AccessToken, TokenType: typ, Expiry: t.ExpiresOn, ExpiresIn: int64(time.Until(t.ExpiresOn) / time.Second)}, nil
}
