package server

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
	"github.com/lanyardhq/lanyard/internal/store/sqlite"
)

// TestPurgeLoop drives the background purge with its own ticks and clock: a personal access
// token is deleted at the first tick after it expired, an expired key stays, and the loop stops
// when its context ends.
func TestPurgeLoop(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	exp := t0.Add(time.Hour)
	if err := st.CreateUser(ctx, store.User{ID: "u1", Email: "ann@example.com", CreatedAt: t0, UpdatedAt: t0}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	pat := store.Token{ID: "p1", Kind: store.KindPersonal, UserID: "u1", Hash: store.Hash{1}, ExpiresAt: &exp, CreatedAt: t0}
	if err := st.CreateToken(ctx, pat, store.Event{}); err != nil {
		t.Fatal(err)
	}
	key := store.Key{ID: "k1", Format: store.FormatToken, Owner: "u1", ExpiresAt: &exp, CreatedAt: t0}
	if err := st.CreateKey(ctx, key, store.Secret{Hash: store.Hash{2}, CreatedAt: t0}, nil, store.Event{}); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	clock := t0
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	tick := make(chan time.Time) // unbuffered: a send returns once the loop waits for the next
	loopCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		runPurge(loopCtx, st, now, tick, slog.New(slog.NewTextHandler(t.Output(), nil)))
		close(done)
	}()

	tick <- t0 // received once the purge at start is done
	tick <- t0 // received once the first tick's purge, at t0, is done
	if _, err := st.Resolve(ctx, pat.Hash); err != nil {
		t.Fatalf("before it expired, the token was purged: %v", err)
	}
	mu.Lock()
	clock = exp
	mu.Unlock()
	tick <- exp // received once the purge in flight is done; the next one runs at exp
	tick <- exp // received once that one is done
	if _, err := st.Resolve(ctx, pat.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Resolve(expired token) = %v, want ErrNotFound: it was not purged", err)
	}
	if _, err := st.Resolve(ctx, store.Hash{2}); err != nil {
		t.Errorf("Resolve(expired key) = %v: an expired key stays until deleted", err)
	}
	stop()
	<-done
}
