package ratelimit

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Every test in this file runs against every limiter (eachLimiter): what a caller may rely on
// does not depend on where the counts live.

// clock is a clock a test sets.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// testDay is a UTC midnight a few days ahead. Tests run at their own times, but Redis expires
// keys by its own clock, so those times must lie ahead of it.
func testDay() time.Time { return time.Now().UTC().Truncate(24 * time.Hour).Add(72 * time.Hour) }

// opener makes limiters that share their state, as the nodes of one deployment do: the Redis
// ones share one key prefix (one per test); Memory shares nothing, so its opener returns the
// first limiter again.
type opener func(now func() time.Time) Limiter

type backend struct {
	name string
	// nodes reports that limiters of one opener are separate nodes sharing exact counts.
	nodes bool
	open  func(t *testing.T) opener
}

func backends() []backend {
	return []backend{
		{"memory", false, func(t *testing.T) opener {
			var once sync.Once
			var m *Memory
			return func(now func() time.Time) Limiter {
				once.Do(func() { m = NewMemory(MemoryConfig{Now: now}) })
				return m
			}
		}},
		{"redis-exact", true, func(t *testing.T) opener {
			url, prefix := testRedis(t)
			return func(now func() time.Time) Limiter {
				return newTestRedis(t, url, RedisConfig{Now: now, Prefix: prefix})
			}
		}},
		// Fast mode with one node decides exactly from its local share: the whole limit.
		{"redis-fast", false, func(t *testing.T) opener {
			url, prefix := testRedis(t)
			var once sync.Once
			var r *Redis
			return func(now func() time.Time) Limiter {
				once.Do(func() { r = newTestRedis(t, url, RedisConfig{Now: now, Prefix: prefix, Mode: ModeFast}) })
				return r
			}
		}},
	}
}

func eachLimiter(t *testing.T, f func(t *testing.T, b backend, open opener)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { f(t, b, b.open(t)) })
	}
}

// want is what a test expects of a Decision; remaining and reset list the windows shortest
// first.
type want struct {
	allowed   bool
	refused   Refusal
	remaining []int64
	reset     []int64
	window    int   // the refusing window, -1 for none
	retry     int64 // Retry-After
	credits   int64 // the balance after; -1 for none
}

func check(t *testing.T, what string, d Decision, err error, w want) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var rem, reset []int64
	for _, s := range d.Windows {
		rem, reset = append(rem, s.Remaining), append(reset, s.Reset)
	}
	credits := int64(-1)
	if d.Credits != nil {
		credits = d.Credits.Remaining
	}
	got := want{d.Allowed, d.Refused, rem, reset, d.Window, d.RetryAfter, credits}
	if w.reset == nil {
		got.reset = nil // not checked
	}
	if !reflect.DeepEqual(got, w) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, w)
	}
}

func TestConcurrentRequestsAcceptExactlyTheLimit(t *testing.T) {
	eachLimiter(t, func(t *testing.T, b backend, open opener) {
		clk := newClock(testDay().Add(30 * time.Second))
		nodes := []Limiter{open(clk.Now), open(clk.Now)} // the same one, unless b.nodes
		for _, tt := range []struct {
			name     string
			windows  []Window
			credits  int64 // -1: none
			cost     int64
			requests int
			want     int
		}{
			{"one window", []Window{{50, time.Minute}}, -1, 1, 200, 50},
			{"two windows, the longer refuses", []Window{{1000, time.Minute}, {40, time.Hour}}, -1, 1, 200, 40},
			{"cost 3", []Window{{100, time.Minute}}, -1, 3, 200, 33},
			{"credits", []Window{{1000, time.Minute}}, 30, 1, 200, 30},
			{"credits, no windows", nil, 25, 2, 200, 12},
		} {
			t.Run(tt.name, func(t *testing.T) {
				req := Request{Bucket: "key:" + tt.name, Windows: tt.windows, Cost: tt.cost}
				if tt.credits >= 0 {
					req.Credits = &Credits{Key: tt.name, SetAt: clk.Now(), Remaining: tt.credits}
				}
				var accepted atomic.Int64
				var wg sync.WaitGroup
				for i := range tt.requests {
					wg.Go(func() {
						d, err := nodes[i%2].Decide(t.Context(), req)
						if err != nil {
							t.Error(err)
							return
						}
						if d.Allowed {
							accepted.Add(1)
						}
					})
				}
				wg.Wait()
				if got := accepted.Load(); got != int64(tt.want) {
					t.Fatalf("%d of %d concurrent requests accepted, want exactly %d", got, tt.requests, tt.want)
				}
				// And the limiter knows it: nothing is left.
				d, err := Usage(t.Context(), nodes[0], req)
				if err != nil {
					t.Fatal(err)
				}
				for _, w := range d.Windows {
					if got, want := w.Remaining, w.Limit-int64(tt.want)*tt.cost; got != want {
						t.Errorf("window of %ds: remaining %d, want %d", w.Window, got, want)
					}
				}
				if d.Credits != nil && d.Credits.Remaining != tt.credits-int64(tt.want)*tt.cost {
					t.Errorf("credits remaining %d, want %d", d.Credits.Remaining, tt.credits-int64(tt.want)*tt.cost)
				}
			})
		}
	})
}

// A walk through two windows, 2 per 10 s and 5 per minute, at the times of each step.
func TestWindowsRollOver(t *testing.T) {
	eachLimiter(t, func(t *testing.T, b backend, open opener) {
		day := testDay()
		clk := newClock(day)
		l := open(clk.Now)
		req := Request{Bucket: "resource:org/acme", Windows: []Window{{5, time.Minute}, {2, 10 * time.Second}}, Cost: 1}
		for _, step := range []struct {
			at   time.Duration
			cost int64
			want want
		}{
			{0, 1, want{true, "", []int64{1, 4}, []int64{10, 60}, -1, 0, -1}},
			{time.Second, 1, want{true, "", []int64{0, 3}, []int64{9, 59}, -1, 0, -1}},
			// The 10 s window refuses until it ends; the minute's count stays.
			{2 * time.Second, 1, want{false, RefusedWindow, []int64{0, 3}, []int64{8, 58}, 0, 8, -1}},
			{9*time.Second + 999*time.Millisecond, 1, want{false, RefusedWindow, []int64{0, 3}, []int64{1, 51}, 0, 1, -1}},
			// A new 10 s window; reset rounds up.
			{10 * time.Second, 1, want{true, "", []int64{1, 2}, []int64{10, 50}, -1, 0, -1}},
			{10*time.Second + 500*time.Millisecond, 1, want{true, "", []int64{0, 1}, []int64{10, 50}, -1, 0, -1}},
			{20 * time.Second, 1, want{true, "", []int64{1, 0}, []int64{10, 40}, -1, 0, -1}},
			// Now the minute refuses, though the 10 s window has one left.
			{21 * time.Second, 1, want{false, RefusedWindow, []int64{1, 0}, []int64{9, 39}, 1, 39, -1}},
			// Both refuse: Retry-After waits for both.
			{22 * time.Second, 2, want{false, RefusedWindow, []int64{1, 0}, []int64{8, 38}, 0, 38, -1}},
			// The next minute: everything is back.
			{time.Minute, 2, want{true, "", []int64{0, 3}, []int64{10, 60}, -1, 0, -1}},
			// A cost above a limit is refused, and spends nothing.
			{time.Minute + 10*time.Second, 3, want{false, RefusedWindow, []int64{2, 3}, []int64{10, 50}, 0, 10, -1}},
			{time.Minute + 10*time.Second, 0, want{true, "", []int64{2, 3}, []int64{10, 50}, -1, 0, -1}},
		} {
			clk.Set(day.Add(step.at))
			req.Cost = step.cost
			d, err := l.Decide(t.Context(), req)
			check(t, fmt.Sprintf("at +%s, cost %d", step.at, step.cost), d, err, step.want)
		}
	})
}

func TestNearestWindow(t *testing.T) {
	for _, tt := range []struct {
		name    string
		windows []WindowState
		want    int64 // the Window of the nearest; 0 for none
	}{
		{"none", nil, 0},
		{"one", []WindowState{{Limit: 5, Window: 60, Remaining: 5}}, 60},
		{"fewest remaining", []WindowState{{Window: 1, Remaining: 9}, {Window: 60, Remaining: 3}, {Window: 3600, Remaining: 4}}, 60},
		{"a tie goes to the shortest", []WindowState{{Window: 1, Remaining: 3}, {Window: 60, Remaining: 3}}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := Decision{Windows: tt.windows}
			w, ok := d.Nearest()
			if ok != (tt.want != 0) || w.Window != tt.want {
				t.Fatalf("Nearest() = %+v, %v; want the window of %ds", w, ok, tt.want)
			}
		})
	}
}

func TestRefusedRequestsSpendNothing(t *testing.T) {
	eachLimiter(t, func(t *testing.T, b backend, open opener) {
		clk := newClock(testDay().Add(time.Hour))
		l := open(clk.Now)
		ctx := t.Context()
		req := Request{Bucket: "key:k1", Windows: []Window{{10, time.Minute}, {3, time.Hour}}, Cost: 1,
			Credits: &Credits{Key: "k1", SetAt: clk.Now().Add(-time.Hour), Remaining: 100}}
		for i := range 3 {
			d, err := l.Decide(ctx, req)
			check(t, fmt.Sprint("request ", i+1), d, err, want{true, "", []int64{9 - int64(i), 2 - int64(i)}, nil, -1, 0, 99 - int64(i)})
		}
		// The hour refuses: neither the minute nor the credits are spent.
		for i := range 3 {
			d, err := l.Decide(ctx, req)
			check(t, fmt.Sprint("refused by the second window, ", i+1), d, err, want{false, RefusedWindow, []int64{7, 0}, nil, 1, 3600, 97})
		}

		// Credits refuse: no window is spent.
		req2 := Request{Bucket: "key:k2", Windows: []Window{{10, time.Minute}}, Cost: 2,
			Credits: &Credits{Key: "k2", SetAt: clk.Now().Add(-time.Hour), Remaining: 3}}
		d, err := l.Decide(ctx, req2)
		check(t, "first", d, err, want{true, "", []int64{8}, nil, -1, 0, 1})
		for i := range 3 {
			d, err := l.Decide(ctx, req2)
			check(t, fmt.Sprint("refused by credits, ", i+1), d, err, want{false, RefusedCredits, []int64{8}, nil, -1, 0, 1})
		}
		// Windows and credits both refuse: the window is named (it comes first).
		req2.Cost = 9
		d, err = l.Decide(ctx, req2)
		check(t, "refused by both", d, err, want{false, RefusedWindow, []int64{8}, nil, 0, 60, 1})
		req2.Cost = 1
		d, err = l.Decide(ctx, req2)
		check(t, "the last credit", d, err, want{true, "", []int64{7}, nil, -1, 0, 0})
	})
}

// A dry run answers what the real request would get, spends nothing, and the next real request
// gets what it announced.
func TestDryRun(t *testing.T) {
	eachLimiter(t, func(t *testing.T, b backend, open opener) {
		clk := newClock(testDay().Add(10 * time.Hour))
		l := open(clk.Now)
		ctx := t.Context()
		req := Request{Bucket: "key:k", Windows: []Window{{4, time.Minute}, {100, time.Hour}}, Cost: 1,
			Credits: &Credits{Key: "k", SetAt: clk.Now().Add(-time.Hour), Remaining: 50, Refill: &Refill{60, Day}}}
		for i, cost := range []int64{1, 2, 3, 1, 0, 1, 1} {
			req.Cost = cost
			req.DryRun = true
			dry, err := l.Decide(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			again, err := l.Decide(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(dry, again) {
				t.Fatalf("step %d: a repeated dry run answered\n%+v\nthen\n%+v", i, dry, again)
			}
			req.DryRun = false
			real, err := l.Decide(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(dry, real) {
				t.Fatalf("step %d, cost %d: the dry run answered\n%+v\nthe real request\n%+v", i, cost, dry, real)
			}
			clk.Add(time.Second)
		}
	})
}

func TestUsageSpendsNothing(t *testing.T) {
	eachLimiter(t, func(t *testing.T, b backend, open opener) {
		clk := newClock(testDay())
		l := open(clk.Now)
		req := Request{Bucket: "key:k", Windows: []Window{{3, time.Minute}}, Cost: 1,
			Credits: &Credits{Key: "k", SetAt: clk.Now().Add(-time.Hour), Remaining: 2}}
		u, err := Usage(t.Context(), l, req)
		check(t, "usage before", u, err, want{true, "", []int64{3}, []int64{60}, -1, 0, 2})
		for range 2 {
			if _, err := l.Decide(t.Context(), req); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 {
			u, err := Usage(t.Context(), l, req)
			check(t, "usage after", u, err, want{true, "", []int64{1}, []int64{60}, -1, 0, 0})
		}
		// Exhausted credits are not a refusal of a usage read.
		d, err := l.Decide(t.Context(), req)
		check(t, "spent", d, err, want{false, RefusedCredits, []int64{1}, []int64{60}, -1, 0, 0})
	})
}

func TestCreditsRefill(t *testing.T) {
	eachLimiter(t, func(t *testing.T, b backend, open opener) {
		day := testDay()
		clk := newClock(day.Add(10 * time.Hour))
		l := open(clk.Now)
		ctx := t.Context()
		at := func(d time.Time) *time.Time { return &d }

		// Set at 10:00 with 2 and a daily refill of 5: no refill until midnight.
		req := Request{Cost: 1, Credits: &Credits{Key: "daily", SetAt: clk.Now(), Remaining: 2, Refill: &Refill{5, Day}}}
		for i := range 2 {
			d, err := l.Decide(ctx, req)
			check(t, fmt.Sprint("spend ", i+1), d, err, want{true, "", nil, nil, -1, 0, 1 - int64(i)})
			if d.Credits.RefilledAt != nil {
				t.Fatalf("refilled_at = %v before any refill", d.Credits.RefilledAt)
			}
		}
		d, err := l.Decide(ctx, req)
		check(t, "exhausted at 10:00", d, err, want{false, RefusedCredits, nil, nil, -1, 14 * 3600, 0})
		clk.Set(day.Add(24*time.Hour - time.Second))
		d, err = l.Decide(ctx, req)
		check(t, "exhausted at 23:59:59", d, err, want{false, RefusedCredits, nil, nil, -1, 1, 0})

		// Midnight refills, and refilled_at says when.
		clk.Set(day.Add(24 * time.Hour))
		d, err = l.Decide(ctx, req)
		check(t, "at midnight", d, err, want{true, "", nil, nil, -1, 0, 4})
		if got := d.Credits.RefilledAt; got == nil || !got.Equal(day.Add(24*time.Hour)) || got.Location() != time.UTC {
			t.Fatalf("refilled_at = %v, want %v", got, day.Add(24*time.Hour))
		}
		// A refill tops up to the amount; it does not add.
		clk.Set(day.Add(48*time.Hour + time.Minute))
		d, err = l.Decide(ctx, req)
		check(t, "the next day", d, err, want{true, "", nil, nil, -1, 0, 4})

		// A balance above the amount is not cut.
		big := Request{Cost: 1, Credits: &Credits{Key: "big", SetAt: clk.Now(), Remaining: 100, Refill: &Refill{5, Day}}}
		d, err = l.Decide(ctx, big)
		check(t, "big", d, err, want{true, "", nil, nil, -1, 0, 99})
		clk.Set(day.Add(72 * time.Hour))
		d, err = l.Decide(ctx, big)
		check(t, "big, the next day", d, err, want{true, "", nil, nil, -1, 0, 98})

		// A refill too small for the cost, or none at all: no Retry-After.
		small := Request{Cost: 3, Credits: &Credits{Key: "small", SetAt: clk.Now(), Remaining: 1, Refill: &Refill{2, Day}}}
		d, err = l.Decide(ctx, small)
		check(t, "a refill smaller than the cost", d, err, want{false, RefusedCredits, nil, nil, -1, 0, 1})
		none := Request{Cost: 1, Credits: &Credits{Key: "none", SetAt: clk.Now(), Remaining: 0}}
		d, err = l.Decide(ctx, none)
		check(t, "no refill", d, err, want{false, RefusedCredits, nil, nil, -1, 0, 0})

		// Stored credits that were refilled today (written back) are not refilled again.
		stored := Request{Cost: 1, Credits: &Credits{Key: "stored", SetAt: day, Remaining: 3,
			Refill: &Refill{5, Day}, RefilledAt: at(day.Add(72 * time.Hour))}}
		clk.Set(day.Add(80 * time.Hour))
		d, err = l.Decide(ctx, stored)
		check(t, "seeded from a balance refilled today", d, err, want{true, "", nil, nil, -1, 0, 2})
		// Stored credits last set days ago are refilled at their first use.
		old := Request{Cost: 1, Credits: &Credits{Key: "old", SetAt: day, Remaining: 1, Refill: &Refill{5, Day}}}
		d, err = l.Decide(ctx, old)
		check(t, "seeded from a balance set days ago", d, err, want{true, "", nil, nil, -1, 0, 4})
		if got := d.Credits.RefilledAt; got == nil || !got.Equal(day.Add(72*time.Hour)) {
			t.Fatalf("refilled_at = %v, want today's midnight %v", got, day.Add(72*time.Hour))
		}
	})
}

func TestCreditsRefillMonthly(t *testing.T) {
	eachLimiter(t, func(t *testing.T, b backend, _ opener) {
		now := time.Now().UTC()
		for _, tt := range []struct {
			name  string
			set   time.Time // when the credits were set
			next  time.Time // the next refill
			retry int64     // Retry-After when set, until next
		}{
			{"mid-month", time.Date(now.Year()+1, 3, 15, 12, 0, 0, 0, time.UTC), time.Date(now.Year()+1, 4, 1, 0, 0, 0, 0, time.UTC), 17*86400 - 12*3600},
			{"into a new year", time.Date(now.Year()+1, 12, 31, 23, 0, 0, 0, time.UTC), time.Date(now.Year()+2, 1, 1, 0, 0, 0, 0, time.UTC), 3600},
			{"February of a leap year", time.Date(2028, 2, 28, 0, 0, 0, 0, time.UTC), time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC), 2 * 86400},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if !tt.set.After(now.Add(72 * time.Hour)) {
					t.Skipf("%s is not ahead of the clock Redis expires keys by", tt.set)
				}
				clk := newClock(tt.set)
				l := b.open(t)(clk.Now) // a limiter of its own: on its own clock
				req := Request{Cost: 1, Credits: &Credits{Key: "monthly-" + tt.name, SetAt: tt.set, Remaining: 1, Refill: &Refill{10, Month}}}
				d, err := l.Decide(t.Context(), req)
				check(t, "spend", d, err, want{true, "", nil, nil, -1, 0, 0})
				d, err = l.Decide(t.Context(), req)
				check(t, "exhausted", d, err, want{false, RefusedCredits, nil, nil, -1, tt.retry, 0})
				clk.Set(tt.next.Add(-time.Millisecond))
				d, err = l.Decide(t.Context(), req)
				check(t, "just before the month ends", d, err, want{false, RefusedCredits, nil, nil, -1, 1, 0})
				clk.Set(tt.next)
				d, err = l.Decide(t.Context(), req)
				check(t, "the first of the month", d, err, want{true, "", nil, nil, -1, 0, 9})
				if got := d.Credits.RefilledAt; got == nil || !got.Equal(tt.next) {
					t.Fatalf("refilled_at = %v, want %v", got, tt.next)
				}
			})
		}
	})
}

// Setting credits (POST or PATCH) replaces the live balance; a node that has not seen the new
// setting yet spends from it all the same.
func TestCreditsSetting(t *testing.T) {
	eachLimiter(t, func(t *testing.T, b backend, open opener) {
		day := testDay()
		clk := newClock(day.Add(9 * time.Hour))
		l := open(clk.Now)
		ctx := t.Context()
		first := &Credits{Key: "k", SetAt: day.Add(8 * time.Hour), Remaining: 1, Refill: &Refill{3, Day}}
		d, err := l.Decide(ctx, Request{Cost: 1, Credits: first})
		check(t, "the first setting", d, err, want{true, "", nil, nil, -1, 0, 0})

		second := &Credits{Key: "k", SetAt: day.Add(9 * time.Hour), Remaining: 50}
		d, err = l.Decide(ctx, Request{Cost: 1, Credits: second})
		check(t, "the second setting", d, err, want{true, "", nil, nil, -1, 0, 49})
		if d.Credits.Refill != nil || d.Credits.RefilledAt != nil || !d.Credits.SetAt.Equal(second.SetAt) {
			t.Fatalf("after the second setting: %+v", d.Credits)
		}
		d, err = l.Decide(ctx, Request{Cost: 1, Credits: first})
		check(t, "a request still naming the first setting", d, err, want{true, "", nil, nil, -1, 0, 48})
		if !d.Credits.SetAt.Equal(second.SetAt) {
			t.Fatalf("the balance's SetAt = %v, want the second setting's %v", d.Credits.SetAt, second.SetAt)
		}
		// A setting is not a refill, even with a refill due.
		clk.Set(day.Add(30 * time.Hour))
		third := &Credits{Key: "k", SetAt: clk.Now(), Remaining: 0, Refill: &Refill{10, Day}}
		d, err = l.Decide(ctx, Request{Cost: 1, Credits: third})
		check(t, "the third setting", d, err, want{false, RefusedCredits, nil, nil, -1, 18 * 3600, 0})
		if d.Credits.RefilledAt != nil {
			t.Fatalf("refilled_at = %v right after a setting", d.Credits.RefilledAt)
		}
	})
}

// Balances returns what changed, once, as the caller writes it back.
func TestBalances(t *testing.T) {
	eachLimiter(t, func(t *testing.T, b backend, open opener) {
		clk := newClock(testDay().Add(time.Hour))
		l := open(clk.Now)
		set := clk.Now().Add(-time.Minute)
		for _, key := range []string{"a", "b", "a", "a"} {
			req := Request{Cost: 1, Credits: &Credits{Key: key, SetAt: set, Remaining: 10}}
			if _, err := l.Decide(t.Context(), req); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := Usage(t.Context(), l, Request{Credits: &Credits{Key: "c", SetAt: set, Remaining: 10}}); err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, c := range l.Balances() {
			if !c.SetAt.Equal(set) {
				t.Errorf("balance %s: SetAt %v, want %v", c.Key, c.SetAt, set)
			}
			got[c.Key] = c.Remaining
		}
		if want := map[string]int64{"a": 7, "b": 9}; !reflect.DeepEqual(got, want) {
			t.Fatalf("Balances() = %v, want %v", got, want)
		}
		if again := l.Balances(); len(again) != 0 {
			t.Fatalf("Balances() again = %+v, want nothing new", again)
		}
	})
}

func TestInvalidRequests(t *testing.T) {
	eachLimiter(t, func(t *testing.T, b backend, open opener) {
		l := open(newClock(testDay()).Now)
		for _, tt := range []struct {
			name string
			req  Request
		}{
			{"no bucket", Request{Windows: []Window{{1, time.Minute}}, Cost: 1}},
			{"a window under a second", Request{Bucket: "b", Windows: []Window{{1, time.Millisecond}}, Cost: 1}},
			{"two windows of one length", Request{Bucket: "b", Windows: []Window{{1, time.Minute}, {5, time.Hour}, {2, time.Minute}}, Cost: 1}},
			{"a negative cost", Request{Bucket: "b", Windows: []Window{{1, time.Minute}}, Cost: -1}},
			{"credits without a key", Request{Cost: 1, Credits: &Credits{Remaining: 1}}},
			{"negative credits", Request{Cost: 1, Credits: &Credits{Key: "k", Remaining: -1}}},
			{"too many credits", Request{Cost: 1, Credits: &Credits{Key: "k", Remaining: 1<<53 + 1}}},
			{"a refill of 0", Request{Cost: 1, Credits: &Credits{Key: "k", Refill: &Refill{0, Day}}}},
			{"a weekly refill", Request{Cost: 1, Credits: &Credits{Key: "k", Refill: &Refill{1, "week"}}}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := l.Decide(t.Context(), tt.req); !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid", err)
				}
			})
		}
	})
}
