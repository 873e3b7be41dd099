package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/authz"
	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/ratelimit"
	"github.com/lanyardhq/lanyard/internal/store"
)

// Limits is the pipeline's last layers, the plan's windows and the key's credits (CONTRACT
// §5 "Limits and credits", §11.28–31, §11.52): which plan limits a request, which bucket it
// counts in, and the limiter's decision. Only gateway routes, /v1/authz and /v1/verify spend;
// the native API is never limited by a plan.
//
// The plan of a request is, first found: the route's plan; the key's own; the plan of the
// owning resource or its nearest ancestor that has one; the config's default plan. The owning
// resource is the key's resource (a business key's, or the one a personal key is confined to),
// else the resource the request is about. A plan bucketed per key counts per credential; one
// bucketed per resource counts per owning resource (every key and token of a business shares
// it), or per credential when the request names no resource.
type Limits struct {
	Limiter ratelimit.Limiter
	Plans   map[string]config.Plan
	Default string
	Authz   *authz.Authorizer
}

// LimitError is a request refused by a window or by the credits (429).
type LimitError struct{ Decision *ratelimit.Decision }

func (e *LimitError) Error() string { return "rate limited: " + string(e.Decision.Refused) }

// Plan returns the name of the plan that limits id's requests about resource (route names the
// route's plan, "" for none), and the plan; "" when none does.
func (l *Limits) Plan(ctx context.Context, id *authn.Identity, resource, route string) (string, config.Plan, error) {
	name := route
	if name == "" && id.Key != nil {
		name = id.Key.Plan
	}
	if name == "" {
		var err error
		if name, err = l.resourcePlan(ctx, l.owner(id, resource)); err != nil {
			return "", config.Plan{}, err
		}
	}
	if name == "" {
		name = l.Default
	}
	p, ok := l.Plans[name]
	if !ok {
		return "", config.Plan{}, nil // no plan (or one the config no longer has): unlimited
	}
	return name, p, nil
}

// owner is the resource a request's spending belongs to.
func (l *Limits) owner(id *authn.Identity, resource string) string {
	if id.Key != nil && id.Key.Resource != "" {
		return id.Key.Resource
	}
	return resource
}

// resourcePlan is the plan of ref or of its nearest ancestor that has one.
func (l *Limits) resourcePlan(ctx context.Context, ref string) (string, error) {
	for depth := 0; ref != "" && depth < 64; depth++ {
		r, err := l.Authz.Resource(ctx, ref)
		if errors.Is(err, store.ErrNotFound) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		if r.Plan != "" {
			return r.Plan, nil
		}
		ref = r.Parent
	}
	return "", nil
}

// Request builds the limiter's request for id's request about resource: the plan's windows in
// their bucket and the key's credits. ok is false when nothing limits it (no plan, no credits).
func (l *Limits) Request(ctx context.Context, id *authn.Identity, resource, route string, cost int64, dry bool) (ratelimit.Request, bool, error) {
	req := ratelimit.Request{Cost: cost, DryRun: dry}
	_, p, err := l.Plan(ctx, id, resource, route)
	if err != nil {
		return req, false, err
	}
	if len(p.Windows) > 0 {
		req.Bucket = "credential:" + id.CredentialName()
		if p.Bucket == config.BucketResource {
			if o := l.owner(id, resource); o != "" {
				req.Bucket = "resource:" + o
			}
		}
		for _, w := range p.Windows {
			req.Windows = append(req.Windows, ratelimit.Window{Limit: w.Limit, Window: w.Window})
		}
	}
	if k := id.Key; k != nil && k.Credits != nil {
		req.Credits = CreditsOf(k)
	}
	return req, len(req.Windows) > 0 || req.Credits != nil, nil
}

// CreditsOf is a key's stored credits as the limiter takes them.
func CreditsOf(k *store.Key) *ratelimit.Credits {
	c := k.Credits
	out := &ratelimit.Credits{Key: k.ID, SetAt: c.SetAt, Remaining: c.Remaining, RefilledAt: c.RefilledAt}
	if c.Refill != nil {
		out.Refill = &ratelimit.Refill{Amount: c.Refill.Amount, Interval: c.Refill.Interval}
	}
	return out
}

// Spend decides one request: nil when nothing limits it; a *LimitError when a window or the
// credits refuse it (the Decision says which, and what every window holds).
func (l *Limits) Spend(ctx context.Context, id *authn.Identity, resource, route string, cost int64, dry bool) (*ratelimit.Decision, error) {
	req, ok, err := l.Request(ctx, id, resource, route, cost, dry)
	if err != nil || !ok {
		return nil, err
	}
	d, err := l.Limiter.Decide(ctx, req)
	if err != nil {
		return nil, err
	}
	if !d.Allowed {
		return &d, &LimitError{Decision: &d}
	}
	return &d, nil
}

// WriteBack hands the limiter's changed credit balances to the store, every interval until ctx
// ends, and once more on flushCtx at the end.
func WriteBack(ctx, flushCtx context.Context, l ratelimit.Limiter, s interface {
	WriteCredits(context.Context, []store.CreditBalance) error
}, interval time.Duration, onErr func(error)) {
	flush := func(ctx context.Context) {
		bs := l.Balances()
		if len(bs) == 0 {
			return
		}
		out := make([]store.CreditBalance, 0, len(bs))
		for _, b := range bs {
			out = append(out, store.CreditBalance{KeyID: b.Key, SetAt: b.SetAt, Remaining: b.Remaining, RefilledAt: b.RefilledAt})
		}
		if err := s.WriteCredits(ctx, out); err != nil && onErr != nil {
			onErr(err)
		}
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			flush(flushCtx)
			return
		case <-t.C:
			flush(ctx)
		}
	}
}
