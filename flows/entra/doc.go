// Package entra obtains Microsoft Entra ID tokens with a certificate whose private key stays behind
// a crypto.Signer, typically a PIV card slot (package signer).
//
// It drives MSAL Go's confidential client with confidential.NewCredFromAssertionCallback: MSAL's own
// NewCredFromCert accepts only an *rsa.PrivateKey, while the callback lets package assertion sign
// each client assertion (PS256, x5t#S256 and x5t) through the card. Two flows are offered:
//
//   - Client.Token: app-only client credentials for a resource's ".default" scope, for example
//     https://outlook.office365.com/.default (Exchange Online) or https://graph.microsoft.com/.default.
//   - Client.Login: interactive sign-in by authorization code with PKCE on a loopback redirect, the
//     card authenticating the application.
//
// Entra accepts only RSA keys for client assertions, so New refuses EC and Ed25519 keys, and a
// certificate that has expired or is not yet valid is refused before any network call. Entra's
// AADSTS errors come back as *Error, whose message says what to do.
//
// Instance discovery is off: MSAL reads {authority}/v2.0/.well-known/openid-configuration directly,
// which works for every Entra cloud and for the stand-in in hw-test/entra.
package entra
