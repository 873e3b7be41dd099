package ratelimit

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/testenv"
)

// TestPipelineAfterScriptFlush: concurrent decisions right after Redis forgot the script (a
// restart, SCRIPT FLUSH) stay exact: none fails, none is spent twice. Whether the first of
// them reaches Redis alone or in a pipeline is the scheduler's choice; the pipeline case is
// pinned down by TestPipelineRunsForgottenScriptsOnce. The Redis is the test's own, so
// flushing its scripts disturbs no one.
func TestPipelineAfterScriptFlush(t *testing.T) {
	rs := testenv.StartRedis(t)
	rdb := testenv.RedisClient(t, rs.URL())
	clk := newClock(testDay().Add(time.Hour))
	r := newTestRedis(t, rs.URL(), RedisConfig{Now: clk.Now})
	const limit = 50
	req := Request{Bucket: "key:k", Windows: []Window{{limit, time.Minute}}, Cost: 1}
	for round := range 3 {
		if err := rdb.ScriptFlush(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for range 4 * limit {
			wg.Go(func() {
				d, err := r.Decide(t.Context(), req)
				if err != nil {
					t.Errorf("round %d: %v", round, err)
				}
				if d.Allowed {
					allowed.Add(1)
				}
			})
		}
		wg.Wait()
		if got := allowed.Load(); got != limit {
			t.Fatalf("round %d: %d of %d concurrent decisions allowed after a script flush, want %d", round, got, 4*limit, limit)
		}
		clk.Add(time.Minute) // the next round starts a fresh window
	}
}

// TestPipelineRunsForgottenScriptsOnce sends one pipeline of decisions to a Redis that has
// forgotten the script: each is run again on its own, once, and the counter holds exactly
// what was decided.
func TestPipelineRunsForgottenScriptsOnce(t *testing.T) {
	rs := testenv.StartRedis(t)
	rdb := testenv.RedisClient(t, rs.URL())
	if err := rdb.ScriptFlush(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	p := newPipeliner(rdb, decideScript, 5*time.Second)
	expires := time.Now().Add(time.Hour).UnixMilli()
	var batch []*scriptCall
	for range 10 {
		// One window of limit 100 on key w, cost 1, not a dry run.
		batch = append(batch, &scriptCall{keys: []string{"w"}, args: []any{1, "0", 1, 100, expires}})
	}
	p.exec(batch, nil)
	seen := map[int64]bool{} // each decision saw another count before it: 0 to 9
	for i, c := range batch {
		if c.err != nil || len(c.res) != 2 || c.res[1] < 0 || c.res[1] >= 10 || seen[c.res[1]] {
			t.Fatalf("decision %d: %v, %v", i, c.res, c.err)
		}
		seen[c.res[1]] = true
	}
	if n, err := rdb.Get(t.Context(), "w").Int(); err != nil || n != 10 {
		t.Fatalf("counter after 10 decisions: %d, %v; want 10", n, err)
	}
}
