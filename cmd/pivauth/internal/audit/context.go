package audit

import "context"

type requesterKey struct{}

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
