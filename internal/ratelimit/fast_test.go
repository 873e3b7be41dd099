package ratelimit

import (
	"fmt"
	"strconv"
	"testing"
	"time"
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
				rdb := redisClient(t, url)
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
