package authn

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store"
)

// failingStore refuses the usage batches while fail is set, and counts what it was given.
type failingStore struct {
	store.Store
	fail  error
	added int
}

func (s *failingStore) TouchKeys(ctx context.Context, used map[string]time.Time) error {
	if s.fail != nil {
		return s.fail
	}
	return s.Store.TouchKeys(ctx, used)
}

func (s *failingStore) AddUsage(ctx context.Context, hours []store.UsageHour) error {
	if s.fail != nil {
		return s.fail
	}
	s.added += len(hours)
	return s.Store.AddUsage(ctx, hours)
}

// TestUsageCounts: every request whose credential resolves to a key counts once in the UTC
// hour it was resolved in, a refusal of it in that same hour; FlushUsage writes them, keeps
// what the store refused for the next flush, and writes nothing twice.
func TestUsageCounts(t *testing.T) {
	start := time.Date(2026, 5, 1, 10, 59, 58, 0, time.UTC)
	h10, h11 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC), time.Date(2026, 5, 1, 11, 0, 0, 0, time.UTC)
	// A step of a case: move the clock by, then resolve (and refuse, and flush).
	type step struct {
		by               time.Duration
		resolve, refuse  bool
		refuseFirst      bool // refuse the first request of the case instead of this one
		flush, storeDown bool
	}
	tests := []struct {
		name     string
		steps    []step
		want     []store.UsageHour
		lastUsed time.Time
	}{
		{"requests of one hour", []step{{resolve: true}, {resolve: true}, {resolve: true}},
			[]store.UsageHour{{KeyID: "k1", Hour: h10, Requests: 3}}, start},
		{"a refusal counts with its request", []step{{resolve: true, refuse: true}, {resolve: true}},
			[]store.UsageHour{{KeyID: "k1", Hour: h10, Requests: 2, Refusals: 1}}, start},
		{"a new hour has counts of its own", []step{{resolve: true}, {by: 3 * time.Second, resolve: true, refuse: true}},
			[]store.UsageHour{{KeyID: "k1", Hour: h10, Requests: 1}, {KeyID: "k1", Hour: h11, Requests: 1, Refusals: 1}}, start.Add(3 * time.Second)},
		{"a refusal known after the hour turned counts in its request's hour", []step{{resolve: true}, {by: 3 * time.Second, resolve: true}, {refuseFirst: true}},
			[]store.UsageHour{{KeyID: "k1", Hour: h10, Requests: 1, Refusals: 1}, {KeyID: "k1", Hour: h11, Requests: 1}}, start.Add(3 * time.Second)},
		{"a request of the hour before, counted after one of the new hour", []step{{by: 3 * time.Second, resolve: true}, {by: -3 * time.Second, resolve: true, refuse: true}},
			[]store.UsageHour{{KeyID: "k1", Hour: h10, Requests: 1, Refusals: 1}, {KeyID: "k1", Hour: h11, Requests: 1}}, start.Add(3 * time.Second)},
		{"a refusal known after a flush", []step{{resolve: true}, {flush: true}, {refuseFirst: true}},
			[]store.UsageHour{{KeyID: "k1", Hour: h10, Requests: 1, Refusals: 1}}, start},
		{"counts the store refused are written by the next flush, once", []step{{resolve: true}, {storeDown: true, flush: true}, {resolve: true, refuse: true}, {flush: true}, {flush: true}},
			[]store.UsageHour{{KeyID: "k1", Hour: h10, Requests: 2, Refusals: 1}}, start},
		{"across an hour the store refused", []step{{resolve: true}, {by: time.Hour, storeDown: true, flush: true}, {resolve: true}},
			[]store.UsageHour{{KeyID: "k1", Hour: h10, Requests: 1}, {KeyID: "k1", Hour: h11, Requests: 1}}, start.Add(time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.now = start
			st := &failingStore{Store: f.st}
			r := NewResolver(st, testPrefixes, func() time.Time { return f.now })
			p := Presented{Source: SourceBearer, Token: f.key(t, "k1", store.FormatToken, nil)}
			var first *Identity
			for _, s := range tt.steps {
				f.now = f.now.Add(s.by)
				if s.resolve {
					id, err := r.Resolve(t.Context(), p)
					if err != nil {
						t.Fatal(err)
					}
					if first == nil {
						first = &id
					}
					if s.refuse {
						r.CountRefusal(&id)
					}
				}
				if s.refuseFirst {
					r.CountRefusal(first)
				}
				if s.flush {
					st.fail = nil
					if s.storeDown {
						st.fail = store.ErrUnavailable
					}
					if err := r.FlushUsage(t.Context()); (err != nil) != s.storeDown {
						t.Fatalf("FlushUsage: %v", err)
					}
					st.fail = nil
				}
			}
			if err := r.FlushUsage(t.Context()); err != nil {
				t.Fatal(err)
			}
			got, err := f.st.UsageOf(t.Context(), "k1", h10.Add(-time.Hour), h11.Add(2*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("usage = %+v, want %+v", got, tt.want)
			}
			k, err := f.st.GetKey(t.Context(), "k1")
			if err != nil || k.LastUsedAt == nil || !k.LastUsedAt.Equal(tt.lastUsed) {
				t.Errorf("last_used_at = %v (%v), want %v", k.LastUsedAt, err, tt.lastUsed)
			}
		})
	}
}

// TestOnlyKeysCount: other credentials, and identities Resolve did not make, count nothing.
func TestOnlyKeysCount(t *testing.T) {
	f := newFixture(t)
	st := &failingStore{Store: f.st}
	r := NewResolver(st, testPrefixes, func() time.Time { return f.now })
	personal, _ := credential.Generate("lp")
	if err := f.st.CreateToken(t.Context(), store.Token{ID: "t1", Kind: store.KindPersonal, UserID: "u1", Hash: credential.Hash(personal)}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	f.key(t, "k1", store.FormatToken, nil)
	id, err := r.Resolve(t.Context(), Presented{Source: SourceBearer, Token: personal})
	if err != nil {
		t.Fatal(err)
	}
	acting, err := r.Acting(t.Context(), "key:k1")
	if err != nil || acting == nil {
		t.Fatalf("Acting(key:k1) = %v, %v", acting, err)
	}
	for _, id := range []*Identity{&id, acting, {Type: TypeKey, ID: "k1"}, {Type: TypeSession, ID: "s1", UserID: "u1"}, nil} {
		r.CountRefusal(id)
	}
	if err := r.FlushUsage(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st.added != 0 {
		t.Errorf("%d usage hours were written, want none", st.added)
	}
}

// TestUsageIsBounded: counts that wait beside the keys' entries (hours ended while the store
// refused them) are bounded; what finds them full is reported, not kept.
func TestUsageIsBounded(t *testing.T) {
	f := newFixture(t)
	st := &failingStore{Store: f.st, fail: store.ErrUnavailable}
	r := NewResolver(st, testPrefixes, func() time.Time { return f.now })
	p := Presented{Source: SourceBearer, Token: f.key(t, "k1", store.FormatToken, nil)}
	r.mu.Lock()
	for range maxEnded {
		r.keepEnded("k1", hourOf(f.now.Add(-time.Hour)), 1, 0)
	}
	r.mu.Unlock()
	for i := range 3 {
		if i > 0 {
			f.now = f.now.Add(time.Hour) // the hour before ends with one request
		}
		if _, err := r.Resolve(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	err := r.FlushUsage(t.Context())
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "2 requests and refusals of keys were not counted") {
		t.Errorf("FlushUsage = %v; want the store's error and the 2 requests that found the waiting counts full", err)
	}
	if len(r.ended) != maxEnded {
		t.Errorf("%d counts wait, want at most %d", len(r.ended), maxEnded)
	}
}

// TestCountingAllocatesNothing: counting a request and a refusal of a key already in use since
// the last flush allocates nothing.
func TestCountingAllocatesNothing(t *testing.T) {
	f := newFixture(t)
	p := Presented{Source: SourceBearer, Token: f.key(t, "k1", store.FormatToken, nil)}
	ctx := t.Context()
	id, err := f.r.Resolve(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(200, func() {
		id, _ = f.r.Resolve(ctx, p)
		f.r.CountRefusal(&id)
	}); n != 0 {
		t.Errorf("counting a refused request allocates %v times", n)
	}
}
