// Package inprocess runs lanyard inside a Go service: the same pipeline as `lanyard serve`
// (credential sources → resolve → scoped tokens → authorize → rate limits), the same store,
// caches, revocation fan-out and audit trail, with the service's own handler where the gateway
// would proxy to an upstream. No request leaves the process.
//
//	lan, err := inprocess.Open(ctx, inprocess.Options{Config: "lanyard.yaml", Data: "./lanyard-data"})
//	if err != nil { … }
//	defer lan.Close()
//	http.ListenAndServe(":8080", lan.Middleware(myAPI))
//
// The config is the file `lanyard serve --config` reads; its gateway routes decide which
// requests reach the service (a path no route matches is 404, a refused one gets lanyard's error
// body and status), and gateway.upstream must be empty. lanyard's own API (/v1/…) and console
// (/console/) are answered by the middleware too, so mount it at the root. An allowed request
// reaches the service with X-Lanyard-Principal, X-Lanyard-Key-Id, X-Lanyard-Resource and
// X-Lanyard-Role set by lanyard (whatever the client sent in them), and without the credential
// headers unless the route forwards them.
//
// A service that should not link lanyard's store and dependencies uses package middleware
// instead, which asks a lanyard server's /v1/verify.
package inprocess

import (
	"context"
	"log/slog"
	"net/http"
	"os"

	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/server"
)

// Options say where lanyard's config and store are. Empty fields take the config file's values,
// then the LANYARD_* environment variables, as `lanyard serve` does.
type Options struct {
	// Config is the path of lanyard's YAML config; it must declare gateway routes.
	Config string
	// Data is the SQLite folder; Store a postgres:// URL instead; Redis a redis:// URL for
	// shared rate limits.
	Data, Store, Redis string
	// NodeID names this process among the nodes of one store (default <hostname>:pid-<pid>).
	NodeID string
	// Logger receives lanyard's logs, the access log included (none when nil).
	Logger *slog.Logger
}

// Lanyard is lanyard running in this process.
type Lanyard struct {
	e      *server.Embedded
	prefix string // the API's prefix, /v1 by default
}

// Open loads the config, opens the store (creating it on first use, with a bootstrap admin token
// printed to stderr or taken from LANYARD_BOOTSTRAP_TOKEN, as `lanyard serve` does) and starts
// lanyard's background work, which runs until Close.
func Open(ctx context.Context, o Options) (*Lanyard, error) {
	var ov config.Overrides
	set := func(dst **string, v string) {
		if v != "" {
			*dst = &v
		}
	}
	set(&ov.Data, o.Data)
	set(&ov.Store, o.Store)
	set(&ov.Redis, o.Redis)
	set(&ov.NodeID, o.NodeID)
	cfg, err := config.Load(o.Config, os.Getenv, ov)
	if err != nil {
		return nil, err
	}
	e, err := server.Embed(ctx, server.Options{Config: cfg, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	return &Lanyard{e: e, prefix: cfg.API.Prefix}, nil
}

// Middleware returns next behind lanyard: only requests lanyard allows reach it.
func (l *Lanyard) Middleware(next http.Handler) http.Handler { return l.e.Middleware(next) }

// Close stops lanyard's background work, writing what it batches (keys' last use, credit
// balances), and closes the store. Call it once the server has stopped taking requests.
func (l *Lanyard) Close() error { return l.e.Close() }
