package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

// purgeInterval is how often expired personal access tokens and admin tokens, and the old
// secrets of reissued keys whose grace has ended, are deleted from the store. They stop working
// at their expiry whatever this says; purging only keeps the store from holding them forever.
const purgeInterval = 5 * time.Minute

// purgeExpired runs store.Store.PurgeExpired as of now() once at once and again every interval
// until ctx ends.
func purgeExpired(ctx context.Context, st store.Store, now func() time.Time, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	runPurge(ctx, st, now, t.C, log)
}

// runPurge is purgeExpired with the ticks given, so tests can drive it: it purges once at once,
// then at each tick, until ctx ends.
func runPurge(ctx context.Context, st store.Store, now func() time.Time, tick <-chan time.Time, log *slog.Logger) {
	for {
		n, err := st.PurgeExpired(ctx, now())
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("purging expired tokens", "error", err)
		case n > 0:
			log.Info("purged expired tokens and key secrets", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
	}
}
