package api

import (
	"net/http"
	"time"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/throttle"
)

// quotas are the rates that bound what one client address or one principal can make lanyard
// do (CONTRACT §11.59, §11.63); nil is no bound. Routes name theirs in the table.
type quotas struct {
	login, revoke, writes *throttle.Rate
}

func newQuotas(q config.Quotas, now func() time.Time) quotas {
	rate := func(perMinute int) *throttle.Rate {
		if perMinute <= 0 {
			return nil
		}
		return throttle.NewRate(perMinute, time.Minute, 0, now)
	}
	return quotas{login: rate(q.LoginPerMinute), revoke: rate(q.RevokePerMinute), writes: rate(q.WritesPerMinute)}
}

// spendQuota spends one request of the route's quota, if it has one: per client address on a
// public route, per acting principal on the others. Admin credentials are the operator's and
// are not bound. Past the quota the answer is 429 with Retry-After, and nothing is done.
func (h *Handler) spendQuota(r *http.Request, rt *Route, id *authn.Identity) error {
	if rt.Quota == nil {
		return nil
	}
	var key string
	switch {
	case id == nil:
		key = h.clientIP(r)
	case id.Admin():
		return nil
	default:
		key = id.Principal()
	}
	ok, wait := rt.Quota.Allow(key)
	if ok {
		return nil
	}
	return &Error{Status: http.StatusTooManyRequests, Code: CodeRateLimited,
		Message: "Too many requests of this kind; try again later.", RetryAfter: int((wait + time.Second - 1) / time.Second)}
}

// SpendLoginQuota spends one sign-in of the client address's quotas.login_per_minute, as
// POST /v1/auth/login does: the console's sign-in form is the same door.
func (h *Handler) SpendLoginQuota(r *http.Request) error {
	return h.spendQuota(r, &Route{Quota: h.quotas.login}, nil)
}
