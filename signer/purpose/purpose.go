// Package purpose carries why a private-key operation is performed, from the code that knows (the
// flow that builds an assertion, the TLS handshake of a request) to the key that performs it.
//
// crypto.Signer.Sign has no context, and the purpose is known only to the caller, so it travels in
// a context.Context:
//
//	ctx = purpose.With(ctx, purpose.Purpose{TokenEndpoint: aud, ClientID: id, JTI: jti})
//	key = purpose.Bind(ctx, key) // a crypto.Signer whose Sign calls key.SignContext(ctx, …)
//	jws := sign(key, …)          // any code that takes a crypto.Signer
//
// The flows packages (assertion, entra, oidc, mtls, managedidentity) set it on every operation
// they ask of a key. A signer that implements ContextSigner reads it with From: pivauth's own
// audit log records it with each card operation, and a library user's signer (an HSM, a cloud
// KMS) can log or check it the same way. The package has no dependencies beyond the standard
// library.
package purpose

import (
	"context"
	"crypto"
	"io"
)

// Purpose says why a private-key operation was performed: the token request a client assertion was
// made for, or the TLS server a handshake signature was for. The JSON names are those of pivauth's
// audit log.
type Purpose struct {
	TokenEndpoint string `json:"token_endpoint,omitempty"` // the assertion's audience
	ClientID      string `json:"client_id,omitempty"`
	JTI           string `json:"jti,omitempty"`         // the assertion's unique id, to match the IdP's logs
	ServerName    string `json:"server_name,omitempty"` // the TLS server (mTLS): set for a handshake signature
	Command       string `json:"command,omitempty"`     // the pivauth command, e.g. "token", "request"
	// Process is the local process a pivauth endpoint signed for (pivauth serve --managed-identity):
	// its executable path and pid as read from the connection's socket, when they could be found.
	Process string `json:"process,omitempty"`
	Profile string `json:"profile,omitempty"` // the token cache profile, for the agent's token reads and writes
	// ClientDeclared marks a purpose the requesting process stated over the agent's socket: the
	// agent cannot check it (a process of the user may say anything); the requester's executable is
	// what the kernel says.
	ClientDeclared bool `json:"client_declared,omitempty"`
}

type purposeKey struct{}

// With returns a context that carries p to the private-key operations performed with it (see Bind).
func With(ctx context.Context, p Purpose) context.Context {
	return context.WithValue(ctx, purposeKey{}, p)
}

// From returns the purpose carried by ctx, or the zero Purpose.
func From(ctx context.Context) Purpose {
	p, _ := ctx.Value(purposeKey{}).(Purpose)
	return p
}

// ContextSigner is a crypto.Signer whose operations can be given a context: for cancellation, for
// the PIN prompt, and for the purpose. pivauth's card signer, the agent's remote key and the audit
// log's recording signer implement it.
type ContextSigner interface {
	crypto.Signer
	SignContext(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error)
}

// Bind returns a crypto.Signer whose Sign calls s.SignContext with ctx, so that code which only knows
// crypto.Signer (a JWS library, crypto/tls) performs its operations in ctx. A signer without
// SignContext is returned unchanged.
func Bind(ctx context.Context, s crypto.Signer) crypto.Signer {
	cs, ok := s.(ContextSigner)
	if !ok {
		return s
	}
	return bound{ctx: ctx, s: cs}
}

// bound is a ContextSigner with its context fixed.
type bound struct {
	ctx context.Context
	s   ContextSigner
}

func (b bound) Public() crypto.PublicKey { return b.s.Public() }

func (b bound) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return b.s.SignContext(b.ctx, rand, digest, opts)
}
