package credential

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// gateHasher blocks every call until release is closed, and says when a call has started.
type gateHasher struct {
	entered chan struct{}
	release chan struct{}
	mu      sync.Mutex
	calls   int
}

func (g *gateHasher) enter() {
	g.mu.Lock()
	g.calls++
	g.mu.Unlock()
	g.entered <- struct{}{}
	<-g.release
}

func (g *gateHasher) Hash(string) (string, error)         { g.enter(); return "h", nil }
func (g *gateHasher) Verify(string, string) (bool, error) { g.enter(); return true, nil }
func (g *gateHasher) count() int                          { g.mu.Lock(); defer g.mu.Unlock(); return g.calls }
func newGate() *gateHasher {
	return &gateHasher{entered: make(chan struct{}, 16), release: make(chan struct{})}
}
func bound(h Hasher, max int, wait time.Duration) *bounded { return Bounded(h, max, wait).(*bounded) }

func TestBoundedRefusesWhenNoSlotFreesInTime(t *testing.T) {
	for _, op := range []string{"Hash", "Verify"} {
		t.Run(op, func(t *testing.T) {
			g := newGate()
			b := bound(g, 1, time.Hour)
			timeout := make(chan time.Time)
			b.after = func(d time.Duration) <-chan time.Time {
				if d != time.Hour {
					t.Errorf("waited %s, want the configured hour", d)
				}
				return timeout
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				if _, err := b.Hash("first"); err != nil {
					t.Errorf("first call: %v", err)
				}
			}()
			<-g.entered // the only slot is taken

			second := make(chan error, 1)
			go func() {
				var err error
				if op == "Hash" {
					_, err = b.Hash("second")
				} else {
					_, err = b.Verify("second", "x")
				}
				second <- err
			}()
			close(timeout) // the queue timeout passes before the slot frees
			if err := <-second; !errors.Is(err, ErrBusy) {
				t.Fatalf("second call: %v, want ErrBusy", err)
			}
			if n := g.count(); n != 1 {
				t.Fatalf("%d hashings ran, want 1: a refused call must not hash", n)
			}
			close(g.release)
			<-done
			// The slot is free again.
			if _, err := b.Verify("third", "x"); err != nil {
				t.Fatalf("after release: %v", err)
			}
		})
	}
}

func TestBoundedWaitsForItsTurn(t *testing.T) {
	g := newGate()
	b := bound(g, 2, time.Hour)
	b.after = func(time.Duration) <-chan time.Time { return nil } // never times out
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.Verify("p", "x"); err != nil {
				t.Errorf("Verify: %v", err)
			}
		}()
	}
	<-g.entered
	<-g.entered
	select {
	case <-g.entered:
		t.Fatal("a third hashing ran beside two with a bound of 2")
	default:
	}
	if got := len(b.slots); got != 2 {
		t.Fatalf("%d slots taken, want 2", got)
	}
	close(g.release)
	wg.Wait()
	if n := g.count(); n != 5 {
		t.Fatalf("%d hashings ran, want 5", n)
	}
}

func TestBoundedDefaults(t *testing.T) {
	b := bound(NewArgon2(Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}), 0, 0)
	if cap(b.slots) < 1 {
		t.Fatalf("max 0 gave %d slots, want the number of CPUs", cap(b.slots))
	}
	enc, err := b.Hash("a password long enough")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Verify("a password long enough", enc); err != nil || !ok {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
	// wait 0: a full bound refuses at once.
	b = bound(newGate(), 1, 0)
	b.slots <- struct{}{}
	if _, err := b.Hash("x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("full bound without waiting: %v", err)
	}
}
