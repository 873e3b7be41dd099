package authz

import "context"

// A request's access decision is tracked so that a route cannot answer without one: the
// router starts tracking before the route's policy runs, every policy the router evaluates
// settles it, and a Deferred route's handler settles it by asking its decider. The API refuses
// to send a success for a request whose decision was never settled (it fails closed, with a
// 500: a route that forgot its decider is lanyard's bug, never the caller's way in).

type trackKey struct{}

// Tracker records whether the access decision of one request was made.
type Tracker struct{ decided bool }

// Decided reports whether a policy or a decider settled the request's access.
func (t *Tracker) Decided() bool { return t != nil && t.decided }

// Track returns a context that records the decision of the request it belongs to.
func Track(ctx context.Context) (context.Context, *Tracker) {
	t := &Tracker{}
	return context.WithValue(ctx, trackKey{}, t), t
}

// settle marks the request's access as decided, allowed or refused: a decider that ran has
// answered the question, whatever its answer.
func settle(ctx context.Context) {
	if t, ok := ctx.Value(trackKey{}).(*Tracker); ok {
		t.decided = true
	}
}
