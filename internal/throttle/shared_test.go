package throttle

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lanyardhq/lanyard/internal/testenv"
)

// TestSharedWithoutRedis: with Redis unreachable, attempts are throttled by the node alone —
// never refused for the outage — and each failed call is reported.
func TestSharedWithoutRedis(t *testing.T) {
	// A port nothing listens on: every call fails at once with a refused connection.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	var errs atomic.Int64
	s := NewShared(SharedConfig{Redis: rdb, Limits: Config{MaxFailures: 2},
		OnError: func(error) { errs.Add(1) }})
	for i := range 2 {
		a, err := s.Begin(ctx, "ann", "a1")
		if err != nil {
			t.Fatalf("attempt %d refused without Redis: %v", i, err)
		}
		a.Failed()
	}
	var ref *Refused
	if _, err := s.Begin(ctx, "ann", "a1"); !errors.As(err, &ref) || ref.Scope != ScopeAccount {
		t.Fatalf("third attempt after two failures: %v, want the account refused by the local count", err)
	}
	if errs.Load() == 0 {
		t.Fatal("the failed Redis calls were not reported")
	}
}

// TestSharedAttemptOfADeadNode: an attempt whose node never says how it ended (the node died)
// stops counting as in flight after inFlightFor.
func TestSharedAttemptOfADeadNode(t *testing.T) {
	rdb, _, prefix := testenv.RedisKeys(t)
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	open := func() *Shared {
		return NewShared(SharedConfig{Redis: rdb, Prefix: prefix, Limits: Config{MaxFailures: 2, Now: c.now},
			OnError: func(err error) { t.Errorf("Redis failed: %v", err) }})
	}
	dead, alive := open(), open()
	a, err := alive.Begin(ctx, "ann", "a1")
	if err != nil {
		t.Fatal(err)
	}
	a.Failed()
	if _, err := dead.Begin(ctx, "ann", "a1"); err != nil { // never finished
		t.Fatal(err)
	}
	var ref *Refused
	if _, err := alive.Begin(ctx, "ann", "a2"); !errors.As(err, &ref) || ref.RetryAfter != time.Second {
		t.Fatalf("with one failure and one attempt in flight: %v, want refused for a second", err)
	}
	c.advance(inFlightFor)
	if _, err := alive.Begin(ctx, "ann", "a2"); err != nil {
		t.Fatalf("the dead node's attempt still counts after %s: %v", inFlightFor, err)
	}
}
