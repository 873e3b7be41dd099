package server

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strconv"
)

// Embedded is a lanyard node running inside another Go program: the same pipeline, store,
// caches and background work as `lanyard serve`, with the program's own handler where the
// gateway would proxy to an upstream. Make one with Embed; Close it when the program stops.
type Embedded struct {
	n *node
}

type nextKey struct{}

// Embed builds a node from o (o.Listener, o.ConnState and o.Started are not used) and starts
// its background work. The config must have gateway routes and no upstream: the routes decide
// which requests reach the program's handler, and a path no route matches is 404, as in front of
// an upstream.
func Embed(ctx context.Context, o Options) (*Embedded, error) {
	cfg := o.Config
	if len(cfg.Gateway.Routes) == 0 {
		return nil, errors.New("embedding lanyard needs gateway.routes: they decide which requests reach the service")
	}
	if cfg.Gateway.Upstream != "" {
		return nil, errors.New("an embedded lanyard has no upstream: the service's own handler serves the allowed requests; remove gateway.upstream")
	}
	log, err := prepare(&o)
	if err != nil {
		return nil, err
	}
	o.next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next, _ := r.Context().Value(nextKey{}).(http.Handler)
		if next == nil {
			http.NotFound(w, r) // a gateway path asked through Handler: there is no service behind it
			return
		}
		next.ServeHTTP(w, r)
	})
	n, err := build(ctx, o, embeddedID(cfg.Server.NodeID), log)
	if err != nil {
		return nil, err
	}
	n.start(ctx)
	log.Info("lanyard is embedded", "api", cfg.API.Prefix, "node", n.fan.ID())
	return &Embedded{n: n}, nil
}

// embeddedID names an embedded node: the configured id, else <hostname>:pid-<pid>.
func embeddedID(configured string) string {
	if configured != "" {
		return configured
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return host + ":pid-" + strconv.Itoa(os.Getpid())
}

// Middleware runs every request through lanyard: its API and console paths are answered by
// lanyard, every other path is matched against the gateway routes and decided by the pipeline,
// and an allowed request reaches next with the identity headers (X-Lanyard-Principal, …) the
// proxy would send.
func (e *Embedded) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.n.handler.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), nextKey{}, next)))
	})
}

// Handler is lanyard's own API and console, without the gateway's in-process handler (a path
// only the gateway answers is 404 through it).
func (e *Embedded) Handler() http.Handler { return e.n.handler }

// Close stops the background work (flushing what it batches), leaves the node list and closes
// the store. Requests must have ended.
func (e *Embedded) Close() error {
	e.n.stopBackground()
	e.n.close()
	return nil
}
