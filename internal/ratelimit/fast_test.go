package ratelimit

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/testenv"
)

// Fast mode's overshoot, measured: three nodes spend from one window (or one balance) and sync
// in turn, one node per step, so that every node decides from the stalest view the design
// allows: each syncs every third step while the others keep spending. The bound is the package
// doc's, limit + 2·(nodes−1)·⌈limit/nodes⌉. Once every node has synced, Redis holds exactly what
// was accepted: nothing spent is lost or counted twice.
func TestFastOvershoot(t *testing.T) {
	const nodes, limit = 3, 300
	bound := int64(limit + 2*(nodes-1)*ceilDiv(limit, nodes))
	for _, what := range []string{"window", "credits"} {
		for _, perStep := range []int{1, 5, 20, 100, limit} {
			t.Run(fmt.Sprintf("%s/%d per node per step", what, perStep), func(t *testing.T) {
				url, prefix := testRedis(t)
				clk := newClock(testDay().Add(time.Hour))
				var ls []*Redis
				for range nodes {
					// Syncs are the test's to make: the background one waits an hour.
					ls = append(ls, newTestRedis(t, url, RedisConfig{Now: clk.Now, Prefix: prefix, Mode: ModeFast,
						Nodes: nodes, SyncEvery: time.Hour}))
				}
				req := Request{Bucket: "key:k", Windows: []Window{{limit, time.Hour}}, Cost: 1}
				if what == "credits" {
					req = Request{Bucket: "key:k", Windows: []Window{{1 << 40, time.Hour}}, Cost: 1,
						Credits: &Credits{Key: "k", SetAt: clk.Now().Add(-time.Minute), Remaining: limit}}
				}
				var accepted int64
				idle := 0 // steps in a row in which nobody was allowed anything
				for step := 0; idle < 2*nodes; step++ {
					got := int64(0)
					for _, l := range ls {
						for range perStep {
							d, err := l.Decide(t.Context(), req)
							if err != nil {
								t.Fatal(err)
							}
							if d.Allowed {
								got++
							}
						}
					}
					accepted += got
					if got == 0 {
						idle++
					} else {
						idle = 0
					}
					if err := ls[step%nodes].push(t.Context(), ls[step%nodes].fast, true); err != nil {
						t.Fatal(err)
					}
				}
				t.Logf("accepted %d of a limit of %d: overshoot %d (%.1f%%), bound %d",
					accepted, limit, accepted-limit, 100*float64(accepted-limit)/limit, bound-limit)
				if accepted < limit || accepted > bound {
					t.Fatalf("accepted %d, want %d to %d", accepted, limit, bound)
				}

				for _, l := range ls {
					if err := l.push(t.Context(), l.fast, true); err != nil {
						t.Fatal(err)
					}
				}
				rdb := testenv.RedisClient(t, url)
				if what == "window" {
					key := ls[0].windowKey("key:k", spec{lenMs: time.Hour.Milliseconds(), index: clk.Now().UnixMilli() / time.Hour.Milliseconds()})
					n, err := rdb.Get(t.Context(), key).Int64()
					if err != nil || n != accepted {
						t.Fatalf("Redis counted %d (%v), want the %d accepted", n, err, accepted)
					}
				} else {
					rem, err := rdb.HGet(t.Context(), prefix+"c:k", "r").Result()
					if want := strconv.FormatInt(max(0, limit-accepted), 10); err != nil || rem != want {
						t.Fatalf("Redis's balance is %s (%v), want %s", rem, err, want)
					}
				}
			})
		}
	}
}

// A fast-mode node spends its share between syncs: refused by the share alone, it says to retry
// in a second, and the next sync renews the share from what every node spent.
func TestFastShares(t *testing.T) {
	url, prefix := testRedis(t)
	clk := newClock(testDay().Add(time.Hour))
	a := newTestRedis(t, url, RedisConfig{Now: clk.Now, Prefix: prefix, Mode: ModeFast, Nodes: 2, SyncEvery: time.Hour})
	b := newTestRedis(t, url, RedisConfig{Now: clk.Now, Prefix: prefix, Mode: ModeFast, Nodes: 2, SyncEvery: time.Hour})
	ctx := t.Context()
	req := Request{Bucket: "key:k", Windows: []Window{{10, time.Minute}}, Cost: 1}
	for i := range 5 {
		d, err := a.Decide(ctx, req)
		check(t, fmt.Sprint("a's share, ", i+1), d, err, want{true, "", []int64{9 - int64(i)}, nil, -1, 0, -1})
	}
	d, err := a.Decide(ctx, req)
	check(t, "a, past its share", d, err, want{false, RefusedWindow, []int64{5}, nil, 0, 1, -1})
	for range 3 {
		if _, err := b.Decide(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	// b pushes its 3, then a pushes its 5 and learns of b's: 2 remain, a's share is 1.
	if err := b.push(ctx, b.fast, true); err != nil {
		t.Fatal(err)
	}
	if err := a.push(ctx, a.fast, true); err != nil {
		t.Fatal(err)
	}
	d, err = a.Decide(ctx, req)
	check(t, "a, after the sync", d, err, want{true, "", []int64{1}, nil, -1, 0, -1})
	d, err = a.Decide(ctx, req)
	check(t, "a, past its new share", d, err, want{false, RefusedWindow, []int64{1}, nil, 0, 1, -1})

	// A cost above the share passes once per sync, if the limit allows it.
	big := Request{Bucket: "key:big", Windows: []Window{{10, time.Minute}}, Cost: 7}
	d, err = a.Decide(ctx, big)
	check(t, "a cost above the share", d, err, want{true, "", []int64{3}, nil, -1, 0, -1})
	d, err = a.Decide(ctx, big)
	check(t, "and again", d, err, want{false, RefusedWindow, []int64{3}, nil, 0, 60, -1})
}
