package fanout

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
	"github.com/lanyardhq/lanyard/internal/testenv"
)

// TestBusWakesTheOtherNodes: with a bus, a revocation reaches the other node through its
// notification (the node's own polls are an hour apart while the bus is up); when Redis stops,
// the node polls the log often again and still gets it; when Redis is back, the node
// resubscribes by itself and hears the bus again. The Redis is the test's own, to be stopped.
func TestBusWakesTheOtherNodes(t *testing.T) {
	rs := testenv.StartRedis(t)
	rdb := testenv.RedisClient(t, rs.URL())
	st := newStore(t)
	start := func(id string) *node {
		n := &node{forgot: make(chan store.Revoked, 100)}
		n.Fanout = New(Options{Store: st, ID: id, Bound: time.Minute, Poll: 20 * time.Millisecond, BusPoll: time.Hour,
			Bus: NewRedisBus(rdb, "", nil), Forget: func(r store.Revoked) { n.forgot <- r }})
		if err := n.Register(t.Context()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { n.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		return n
	}
	a, b := start("a:1"), start("b:1")
	busIs := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for a.BusUp() != want || b.BusUp() != want {
			if time.Now().After(deadline) {
				t.Fatalf("the bus did not turn up=%v within 10 s", want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	revoke := func(id string, within time.Duration) {
		t.Helper()
		asked := time.Now()
		a.Publish(t.Context(), store.Revoked{KeyIDs: []string{id}})
		select {
		case r := <-b.forgot:
			if !slices.Equal(r.KeyIDs, []string{id}) {
				t.Fatalf("node b forgot %+v, want %s", r, id)
			}
			if took := time.Since(asked); took > within {
				t.Fatalf("%s reached node b after %v, want within %v", id, took, within)
			}
		case <-time.After(within):
			t.Fatalf("%s did not reach node b within %v", id, within)
		}
	}

	busIs(true)
	revoke("through the bus", 5*time.Second)
	rs.Stop()
	busIs(false)
	revoke("through the polls", 5*time.Second)
	rs.Start()
	busIs(true)
	revoke("through the bus again", 5*time.Second)
}

// failingBus fails its first fails notifications, then carries them; it never delivers any
// (the test looks at what was sent). A fault a real Redis gives only with unreliable timing:
// a publisher still refused while the subscribers are back.
type failingBus struct {
	mu          sync.Mutex
	fails, sent int
	tries       int
}

func (b *failingBus) Notify(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tries++
	if b.tries <= b.fails {
		return errors.New("redis: connection refused")
	}
	b.sent++
	return nil
}

func (b *failingBus) Listen(ctx context.Context, _ func(), _ func(bool)) { <-ctx.Done() }

func (b *failingBus) counts() (tries, sent int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tries, b.sent
}

// TestNotificationRetried: a notification that could not be sent is sent again on the next
// ticks until it goes, and only once it went is nothing more owed.
func TestNotificationRetried(t *testing.T) {
	st := newStore(t)
	bus := &failingBus{fails: 3}
	f := New(Options{Store: st, ID: "a:1", Bound: time.Minute, Poll: 5 * time.Millisecond, Bus: bus})
	if err := f.Register(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	f.Publish(t.Context(), store.Revoked{KeyIDs: []string{"k1"}})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, sent := bus.counts(); sent == 1 {
			break
		}
		if time.Now().After(deadline) {
			tries, sent := bus.counts()
			t.Fatalf("after 10 s: %d tries, %d sent; want the notification sent after 3 failures", tries, sent)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // ten more ticks: nothing is owed any more
	if tries, sent := bus.counts(); tries != 4 || sent != 1 {
		t.Fatalf("%d tries, %d sent; want 4 tries and 1 sent", tries, sent)
	}
}
