// Package oidc gets OAuth 2.0 access tokens from any OpenID provider with a client credential that
// lives on a card: a crypto.Signer and its certificate.
//
// New discovers the provider (/.well-known/openid-configuration) and checks the configuration
// before any token request. Clients authenticate with private_key_jwt (RFC 7523 assertions signed
// by the card, the JWS algorithm chosen from the provider's advertised list and the key type),
// tls_client_auth or self_signed_tls_client_auth (RFC 8705, over the provider's
// mtls_endpoint_aliases when advertised). Tokens requested over mTLS can be certificate-bound
// (cnf.x5t#S256); ResourceClient sends them with the same card-backed TLS identity.
//
// Grants: client credentials, the device authorization grant (RFC 8628) and the authorization
// code grant with PKCE (S256) on a loopback redirect (RFC 8252). Provider errors come back as
// *Error with the OAuth error code and what to do about it.
package oidc
