package oidc

import (
	"fmt"
	"strings"

	"github.com/pivauth/pivauth/flows/assertion"
	"github.com/pivauth/pivauth/internal/netsafe"
)

// OAuth error codes (RFC 6749 section 5.2, RFC 8628 section 3.5, RFC 8707) the flows explain.
const (
	ErrCodeInvalidRequest       = "invalid_request"
	ErrCodeInvalidClient        = "invalid_client"
	ErrCodeInvalidGrant         = "invalid_grant"
	ErrCodeUnauthorizedClient   = "unauthorized_client"
	ErrCodeUnsupportedGrantType = "unsupported_grant_type"
	ErrCodeInvalidScope         = "invalid_scope"
	ErrCodeInvalidTarget        = "invalid_target"
	ErrCodeAccessDenied         = "access_denied"
	ErrCodeExpiredToken         = "expired_token"
	ErrCodeAuthorizationPending = "authorization_pending"
	ErrCodeSlowDown             = "slow_down"
	ErrCodeServerError          = "server_error"
	ErrCodeUnavailable          = "temporarily_unavailable"
)

// Error is an OAuth error answer of the provider, with what to do about it.
type Error struct {
	// Endpoint is the URL that answered.
	Endpoint string `json:"-"`
	// Status is the HTTP status (0 for errors returned to the redirect URI).
	Status int `json:"-"`
	// Code is the OAuth error code, e.g. "invalid_client".
	Code string `json:"error"`
	// Description is the provider's error_description.
	Description string `json:"error_description"`
	// URI is the provider's error_uri.
	URI string `json:"error_uri"`

	grant  string
	client *Client
	tlsCAs []string // CAs named by the server's TLS certificate request when they did not issue ours
}

// Error returns "oidc: ENDPOINT: CODE (DESCRIPTION): what to do".
func (e *Error) Error() string {
	var b strings.Builder
	// Code, description and URI are the provider's words: printed without control characters.
	fmt.Fprintf(&b, "oidc: %s: %s", e.Endpoint, netsafe.Printable(e.Code))
	if e.Description != "" {
		fmt.Fprintf(&b, " (%s)", netsafe.Printable(e.Description))
	}
	if hint := e.hint(); hint != "" {
		b.WriteString(": ")
		b.WriteString(hint)
	}
	if e.URI != "" {
		fmt.Fprintf(&b, "; see %s", netsafe.Printable(e.URI))
	}
	return b.String()
}

// hint says what to do about the error, in terms of this client's configuration.
func (e *Error) hint() string {
	var cfg Config
	if e.client != nil {
		cfg = e.client.cfg
	}
	switch e.Code {
	case ErrCodeInvalidClient:
		hint := invalidClientHint(cfg)
		if len(e.tlsCAs) > 0 {
			hint += fmt.Sprintf(" (its TLS certificate request named the CAs %q, none of which issued ours)", e.tlsCAs)
		}
		return hint
	case ErrCodeInvalidGrant:
		return "the code, device code or refresh token is invalid, used or expired (or a bound token was asked for without the certificate): sign in again"
	case ErrCodeUnauthorizedClient:
		return fmt.Sprintf("client %s may not use grant %s: allow it in the client registration", cfg.ClientID, e.grant)
	case ErrCodeUnsupportedGrantType:
		return fmt.Sprintf("the provider does not offer grant %s", e.grant)
	case ErrCodeInvalidScope:
		return "the provider refuses a requested scope for this client: request only the scopes registered for it"
	case ErrCodeInvalidTarget:
		return "the provider does not know a requested resource, or the client may not use it: check the resource indicators"
	case ErrCodeAccessDenied:
		return "the sign-in was declined by the user or refused by the provider's policy"
	case ErrCodeExpiredToken:
		return "the device code expired before the sign-in was completed: start again and finish the sign-in sooner"
	case ErrCodeServerError, ErrCodeUnavailable:
		return "the provider has a problem: try again later"
	case ErrCodeInvalidRequest:
		return "the provider considers the request malformed"
	}
	return ""
}

// invalidClientHint explains a rejected client authentication for the configured method.
func invalidClientHint(cfg Config) string {
	cert := cfg.Identity.Certificate
	if cert == nil {
		return "the provider did not accept the client authentication"
	}
	sha1Hex, sha256Hex := assertion.Thumbprints(cert)
	switch cfg.AuthMethod {
	case TLSClientAuth:
		return fmt.Sprintf("the provider did not accept the TLS client certificate: register client %s with token_endpoint_auth_method tls_client_auth and tls_client_auth_subject_dn %q, and make the provider trust its issuer %q",
			cfg.ClientID, cert.Subject.String(), cert.Issuer.String())
	case SelfSignedTLSClientAuth:
		return fmt.Sprintf("the provider did not accept the TLS client certificate: register the certificate (x5t#S256 %s) in the jwks of client %s with token_endpoint_auth_method self_signed_tls_client_auth",
			assertion.X5TS256(cert), cfg.ClientID)
	}
	return fmt.Sprintf("the provider did not accept the card's client assertion: register the certificate's key (SHA-1 %s, SHA-256 %s) for client %s with token_endpoint_auth_method private_key_jwt, and check this computer's clock",
		sha1Hex, sha256Hex, cfg.ClientID)
}
