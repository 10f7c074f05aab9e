package audit

import "context"

type purposeKey struct{}
type requesterKey struct{}

// WithPurpose returns a context that carries p to the private-key operations performed with it (see
// Bind and Signer).
func WithPurpose(ctx context.Context, p Purpose) context.Context {
	return context.WithValue(ctx, purposeKey{}, p)
}

// PurposeFrom returns the purpose carried by ctx, or the zero Purpose.
func PurposeFrom(ctx context.Context) Purpose {
	p, _ := ctx.Value(purposeKey{}).(Purpose)
	return p
}

// WithRequester returns a context that names the process an operation is performed for. The agent
// sets it from the peer credentials of the connection it serves.
func WithRequester(ctx context.Context, r Requester) context.Context {
	return context.WithValue(ctx, requesterKey{}, r)
}

// RequesterFrom returns the requester carried by ctx, if any.
func RequesterFrom(ctx context.Context) (Requester, bool) {
	r, ok := ctx.Value(requesterKey{}).(Requester)
	return r, ok
}
