package ratelimit

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/testenv"
)

// healthWatch collects what a limiter reports to OnHealth.
type healthWatch chan bool

func (h healthWatch) report(healthy bool, _ error) {
	select {
	case h <- healthy:
	default:
	}
}

// wait returns how long it took until the limiter reported healthy as want, failing the test
// after within.
func (h healthWatch) wait(t *testing.T, want bool, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		select {
		case got := <-h:
			if got == want {
				return time.Since(start)
			}
		case <-timer.C:
			t.Fatalf("the limiter did not report healthy=%v within %s", want, within)
		}
	}
}

// While Redis is down every policy answers within the timeout, and once it is back the limiter
// is too, by itself.
func TestRedisDown(t *testing.T) {
	for _, mode := range []string{ModeExact, ModeFast} {
		for _, policy := range []string{DownClosed, DownLocal, DownOpen} {
			t.Run(mode+"/"+policy, func(t *testing.T) {
				srv := testenv.StartRedis(t)
				clk := newClock(testDay())
				health := make(healthWatch, 16)
				l := newTestRedis(t, srv.URL(), RedisConfig{Now: clk.Now, Mode: mode, Down: policy, Nodes: 2, OnHealth: health.report})
				ctx := t.Context()
				req := Request{Bucket: "key:k", Windows: []Window{{10, time.Minute}}, Cost: 1,
					Credits: &Credits{Key: "k", SetAt: clk.Now().Add(-time.Hour), Remaining: 100}}
				d, err := l.Decide(ctx, req)
				check(t, "before", d, err, want{true, "", []int64{9}, nil, -1, 0, 99})
				l.sync(ctx)

				srv.Stop()
				if mode == ModeFast {
					l.probe(ctx) // fast mode calls Redis only in the background
				}
				start := time.Now()
				d, err = l.Decide(ctx, req)
				if took := time.Since(start); took > DefaultTimeout+500*time.Millisecond {
					t.Fatalf("the first decision without Redis took %s", took)
				}
				switch policy {
				case DownClosed:
					var u *UnavailableError
					if !errors.Is(err, ErrUnavailable) || !errors.As(err, &u) || u.RetryAfter < 1 {
						t.Fatalf("closed: %+v, %v; want an *UnavailableError with a Retry-After", d, err)
					}
				case DownOpen:
					if err != nil || !d.Allowed || !d.Degraded || d.Windows != nil || d.Credits != nil {
						t.Fatalf("open: %+v, %v; want allowed, degraded, nothing counted", d, err)
					}
				case DownLocal:
					// This node's share: 10 ÷ 2 per minute, 100 ÷ 2 credits.
					for i := range 6 {
						if i > 0 {
							d, err = l.Decide(ctx, req)
						}
						w := want{true, "", []int64{4 - int64(i)}, nil, -1, 0, 49 - int64(i)}
						if i == 5 {
							w = want{false, RefusedWindow, []int64{0}, nil, 0, 60, 45}
						}
						check(t, fmt.Sprint("local, request ", i+1), d, err, w)
						if !d.Degraded || d.Windows[0].Limit != 5 {
							t.Fatalf("local: %+v; want degraded, the limit 5", d)
						}
					}
				}
				health.wait(t, false, 5*time.Second) // the probe confirms what the decision found
				if l.Healthy() == nil {
					t.Fatal("Healthy() = nil while Redis is down")
				}
				if s := l.Stats(); s.Healthy || s.Failures == 0 || s.Fallbacks == 0 {
					t.Fatalf("Stats() = %+v while Redis is down", s)
				}

				srv.Start() // empty: the server keeps nothing
				took := health.wait(t, true, 10*time.Second)
				t.Logf("the limiter was back %s after Redis restarted", took.Round(time.Millisecond))
				if err := l.Healthy(); err != nil {
					t.Fatalf("Healthy() = %v after recovery", err)
				}
				d, err = l.Decide(ctx, req)
				w := want{true, "", []int64{9}, nil, -1, 0, 99} // Redis restarted empty
				if mode == ModeFast {
					w = want{true, "", []int64{8}, nil, -1, 0, 98} // this node's view
				}
				if policy == DownLocal {
					w = want{true, "", []int64{4}, nil, -1, 0, 94} // what the node spent alone was pushed
					if mode == ModeFast {
						// Fast mode learns it at its next sync. The loop's own sync may be in
						// flight with the buckets it took, so a sync of the test's finds
						// nothing to do: sync until the node's view holds what was pushed.
						deadline := time.Now().Add(5 * time.Second)
						for {
							l.sync(ctx)
							u, err := Usage(ctx, l, req)
							if err == nil && len(u.Windows) == 1 && u.Windows[0].Remaining == 4 || time.Now().After(deadline) {
								break
							}
							time.Sleep(10 * time.Millisecond)
						}
						d, err = l.Decide(ctx, req)
						w = want{true, "", []int64{3}, nil, -1, 0, 93}
					}
				}
				check(t, "after recovery", d, err, w)
				if d.Degraded {
					t.Fatal("degraded after recovery")
				}
				if policy == DownLocal {
					// What the node decided alone, once pushed, is forgotten when idle.
					clk.Add(2 * DefaultIdleCredits)
					for i := range l.local.shards {
						s := &l.local.shards[i]
						s.mu.Lock()
						l.local.sweep(s, clk.Now().UnixMilli())
						s.mu.Unlock()
					}
					if buckets, balances := l.local.size(); buckets != 0 || balances != 0 {
						t.Fatalf("redis_down local still holds %d buckets and %d balances", buckets, balances)
					}
				}
			})
		}
	}
}

// A Redis that accepts connections and never answers costs a decision the timeout, not a hang.
func TestRedisHangs(t *testing.T) {
	srv := testenv.StartRedis(t)
	health := make(healthWatch, 16)
	l := newTestRedis(t, srv.URL(), RedisConfig{Timeout: 200 * time.Millisecond, OnHealth: health.report})
	req := Request{Bucket: "key:k", Windows: []Window{{10, time.Minute}}, Cost: 1}
	if _, err := l.Decide(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	srv.Hang()
	start := time.Now()
	_, err := l.Decide(t.Context(), req)
	took := time.Since(start)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if took > time.Second {
		t.Fatalf("the decision took %s with a timeout of 200ms", took)
	}
	t.Logf("refused after %s", took.Round(time.Millisecond))
	health.wait(t, false, 5*time.Second) // the probe's ping hangs too
	srv.Resume()
	health.wait(t, true, 10*time.Second)
	if d, err := l.Decide(t.Context(), req); err != nil || !d.Allowed {
		t.Fatalf("after Redis answered again: %+v, %v", d, err)
	}
}

// A limiter made while Redis is down starts in redis_down, and joins Redis when it comes.
func TestRedisStartsDown(t *testing.T) {
	srv := testenv.StartRedis(t)
	srv.Stop()
	health := make(healthWatch, 16)
	l := newTestRedis(t, srv.URL(), RedisConfig{OnHealth: health.report})
	req := Request{Bucket: "key:k", Windows: []Window{{10, time.Minute}}, Cost: 1}
	if _, err := l.Decide(t.Context(), req); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	srv.Start()
	health.wait(t, true, 10*time.Second)
	if d, err := l.Decide(t.Context(), req); err != nil || !d.Allowed {
		t.Fatalf("after Redis came: %+v, %v", d, err)
	}
}

// Redis may lose its scripts (a restart, SCRIPT FLUSH): EVALSHA falls back to EVAL.
func TestRedisScriptsFlushed(t *testing.T) {
	srv := testenv.StartRedis(t)
	for _, mode := range []string{ModeExact, ModeFast} {
		l := newTestRedis(t, srv.URL(), RedisConfig{Mode: mode, Prefix: mode + ":"})
		req := Request{Bucket: "key:k", Windows: []Window{{10, time.Minute}}, Cost: 1,
			Credits: &Credits{Key: "k", SetAt: time.Now(), Remaining: 10}}
		for range 2 {
			if err := testenv.RedisClient(t, srv.URL()).ScriptFlush(t.Context()).Err(); err != nil {
				t.Fatal(err)
			}
			d, err := l.Decide(t.Context(), req)
			if err != nil || !d.Allowed {
				t.Fatalf("%s: %+v, %v", mode, d, err)
			}
			if l.fast != nil {
				if err := l.push(t.Context(), l.fast, true); err != nil {
					t.Fatalf("fast mode's sync after SCRIPT FLUSH: %v", err)
				}
			}
		}
		if s := l.Stats(); s.Failures != 0 {
			t.Fatalf("%s: %d failures counted", mode, s.Failures)
		}
	}
}
