// Package throttle slows down password guessing. It counts failed logins per account and per
// client address and, once either has failed too often, refuses further attempts for a while
// without looking at the password (CONTRACT §11.19):
//
//   - an account that failed MaxFailures times in a row is refused until Lockout has passed since
//     its last failure; a success resets it, and failures more than Lockout apart are not "in a
//     row" (an idle account is forgotten);
//   - a client address is refused once AddrMaxFailures attempts from it failed within one window
//     of Lockout that starts at its first failure; successes never count against it.
//
// Attempts in flight count as possible failures, so concurrent guesses cannot slip past the
// limit: with MaxFailures-1 failures and one attempt being checked, the next waits for that one.
//
// Memory is bounded: at most MaxTracked accounts and as many addresses are tracked. When a table
// is full, entries whose window has passed are dropped first; if it is still full, one entry is
// evicted, chosen among a small random sample as the one with the fewest failures, so a flood of
// one-off failures cannot evict an account that is being guessed at.
//
// Logins keeps its counts in the process; Shared keeps them in Redis, so that nodes sharing a
// Redis throttle together (an account guessed at through three nodes is locked after
// MaxFailures failures in all, not per node), and falls back to Logins when Redis is down.
//
// The package knows nothing about HTTP, users or passwords: callers name accounts and addresses
// by strings (lanyard uses the normalised email and the client address) and read the time from an
// injected clock.
package throttle

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Defaults used for zero fields of Config.
const (
	DefaultMaxFailures     = 20
	DefaultLockout         = 15 * time.Minute
	DefaultAddrMaxFailures = 100
	DefaultMaxTracked      = 100_000
)

// evictSample is how many entries a full table looks at to choose one to evict.
const evictSample = 8

// Config sets the limits. Zero fields take the defaults above.
type Config struct {
	// MaxFailures is the consecutive failures of one account after which its attempts are
	// refused until Lockout has passed since the last failure.
	MaxFailures int
	// Lockout is the length of the lockout and of an address's counting window.
	Lockout time.Duration
	// AddrMaxFailures is the failures from one client address per window after which its
	// attempts are refused until the window ends.
	AddrMaxFailures int
	// MaxTracked bounds the accounts, and separately the addresses, held in memory.
	MaxTracked int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Scopes of a refusal.
const (
	ScopeAccount = "account"
	ScopeAddress = "address"
)

// Refused says an attempt may not proceed, and for how long.
type Refused struct {
	// Scope is ScopeAccount or ScopeAddress: which limit refused.
	Scope string
	// RetryAfter is how long until an attempt may be let through again.
	RetryAfter time.Duration
}

func (e *Refused) Error() string {
	return fmt.Sprintf("throttle: too many failed logins for this %s; retry in %s", e.Scope, e.RetryAfter)
}

// RetrySeconds is RetryAfter in whole seconds, rounded up, at least 1: the Retry-After value.
func (e *Refused) RetrySeconds() int {
	s := int((e.RetryAfter + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

// counter is one account's or address's state.
type counter struct {
	failures int
	// pending counts attempts let through and not yet reported.
	pending int
	// since is when the window ends from: an account's last failure, or the first failure of
	// an address's current window.
	since time.Time
}

// table is one kind of tracked key. An account's window restarts at every failure; an
// address's starts at its first failure and ends Lockout later (see Attempt.Failed).
type table struct {
	// max is the failures after which the key is refused.
	max       int
	m         map[string]*counter
	lastSweep time.Time
}

// Logins tracks login attempts. It is safe for concurrent use.
type Logins struct {
	lockout    time.Duration
	maxTracked int
	now        func() time.Time

	mu       sync.Mutex
	accounts table
	addrs    table
}

// New returns a tracker with the limits of c.
func New(c Config) *Logins {
	if c.MaxFailures <= 0 {
		c.MaxFailures = DefaultMaxFailures
	}
	if c.Lockout <= 0 {
		c.Lockout = DefaultLockout
	}
	if c.AddrMaxFailures <= 0 {
		c.AddrMaxFailures = DefaultAddrMaxFailures
	}
	if c.MaxTracked <= 0 {
		c.MaxTracked = DefaultMaxTracked
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Logins{
		lockout:    c.Lockout,
		maxTracked: c.MaxTracked,
		now:        c.Now,
		accounts:   table{max: c.MaxFailures, m: make(map[string]*counter)},
		addrs:      table{max: c.AddrMaxFailures, m: make(map[string]*counter)},
	}
}

// Tracker decides whether a login attempt may be checked: Logins within one process, Shared
// across the nodes that share a Redis.
type Tracker interface {
	// Begin asks whether a login for account from addr may be checked now. It returns a
	// *Refused error when the account or the address is throttled; the attempt then counts
	// as nothing. Any other error means the attempt could not be tracked.
	Begin(ctx context.Context, account, addr string) (*Attempt, error)
}

// outcome is how an attempt ended.
type outcome byte

const (
	abandoned outcome = 'x'
	failed    outcome = 'f'
	succeeded outcome = 's'
)

// finisher records the outcome of an attempt its tracker let through.
type finisher interface {
	finish(a *Attempt, o outcome)
}

// Attempt is a login attempt that was let through. Exactly one of Failed, Succeeded or Abandoned
// must be called once the outcome is known; later calls do nothing.
type Attempt struct {
	by            finisher
	account, addr string
	id            string // names the attempt in flight in Redis (Shared)
	done          bool
}

var _ Tracker = (*Logins)(nil)

// Begin implements Tracker; it never fails for another reason than a *Refused.
func (l *Logins) Begin(_ context.Context, account, addr string) (*Attempt, error) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.check(&l.accounts, account, ScopeAccount, now); err != nil {
		return nil, err
	}
	if err := l.check(&l.addrs, addr, ScopeAddress, now); err != nil {
		return nil, err
	}
	l.entry(&l.accounts, account, now).pending++
	l.entry(&l.addrs, addr, now).pending++
	return &Attempt{by: l, account: account, addr: addr}, nil
}

// check refuses when key's failures, counting the attempts in flight, reached the table's limit.
func (l *Logins) check(t *table, key, scope string, now time.Time) error {
	c := t.m[key]
	if c == nil {
		return nil
	}
	l.roll(c, now)
	switch {
	case c.failures >= t.max:
		return &Refused{Scope: scope, RetryAfter: c.since.Add(l.lockout).Sub(now)}
	case c.failures+c.pending >= t.max:
		// The attempts in flight decide whether the limit is reached; ask again shortly.
		return &Refused{Scope: scope, RetryAfter: time.Second}
	}
	return nil
}

// roll forgets failures whose window has passed.
func (l *Logins) roll(c *counter, now time.Time) {
	if c.failures > 0 && !now.Before(c.since.Add(l.lockout)) {
		c.failures = 0
	}
}

// entry returns key's counter, making room for a new one if the table is full.
func (l *Logins) entry(t *table, key string, now time.Time) *counter {
	if c := t.m[key]; c != nil {
		return c
	}
	if len(t.m) >= l.maxTracked {
		l.makeRoom(t, now)
	}
	c := &counter{}
	t.m[key] = c
	return c
}

// makeRoom drops the entries whose window has passed (at most once a second: the sweep walks
// the whole table) and, if the table is still full, evicts the entry with the fewest failures
// among a small random sample.
func (l *Logins) makeRoom(t *table, now time.Time) {
	if t.lastSweep.IsZero() || now.Sub(t.lastSweep) >= time.Second || now.Before(t.lastSweep) {
		t.lastSweep = now
		for k, c := range t.m {
			l.roll(c, now)
			if c.failures == 0 && c.pending == 0 {
				delete(t.m, k)
			}
		}
	}
	for len(t.m) >= l.maxTracked {
		var victim string
		var best *counter
		n := 0
		for k, c := range t.m { // map order is random: a random sample
			if best == nil || less(c, best) {
				victim, best = k, c
			}
			if n++; n == evictSample {
				break
			}
		}
		delete(t.m, victim)
	}
}

// less orders eviction candidates: idle before busy, then fewer failures, then older.
func less(a, b *counter) bool {
	if (a.pending == 0) != (b.pending == 0) {
		return a.pending == 0
	}
	if a.failures != b.failures {
		return a.failures < b.failures
	}
	return a.since.Before(b.since)
}

// Failed records that the attempt's password was wrong (or its account unknown).
func (a *Attempt) Failed() { a.end(failed) }

// Succeeded records a successful login: the account's failures are forgotten. The address's
// failures stay: only failures count there.
func (a *Attempt) Succeeded() { a.end(succeeded) }

// Abandoned records an attempt that was never decided (the password could not be checked): it
// counts as nothing.
func (a *Attempt) Abandoned() { a.end(abandoned) }

func (a *Attempt) end(o outcome) {
	if a == nil || a.done {
		return
	}
	a.done = true
	a.by.finish(a, o)
}

func (l *Logins) finish(a *Attempt, o outcome) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	acct, addr := l.release(&l.accounts, a.account, now), l.release(&l.addrs, a.addr, now)
	switch o {
	case failed:
		acct.failures++
		acct.since = now
		if addr.failures == 0 {
			addr.since = now
		}
		addr.failures++
	case succeeded:
		acct.failures = 0
	}
	l.accounts.forgetIdle(a.account)
	l.addrs.forgetIdle(a.addr)
}

// forgetIdle drops key's entry when it holds nothing worth remembering.
func (t *table) forgetIdle(key string) {
	if c := t.m[key]; c != nil && c.failures == 0 && c.pending == 0 {
		delete(t.m, key)
	}
}

// release ends one pending attempt on key and returns its counter, recreated when it was
// evicted meanwhile.
func (l *Logins) release(t *table, key string, now time.Time) *counter {
	c := t.m[key]
	if c == nil {
		c = l.entry(t, key, now)
	} else if c.pending > 0 {
		c.pending--
	}
	l.roll(c, now)
	return c
}

// Len reports how many accounts and addresses are tracked.
func (l *Logins) Len() (accounts, addrs int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.accounts.m), len(l.addrs.m)
}
