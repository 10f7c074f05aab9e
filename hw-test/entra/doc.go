// Package entra is a stand-in for Microsoft Entra ID's v2.0 endpoints, for tests and demos of
// certificate-based client authentication without a real tenant.
//
// It serves, over loopback HTTPS with its own throwaway CA, the endpoints MSAL Go uses when
// instance discovery is off (confidential.WithInstanceDiscovery(false)):
//
//	GET  /{tenant}/v2.0/.well-known/openid-configuration
//	GET  /{tenant}/discovery/v2.0/keys
//	GET  /{tenant}/oauth2/v2.0/authorize   (an automatic test user: redirects straight back with a code)
//	POST /{tenant}/oauth2/v2.0/token       (client_credentials, authorization_code with PKCE, refresh_token)
//
// The token endpoint authenticates clients only by RFC 7523 client assertion and enforces what Entra
// documents for them, answering with Entra's error shape (error, error_description
// "AADSTSnnn: …", error_codes, timestamp, trace_id, correlation_id, error_uri) and codes:
//
//	AADSTS90002    unknown tenant
//	AADSTS700016   unknown application (client id)
//	AADSTS5002738  assertion not signed with an RSA algorithm (Entra takes RS256 and PS256 only)
//	AADSTS50048    sub differs from iss
//	AADSTS700021   iss/sub differ from the client_id parameter
//	AADSTS700023   aud is not the tenant's token endpoint
//	AADSTS700027   x5t#S256/x5t names no certificate registered on the app, or the signature fails
//	AADSTS7000274  the registered certificate credential has expired (or is not yet valid)
//	AADSTS700024   now is outside the assertion's nbf..exp (with Options.Skew tolerance)
//	AADSTS50013    a jti seen before (Entra documents no dedicated replay code; 50013 is its
//	               documented "InvalidAssertion" code)
//
// Issued access tokens are RS256 JWTs signed with the server's own key (published at the keys
// endpoint) carrying aud = the scope's resource, tid, appid/azp, roles from the app registration
// (app-only) or scp and the user's claims (delegated).
package entra
