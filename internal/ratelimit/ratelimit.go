package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Limiter decides, atomically, whether one request may spend its cost from every window of its
// plan and from its key's credits. Memory and Redis implement it.
type Limiter interface {
	// Decide decides req. Allowed or not, the Decision describes every window and the credits
	// as they are after it (as they would be, for a dry run). A request refused by any window
	// or by the credits spends nothing anywhere; a dry run spends nothing either way. An error
	// means no decision was made: ErrInvalid for a malformed request, ErrFull when the limiter
	// cannot hold one more bucket, an error matching ErrUnavailable when Redis cannot be
	// reached and redis_down is closed (the caller answers 503 with its RetryAfter).
	Decide(ctx context.Context, req Request) (Decision, error)

	// Balances returns, and forgets, the live credit balances that changed since the last
	// call, for the caller to write back to the store (see the package doc). Values are
	// absolute, so writing one twice, or an older one after a failed write, is harmless.
	Balances() []Credits
}

// Request is one request to decide.
type Request struct {
	// Bucket names what the windows count: "key:<id>" for a plan bucketed per key,
	// "resource:<type>/<id>" for one bucketed per owning resource. Required with Windows.
	Bucket string
	// Windows are the plan's windows, in any order; no two of the same length. None: only the
	// credits are checked.
	Windows []Window
	// Credits is the key's credits as the store holds them; nil when the key has none
	// (unlimited).
	Credits *Credits
	// Cost is what the request spends from every window and from the credits alike: the
	// route's cost, 1 for /v1/verify. 0 spends nothing and is always allowed by a window that
	// is not over its limit.
	Cost int64
	// DryRun answers exactly what the request would get, and spends nothing.
	DryRun bool
}

// Window is one limit: at most Limit per Window.
type Window struct {
	Limit  int64
	Window time.Duration // at least 1s
}

// Interval is how often credits refill: Day or Month, at the start of each in UTC.
type Interval = string

// The refill intervals.
const (
	Day   Interval = "day"
	Month Interval = "month"
)

// Credits is a key's credits: what the store holds (the seed of the live balance), and the live
// balance a Decision or Balances reports. Its JSON is the key's "credits" object (CONTRACT
// §11.31).
type Credits struct {
	// Key names the balance: the key's id. Required.
	Key string `json:"-"`
	// SetAt is when the credits were last set by POST or PATCH on the key; it identifies the
	// setting. A request naming a later SetAt than the live balance's restarts the balance
	// from this seed; one naming an earlier SetAt (a node that has not yet seen the new
	// setting) spends from the newer live balance. Writing a balance back must never change
	// it. It also anchors refills: none happens before the start of the next day or month.
	// Zero (a store that does not keep it) counts as the oldest setting and refills at the
	// first decision.
	SetAt time.Time `json:"-"`
	// Remaining is what is left to spend, 0 to 2^53.
	Remaining int64 `json:"remaining"`
	// Refill, when set, tops Remaining up to Refill.Amount at the start of every UTC day or
	// month.
	Refill *Refill `json:"refill"`
	// RefilledAt is the start of the day or month of the last refill; nil until the first.
	RefilledAt *time.Time `json:"refilled_at"`
}

// Refill is how credits refill.
type Refill struct {
	Amount   int64    `json:"amount"`   // at least 1
	Interval Interval `json:"interval"` // Day or Month
}

// Refusal says what refused a request. Its values are the CONTRACT's error codes.
type Refusal string

// The refusals.
const (
	NotRefused     Refusal = ""
	RefusedWindow  Refusal = "rate_limited"      // a window has not enough left
	RefusedCredits Refusal = "credits_exhausted" // the credits have not enough left
)

// Decision is the answer to a Request.
type Decision struct {
	Allowed bool
	// Refused is why not; NotRefused when allowed. A request both windows and credits would
	// refuse is RefusedWindow (the order of CONTRACT §11.28's layers).
	Refused Refusal
	// Windows is every window of the request, shortest first, as it is after the decision (as
	// it would be, for a dry run): after spending when allowed, untouched when refused. Empty
	// when the request had none, or when Redis was down and redis_down is open.
	Windows []WindowState
	// Window is the index in Windows of the refusing window (the shortest that refused) when
	// Refused is RefusedWindow, else -1.
	Window int
	// RetryAfter is the Retry-After to send, in whole seconds; 0 means none: when refused by
	// windows, the time until every refusing window has reset; when refused by credits, the
	// time until the next refill when one is due and would be enough, else 0.
	RetryAfter int64
	// Credits is the key's balance after the decision (as it would be, for a dry run); nil
	// when the request had none, or when Redis was down and redis_down is open.
	Credits *Credits
	// Degraded reports a decision made without Redis under redis_down local or open.
	Degraded bool
}

// WindowState is one window in a Decision. Its JSON is a window of CONTRACT §11.30.
type WindowState struct {
	Limit     int64 `json:"limit"`
	Window    int64 `json:"window"`    // its length in whole seconds
	Remaining int64 `json:"remaining"` // what is left to spend in it, ≥ 0
	Reset     int64 `json:"reset"`     // whole seconds until it frees a request (its end), ≥ 1
}

// Nearest is the window nearest to refusing, the one X-RateLimit-* describes: the fewest
// remaining, and of those the shortest. ok is false when there are no windows.
func (d *Decision) Nearest() (w WindowState, ok bool) {
	for i, s := range d.Windows {
		if i == 0 || s.Remaining < w.Remaining {
			w = s
		}
	}
	return w, len(d.Windows) > 0
}

// Usage answers what req's caller has left, spending nothing: GET /v1/limits. It is a dry run
// of cost 0.
func Usage(ctx context.Context, l Limiter, req Request) (Decision, error) {
	req.Cost, req.DryRun = 0, true
	return l.Decide(ctx, req)
}

var (
	// ErrInvalid is a request the limiter cannot decide: a window shorter than 1s or two of
	// one length, a negative cost, a missing bucket or credits key, malformed credits.
	ErrInvalid = errors.New("ratelimit: invalid request")
	// ErrFull is a limiter that holds as many buckets as it may and none has expired: the
	// caller answers 503 rather than forget a live count.
	ErrFull = errors.New("ratelimit: too many buckets")
	// ErrUnavailable is Redis unreachable under redis_down closed. The error is an
	// *UnavailableError.
	ErrUnavailable = errors.New("ratelimit: redis is unreachable")
)

// UnavailableError is the error of a decision that needed Redis while it was unreachable.
type UnavailableError struct {
	// RetryAfter is the Retry-After to send with the 503, in whole seconds.
	RetryAfter int64
	// Err is the Redis failure that made the limiter consider it unreachable.
	Err error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("ratelimit: redis is unreachable: %v", e.Err)
}

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

func (e *UnavailableError) Unwrap() error { return e.Err }

// maxAmount bounds costs and credits: 2^53, what JSON numbers hold exactly (and Lua's).
const maxAmount = 1 << 53

// spec is one window of a request, placed at the request's time.
type spec struct {
	limit int64
	lenMs int64
	index int64 // which window of this length since the epoch
	endMs int64 // when it ends: (index+1)·lenMs
}

// maxInline is how many windows a request may have before their specs need the heap.
const maxInline = 8

// plan validates req and places its windows at nowMs, shortest first, in buf.
func plan(req *Request, nowMs int64, buf *[maxInline]spec) ([]spec, error) {
	if req.Cost < 0 || req.Cost > maxAmount {
		return nil, fmt.Errorf("%w: cost %d", ErrInvalid, req.Cost)
	}
	if c := req.Credits; c != nil {
		if err := validCredits(c); err != nil {
			return nil, err
		}
	}
	if len(req.Windows) == 0 {
		return nil, nil
	}
	if req.Bucket == "" {
		return nil, fmt.Errorf("%w: no bucket", ErrInvalid)
	}
	specs := buf[:0]
	for _, w := range req.Windows {
		if w.Window < time.Second || w.Limit < 0 {
			return nil, fmt.Errorf("%w: window %d per %s", ErrInvalid, w.Limit, w.Window)
		}
		lenMs := w.Window.Milliseconds()
		index := nowMs / lenMs
		s := spec{limit: w.Limit, lenMs: lenMs, index: index, endMs: (index + 1) * lenMs}
		// Insertion sort: plans have a handful of windows.
		i := len(specs)
		specs = append(specs, s)
		for ; i > 0 && specs[i-1].lenMs > lenMs; i-- {
			specs[i] = specs[i-1]
		}
		specs[i] = s
		if i > 0 && specs[i-1].lenMs == lenMs {
			return nil, fmt.Errorf("%w: two windows of %s", ErrInvalid, w.Window)
		}
		if i+1 < len(specs) && specs[i+1].lenMs == lenMs {
			return nil, fmt.Errorf("%w: two windows of %s", ErrInvalid, w.Window)
		}
	}
	return specs, nil
}

func validCredits(c *Credits) error {
	switch {
	case c.Key == "":
		return fmt.Errorf("%w: credits without a key", ErrInvalid)
	case c.Remaining < 0 || c.Remaining > maxAmount:
		return fmt.Errorf("%w: credits remaining %d", ErrInvalid, c.Remaining)
	case c.Refill != nil && (c.Refill.Amount < 1 || c.Refill.Amount > maxAmount):
		return fmt.Errorf("%w: refill amount %d", ErrInvalid, c.Refill.Amount)
	case c.Refill != nil && c.Refill.Interval != Day && c.Refill.Interval != Month:
		return fmt.Errorf("%w: refill interval %q", ErrInvalid, c.Refill.Interval)
	}
	return nil
}

// ceilSeconds is ms in whole seconds, rounded up.
func ceilSeconds(ms int64) int64 {
	if ms <= 0 {
		return 0
	}
	return (ms + 999) / 1000
}

const dayMs = 24 * 60 * 60 * 1000

// periodStart is the start, in Unix ms, of the UTC day or month holding ms.
func periodStart(ms int64, interval Interval) int64 {
	if interval == Day {
		return ms - ms%dayMs
	}
	t := time.UnixMilli(ms).UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC).UnixMilli()
}

// nextPeriod is the start of the day or month after the one starting at startMs.
func nextPeriod(startMs int64, interval Interval) int64 {
	if interval == Day {
		return startMs + dayMs
	}
	return time.UnixMilli(startMs).UTC().AddDate(0, 1, 0).UnixMilli()
}

// ledger is a live credit balance: what a decision reads and changes.
type ledger struct {
	setAt    int64 // SetAt in Unix ns; 0 when unset
	rem      int64
	amount   int64 // the refill amount; 0: no refill
	interval Interval
	period   int64 // the start (Unix ms) of the refill period the balance belongs to
	refilled int64 // RefilledAt in Unix ms; -1: never
}

// seed is the ledger a key's stored credits start.
func seed(c *Credits) ledger {
	l := ledger{rem: c.Remaining, refilled: -1}
	if !c.SetAt.IsZero() {
		l.setAt = c.SetAt.UnixNano()
	}
	anchor := l.setAt / 1e6
	if c.RefilledAt != nil {
		l.refilled = c.RefilledAt.UnixMilli()
		anchor = max(anchor, l.refilled)
	}
	if c.Refill != nil {
		l.amount, l.interval = c.Refill.Amount, c.Refill.Interval
		l.period = periodStart(anchor, l.interval)
	}
	return l
}

// refill applies the refills due by nowMs and reports whether one was.
func (l *ledger) refill(nowMs int64) bool {
	if l.amount == 0 {
		return false
	}
	cur := periodStart(nowMs, l.interval)
	if l.period >= cur {
		return false
	}
	l.rem = max(l.rem, l.amount)
	l.period, l.refilled = cur, cur
	return true
}

// retryAfter is the Retry-After of a refusal by these credits: the seconds until the next
// refill when one is due and would cover cost, else 0.
func (l *ledger) retryAfter(nowMs, cost int64) int64 {
	if l.amount == 0 || l.amount < cost {
		return 0
	}
	return max(1, ceilSeconds(nextPeriod(periodStart(nowMs, l.interval), l.interval)-nowMs))
}

// credits is the Credits the ledger stands for.
func (l *ledger) credits(key string) *Credits {
	c := &Credits{Key: key, Remaining: l.rem}
	if l.setAt != 0 {
		c.SetAt = time.Unix(0, l.setAt).UTC()
	}
	if l.amount != 0 {
		c.Refill = &Refill{Amount: l.amount, Interval: l.interval}
	}
	if l.refilled >= 0 {
		t := time.UnixMilli(l.refilled).UTC()
		c.RefilledAt = &t
	}
	return c
}

// verdict turns what a decision read into a Decision. used[i] is what specs[i] had spent before
// the decision, limits[i] the limit it is held to, ok[i] whether it allows cost; led is the
// credits' ledger before spending (nil without credits) and credOK whether it allows cost.
func verdict(nowMs int64, specs []spec, used, limits []int64, ok []bool, cost int64, key string, led *ledger, credOK bool) Decision {
	d := Decision{Allowed: true, Window: -1}
	for i := range specs {
		if !ok[i] {
			d.Allowed, d.Refused = false, RefusedWindow
			if d.Window < 0 {
				d.Window = i
			}
			d.RetryAfter = max(d.RetryAfter, ceilSeconds(specs[i].endMs-nowMs))
		}
	}
	if led != nil && !credOK && d.Allowed {
		d.Allowed, d.Refused = false, RefusedCredits
		d.RetryAfter = led.retryAfter(nowMs, cost)
	}
	spent := int64(0)
	if d.Allowed {
		spent = cost
	}
	if len(specs) > 0 {
		d.Windows = make([]WindowState, len(specs))
		for i, s := range specs {
			d.Windows[i] = WindowState{
				Limit:     limits[i],
				Window:    s.lenMs / 1000,
				Remaining: max(0, limits[i]-used[i]-spent),
				Reset:     ceilSeconds(s.endMs - nowMs),
			}
		}
	}
	if led != nil {
		after := *led
		after.rem -= spent
		d.Credits = after.credits(key)
	}
	return d
}
