// Package audit keeps the host-side record of every private-key operation pivauth performs.
//
// Client-credential sign-ins do not appear in an identity provider's interactive sign-in logs, so
// this file is the only trail an admin has of what the card was used for. Each operation appends one
// JSON line (an Event): when, which card (YubiKey serial or CHUID GUID), which reader and slot, the
// certificate's SHA-256 thumbprint, the operation, its purpose (token endpoint, client id and jti of
// an assertion, or the server name of a TLS handshake), who asked (when the agent served it) and the
// result class. The Event type has no field that could hold a PIN, a token or a signature, so no
// caller can put one there; Purpose strips query strings and user info from endpoints for the same
// reason.
//
// # Where the log lives
//
// Log appends to $XDG_STATE_HOME/pivauth/audit.jsonl (default ~/.local/state/pivauth), 0600 in a 0700
// directory. Several processes (the agent, direct pivauth invocations, Go programs) append at once:
// every append holds an exclusive flock on a sibling lock file, so lines never interleave and the
// size-based rotation (audit.jsonl -> audit.jsonl.1 -> … -> audit.jsonl.N) never loses a line. Read
// walks the rotated files oldest first.
//
// # How the purpose reaches the key
//
// The flows put the purpose of each operation in its context (package signer/purpose: purpose.With,
// purpose.Bind), so that code which only knows crypto.Signer (a JWS library, crypto/tls) still signs
// with it; Bind is a no-op for signers without a SignContext method, so flows keep working with plain
// software keys. The recording itself happens in one place, Signer (built with Wrap): it sits around the card
// signer (or the agent's remote key), takes the purpose and the requester from the context of each
// operation, performs it and records the outcome. If the record cannot be written the signature is
// withheld: an operation that is not in the trail does not happen.
package audit
