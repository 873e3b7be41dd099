package throttle

import (
	"sync"
	"time"
)

// Rate limits how often one key (a client address, a principal) may do something: at most
// Limit times per Window, with the whole Limit available at once after an idle Window. It is
// the generic cell rate algorithm (one time stamp per key: the theoretical arrival time of the
// next request), so it is exact, needs no timer and forgets a key as soon as its time stamp is
// in the past. It guards lanyard's own endpoints (public ones per client address, writes per
// principal); plan limits for the APIs behind lanyard are another matter.
//
// Memory is bounded: at most MaxTracked keys. A full table first drops keys that are idle (they
// would be allowed a whole Limit anyway); if none is, the new key is refused as if it were
// over its limit, so a flood of distinct keys cannot push out a key being limited.
type Rate struct {
	limit      int
	window     time.Duration
	interval   time.Duration // window / limit: the time one request "costs"
	maxTracked int
	now        func() time.Time

	mu  sync.Mutex
	tat map[string]time.Time
}

// NewRate returns a limiter allowing limit requests per window per key. now is the clock
// (time.Now when nil); maxTracked bounds the keys held (DefaultMaxTracked when ≤ 0).
func NewRate(limit int, window time.Duration, maxTracked int, now func() time.Time) *Rate {
	if limit < 1 {
		limit = 1
	}
	if window <= 0 {
		window = time.Minute
	}
	if maxTracked <= 0 {
		maxTracked = DefaultMaxTracked
	}
	if now == nil {
		now = time.Now
	}
	return &Rate{limit: limit, window: window, interval: window / time.Duration(limit), maxTracked: maxTracked,
		now: now, tat: make(map[string]time.Time)}
}

// Allow spends one request of key's allowance. When none is left it spends nothing and
// reports how long until one is.
func (r *Rate) Allow(key string) (ok bool, retryAfter time.Duration) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	tat, known := r.tat[key]
	if !known {
		if len(r.tat) >= r.maxTracked && !r.dropIdle(now) {
			return false, r.interval
		}
		tat = now
	}
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(r.interval)
	if wait := next.Sub(now) - r.window; wait > 0 {
		return false, wait
	}
	r.tat[key] = next
	return true, 0
}

// dropIdle forgets every key whose allowance is whole again; it reports whether any was.
func (r *Rate) dropIdle(now time.Time) bool {
	dropped := false
	for k, t := range r.tat {
		if !t.After(now) {
			delete(r.tat, k)
			dropped = true
		}
	}
	return dropped
}

// Len is the number of keys held.
func (r *Rate) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.tat)
}
