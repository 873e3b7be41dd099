package storetest

import (
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/lanyardhq/lanyard/internal/store"
)

// nodeIDs lists the ids of ns, in order.
func nodeIDs(ns []store.Node) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.ID)
	}
	return out
}

func listNodes(t *testing.T, s store.Store, since int) []store.Node {
	t.Helper()
	ns, err := s.ListNodes(t.Context(), at(since))
	if err != nil {
		t.Fatalf("ListNodes(at(%d)): %v", since, err)
	}
	return ns
}

func testNodes(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	ctx := t.Context()
	if ns := listNodes(t, s, -1000); len(ns) != 0 {
		t.Fatalf("a new store lists nodes %v", nodeIDs(ns))
	}
	beat := func(n store.Node) {
		t.Helper()
		if err := s.Heartbeat(ctx, n); err != nil {
			t.Fatalf("Heartbeat(%s): %v", n.ID, err)
		}
	}
	beat(store.Node{ID: "b:8080", StartedAt: at(0), LastSeenAt: at(20), Applied: 7})
	beat(store.Node{ID: "a:8080", StartedAt: at(0), LastSeenAt: at(10)})
	ns := listNodes(t, s, 0)
	sameOrder(t, "ListNodes", nodeIDs(ns), []string{"a:8080", "b:8080"})
	if len(ns) == 2 {
		b := ns[1]
		checkTime(t, "b StartedAt", b.StartedAt, sec(at(0)))
		checkTime(t, "b LastSeenAt", b.LastSeenAt, sec(at(20)))
		if b.Applied != 7 {
			t.Errorf("b Applied = %d, want 7", b.Applied)
		}
	}
	// since is inclusive, to the second.
	sameOrder(t, "ListNodes(since at(20))", nodeIDs(listNodes(t, s, 20)), []string{"b:8080"})
	sameOrder(t, "ListNodes(since at(21))", nodeIDs(listNodes(t, s, 21)), nil)

	// A heartbeat replaces the row: a restarted node has a new StartedAt.
	beat(store.Node{ID: "a:8080", StartedAt: at(25), LastSeenAt: at(30), Applied: 9})
	ns = listNodes(t, s, 25)
	sameOrder(t, "ListNodes after a's heartbeat", nodeIDs(ns), []string{"a:8080"})
	if len(ns) == 1 {
		checkTime(t, "a StartedAt", ns[0].StartedAt, sec(at(25)))
		checkTime(t, "a LastSeenAt", ns[0].LastSeenAt, sec(at(30)))
		if ns[0].Applied != 9 {
			t.Errorf("a Applied = %d, want 9", ns[0].Applied)
		}
	}

	wantErr(t, "Heartbeat without an id", s.Heartbeat(ctx, store.Node{LastSeenAt: at(0)}), store.ErrInvalid)

	n, err := s.DeleteNodes(ctx, at(25))
	if err != nil || n != 1 {
		t.Errorf("DeleteNodes(at(25)) = %d, %v; want 1 (b)", n, err)
	}
	sameOrder(t, "ListNodes after DeleteNodes", nodeIDs(listNodes(t, s, -1000)), []string{"a:8080"})
}

// sameOrder fails unless got and want hold the same strings in the same order.
func sameOrder(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) || (len(got) > 0 && !reflect.DeepEqual(got, want)) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func appendRevocation(t *testing.T, s store.Store, r store.Revocation) int64 {
	t.Helper()
	seq, err := s.AppendRevocation(t.Context(), r)
	if err != nil {
		t.Fatalf("AppendRevocation: %v", err)
	}
	return seq
}

func revocations(t *testing.T, s store.Store, after int64, limit int) []store.Revocation {
	t.Helper()
	rs, err := s.Revocations(t.Context(), after, limit)
	if err != nil {
		t.Fatalf("Revocations(%d, %d): %v", after, limit, err)
	}
	return rs
}

func seqs(rs []store.Revocation) []int64 {
	var out []int64
	for _, r := range rs {
		out = append(out, r.Seq)
	}
	return out
}

func lastRevocation(t *testing.T, s store.Store) int64 {
	t.Helper()
	seq, err := s.LastRevocation(t.Context())
	if err != nil {
		t.Fatalf("LastRevocation: %v", err)
	}
	return seq
}

func testRevocationLog(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	ctx := t.Context()
	if seq := lastRevocation(t, s); seq != 0 {
		t.Errorf("LastRevocation of a new store = %d, want 0", seq)
	}
	if rs := revocations(t, s, 0, 10); len(rs) != 0 {
		t.Errorf("a new store's log holds %v", seqs(rs))
	}
	full := store.Revoked{
		Resources: []string{"org/acme"}, KeyIDs: []string{"k1", "k2"}, TokenIDs: []string{"t1"},
		UserIDs: []string{"u1"}, Hashes: []store.Hash{hash("a"), hash("b")}, ScopedIDs: []string{"s1"},
	}
	want := []store.Revocation{
		{At: at(0), Node: "a:8080", Revoked: full},
		{At: at(1), Node: "b:8080"}, // a grant removed: nothing but "clear the tree"
		{At: at(2), Node: "a:8080", Revoked: store.Revoked{KeyIDs: []string{"k3"}}},
	}
	for i := range want {
		r := want[i]
		r.Seq = 999 // ignored
		want[i].Seq = appendRevocation(t, s, r)
		want[i].At = sec(want[i].At)
		if i > 0 && want[i].Seq <= want[i-1].Seq {
			t.Fatalf("seq %d after seq %d", want[i].Seq, want[i-1].Seq)
		}
	}
	got := revocations(t, s, 0, 0)
	if len(got) != len(want) {
		t.Fatalf("Revocations(0) = %v, want %v", seqs(got), seqs(want))
	}
	for i := range got {
		checkTime(t, fmt.Sprintf("entry %d At", i), got[i].At, want[i].At)
		got[i].At = want[i].At
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if rs := revocations(t, s, want[0].Seq, 1); !reflect.DeepEqual(seqs(rs), []int64{want[1].Seq}) {
		t.Errorf("Revocations(after %d, limit 1) = %v, want [%d]", want[0].Seq, seqs(rs), want[1].Seq)
	}
	if rs := revocations(t, s, want[2].Seq, 10); len(rs) != 0 {
		t.Errorf("Revocations after the newest = %v", seqs(rs))
	}
	if seq := lastRevocation(t, s); seq != want[2].Seq {
		t.Errorf("LastRevocation = %d, want %d", seq, want[2].Seq)
	}

	// Trimming keeps what is not old enough, and always the newest entry.
	n, err := s.TrimRevocations(ctx, at(1))
	if err != nil || n != 1 {
		t.Errorf("TrimRevocations(at(1)) = %d, %v; want 1", n, err)
	}
	if rs := revocations(t, s, 0, 0); !reflect.DeepEqual(seqs(rs), []int64{want[1].Seq, want[2].Seq}) {
		t.Errorf("after trimming the first: %v", seqs(rs))
	}
	n, err = s.TrimRevocations(ctx, at(1000))
	if err != nil || n != 1 {
		t.Errorf("TrimRevocations(at(1000)) = %d, %v; want 1", n, err)
	}
	if rs := revocations(t, s, 0, 0); !reflect.DeepEqual(seqs(rs), []int64{want[2].Seq}) {
		t.Errorf("after trimming everything old: %v, want the newest %d kept", seqs(rs), want[2].Seq)
	}
	if seq := lastRevocation(t, s); seq != want[2].Seq {
		t.Errorf("LastRevocation after trimming = %d, want %d", seq, want[2].Seq)
	}
	// A seq is never given twice.
	if seq := appendRevocation(t, s, store.Revocation{At: at(3), Node: "a:8080"}); seq <= want[2].Seq {
		t.Errorf("seq %d after trimming, want more than %d", seq, want[2].Seq)
	}
}

// testRevocationTail: a reader that follows the log by seq while several writers append finds
// every entry exactly once, in order — seqs become visible in the order they were given.
func testRevocationTail(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	const writers, each = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r := store.Revocation{At: at(i), Node: fmt.Sprintf("n%d", w), Revoked: store.Revoked{KeyIDs: []string{fmt.Sprintf("k%d-%d", w, i)}}}
				if _, err := s.AppendRevocation(t.Context(), r); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var seen []store.Revocation
	var after int64
	for finished := false; ; {
		select {
		case <-done:
			finished = true
		default:
		}
		rs, err := s.Revocations(t.Context(), after, 7)
		if err != nil {
			t.Fatalf("Revocations: %v", err)
		}
		for _, r := range rs {
			if r.Seq <= after {
				t.Fatalf("entry %d after %d", r.Seq, after)
			}
			after = r.Seq
		}
		seen = append(seen, rs...)
		if finished && len(rs) == 0 {
			break
		}
	}
	close(errs)
	for err := range errs {
		t.Fatalf("AppendRevocation: %v", err)
	}
	all := revocations(t, s, 0, writers*each+10)
	if len(all) != writers*each {
		t.Fatalf("the log holds %d entries, want %d", len(all), writers*each)
	}
	if !reflect.DeepEqual(seqs(seen), seqs(all)) {
		t.Errorf("the reader saw %d entries %v,\nthe log holds %v", len(seen), seqs(seen), seqs(all))
	}
}
