package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lanyardhq/lanyard/internal/api"
	"github.com/lanyardhq/lanyard/internal/audit"
	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/cache"
	"github.com/lanyardhq/lanyard/internal/console"
	"github.com/lanyardhq/lanyard/internal/fanout"
	"github.com/lanyardhq/lanyard/internal/gateway"
	"github.com/lanyardhq/lanyard/internal/store"
)

// node is one lanyard node without its listener: the store and its cache, the node's place
// among the nodes of the store, the API and the console, and the background work. Run serves
// one on a listener; Embed serves one inside another program.
type node struct {
	handler  http.Handler // the console under /console, the API and the gateway elsewhere
	base     store.Store
	st       *cache.Store
	fan      *fanout.Fanout
	api      *api.Handler
	resolver *authn.Resolver
	refusals *audit.Refusals
	cfgFlush time.Duration
	log      *slog.Logger
	now      func() time.Time

	closers []func() error
	// stopBG ends the background work; bg is it.
	stopBG func()
	bg     sync.WaitGroup
}

// build opens the store and makes a node of it, registered under id; close releases it.
func build(ctx context.Context, o Options, id string, log *slog.Logger) (_ *node, err error) {
	cfg := o.Config
	base, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	n := &node{base: base, log: log, now: o.Now, cfgFlush: cfg.Cache.LastUsedFlush, stopBG: func() {}}
	n.closers = append(n.closers, base.Close)
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	// With --redis, one client serves the fan-out's notifications, the login throttle and the
	// refusal counts (the limiter has its own).
	var rdb *redis.Client
	var bus fanout.Bus
	if cfg.Server.Redis != "" {
		if rdb, err = sharedRedis(cfg.Server.Redis); err != nil {
			return nil, err
		}
		n.closers = append(n.closers, rdb.Close)
		bus = fanout.NewRedisBus(rdb, "", log)
	}
	// The node's cache forgets what other nodes revoke, and tells them what this one revokes,
	// through the store's revocation log (internal/fanout), woken by Redis when there is one.
	n.fan = fanout.New(fanout.Options{
		Store:  base,
		ID:     id,
		Forget: func(r store.Revoked) { n.st.Invalidate(r); n.st.ClearTree() },
		Bound:  cfg.Cache.Staleness,
		Now:    o.Now,
		Logger: log,
		Bus:    bus,
	})
	n.st = cache.New(base, cache.Options{
		Size:        cfg.Cache.Size,
		TTL:         cfg.Cache.Staleness,
		NegativeTTL: cfg.Cache.NegativeTTL,
		Now:         o.Now,
		Publish:     n.fan.Publish,
	})
	key, err := base.InstanceKey(ctx)
	if err != nil {
		return nil, err
	}
	if n.api, n.resolver, n.refusals, err = buildAPI(cfg, n.st, key, n.fan, rdb, o, log); err != nil {
		return nil, err
	}
	if o.usageFlush != nil {
		o.usageFlush(n.resolver.FlushUsage)
	}
	if l := n.api.Limits(); l != nil {
		if c, ok := l.Limiter.(interface{ Close() error }); ok {
			n.closers = append(n.closers, c.Close)
		}
	}
	con, err := console.New(console.Options{Config: cfg, API: n.api, Sessions: n.st, Key: key, Logger: log, Now: o.Now})
	if err != nil {
		return nil, err
	}
	n.handler = withConsole(con, n.api)
	// The bootstrap token is made (and a generated one printed) only now that the address is
	// ours: a start that cannot listen leaves the store as it found it, and the next start
	// still prints a token. It writes through the cache, as every change does, so that no
	// entry of a replaced token outlives it.
	if err := ensureBootstrap(ctx, n.st, cfg, o, log); err != nil {
		return nil, err
	}
	// Listed in GET /v1/nodes before the first answer, /healthz included (CONTRACT §11.53).
	if err := n.fan.Register(ctx); err != nil {
		return nil, fmt.Errorf("registering node %s: %w", n.fan.ID(), err)
	}
	return n, nil
}

// start runs the background work: batched writes, purges, the fan-out, the rate limiter's node
// count. It runs until stopBackground, then flushes once more on a context that outlives ctx.
func (n *node) start(ctx context.Context) {
	bgCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	flushCtx := context.WithoutCancel(ctx)
	n.stopBG = stop
	log := n.log
	n.bg.Go(func() {
		n.resolver.RunUsageFlusher(bgCtx, flushCtx, n.cfgFlush, func(err error) {
			log.Error("recording key use", "error", err)
		})
	})
	n.bg.Go(func() { n.refusals.Run(bgCtx, flushCtx, 5*time.Second) })
	n.bg.Go(func() { purgeExpired(bgCtx, n.st, n.now, purgeInterval, log) })
	n.bg.Go(func() { n.fan.Run(bgCtx) })
	if l := n.api.Limits(); l != nil {
		// Live credit balances go back to the store in batches, like last use times.
		n.bg.Go(func() {
			gateway.WriteBack(bgCtx, flushCtx, l.Limiter, n.st, n.cfgFlush, func(err error) {
				log.Error("writing credit balances back", "error", err)
			})
		})
		// Fast mode's shares and the redis_down local limits divide a plan by the live node
		// count, which the node registry knows.
		if r, ok := l.Limiter.(interface{ SetNodes(int) }); ok {
			n.bg.Go(func() { countNodes(bgCtx, n.fan, r, log) })
		}
	}
}

// stopBackground ends the background work and waits for its last flush.
func (n *node) stopBackground() {
	n.stopBG()
	n.bg.Wait()
}

// close releases what build opened (the limiter's connections, the store), newest first.
func (n *node) close() {
	for i := len(n.closers) - 1; i >= 0; i-- {
		_ = n.closers[i]()
	}
}
