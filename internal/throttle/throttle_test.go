package throttle

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/testenv"
)

var ctx = context.Background()

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// step is one thing a test does: an attempt with an outcome, or time passing.
type step struct {
	advance time.Duration
	account string
	addr    string
	// outcome: "fail", "ok", "abandon", or "" to only begin (the attempt stays in flight).
	outcome string
	// refused is the scope expected to refuse the attempt, "" when it must be let through.
	refused string
	// retry, when set with refused, is the expected RetryAfter.
	retry time.Duration
}

func repeat(n int, s step) []step {
	out := make([]step, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func seq(parts ...[]step) []step {
	var out []step
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func one(s step) []step { return []step{s} }

func TestLogins(t *testing.T) {
	cfg := Config{MaxFailures: 3, Lockout: 15 * time.Minute, AddrMaxFailures: 5}
	fail := func(acct, addr string) step { return step{account: acct, addr: addr, outcome: "fail"} }
	tests := []struct {
		name  string
		steps []step
	}{
		{"the attempt after MaxFailures is refused, whatever its password", seq(
			repeat(3, fail("ann", "a1")),
			one(step{account: "ann", addr: "a1", outcome: "ok", refused: ScopeAccount, retry: 15 * time.Minute}),
		)},
		{"retry-after counts from the last failure", seq(
			repeat(3, fail("ann", "a1")),
			one(step{advance: 10 * time.Minute, account: "ann", addr: "a2", refused: ScopeAccount, retry: 5 * time.Minute}),
		)},
		{"the lockout ends Lockout after the last failure", seq(
			repeat(3, fail("ann", "a1")),
			one(step{advance: 15*time.Minute - time.Second, account: "ann", addr: "a2", refused: ScopeAccount, retry: time.Second}),
			one(step{advance: time.Second, account: "ann", addr: "a2", outcome: "ok"}),
		)},
		{"a success resets the account", seq(
			repeat(2, fail("ann", "a1")),
			one(step{account: "ann", addr: "a1", outcome: "ok"}),
			repeat(2, fail("ann", "a1")),
			one(step{account: "ann", addr: "a2", outcome: "fail"}),
			one(step{account: "ann", addr: "a3", refused: ScopeAccount}),
		)},
		{"failures more than Lockout apart are not consecutive", seq(
			repeat(2, fail("ann", "a1")),
			one(step{advance: 16 * time.Minute, account: "ann", addr: "a2", outcome: "fail"}),
			one(step{account: "ann", addr: "a3", outcome: "fail"}),
			one(step{account: "ann", addr: "a4", outcome: "ok"}),
		)},
		{"accounts are independent", seq(
			repeat(3, fail("ann", "a1")),
			one(step{account: "bob", addr: "a2", outcome: "ok"}),
		)},
		{"abandoned attempts count as nothing", seq(
			repeat(5, step{account: "ann", addr: "a1", outcome: "abandon"}),
			one(step{account: "ann", addr: "a1", outcome: "ok"}),
		)},
		{"an address is refused after AddrMaxFailures failures across accounts", seq(
			[]step{fail("u1", "a1"), fail("u2", "a1"), fail("u3", "a1"), fail("u4", "a1"), fail("u5", "a1")},
			one(step{account: "u6", addr: "a1", refused: ScopeAddress, retry: 15 * time.Minute}),
			one(step{account: "u6", addr: "a2", outcome: "ok"}),
		)},
		{"successes never count against an address", seq(
			repeat(10, step{account: "u1", addr: "a1", outcome: "ok"}),
			[]step{fail("u2", "a1"), fail("u3", "a1"), fail("u4", "a1"), fail("u5", "a1")},
			one(step{account: "u1", addr: "a1", outcome: "ok"}),
		)},
		{"an address's success does not reset its failures", seq(
			[]step{fail("u1", "a1"), fail("u2", "a1"), fail("u3", "a1"), fail("u4", "a1")},
			one(step{account: "u9", addr: "a1", outcome: "ok"}),
			one(step{account: "u5", addr: "a1", outcome: "fail"}),
			one(step{account: "u9", addr: "a1", refused: ScopeAddress}),
		)},
		{"an address's window starts at its first failure", seq(
			one(fail("u1", "a1")),
			one(step{advance: 10 * time.Minute, account: "u2", addr: "a1", outcome: "fail"}),
			[]step{fail("u3", "a1"), fail("u4", "a1"), fail("u5", "a1")},
			one(step{account: "u6", addr: "a1", refused: ScopeAddress, retry: 5 * time.Minute}),
			one(step{advance: 5 * time.Minute, account: "u6", addr: "a1", outcome: "fail"}),
		)},
		{"attempts in flight count as possible failures", seq(
			repeat(2, fail("ann", "a1")),
			one(step{account: "ann", addr: "a1"}), // still being checked
			one(step{account: "ann", addr: "a2", refused: ScopeAccount, retry: time.Second}),
		)},
	}
	for _, tt := range tests {
		forEachTracker(t, tt.name, func(t *testing.T, open func(Config) Tracker) {
			c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			conf := cfg
			conf.Now = c.now
			l := open(conf)
			for i, s := range tt.steps {
				c.advance(s.advance)
				a, err := l.Begin(ctx, s.account, s.addr)
				var ref *Refused
				switch {
				case s.refused == "" && err != nil:
					t.Fatalf("step %d (%s from %s): refused: %v", i, s.account, s.addr, err)
				case s.refused != "" && !errors.As(err, &ref):
					t.Fatalf("step %d (%s from %s): let through, want refused by %s", i, s.account, s.addr, s.refused)
				case s.refused != "":
					if ref.Scope != s.refused {
						t.Fatalf("step %d: refused by %s, want %s", i, ref.Scope, s.refused)
					}
					if s.retry != 0 && ref.RetryAfter != s.retry {
						t.Fatalf("step %d: retry after %s, want %s", i, ref.RetryAfter, s.retry)
					}
					continue
				}
				switch s.outcome {
				case "fail":
					a.Failed()
				case "ok":
					a.Succeeded()
				case "abandon":
					a.Abandoned()
				}
			}
		})
	}
}

func TestAttemptOutcomeIsFinal(t *testing.T) {
	forEachTracker(t, "", func(t *testing.T, open func(Config) Tracker) {
		l := open(Config{MaxFailures: 2})
		a, err := l.Begin(ctx, "ann", "a1")
		if err != nil {
			t.Fatal(err)
		}
		a.Failed()
		a.Failed() // ignored
		a.Succeeded()
		if _, err := l.Begin(ctx, "ann", "a1"); err != nil {
			t.Fatalf("one failure refused the account: %v", err)
		}
	})
}

func TestRetrySeconds(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want int
	}{
		{0, 1}, {-time.Second, 1}, {time.Millisecond, 1}, {time.Second, 1},
		{time.Second + 1, 2}, {15 * time.Minute, 900}, {899*time.Second + 500*time.Millisecond, 900},
	} {
		if got := (&Refused{RetryAfter: tt.d}).RetrySeconds(); got != tt.want {
			t.Errorf("RetrySeconds(%s) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

// TestSuccessfulAttemptsLeaveNothingBehind: a login that succeeds holds no memory.
func TestSuccessfulAttemptsLeaveNothingBehind(t *testing.T) {
	l := New(Config{})
	for i := range 100 {
		a, err := l.Begin(ctx, fmt.Sprint("user", i), "a1")
		if err != nil {
			t.Fatal(err)
		}
		a.Succeeded()
	}
	if acc, addrs := l.Len(); acc != 0 || addrs != 0 {
		t.Fatalf("tracking %d accounts and %d addresses after successes", acc, addrs)
	}
}

// TestMemoryIsBounded: a flood of distinct accounts and addresses never holds more than
// MaxTracked of each, expired entries go first, and the account being guessed at survives.
func TestMemoryIsBounded(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	const maxTracked = 4 // below the eviction sample, so the choice is deterministic
	l := New(Config{MaxFailures: 5, AddrMaxFailures: 1_000_000, MaxTracked: maxTracked, Now: c.now})
	for range 4 {
		a, err := l.Begin(ctx, "target", "attacker")
		if err != nil {
			t.Fatal(err)
		}
		a.Failed()
	}
	for i := range 1000 {
		a, err := l.Begin(ctx, fmt.Sprint("noise", i), fmt.Sprint("addr", i))
		if err != nil {
			t.Fatal(err)
		}
		a.Failed()
		if acc, addrs := l.Len(); acc > maxTracked || addrs > maxTracked {
			t.Fatalf("after %d: tracking %d accounts and %d addresses, cap %d", i, acc, addrs, maxTracked)
		}
	}
	// The guessed-at account kept its four failures: one more locks it.
	a, err := l.Begin(ctx, "target", "elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	a.Failed()
	if _, err := l.Begin(ctx, "target", "elsewhere2"); err == nil {
		t.Fatal("the guessed-at account was evicted by a flood of one-off failures")
	}

	// Once their windows pass, entries are swept before anything live is evicted.
	c.advance(16 * time.Minute)
	a, err = l.Begin(ctx, "fresh", "fresh")
	if err != nil {
		t.Fatal(err)
	}
	a.Failed()
	if acc, _ := l.Len(); acc != 1 {
		t.Fatalf("after the windows passed, %d accounts tracked, want only the fresh one", acc)
	}
}

// TestConcurrentAttemptsNeverExceedTheLimit: concurrent guesses at one account, spread over
// three nodes when they share Redis, are checked at most MaxFailures times.
func TestConcurrentAttemptsNeverExceedTheLimit(t *testing.T) {
	forEachTracker(t, "", func(t *testing.T, open func(Config) Tracker) {
		concurrentGuesses(t, open)
	})
}

func concurrentGuesses(t *testing.T, open func(Config) Tracker) {
	var nodes [3]Tracker
	for i := range nodes {
		nodes[i] = open(Config{MaxFailures: 20, AddrMaxFailures: 1000})
	}
	const workers = 64
	results := make(chan bool, workers)
	start := make(chan struct{})
	for i := range workers {
		go func() {
			<-start
			a, err := nodes[i%len(nodes)].Begin(ctx, "ann", "a1")
			if err != nil {
				results <- false
				return
			}
			a.Failed()
			results <- true
		}()
	}
	close(start)
	let := 0
	for range workers {
		if <-results {
			let++
		}
	}
	if let > 20 {
		t.Fatalf("%d concurrent guesses were checked, limit 20", let)
	}
}

// forEachTracker runs f as a subtest (named name, or the tracker's kind when name is empty)
// with each kind of tracker: Logins, and Shared over the tests' Redis (testenv.RedisKeys).
// open may be called several times in one run, as by several nodes: the trackers it returns
// share their counts (in memory the first one is returned again; with Redis they share a key
// prefix).
func forEachTracker(t *testing.T, name string, f func(t *testing.T, open func(Config) Tracker)) {
	for _, kind := range []string{"memory", "redis"} {
		sub := kind
		if name != "" {
			sub = name + "/" + kind
		}
		t.Run(sub, func(t *testing.T) {
			if kind == "memory" {
				var l *Logins // one process: every "node" is the same tracker
				f(t, func(c Config) Tracker {
					if l == nil {
						l = New(c)
					}
					return l
				})
				return
			}
			rdb, _, prefix := testenv.RedisKeys(t)
			f(t, func(c Config) Tracker {
				return NewShared(SharedConfig{Redis: rdb, Prefix: prefix, Limits: c,
					OnError: func(err error) { t.Errorf("Redis failed: %v", err) }})
			})
		})
	}
}
