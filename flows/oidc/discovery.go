package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/oauth2"

	"github.com/pivauth/pivauth/internal/netsafe"
)

// Metadata is the part of the provider's metadata (OpenID Connect Discovery, RFC 8414, RFC 8628,
// RFC 8705) the flows use.
type Metadata struct {
	Issuer                                     string            `json:"issuer"`
	AuthorizationEndpoint                      string            `json:"authorization_endpoint"`
	TokenEndpoint                              string            `json:"token_endpoint"`
	DeviceAuthorizationEndpoint                string            `json:"device_authorization_endpoint"`
	UserinfoEndpoint                           string            `json:"userinfo_endpoint"`
	JWKSURI                                    string            `json:"jwks_uri"`
	GrantTypesSupported                        []string          `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported          []string          `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string          `json:"token_endpoint_auth_signing_alg_values_supported"`
	CodeChallengeMethodsSupported              []string          `json:"code_challenge_methods_supported"`
	AuthorizationResponseISSParameterSupported bool              `json:"authorization_response_iss_parameter_supported"`
	TLSClientCertificateBoundAccessTokens      bool              `json:"tls_client_certificate_bound_access_tokens"`
	MTLSEndpointAliases                        map[string]string `json:"mtls_endpoint_aliases"`
}

// Endpoint returns the endpoints as an oauth2.Endpoint (client authentication in the body).
func (m *Metadata) Endpoint() oauth2.Endpoint {
	return oauth2.Endpoint{
		AuthURL:       m.AuthorizationEndpoint,
		TokenURL:      m.TokenEndpoint,
		DeviceAuthURL: m.DeviceAuthorizationEndpoint,
		AuthStyle:     oauth2.AuthStyleInParams,
	}
}

// mtlsEndpoint returns the RFC 8705 alias of an endpoint ("token_endpoint") when advertised,
// else the endpoint itself (a provider may ask for client certificates on its main host).
func (m *Metadata) mtlsEndpoint(name, plain string) string {
	if alias := m.MTLSEndpointAliases[name]; alias != "" {
		return alias
	}
	return plain
}

// Discover fetches the provider metadata of issuer and checks that it names the same issuer
// (OpenID Connect Discovery 1.0 section 4.3), so a typo cannot swap providers. The issuer and
// every endpoint the flows use must be https (plain http only on a loopback address:
// *netsafe.InsecureURLError), and no redirect is followed (netsafe.ErrRedirect): the metadata
// comes from the issuer's own URL or not at all. client carries the request (nil: the default
// transport with a netsafe.DefaultTimeout deadline); its redirect policy is overridden.
func Discover(ctx context.Context, client *http.Client, issuer string) (*Metadata, error) {
	if err := netsafe.CheckURL("oidc: issuer", issuer); err != nil {
		return nil, err
	}
	issuer = strings.TrimSuffix(issuer, "/")
	url := issuer + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("oidc: issuer %q: %w", issuer, err)
	}
	req.Header.Set("Accept", "application/json")
	if client == nil {
		client = &http.Client{Timeout: netsafe.DefaultTimeout}
	}
	noRedirects := *client
	noRedirects.CheckRedirect = netsafe.NoRedirects
	resp, err := noRedirects.Do(req)
	if err != nil {
		if errors.Is(err, netsafe.ErrRedirect) {
			return nil, fmt.Errorf("oidc: discovery: %w; give the issuer URL the provider states in its metadata", err)
		}
		return nil, fmt.Errorf("oidc: discovery: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("oidc: discovery %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("oidc: discovery %s answered %s: check the issuer URL", url, resp.Status)
	}
	var m Metadata
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("oidc: discovery %s: not provider metadata: %w", url, err)
	}
	if err := m.check(issuer); err != nil {
		return nil, fmt.Errorf("oidc: discovery %s: %w", url, err)
	}
	return &m, nil
}

// check refuses metadata that names another issuer, lacks a token endpoint, or names an endpoint
// the flows use that is not https (loopback http excepted).
func (m *Metadata) check(issuer string) error {
	issuer = strings.TrimSuffix(issuer, "/")
	if strings.TrimSuffix(m.Issuer, "/") != issuer {
		return fmt.Errorf("the metadata names issuer %q, not %q: use the issuer the provider states", netsafe.Printable(m.Issuer), issuer)
	}
	if m.TokenEndpoint == "" {
		return errors.New("the metadata has no token_endpoint")
	}
	endpoints := map[string]string{
		"token_endpoint":                m.TokenEndpoint,
		"authorization_endpoint":        m.AuthorizationEndpoint,
		"device_authorization_endpoint": m.DeviceAuthorizationEndpoint,
	}
	for name, alias := range m.MTLSEndpointAliases {
		endpoints["mtls_endpoint_aliases."+name] = alias
	}
	names := make([]string, 0, len(endpoints))
	for name, u := range endpoints {
		if u != "" {
			names = append(names, name)
		}
	}
	slices.Sort(names) // the same endpoint is named first on every run
	for _, name := range names {
		if err := netsafe.CheckURL(name, endpoints[name]); err != nil {
			return err
		}
	}
	return nil
}
