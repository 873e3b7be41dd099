package authn

import "context"

type contextKey struct{}

// Scope is what one request carries through the pipeline: the caller's identity once it is
// resolved, whether its access was decided (see authz.Track), and the entry point's own state.
// The router puts one Scope in the request's context, once, so the later steps fill it in
// without copying the request again.
type Scope struct {
	Identity *Identity
	// Decided reports that a policy or a decider settled the request's access.
	Decided bool
	// State is the entry point's own per-request state (the API's access-log record).
	State any
}

// NewScope returns ctx carrying a new, empty Scope.
func NewScope(ctx context.Context) (context.Context, *Scope) {
	s := &Scope{}
	return context.WithValue(ctx, contextKey{}, s), s
}

// ScopeFrom returns the request's Scope, or nil.
func ScopeFrom(ctx context.Context) *Scope {
	s, _ := ctx.Value(contextKey{}).(*Scope)
	return s
}

// NewContext returns ctx carrying the caller's identity: in the request's Scope when it has
// one (ctx itself is returned), else in a new Scope.
func NewContext(ctx context.Context, id *Identity) context.Context {
	if s := ScopeFrom(ctx); s != nil {
		s.Identity = id
		return ctx
	}
	return context.WithValue(ctx, contextKey{}, &Scope{Identity: id})
}

// FromContext returns the caller's identity, or nil when the request carried none.
func FromContext(ctx context.Context) *Identity {
	if s := ScopeFrom(ctx); s != nil {
		return s.Identity
	}
	return nil
}
