package authz

import (
	"context"

	"github.com/lanyardhq/lanyard/internal/authn"
)

// A request's access decision is tracked so that a route cannot answer without one: the
// router starts tracking before the route's policy runs, every policy the router evaluates
// settles it, and a Deferred route's handler settles it by asking its decider. The API refuses
// to send a success for a request whose decision was never settled (it fails closed, with a
// 500: a route that forgot its decider is lanyard's bug, never the caller's way in). The
// record lives in the request's authn.Scope.

// Track returns a context that records the decision of the request it belongs to, and the
// Scope that holds the record (Scope.Decided). A context that already carries a Scope is
// returned as it is, its record reset.
func Track(ctx context.Context) (context.Context, *authn.Scope) {
	if s := authn.ScopeFrom(ctx); s != nil {
		s.Decided = false
		return ctx, s
	}
	return authn.NewScope(ctx)
}

// settle marks the request's access as decided, allowed or refused: a decider that ran has
// answered the question, whatever its answer.
func settle(ctx context.Context) {
	if s := authn.ScopeFrom(ctx); s != nil {
		s.Decided = true
	}
}
