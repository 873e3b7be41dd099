package fanout

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
	"github.com/lanyardhq/lanyard/internal/store/sqlite"
)

// flaky is a real store whose revocation log can be made unreachable.
type flaky struct {
	store.Store
	down atomic.Bool
}

func (s *flaky) AppendRevocation(ctx context.Context, r store.Revocation) (int64, error) {
	if s.down.Load() {
		return 0, store.ErrUnavailable
	}
	return s.Store.AppendRevocation(ctx, r)
}

func (s *flaky) Revocations(ctx context.Context, after int64, limit int) ([]store.Revocation, error) {
	if s.down.Load() {
		return nil, store.ErrUnavailable
	}
	return s.Store.Revocations(ctx, after, limit)
}

func newStore(t *testing.T) store.Store {
	t.Helper()
	db, err := sqlite.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// node is a Fanout under test and what its cache was told to forget.
type node struct {
	*Fanout
	forgot chan store.Revoked
	stop   func()
}

// startNode registers and runs the node id over st until the test ends (or stop is called).
func startNode(t *testing.T, st store.Store, id string, bound time.Duration) *node {
	t.Helper()
	n := &node{forgot: make(chan store.Revoked, 100)}
	n.Fanout = New(Options{Store: st, ID: id, Bound: bound, Poll: 5 * time.Millisecond,
		Forget: func(r store.Revoked) { n.forgot <- r }})
	if err := n.Register(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	n.stop = func() { cancel(); <-done }
	t.Cleanup(n.stop)
	return n
}

// forgotten returns what n was told to forget next, failing after a generous while.
func (n *node) forgotten(t *testing.T) store.Revoked {
	t.Helper()
	select {
	case r := <-n.forgot:
		return r
	case <-time.After(10 * time.Second):
		t.Fatalf("node %s forgot nothing", n.ID())
		return store.Revoked{}
	}
}

func liveIDs(t *testing.T, n *node) []string {
	t.Helper()
	ns, err := n.Live(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, x := range ns {
		ids = append(ids, x.ID)
	}
	return ids
}

func TestRevocationReachesTheOtherNodes(t *testing.T) {
	st := newStore(t)
	a := startNode(t, st, "a:1", time.Minute)
	b := startNode(t, st, "b:1", time.Minute)
	c := startNode(t, st, "c:1", time.Minute)
	if got := liveIDs(t, a); !slices.Equal(got, []string{"a:1", "b:1", "c:1"}) {
		t.Fatalf("live nodes %q, want all three", got)
	}
	a.Publish(t.Context(), store.Revoked{KeyIDs: []string{"k1"}})
	for _, n := range []*node{b, c} {
		if r := n.forgotten(t); !slices.Equal(r.KeyIDs, []string{"k1"}) {
			t.Errorf("node %s forgot %+v, want k1", n.ID(), r)
		}
	}
	// The wait sees both confirm; the node that made the change never forgets its own.
	if lagging, ok := a.Wait(t.Context()); !ok || len(lagging) != 0 {
		t.Errorf("Wait = %q, %v; want every node confirmed", lagging, ok)
	}
	select {
	case r := <-a.forgot:
		t.Errorf("node a was told to forget its own revocation %+v", r)
	default:
	}
}

func TestLoneNodeWaitsForNothing(t *testing.T) {
	a := startNode(t, newStore(t), "a:1", time.Hour)
	a.Publish(t.Context(), store.Revoked{KeyIDs: []string{"k1"}})
	if lagging, ok := a.Wait(t.Context()); !ok || lagging != nil {
		t.Errorf("Wait = %q, %v; want at once", lagging, ok)
	}
}

// TestWaitNamesTheLaggingNodes: a node that is live but never reads the log is named at the
// bound; one that stopped gracefully is not waited for.
func TestWaitNamesTheLaggingNodes(t *testing.T) {
	st := newStore(t)
	a := startNode(t, st, "a:1", 200*time.Millisecond)
	b := startNode(t, st, "b:1", 200*time.Millisecond)
	if err := st.Heartbeat(t.Context(), store.Node{ID: "ghost:1", StartedAt: time.Now(), LastSeenAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	a.Publish(t.Context(), store.Revoked{KeyIDs: []string{"k1"}})
	start := time.Now()
	lagging, ok := a.Wait(t.Context())
	if ok || !slices.Equal(lagging, []string{"ghost:1"}) {
		t.Errorf("Wait = %q, %v; want ghost:1 lagging", lagging, ok)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("Wait answered after %v, before the bound", d)
	}
	b.forgotten(t)

	// A node that stops is no longer live at once.
	b.stop()
	if got := liveIDs(t, a); !slices.Equal(got, []string{"a:1", "ghost:1"}) {
		t.Errorf("after b stopped, live nodes %q", got)
	}
}

// TestTailerResumesByItself: while the log cannot be reached, a revocation that could not be
// appended is kept and the wait names every other node; once it can, the entry is appended, the
// other node's tailer catches up without help, and the wait is answered.
func TestTailerResumesByItself(t *testing.T) {
	st := &flaky{Store: newStore(t)}
	a := startNode(t, st, "a:1", time.Minute)
	b := startNode(t, st, "b:1", time.Minute)
	st.down.Store(true)
	a.Publish(t.Context(), store.Revoked{KeyIDs: []string{"k1"}})
	if n := a.pendingCount(); n != 1 {
		t.Fatalf("%d entries pending, want 1", n)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	lagging, ok := a.Wait(ctx)
	cancel()
	if ok || !slices.Equal(lagging, []string{"b:1"}) {
		t.Errorf("with the log down, Wait = %q, %v; want b:1 lagging", lagging, ok)
	}
	st.down.Store(false)
	if r := b.forgotten(t); !slices.Equal(r.KeyIDs, []string{"k1"}) {
		t.Errorf("b forgot %+v, want k1", r)
	}
	if lagging, ok := a.Wait(t.Context()); !ok {
		t.Errorf("after recovery, Wait = %q, %v", lagging, ok)
	}
}

// TestPendingEntriesExpireWithTheBound: an entry that could not be appended within the bound is
// dropped: by then every cache has forgotten what it names.
func TestPendingEntriesExpireWithTheBound(t *testing.T) {
	st := &flaky{Store: newStore(t)}
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	f := New(Options{Store: st, ID: "a:1", Bound: time.Second, Now: func() time.Time { return now }})
	if err := f.Register(t.Context()); err != nil {
		t.Fatal(err)
	}
	st.down.Store(true)
	f.Publish(t.Context(), store.Revoked{KeyIDs: []string{"k1"}})
	if err := f.flush(t.Context()); err == nil {
		t.Fatal("flush with the log down: no error")
	}
	if n := f.pendingCount(); n != 1 {
		t.Fatalf("within the bound, %d entries pending, want 1", n)
	}
	now = now.Add(2 * time.Second)
	if err := f.flush(t.Context()); err != nil {
		t.Fatalf("flush past the bound: %v", err)
	}
	if n := f.pendingCount(); n != 0 {
		t.Fatalf("past the bound, %d entries pending, want 0", n)
	}
}

func TestTrim(t *testing.T) {
	st := newStore(t)
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	f := New(Options{Store: st, ID: "a:1", Now: func() time.Time { return now }})
	if err := f.Register(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := st.Heartbeat(t.Context(), store.Node{ID: "gone:1", StartedAt: now, LastSeenAt: now}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		f.Publish(t.Context(), store.Revoked{KeyIDs: []string{"k1"}})
	}
	if err := f.flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	now = now.Add(KeepNodes + time.Second)
	f.Publish(t.Context(), store.Revoked{KeyIDs: []string{"k2"}})
	if err := f.flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := f.heartbeat(t.Context(), now); err != nil {
		t.Fatal(err)
	}
	if err := f.trim(t.Context()); err != nil {
		t.Fatal(err)
	}
	es, err := st.Revocations(t.Context(), 0, 0)
	if err != nil || len(es) != 1 || es[0].Revoked.KeyIDs[0] != "k2" {
		t.Errorf("after trimming, the log holds %+v, %v; want the newest entry", es, err)
	}
	ns, err := st.ListNodes(t.Context(), time.Time{})
	if err != nil || len(ns) != 1 || ns[0].ID != "a:1" {
		t.Errorf("after trimming, nodes %+v, %v; want a:1 alone", ns, err)
	}
}

func TestRegisterFailsWithoutAStore(t *testing.T) {
	st := &flaky{Store: newStore(t)}
	st.Store.Close()
	f := New(Options{Store: st, ID: "a:1"})
	if err := f.Register(t.Context()); err == nil {
		t.Fatal("Register on a closed store: no error")
	} else if errors.Is(err, context.Canceled) {
		t.Fatalf("Register: %v", err)
	}
}
