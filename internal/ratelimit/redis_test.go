package ratelimit

import (
	"errors"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lanyardhq/lanyard/internal/testenv"
)

// testRedis returns the URL of the tests' Redis and a key prefix of this test's own
// (testenv.RedisKeys).
func testRedis(t testing.TB) (url, prefix string) {
	t.Helper()
	_, url, prefix = testenv.RedisKeys(t)
	return url, prefix
}

// newTestRedis opens a Redis limiter on url, closed when the test ends.
func newTestRedis(t testing.TB, url string, cfg RedisConfig) *Redis {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("%s=%q: %v", testenv.RedisEnv, url, err)
	}
	cfg.Options = opts
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	r, err := NewRedis(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// Two nodes sharing Redis share one count and one balance: what one spends, the other sees, and
// a dry run on one announces what a real request on the other gets.
func TestRedisNodesShareState(t *testing.T) {
	url, prefix := testRedis(t)
	clk := newClock(testDay().Add(time.Hour))
	a := newTestRedis(t, url, RedisConfig{Now: clk.Now, Prefix: prefix})
	b := newTestRedis(t, url, RedisConfig{Now: clk.Now, Prefix: prefix})
	ctx := t.Context()
	old := &Credits{Key: "k", SetAt: clk.Now().Add(-time.Hour), Remaining: 10}
	req := Request{Bucket: "key:k", Windows: []Window{{5, time.Minute}}, Cost: 1, Credits: old}

	d, err := a.Decide(ctx, req)
	check(t, "a spends", d, err, want{true, "", []int64{4}, nil, -1, 0, 9})
	req.DryRun = true
	dry, err := a.Decide(ctx, req)
	check(t, "a's dry run", dry, err, want{true, "", []int64{3}, nil, -1, 0, 8})
	req.DryRun = false
	d, err = b.Decide(ctx, req)
	check(t, "b spends", d, err, want{true, "", []int64{3}, nil, -1, 0, 8})
	if !reflect.DeepEqual(d, dry) {
		t.Fatalf("b's real request answered\n%+v\na's dry run announced\n%+v", d, dry)
	}

	// a sees a new setting; b, whose cache has not, spends from it all the same.
	newer := &Credits{Key: "k", SetAt: clk.Now(), Remaining: 100}
	d, err = a.Decide(ctx, Request{Cost: 1, Credits: newer})
	check(t, "a, the new setting", d, err, want{true, "", nil, nil, -1, 0, 99})
	d, err = b.Decide(ctx, Request{Cost: 1, Credits: old})
	check(t, "b, the old setting", d, err, want{true, "", nil, nil, -1, 0, 98})

	// Each node hands back the balances its own decisions changed; the last one written wins,
	// and any of them is true as of its decision.
	for name, l := range map[string]*Redis{"a": a, "b": b} {
		got := l.Balances()
		if len(got) != 1 || got[0].Key != "k" || !got[0].SetAt.Equal(newer.SetAt) {
			t.Errorf("%s.Balances() = %+v, want k under the new setting", name, got)
		}
	}
}

// Every key the limiter writes expires by itself: a window's shortly after it ends, a balance
// after CreditsTTL.
func TestRedisKeysExpire(t *testing.T) {
	url, prefix := testRedis(t)
	for _, mode := range []string{ModeExact, ModeFast} {
		l := newTestRedis(t, url, RedisConfig{Prefix: prefix + mode + ":", Mode: mode, CreditsTTL: time.Hour})
		req := Request{Bucket: "key:k", Windows: []Window{{5, time.Minute}, {50, time.Hour}}, Cost: 1,
			Credits: &Credits{Key: "k", SetAt: time.Now(), Remaining: 10}}
		if _, err := l.Decide(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		l.sync(t.Context()) // fast mode writes in the background
	}
	rdb := testenv.RedisClient(t, url)
	keys, err := rdb.Keys(t.Context(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 6 {
		t.Fatalf("keys written: %q; want two windows and a balance per mode", keys)
	}
	for _, k := range keys {
		ttl, err := rdb.PTTL(t.Context(), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		limit := time.Hour + expirySlack
		if ttl <= 0 || ttl > limit {
			t.Errorf("%s expires in %s, want within %s", k, ttl, limit)
		}
	}
}

// DESIGN's target: 10,000 concurrent requests on three nodes sharing Redis in exact mode accept
// the limit, exactly.
func TestRedisExactAcrossThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 Redis round trips")
	}
	url, prefix := testRedis(t)
	clk := newClock(testDay().Add(time.Hour))
	var nodes []*Redis
	for range 3 {
		nodes = append(nodes, newTestRedis(t, url, RedisConfig{Now: clk.Now, Prefix: prefix}))
	}
	const requests, limit = 10_000, 1_000
	req := Request{Bucket: "resource:org/acme", Windows: []Window{{limit, time.Minute}, {5 * limit, time.Hour}}, Cost: 1,
		Credits: &Credits{Key: "k", SetAt: clk.Now().Add(-time.Hour), Remaining: 10 * limit}}
	var accepted, unavailable atomic.Int64
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			d, err := nodes[i%3].Decide(t.Context(), req)
			switch {
			case errors.Is(err, ErrUnavailable):
				// A node too busy to reach Redis in time (the race detector on two cores):
				// a 503, which may or may not have spent.
				unavailable.Add(1)
			case err != nil:
				t.Error(err)
			case d.Allowed:
				accepted.Add(1)
			}
		})
	}
	wg.Wait()
	got, lost := accepted.Load(), unavailable.Load()
	if got > limit || got < limit-lost {
		t.Fatalf("%d of %d concurrent requests on 3 nodes accepted (%d unavailable), want exactly %d", got, requests, lost, limit)
	}
	if lost > 0 {
		t.Logf("%d requests found Redis too busy; %d accepted", lost, got)
	}
	d, err := Usage(t.Context(), nodes[0], req)
	if err != nil || d.Windows[0].Remaining != 0 {
		t.Fatalf("usage after: %+v, %v; want the minute spent", d, err)
	}
}
