package oidctest

import (
	"crypto/sha256"
	"crypto/x509"

	jose "github.com/go-jose/go-jose/v4"
)

// Client is RFC 7591 client metadata, registered with the provider as given.
type Client map[string]any

// Grant types the helpers register.
const (
	GrantClientCredentials = "client_credentials"
	GrantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
)

// RedirectURI is the redirect URI the helpers register: a loopback URI of a native client, so
// any port is accepted at request time (RFC 8252 section 7.3).
const RedirectURI = "http://127.0.0.1/callback"

// newClient returns metadata for a native client allowed every grant the flows use.
func newClient(id, method string) Client {
	return Client{
		"client_id":                  id,
		"token_endpoint_auth_method": method,
		"application_type":           "native",
		"grant_types":                []string{GrantClientCredentials, GrantDeviceCode, GrantAuthorizationCode, GrantRefreshToken},
		"response_types":             []string{"code"},
		"redirect_uris":              []string{RedirectURI},
	}
}

// PrivateKeyJWT registers a client authenticating with assertions signed by cert's key.
func PrivateKeyJWT(id string, cert *x509.Certificate) Client {
	c := newClient(id, "private_key_jwt")
	c["jwks"] = jwks(cert)
	return c
}

// TLSClientAuth registers a client authenticating with a CA-issued certificate whose subject is
// cert's (RFC 8705 tls_client_auth, tls_client_auth_subject_dn). The CA must be in
// Config.ClientCAs.
func TLSClientAuth(id string, cert *x509.Certificate) Client {
	c := newClient(id, "tls_client_auth")
	c["tls_client_auth_subject_dn"] = cert.Subject.String()
	return c
}

// SelfSignedTLSClientAuth registers a client authenticating with exactly this certificate over
// TLS (RFC 8705 self_signed_tls_client_auth), registered as a JWK with x5c.
func SelfSignedTLSClientAuth(id string, cert *x509.Certificate) Client {
	c := newClient(id, "self_signed_tls_client_auth")
	c["jwks"] = jwks(cert)
	return c
}

// Bound asks for certificate-bound access tokens (cnf.x5t#S256) for the client.
func (c Client) Bound() Client {
	c["tls_client_certificate_bound_access_tokens"] = true
	return c
}

// jwks is a JWK Set holding cert's public key with x5c and x5t#S256.
func jwks(cert *x509.Certificate) jose.JSONWebKeySet {
	sum := sha256.Sum256(cert.Raw)
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key:                         cert.PublicKey,
		Use:                         "sig",
		Certificates:                []*x509.Certificate{cert},
		CertificateThumbprintSHA256: sum[:],
	}}}
}
