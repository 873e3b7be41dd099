package server

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lanyardhq/lanyard/internal/api"
	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/store"
)

// The waits between attempts to reach the store of a node that started without it: doubling
// from storeRetryMin up to storeRetryMax, the second half of each random so that nodes started
// together do not knock in step.
const (
	storeRetryMin = 100 * time.Millisecond
	storeRetryMax = 2 * time.Second
)

// waitsForStore reports whether a node whose build failed with err waits for its store rather
// than exiting: only a PostgreSQL store that could not be reached (store.ErrUnavailable; a
// database that is down, restarting or refusing connections) — the one a node shares with
// others and that comes back by itself. A SQLite directory that cannot be opened, a URL that
// does not parse or a schema newer than this build are mistakes a retry cannot mend.
func waitsForStore(cfg *config.Config, err error) bool {
	return isPostgres(cfg.Server.Store) && errors.Is(err, store.ErrUnavailable)
}

func isPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// unavailableAPI answers while the node waits for its store (api.Unavailable): 503 to
// everything, /healthz included — a node answers /healthz 200 only once it is listed among the
// nodes (CONTRACT §11.53), and the list is in the store.
func unavailableAPI(cfg *config.Config, log *slog.Logger) http.Handler {
	return api.Unavailable(api.Options{Logger: log, Prefix: cfg.API.Prefix, Envelope: cfg.API.Envelope, TrustedProxies: cfg.Server.TrustedPrefixes()})
}

// waitForStore builds the node again and again, after a growing wait, until it is built, the
// error is one no wait mends, ctx ends (ctx.Err()), or the server stops serving (its error).
// Each failure is logged with the store's URL redacted (OpenStore's errors never hold a
// password).
func waitForStore(ctx context.Context, o Options, id string, log *slog.Logger, serveErr <-chan error) (*node, error) {
	wait := storeRetryMin
	for attempt := 2; ; attempt++ {
		d := wait/2 + rand.N(wait/2+1)
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case err := <-serveErr:
			timer.Stop()
			return nil, err
		case <-timer.C:
		}
		wait = min(2*wait, storeRetryMax)
		n, err := build(ctx, o, id, log)
		if err == nil {
			log.Info("the store answers: lanyard serves", "attempt", attempt)
			return n, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !waitsForStore(o.Config, err) {
			return nil, err
		}
		log.Warn("the store does not answer yet; trying again", "attempt", attempt, "error", err.Error())
	}
}

// swapHandler serves with one handler until set replaces it: the unavailable API while a node
// waits for its store, then the node's own.
type swapHandler struct{ h atomic.Pointer[http.Handler] }

func newSwapHandler(h http.Handler) *swapHandler {
	s := &swapHandler{}
	s.set(h)
	return s
}

func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}
