package fanout

import (
	"context"
	"slices"
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
