package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/oauth2"

	"github.com/pivauth/pivauth/flows/assertion"
	"github.com/pivauth/pivauth/flows/cache"
	"github.com/pivauth/pivauth/flows/mtls"
	"github.com/pivauth/pivauth/internal/netsafe"
	"github.com/pivauth/pivauth/signer/purpose"
)

// AuthMethod is a token endpoint client authentication method.
type AuthMethod string

// The client authentication methods a card can back.
const (
	// PrivateKeyJWT signs an RFC 7523 client assertion with the card per request.
	PrivateKeyJWT AuthMethod = "private_key_jwt"
	// TLSClientAuth presents a CA-issued certificate over TLS (RFC 8705 section 2.1).
	TLSClientAuth AuthMethod = "tls_client_auth"
	// SelfSignedTLSClientAuth presents a registered certificate over TLS (RFC 8705 section 2.2).
	SelfSignedTLSClientAuth AuthMethod = "self_signed_tls_client_auth"
)

// Config describes a client of an OpenID provider whose credential is on a card.
type Config struct {
	// Issuer is the provider's issuer URL; its metadata is discovered from it.
	Issuer string
	// ClientID is the registered client id.
	ClientID string
	// AuthMethod is how the client authenticates; "" means PrivateKeyJWT.
	AuthMethod AuthMethod
	// Identity is the card's signer and certificate (any crypto.Signer works).
	Identity mtls.Identity
	// TLS sets the trust (roots, SSL_CERT_FILE) and TLS versions of every connection.
	TLS mtls.Options
	// CertificateBound requests certificate-bound access tokens (RFC 8705 section 3): token
	// requests go over mTLS even with private_key_jwt. The TLS methods always go over mTLS, so
	// their tokens are bound whenever the provider binds them.
	CertificateBound bool
	// Algorithm forces the JWS algorithm of client assertions; "" chooses from the provider's
	// token_endpoint_auth_signing_alg_values_supported and the key type.
	Algorithm string
	// AssertionAudience is the aud of client assertions; "" means the URL of the token endpoint
	// the client uses (RFC 7523 section 3): its mTLS alias when requests go over mTLS, as
	// providers compare aud with the URL they were reached at. Some providers want the issuer.
	AssertionAudience string
	// Resources are the RFC 8707 resource indicators Token asks for.
	Resources []string
	// Cache, when set, keeps Token's tokens across calls and processes (a cache.Store on disk, or
	// any cache.Cache).
	Cache cache.Cache
	// HTTPTimeout bounds each exchange with the provider (discovery, token, device
	// authorization) and each request of ResourceClient; 0 means netsafe.DefaultTimeout (30 s).
	HTTPTimeout time.Duration
	// Metadata, when set, is the provider's metadata already discovered (Discover) for Issuer:
	// New then asks the provider nothing. A caller discovers first to refuse a provider before it
	// touches a card.
	Metadata *Metadata
}

// Client gets tokens from one provider for one client. Safe for concurrent use.
type Client struct {
	cfg   Config
	meta  *Metadata
	alg   string
	plain *mtls.Transport // no client certificate: discovery, private_key_jwt
	card  *mtls.Transport // the card's identity: RFC 8705 and bound-token requests
}

// New checks that the certificate is for the signer's key and valid now, discovers the provider
// and checks the configuration against it: the client authentication method is advertised and
// the key can sign an algorithm the provider accepts. The card is not used yet.
func New(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" {
		return nil, errors.New("oidc: an issuer and a client id are required")
	}
	if err := netsafe.CheckURL("oidc: issuer", cfg.Issuer); err != nil {
		return nil, err
	}
	if cfg.HTTPTimeout <= 0 {
		cfg.HTTPTimeout = netsafe.DefaultTimeout
	}
	cfg.TLS.Timeout = cfg.HTTPTimeout
	if cfg.AuthMethod == "" {
		cfg.AuthMethod = PrivateKeyJWT
	}
	switch cfg.AuthMethod {
	case PrivateKeyJWT, TLSClientAuth, SelfSignedTLSClientAuth:
	default:
		return nil, fmt.Errorf("oidc: client authentication %q is not one a card can back: use %s, %s or %s",
			cfg.AuthMethod, PrivateKeyJWT, TLSClientAuth, SelfSignedTLSClientAuth)
	}
	if cfg.Identity.Signer == nil || cfg.Identity.Certificate == nil {
		return nil, errors.New("oidc: the client needs the card's signer and certificate")
	}
	c := &Client{cfg: cfg}
	var err error
	if c.plain, err = mtls.NewTransport(mtls.Identity{}, cfg.TLS); err != nil {
		return nil, err
	}
	if c.card, err = mtls.NewTransport(cfg.Identity, cfg.TLS); err != nil {
		return nil, err
	}
	if c.meta = cfg.Metadata; c.meta == nil {
		if c.meta, err = Discover(ctx, &http.Client{Transport: c.plain, Timeout: cfg.HTTPTimeout}, cfg.Issuer); err != nil {
			return nil, err
		}
	} else if err := c.meta.check(cfg.Issuer); err != nil {
		return nil, err
	}
	if m := c.meta.TokenEndpointAuthMethodsSupported; len(m) > 0 && !slices.Contains(m, string(cfg.AuthMethod)) {
		return nil, fmt.Errorf("oidc: %s does not offer client authentication %s: it offers %s",
			cfg.Issuer, cfg.AuthMethod, strings.Join(m, ", "))
	}
	if cfg.AuthMethod == PrivateKeyJWT {
		advertised := c.meta.TokenEndpointAuthSigningAlgValuesSupported
		switch {
		case cfg.Algorithm == "":
			if c.alg, err = assertion.Choose(cfg.Identity.Signer.Public(), advertised); err != nil {
				return nil, fmt.Errorf("oidc: %s: %w", cfg.Issuer, err)
			}
		case len(advertised) > 0 && !slices.Contains(advertised, cfg.Algorithm):
			return nil, fmt.Errorf("oidc: %s does not accept %s client assertions: it accepts %s",
				cfg.Issuer, cfg.Algorithm, strings.Join(advertised, ", "))
		default:
			c.alg = cfg.Algorithm
		}
	}
	return c, nil
}

// Metadata returns the discovered provider metadata.
func (c *Client) Metadata() *Metadata { return c.meta }

// Algorithm returns the JWS algorithm of the client assertions ("" for the TLS methods).
func (c *Client) Algorithm() string { return c.alg }

// Transport returns the card-backed mTLS transport the client uses for RFC 8705 requests.
func (c *Client) Transport() *mtls.Transport { return c.card }

// ResourceClient returns an HTTP client that calls a resource server with tokens from src over
// the card's TLS identity, as certificate-bound tokens require (RFC 8705 section 3). The token and
// the identity go only to the origin of the request made: a redirect to another origin is followed
// without either, one from https to http is refused (netsafe.OriginClient).
func (c *Client) ResourceClient(src oauth2.TokenSource) *http.Client {
	return netsafe.OriginClient(&oauth2.Transport{Source: src, Base: c.card}, c.plain, c.cfg.HTTPTimeout)
}

// TokenRequest is what a token is asked for.
type TokenRequest struct {
	// Scopes are requested space-separated in "scope".
	Scopes []string
	// Resources are RFC 8707 resource indicators ("resource", repeated).
	Resources []string
	// Params are extra token request parameters (for example "audience" for providers that
	// predate resource indicators).
	Params url.Values
}

// apply adds the request's parameters to a form.
func (r TokenRequest) apply(form url.Values) {
	if len(r.Scopes) > 0 {
		form.Set("scope", strings.Join(r.Scopes, " "))
	}
	for _, res := range r.Resources {
		form.Add("resource", res)
	}
	for k, vs := range r.Params {
		for _, v := range vs {
			form.Add(k, v)
		}
	}
}

// overTLS reports whether token and device requests go over the card's TLS identity.
func (c *Client) overTLS() bool {
	return c.cfg.AuthMethod != PrivateKeyJWT || c.cfg.CertificateBound
}

// endpoint returns the URL and transport for a client-authenticated endpoint ("token_endpoint",
// "device_authorization_endpoint").
func (c *Client) endpoint(name, plain string) (string, *mtls.Transport) {
	if c.overTLS() {
		return c.meta.mtlsEndpoint(name, plain), c.card
	}
	return plain, c.plain
}

// authenticate adds the client authentication to a form: client_id always, and a fresh card
// signed assertion for private_key_jwt (one card signature, made in ctx; a jti is never reused).
func (c *Client) authenticate(ctx context.Context, form url.Values) error {
	form.Set("client_id", c.cfg.ClientID)
	if c.cfg.AuthMethod != PrivateKeyJWT {
		return nil
	}
	aud := c.cfg.AssertionAudience
	if aud == "" {
		aud, _ = c.endpoint("token_endpoint", c.meta.TokenEndpoint)
	}
	jws, err := assertion.New(c.cfg.Identity.Signer, c.cfg.Identity.Certificate, assertion.Options{
		Audience:  aud,
		ClientID:  c.cfg.ClientID,
		Algorithm: c.alg,
		Chain:     c.cfg.Identity.Chain,
		Context:   ctx,
	})
	if err != nil {
		return fmt.Errorf("client assertion: %w", err)
	}
	form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	form.Set("client_assertion", jws)
	return nil
}

// post sends a client-authenticated form to an endpoint and decodes a JSON success into v.
func (c *Client) post(ctx context.Context, name, plainURL string, form url.Values, v any) error {
	what := strings.ReplaceAll(name, "_", " ")
	if plainURL == "" {
		return fmt.Errorf("oidc: %s does not advertise a %s", c.cfg.Issuer, what)
	}
	endpoint, transport := c.endpoint(name, plainURL)
	resp, cancel, err := c.send(ctx, endpoint, transport, form)
	if err != nil {
		return fmt.Errorf("oidc: %s %s: %w", what, endpoint, err)
	}
	defer cancel()
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = &netsafe.TimeoutError{URL: endpoint, After: c.cfg.HTTPTimeout, Err: err}
		}
		return fmt.Errorf("oidc: %s %s: %w", what, endpoint, err)
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, v); err != nil {
			return fmt.Errorf("oidc: %s %s: undecodable answer: %w", what, endpoint, err)
		}
		return nil
	}
	return c.responseError(resp, transport, form.Get("grant_type"), body)
}

// send authenticates and posts the form. A keep-alive connection the server closed just as the
// request went out (EOF or reset before any answer) is retried once on a new connection with a
// fresh authentication: net/http retries only idempotent requests, and a token request is a POST.
// Each attempt, from the connection to the end of the answer's body, is bounded by
// Config.HTTPTimeout (the card's signature for the assertion is made before the clock starts);
// cancel releases the answer's deadline once its body is read.
func (c *Client) send(ctx context.Context, endpoint string, transport http.RoundTripper, form url.Values) (resp *http.Response, cancel context.CancelFunc, err error) {
	// Whatever the card signs for this request (the assertion, or the TLS handshake that
	// authenticates the client) is recorded as being for this client at this endpoint.
	p := purpose.From(ctx)
	p.TokenEndpoint, p.ClientID = endpoint, c.cfg.ClientID
	ctx = purpose.With(ctx, p)
	for attempt := 0; ; attempt++ {
		if err := c.authenticate(ctx, form); err != nil {
			return nil, nil, err
		}
		var reused bool
		trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused }}
		exchange, cancel := context.WithTimeout(ctx, c.cfg.HTTPTimeout)
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(exchange, trace), http.MethodPost, endpoint, strings.NewReader(form.Encode()))
		if err != nil {
			cancel()
			return nil, nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		resp, err := transport.RoundTrip(req)
		if err == nil {
			return resp, cancel, nil
		}
		var netErr net.Error // the transport's ResponseHeaderTimeout
		timedOut := errors.Is(exchange.Err(), context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout())
		cancel()
		if timedOut && ctx.Err() == nil {
			return nil, nil, &netsafe.TimeoutError{URL: endpoint, After: c.cfg.HTTPTimeout, Err: err}
		}
		stale := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
		if attempt > 0 || !reused || !stale {
			return nil, nil, err
		}
	}
}

// responseError turns a failed answer into an *Error (OAuth error JSON), the mTLS explanation of
// a certificate rejected at the HTTP level, or a plain error quoting the answer.
func (c *Client) responseError(resp *http.Response, transport *mtls.Transport, grant string, body []byte) error {
	endpoint := resp.Request.URL.String()
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var e Error
	if mediaType == "application/json" && json.Unmarshal(body, &e) == nil && e.Code != "" {
		e.Endpoint, e.Status, e.grant, e.client = endpoint, resp.StatusCode, grant, c
		if host := resp.Request.URL.Host; transport == c.card {
			if req, ok := transport.CertificateRequest(hostPort(host)); ok && req.Unsuitable != nil {
				e.tlsCAs = req.AcceptableCAs
			}
		}
		return &e
	}
	if err := transport.Explain(resp); err != nil {
		return fmt.Errorf("oidc: %s: %w", endpoint, err)
	}
	snippet := strings.TrimSpace(netsafe.Printable(string(body)))
	if len(snippet) > 200 {
		snippet = strings.ToValidUTF8(snippet[:200], "") + "…"
	}
	return fmt.Errorf("oidc: %s answered %s: %s", endpoint, netsafe.Printable(resp.Status), snippet)
}

// hostPort adds the https default port to a URL host without one.
func hostPort(host string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(host, "443")
}

// token is the JSON answer of a token endpoint.
type token struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int64  `json:"expires_in"`
}

// requestToken sends a token request and returns the token, with the answer's other fields
// (id_token, scope, issued_token_type …) available through Token.Extra.
func (c *Client) requestToken(ctx context.Context, form url.Values) (*oauth2.Token, error) {
	var raw map[string]any
	if err := c.post(ctx, "token_endpoint", c.meta.TokenEndpoint, form, &raw); err != nil {
		return nil, err
	}
	data, _ := json.Marshal(raw)
	var t token
	if err := json.Unmarshal(data, &t); err != nil || t.AccessToken == "" {
		return nil, fmt.Errorf("oidc: token endpoint %s answered without an access token", c.meta.TokenEndpoint)
	}
	tok := &oauth2.Token{AccessToken: t.AccessToken, TokenType: t.TokenType, RefreshToken: t.RefreshToken, ExpiresIn: t.ExpiresIn}
	if t.ExpiresIn > 0 {
		tok.Expiry = time.Now().Add(time.Duration(t.ExpiresIn) * time.Second)
	}
	return tok.WithExtra(raw), nil
}

// Refresh exchanges a refresh token for a new token (bound refresh tokens go over mTLS like
// every token request of this client).
func (c *Client) Refresh(ctx context.Context, refreshToken string, req TokenRequest) (*oauth2.Token, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	req.apply(form)
	return c.requestToken(ctx, form)
}
