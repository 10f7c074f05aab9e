// Package assertion builds RFC 7523 client assertions: compact JWS tokens that authenticate an OAuth
// client (Entra ID, any OIDC provider) with a certificate whose private key sits behind a
// crypto.Signer, typically a PIV card slot from package signer.
//
// The header carries alg, typ "JWT", x5t#S256 (base64url SHA-256 of the certificate) and, where
// asked, x5t (SHA-1) and x5c. The claims are aud, iss = sub = client_id, a UUID jti, nbf, iat and an
// exp no more than ten minutes out. One assertion costs exactly one Sign call on the signer, made in
// Options.Context with the audience, client id and jti as its audit purpose, so that a signer that
// records its operations (pivauth's card signer and agent key) logs what the assertion was for.
package assertion
