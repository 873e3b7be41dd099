package cache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store"
	"github.com/lanyardhq/lanyard/internal/store/sqlite"
)

// counting is a real store that counts Resolve calls and can hold one until released.
type counting struct {
	store.Store
	calls atomic.Int64
	// When hold is non-nil, Resolve signals read once it has read the store, then waits for
	// hold to close.
	hold chan struct{}
	read chan struct{}
}

func (c *counting) Resolve(ctx context.Context, h store.Hash) (store.Resolved, error) {
	c.calls.Add(1)
	res, err := c.Store.Resolve(ctx, h)
	if c.hold != nil {
		close(c.read)
		<-c.hold
	}
	return res, err
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func setup(t *testing.T, opts Options) (*Store, *counting, *clock) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	opts.Now = clk.now
	cnt := &counting{Store: db}
	return New(cnt, opts), cnt, clk
}

func newKey(t *testing.T, c *Store, id, owner string) store.Hash {
	t.Helper()
	ctx := t.Context()
	if owner != "" {
		if _, err := c.GetUser(ctx, owner); errors.Is(err, store.ErrNotFound) {
			if err := c.CreateUser(ctx, store.User{ID: owner, Email: owner + "@example.com", EmailNorm: owner + "@example.com"}, store.Event{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	tok, err := credential.Generate("lk")
	if err != nil {
		t.Fatal(err)
	}
	h := credential.Hash(tok)
	k := store.Key{ID: id, Name: id, Format: store.FormatToken, Owner: owner}
	if err := c.CreateKey(ctx, k, store.Secret{Hash: h, Kind: store.KindKeyToken, ID: id}, nil, store.Event{}); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestKnownKeyTouchesTheStoreOnce(t *testing.T) {
	c, cnt, _ := setup(t, Options{TTL: time.Minute})
	h := newKey(t, c, "k1", "u1")
	for i := 0; i < 5; i++ {
		res, err := c.Resolve(t.Context(), h)
		if err != nil || res.Key == nil || res.Key.ID != "k1" {
			t.Fatalf("Resolve = %+v, %v", res, err)
		}
	}
	if n := cnt.calls.Load(); n != 1 {
		t.Fatalf("store asked %d times, want 1", n)
	}
}

func TestRevokingWritesClearTheEntryAtOnce(t *testing.T) {
	tests := []struct {
		name   string
		revoke func(t *testing.T, c *Store)
	}{
		{"DeleteKey", func(t *testing.T, c *Store) {
			if _, err := c.DeleteKey(t.Context(), "k1", store.Event{}); err != nil {
				t.Fatal(err)
			}
		}},
		{"DeleteKeys by owner", func(t *testing.T, c *Store) {
			if _, err := c.DeleteKeys(t.Context(), store.KeyFilter{Owner: "u1"}, store.Event{}); err != nil {
				t.Fatal(err)
			}
		}},
		{"DeleteUser", func(t *testing.T, c *Store) {
			if _, err := c.DeleteUser(t.Context(), "u1", store.Event{}); err != nil {
				t.Fatal(err)
			}
		}},
		{"ReissueKey", func(t *testing.T, c *Store) {
			tok, _ := credential.Generate("lk")
			s := store.Secret{Hash: credential.Hash(tok), Kind: store.KindKeyToken, ID: "k1"}
			if _, _, err := c.ReissueKey(t.Context(), "k1", s, time.Time{}, store.Event{}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, _ := setup(t, Options{TTL: time.Hour})
			h := newKey(t, c, "k1", "u1")
			if _, err := c.Resolve(t.Context(), h); err != nil {
				t.Fatal(err)
			}
			tt.revoke(t, c)
			if _, err := c.Resolve(t.Context(), h); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("after %s, Resolve = %v, want ErrNotFound", tt.name, err)
			}
		})
	}
}

// TestBootstrapReplacementIsSeenAtOnce: once ReplaceBootstrap (or ResetBootstrap) returns, the
// old bootstrap token is refused and the new one works, even when the old one was cached and
// the new one remembered as unknown.
func TestBootstrapReplacementIsSeenAtOnce(t *testing.T) {
	for _, name := range []string{"ReplaceBootstrap", "ResetBootstrap"} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			c, _, _ := setup(t, Options{TTL: time.Hour, NegativeTTL: time.Hour})
			old, fresh := credential.Hash("the-first-bootstrap-token-0123456789"), credential.Hash("the-second-bootstrap-token-0123456789")
			if _, err := c.InitBootstrap(ctx, store.Token{ID: "bootstrap", Kind: store.KindBootstrap, Hash: old}, store.Event{}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Resolve(ctx, old); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Resolve(ctx, fresh); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("the second token before the change: %v", err)
			}
			tok := store.Token{ID: "bootstrap", Kind: store.KindBootstrap, Hash: fresh}
			var err error
			if name == "ReplaceBootstrap" {
				_, err = c.ReplaceBootstrap(ctx, tok, store.Event{})
			} else {
				_, err = c.ResetBootstrap(ctx, tok, store.Event{})
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Resolve(ctx, old); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("the old bootstrap token after %s: %v, want ErrNotFound", name, err)
			}
			if res, err := c.Resolve(ctx, fresh); err != nil || res.Secret.Kind != store.KindBootstrap {
				t.Errorf("the new bootstrap token after %s: %+v, %v", name, res.Secret, err)
			}
		})
	}
}

func TestUpdateKeyRefreshesTheEntry(t *testing.T) {
	c, _, _ := setup(t, Options{TTL: time.Hour})
	h := newKey(t, c, "k1", "u1")
	if _, err := c.Resolve(t.Context(), h); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateKey(t.Context(), "k1", func(k *store.Key) error {
		k.AllowedCIDRs = []string{"10.0.0.0/8"}
		return nil
	}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Resolve(t.Context(), h)
	if err != nil || len(res.Key.AllowedCIDRs) != 1 {
		t.Fatalf("after UpdateKey, Resolve = %+v, %v", res.Key, err)
	}
}

func TestNegativeCache(t *testing.T) {
	c, cnt, clk := setup(t, Options{NegativeTTL: 2 * time.Second})
	unknown := credential.Hash("lk_nothing")
	for i := 0; i < 10; i++ {
		if _, err := c.Resolve(t.Context(), unknown); !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
	}
	if n := cnt.calls.Load(); n != 1 {
		t.Fatalf("a flood of one unknown hash asked the store %d times, want 1", n)
	}
	clk.add(3 * time.Second)
	_, _ = c.Resolve(t.Context(), unknown)
	if n := cnt.calls.Load(); n != 2 {
		t.Fatalf("after the negative TTL the store was asked %d times in all, want 2", n)
	}
}

func TestPositiveEntriesLiveAtMostTheTTL(t *testing.T) {
	c, cnt, clk := setup(t, Options{TTL: time.Second})
	h := newKey(t, c, "k1", "")
	_, _ = c.Resolve(t.Context(), h)
	clk.add(1500 * time.Millisecond)
	_, _ = c.Resolve(t.Context(), h)
	if n := cnt.calls.Load(); n != 2 {
		t.Fatalf("store asked %d times, want 2 (the entry outlived its TTL)", n)
	}
}

func TestSizeIsBounded(t *testing.T) {
	c, _, _ := setup(t, Options{Size: 3, NegativeTTL: time.Hour})
	for i := 0; i < 10; i++ {
		_, _ = c.Resolve(t.Context(), credential.Hash(string(rune('a'+i))))
	}
	if n := c.Len(); n != 3 {
		t.Fatalf("Len = %d, want 3", n)
	}
}

// TestInvalidationDuringLookupIsNotUndone: a lookup that read the store before a revocation
// and returns after it must not put the revoked credential back into the cache.
func TestInvalidationDuringLookupIsNotUndone(t *testing.T) {
	c, cnt, _ := setup(t, Options{TTL: time.Hour})
	h := newKey(t, c, "k1", "u1")
	cnt.hold, cnt.read = make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = c.Resolve(context.Background(), h) // reads the live key, then waits
	}()
	<-cnt.read // the lookup has read the store
	c.Invalidate(store.Revoked{KeyIDs: []string{"k1"}})
	close(cnt.hold)
	<-done
	cnt.hold = nil
	if n := c.Len(); n != 0 {
		t.Fatalf("the raced lookup filled the cache (%d entries)", n)
	}
}

// TestNegativeCacheOff: cache.negative_ttl: 0 turns the negative cache off, as documented:
// every lookup of an unknown hash asks the store.
func TestNegativeCacheOff(t *testing.T) {
	c, cnt, _ := setup(t, Options{NegativeTTL: 0})
	unknown := credential.Hash("lk_nothing")
	for i := 0; i < 3; i++ {
		if _, err := c.Resolve(t.Context(), unknown); !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
	}
	if n := cnt.calls.Load(); n != 3 {
		t.Fatalf("with the negative cache off the store was asked %d times, want 3", n)
	}
}

// TestPublishHearsRevokingWrites: Options.Publish hears of every write that revoked something
// or took access away, after this node forgot it, and of no write that changed nothing.
func TestPublishHearsRevokingWrites(t *testing.T) {
	type heard struct {
		r store.Revoked
		// stale: inside Publish, this node still resolved the revoked key.
		stale bool
	}
	tests := []struct {
		name  string
		write func(t *testing.T, c *Store) error
		want  []string // what each call published, as "keys=…" (none: nil)
	}{
		{"DeleteKey", func(t *testing.T, c *Store) error {
			_, err := c.DeleteKey(t.Context(), "k1", store.Event{})
			return err
		}, []string{"keys=[k1]"}},
		{"DeleteKey of no key", func(t *testing.T, c *Store) error {
			_, err := c.DeleteKey(t.Context(), "nope", store.Event{})
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("DeleteKey(nope) = %v", err)
			}
			return nil
		}, nil},
		{"DeleteUser", func(t *testing.T, c *Store) error {
			_, err := c.DeleteUser(t.Context(), "u1", store.Event{})
			return err
		}, []string{"keys=[k1]"}},
		{"PutGrant", func(t *testing.T, c *Store) error {
			_, err := c.PutGrant(t.Context(), store.Grant{Resource: "organization/acme", Principal: "user:u1", Role: "observer"}, nil, store.Event{})
			return err
		}, []string{"keys=[]"}},
		{"DeleteGrant", func(t *testing.T, c *Store) error {
			return c.DeleteGrant(t.Context(), "organization/acme", "user:u1", nil, store.Event{})
		}, []string{"keys=[]"}},
		{"DeleteGrant of no grant", func(t *testing.T, c *Store) error {
			if err := c.DeleteGrant(t.Context(), "organization/acme", "user:nobody", nil, store.Event{}); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("DeleteGrant(nobody) = %v", err)
			}
			return nil
		}, nil},
		{"DeleteResource", func(t *testing.T, c *Store) error {
			_, err := c.DeleteResource(t.Context(), "organization/acme", nil, store.Event{})
			return err
		}, []string{"keys=[]"}},
		{"CreateKey", func(t *testing.T, c *Store) error {
			newKey(t, c, "k2", "u1")
			return nil
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c *Store
			var got []heard
			var h store.Hash
			c, _, _ = setup(t, Options{TTL: time.Hour, Publish: func(ctx context.Context, r store.Revoked) {
				_, err := c.Resolve(ctx, h)
				got = append(got, heard{r: r, stale: err == nil && slices.Contains(r.KeyIDs, "k1")})
			}})
			h = newKey(t, c, "k1", "u1")
			if err := c.CreateResource(t.Context(), store.Resource{Type: "organization", ID: "acme"}, store.Event{}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.PutGrant(t.Context(), store.Grant{Resource: "organization/acme", Principal: "user:u1", Role: "admin"}, nil, store.Event{}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Resolve(t.Context(), h); err != nil {
				t.Fatal(err)
			}
			got = nil
			if err := tt.write(t, c); err != nil {
				t.Fatal(err)
			}
			var summary []string
			for _, g := range got {
				keys := slices.Compact(slices.Sorted(slices.Values(g.r.KeyIDs)))
				summary = append(summary, fmt.Sprintf("keys=%v", keys))
				if g.stale {
					t.Errorf("Publish was called while this node still resolved k1")
				}
			}
			if !slices.Equal(summary, tt.want) {
				t.Errorf("published %q, want %q", summary, tt.want)
			}
		})
	}
}
