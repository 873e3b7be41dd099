package ratelimit

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// sweepAll runs every shard's sweep now, as the decisions touching each would.
func sweepAll(m *Memory, now time.Time) {
	for i := range m.t.shards {
		s := &m.t.shards[i]
		s.mu.Lock()
		m.t.sweep(s, now.UnixMilli())
		s.mu.Unlock()
	}
}

func TestMemoryIsBounded(t *testing.T) {
	clk := newClock(testDay())
	m := NewMemory(MemoryConfig{Now: clk.Now, MaxBuckets: 2 * shardCount})
	windows := []Window{{3, time.Minute}}
	held := Request{Bucket: "key:held", Windows: windows, Cost: 1}
	if _, err := m.Decide(t.Context(), held); err != nil {
		t.Fatal(err)
	}

	full := 0
	for i := range 10_000 {
		_, err := m.Decide(t.Context(), Request{Bucket: fmt.Sprint("key:", i), Windows: windows, Cost: 1})
		switch {
		case errors.Is(err, ErrFull):
			full++
		case err != nil:
			t.Fatal(err)
		}
	}
	if buckets, _ := m.Len(); buckets > 2*shardCount {
		t.Fatalf("%d buckets held, want at most %d", buckets, 2*shardCount)
	}
	if full == 0 {
		t.Fatal("10,000 buckets fitted in a limiter bounded to 128")
	}
	// A full limiter still counts the buckets it holds: none is pushed out by newcomers.
	for i, want := range []bool{true, true, false} {
		d, err := m.Decide(t.Context(), held)
		if err != nil || d.Allowed != want {
			t.Fatalf("request %d to a held bucket: allowed %v, %v; want %v", i+2, d.Allowed, err, want)
		}
	}

	// Once their windows end, buckets make room: two new ones in the held bucket's shard.
	clk.Add(time.Minute)
	home := m.t.shard(held.Bucket)
	for i, n := 0, 0; n < 2; i++ {
		name := fmt.Sprint("key:later", i)
		if m.t.shard(name) != home {
			continue
		}
		n++
		if _, err := m.Decide(t.Context(), Request{Bucket: name, Windows: windows, Cost: 1}); err != nil {
			t.Fatalf("after the window ended, a new bucket: %v", err)
		}
	}
}

// Reading usage or refusing keeps nothing.
func TestMemoryKeepsNothingForReads(t *testing.T) {
	clk := newClock(testDay())
	m := NewMemory(MemoryConfig{Now: clk.Now})
	for i := range 1000 {
		req := Request{Bucket: fmt.Sprint("key:", i), Windows: []Window{{0, time.Minute}}, Cost: 1,
			Credits: &Credits{Key: fmt.Sprint(i), Remaining: 5}}
		if _, err := Usage(t.Context(), m, req); err != nil {
			t.Fatal(err)
		}
		if d, err := m.Decide(t.Context(), req); err != nil || d.Allowed {
			t.Fatalf("a window of 0 allowed %v, %v", d.Allowed, err)
		}
	}
	if buckets, balances := m.Len(); buckets != 0 || balances != 0 {
		t.Fatalf("%d buckets and %d balances held after reads and refusals, want none", buckets, balances)
	}
}

// A balance is forgotten only once it has been handed to Balances and has stayed idle; it is
// then seeded again from the request, which by then carries the written-back balance.
func TestMemoryForgetsIdleBalances(t *testing.T) {
	clk := newClock(testDay())
	m := NewMemory(MemoryConfig{Now: clk.Now, IdleCredits: time.Hour})
	stored := Credits{Key: "k", SetAt: clk.Now().Add(-time.Hour), Remaining: 10}
	for range 3 {
		if _, err := m.Decide(t.Context(), Request{Cost: 1, Credits: &stored}); err != nil {
			t.Fatal(err)
		}
	}
	clk.Add(2 * time.Hour)
	sweepAll(m, clk.Now())
	if _, balances := m.Len(); balances != 1 {
		t.Fatalf("%d balances held: a balance not yet written back was forgotten", balances)
	}
	b := m.Balances()
	if len(b) != 1 || b[0].Remaining != 7 {
		t.Fatalf("Balances() = %+v, want k at 7", b)
	}
	stored.Remaining = b[0].Remaining // the caller writes it back
	clk.Add(2 * time.Hour)
	sweepAll(m, clk.Now())
	if _, balances := m.Len(); balances != 0 {
		t.Fatalf("%d balances held, want the idle one forgotten", balances)
	}
	d, err := m.Decide(t.Context(), Request{Cost: 1, Credits: &stored})
	if err != nil || d.Credits.Remaining != 6 {
		t.Fatalf("seeded again from the written-back balance: %+v, %v; want 6 left", d.Credits, err)
	}
}
