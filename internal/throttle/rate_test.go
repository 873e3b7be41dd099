package throttle

import (
	"fmt"
	"testing"
	"time"
)

func TestRate(t *testing.T) {
	clk := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clk }
	r := NewRate(10, time.Minute, 0, now)

	// A whole allowance at once, then nothing.
	for i := 0; i < 10; i++ {
		if ok, _ := r.Allow("a"); !ok {
			t.Fatalf("request %d of 10 refused", i+1)
		}
	}
	ok, retry := r.Allow("a")
	if ok || retry != 6*time.Second {
		t.Fatalf("11th request: ok=%v retry=%s, want refused for 6s (one request frees every 6s)", ok, retry)
	}
	// Other keys are untouched.
	if ok, _ := r.Allow("b"); !ok {
		t.Fatal("another key was refused")
	}
	// One request frees every window/limit.
	clk = clk.Add(6 * time.Second)
	if ok, _ := r.Allow("a"); !ok {
		t.Fatal("refused after one interval")
	}
	if ok, _ := r.Allow("a"); ok {
		t.Fatal("two requests allowed after one interval")
	}
	// After an idle window the whole allowance is back, and refused requests spent nothing.
	clk = clk.Add(time.Minute)
	for i := 0; i < 10; i++ {
		if ok, _ := r.Allow("a"); !ok {
			t.Fatalf("after an idle window, request %d refused", i+1)
		}
	}
}

func TestRateMemoryIsBounded(t *testing.T) {
	clk := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	r := NewRate(2, time.Minute, 100, func() time.Time { return clk })
	for i := 0; i < 1000; i++ {
		r.Allow(fmt.Sprint("k", i))
	}
	if n := r.Len(); n > 100 {
		t.Fatalf("%d keys held, want at most 100", n)
	}
	// A key being limited is not pushed out by a flood of new ones.
	r2 := NewRate(1, time.Minute, 10, func() time.Time { return clk })
	r2.Allow("victim")
	for i := 0; i < 100; i++ {
		r2.Allow(fmt.Sprint("flood", i))
	}
	if ok, _ := r2.Allow("victim"); ok {
		t.Fatal("a flood of keys reset a limited key's allowance")
	}
	// Once idle, keys make room.
	clk = clk.Add(2 * time.Minute)
	if ok, _ := r2.Allow("newcomer"); !ok {
		t.Fatal("a new key was refused although every held key was idle")
	}
}
