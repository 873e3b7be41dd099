// Package server wires lanyard together from a validated config: it opens the store, builds the
// credential pipeline (cache, resolver, authorizer) and the native API, listens, makes sure the
// bootstrap admin token exists, and serves HTTP(S) until its context ends, then shuts down
// gracefully.
// `lanyard serve` and the end-to-end tests share Run, so the tests exercise exactly the wiring
// users run.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/lanyardhq/lanyard/internal/api"
	"github.com/lanyardhq/lanyard/internal/audit"
	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/authz"
	"github.com/lanyardhq/lanyard/internal/cache"
	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/console"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/exchange"
	"github.com/lanyardhq/lanyard/internal/fanout"
	"github.com/lanyardhq/lanyard/internal/gateway"
	"github.com/lanyardhq/lanyard/internal/ratelimit"
	"github.com/lanyardhq/lanyard/internal/store"
	"github.com/lanyardhq/lanyard/internal/store/postgres"
	"github.com/lanyardhq/lanyard/internal/store/sqlite"
	"github.com/lanyardhq/lanyard/internal/throttle"
)

// BootstrapEnv names the variable that sets the bootstrap admin token.
const BootstrapEnv = "LANYARD_BOOTSTRAP_TOKEN"

// The lengths of a bootstrap token lanyard accepts from the environment (CONTRACT §11.39). The
// upper bound is the longest credential lanyard reads from a request (authn.MaxTokenLen).
const (
	MinBootstrapLen = 32
	MaxBootstrapLen = 512
)

// Options are what Run needs beyond the config.
type Options struct {
	Config *config.Config
	Logger *slog.Logger
	// LogJSON says the logs are JSON, so the bootstrap token is printed as a JSON object.
	LogJSON bool
	// Stderr receives the generated bootstrap token (os.Stderr when nil).
	Stderr io.Writer
	// Getenv reads the environment (os.Getenv when nil); only LANYARD_BOOTSTRAP_TOKEN is read.
	Getenv func(string) string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Listener, when set, is served instead of listening on the config's address (tests pass
	// one on 127.0.0.1:0). Run closes it when it returns.
	Listener net.Listener
	// Hasher overrides the password hasher built from the config (tests use cheap parameters
	// through the config instead; this is for injecting a counting hasher).
	Hasher credential.Hasher
	// ConnState, when set, is the http.Server's connection-state hook (tests use it to know a
	// request is in flight).
	ConnState func(net.Conn, http.ConnState)
	// Started, when set, is called with the address being served once the node serves: its
	// store answered and it accepts connections. (A node that waits for its PostgreSQL store
	// answers /healthz, and 503 to everything else, before that.)
	Started func(addr string)

	// next serves the gateway's allowed requests in process (Embed).
	next http.Handler
	// usageFlush, when set, is given the node's flush of what it counted of keys' use, so a
	// test can write it at once rather than wait for cache.last_used_flush.
	usageFlush func(flush func(context.Context) error)
}

// CheckBootstrapEnv refuses a LANYARD_BOOTSTRAP_TOKEN that is set but is not 32 to 512
// printable ASCII characters without spaces (0x21 to 0x7E): a value no request could present.
// Call it before anything touches the store. The error never holds the value.
func CheckBootstrapEnv(getenv func(string) string) error {
	v := getenv(BootstrapEnv)
	if v == "" {
		return nil
	}
	want := fmt.Sprintf("%s must be %d to %d printable ASCII characters without spaces", BootstrapEnv, MinBootstrapLen, MaxBootstrapLen)
	n := utf8.RuneCountInString(v)
	i := 0
	for _, r := range v {
		i++
		var what string
		switch {
		case r == ' ':
			what = "a space"
		case r < 0x20 || r == 0x7f:
			what = "a control character"
		case r > 0x7f:
			what = "not ASCII"
		default:
			continue
		}
		return fmt.Errorf("%s, but its character %d of %d is %s", want, i, n, what)
	}
	if len(v) < MinBootstrapLen || len(v) > MaxBootstrapLen {
		return fmt.Errorf("%s, but it has %d characters", want, len(v))
	}
	return nil
}

// checkBootstrapShape refuses a LANYARD_BOOTSTRAP_TOKEN that the credential resolver would
// refuse before any lookup (one shaped like a lanyard token, with a wrong checksum or a prefix
// this config does not issue): stored, it could never be used.
func checkBootstrapShape(getenv func(string) string, p authn.Prefixes) error {
	v := getenv(BootstrapEnv)
	if v == "" {
		return nil
	}
	var ref *authn.RefusedError
	if err := p.CheckShape(v, false); errors.As(err, &ref) {
		return fmt.Errorf("%s would be refused as a credential (%s): it has the shape of a lanyard token; choose a value that is not one, or a token this configuration issues", BootstrapEnv, ref.Detail)
	} else if err != nil {
		return err
	}
	return nil
}

// OpenStore opens the store the config names, applying its pending migrations: the embedded
// SQLite store in --data by default (or sqlite:DIR), PostgreSQL for a postgres:// or
// postgresql:// URL.
func OpenStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	url := cfg.Server.Store
	switch {
	case url == "" || strings.HasPrefix(url, "sqlite:"):
		dir := cfg.Server.Data
		if rest, ok := strings.CutPrefix(url, "sqlite:"); ok && rest != "" {
			dir = strings.TrimPrefix(rest, "//")
		}
		return sqlite.Open(ctx, dir)
	case isPostgres(url):
		st, err := postgres.Open(ctx, url)
		if err != nil {
			// pgx's messages name the user and database, never the password; the URL is
			// redacted all the same.
			return nil, fmt.Errorf("--store %s: %w", redactURL(url), err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("--store: unsupported store URL scheme in %q", redactURL(url))
}

// redactURL drops a URL's userinfo and its query (a password may be a query parameter) so a
// password never reaches a message. The userinfo ends at the last '@' of the whole URL, looked
// for before anything is cut: a password may hold '?', '/' or '#' unescaped (PostgreSQL's
// parser takes it so), and cutting at one first would leave a piece of it in view.
func redactURL(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		if at := strings.LastIndex(u[i+3:], "@"); at >= 0 {
			u = u[:i+3] + "…@" + u[i+3+at+1:]
		}
	}
	if q := strings.IndexByte(u, '?'); q >= 0 {
		u = u[:q] + "?…"
	}
	return u
}

// Unsupported reports the first configured feature this build cannot serve yet, so serve can
// say so plainly and exit 1 instead of silently ignoring it.
func Unsupported(cfg *config.Config) error {
	switch {
	case cfg.Gateway.Upstream != "" && len(cfg.Gateway.Routes) == 0:
		// An open proxy is never a default: an upstream needs routes that say who may reach it.
		return errors.New("--upstream is set but the config has no gateway.routes: lanyard would proxy nothing; add routes that say what each path needs")
	}
	return nil
}

// prepare fills o's defaults, returns its logger, and refuses what no node may start with: a
// LANYARD_BOOTSTRAP_TOKEN no request could present, and a config this build does not support.
func prepare(o *Options) (*slog.Logger, error) {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := CheckBootstrapEnv(o.Getenv); err != nil {
		return nil, err
	}
	if err := checkBootstrapShape(o.Getenv, prefixesOf(o.Config)); err != nil {
		return nil, err
	}
	if err := Unsupported(o.Config); err != nil {
		return nil, err
	}
	return log, nil
}

// newGateway builds the gateway from the config: the routes (for /v1/authz and the proxy), the
// headers credentials come in, and the proxy when an upstream is set.
func newGateway(cfg *config.Config) (*api.Gateway, error) {
	if len(cfg.Gateway.Routes) == 0 {
		return nil, nil
	}
	routes, err := gateway.Compile(cfg.Gateway.Routes)
	if err != nil {
		return nil, err
	}
	gw := &api.Gateway{Routes: routes, CredentialHeaders: api.CredentialHeaders(cfg)}
	if cfg.Gateway.Upstream != "" {
		u, err := url.Parse(cfg.Gateway.Upstream)
		if err != nil {
			return nil, fmt.Errorf("gateway.upstream: %w", err)
		}
		gw.Upstream, gw.UpstreamTimeout = u, cfg.Gateway.Timeout
	}
	return gw, nil
}

// Run serves lanyard until ctx ends, then shuts down gracefully: in-flight requests finish (up
// to the configured shutdown timeout), batched writes are flushed, the store is closed.
func Run(ctx context.Context, o Options) error {
	if o.Listener != nil {
		defer o.Listener.Close() // Serve closes it too; this covers every return before Serve
	}
	log, err := prepare(&o)
	if err != nil {
		return err
	}
	cfg := o.Config
	var tlsConfig *tls.Config
	if cfg.Server.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Server.TLSCert, cfg.Server.TLSKey)
		if err != nil {
			return fmt.Errorf("loading the TLS certificate: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	ln := o.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.Server.Addr); err != nil {
			return err
		}
		defer ln.Close()
	}
	id := nodeID(cfg, ln)
	n, err := build(ctx, o, id, log)
	var handler http.Handler
	var waiting *swapHandler // set while the node waits for its store
	switch {
	case err == nil:
		handler = n.handler
	case waitsForStore(cfg, err):
		// A node that starts while its PostgreSQL is down listens at once and waits for it:
		// /healthz says the process runs, everything else is 503 (fail closed) until the store
		// answers, so an orchestrator neither kills it nor sends it traffic meanwhile.
		waiting = newSwapHandler(unavailableAPI(cfg, log))
		handler = waiting
	default:
		return err
	}

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		ReadTimeout:       cfg.Server.ReadTimeout,
		WriteTimeout:      cfg.Server.WriteTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ConnState:         o.ConnState,
		TLSConfig:         tlsConfig,
	}
	tlsOn := tlsConfig != nil
	serveErr := make(chan error, 1)
	serve := func() {
		if tlsOn {
			serveErr <- srv.ServeTLS(ln, "", "")
		} else {
			serveErr <- srv.Serve(ln)
		}
	}
	if waiting != nil {
		go serve()
		log.Warn("lanyard listens, but its store does not answer: every request but /healthz is answered 503 until it does",
			"addr", ln.Addr().String(), "node", id, "error", err.Error())
		if n, err = waitForStore(ctx, o, id, log, serveErr); err != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Server.ShutdownTimeout)
			defer cancel()
			_ = srv.Shutdown(sctx)
			if ctx.Err() != nil {
				log.Info("lanyard stopped before its store answered")
				return nil
			}
			return err
		}
	}
	defer n.close()
	fan := n.fan
	n.start(ctx)
	if waiting != nil {
		waiting.set(n.handler)
	} else {
		go serve()
	}
	scheme := "http"
	if tlsOn {
		scheme = "https"
	}
	log.Info("lanyard is serving", "addr", ln.Addr().String(), "scheme", scheme, "api", cfg.API.Prefix, "node", fan.ID())
	log.Info("console", "url", console.URL(ln.Addr().String(), tlsOn))
	if o.Started != nil {
		o.Started(ln.Addr().String())
	}

	select {
	case err := <-serveErr:
		n.stopBackground()
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Server.ShutdownTimeout)
	defer cancel()
	shutdownErr := srv.Shutdown(sctx)
	n.stopBackground()
	if shutdownErr != nil {
		return fmt.Errorf("shutting down: %w", shutdownErr)
	}
	log.Info("lanyard stopped")
	return nil
}

// withConsole serves /console and everything under it with the console, every other path with
// the API (which also answers the gateway's paths). It is not a ServeMux: the API answers paths
// a ServeMux would clean and redirect (CONTRACT §11.41, §11.56) itself.
func withConsole(con, api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if console.Handles(r.URL.Path) {
			con.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

// buildAPI makes the native API over st. rdb, when --redis is set, is shared by the login
// throttle and the refused-credential counts of every node.
func buildAPI(cfg *config.Config, st *cache.Store, key []byte, nodes api.Nodes, rdb *redis.Client, o Options, log *slog.Logger) (*api.Handler, *authn.Resolver, *audit.Refusals, error) {
	specs := make([]authn.SourceSpec, len(cfg.Sources))
	for i, s := range cfg.Sources {
		specs[i] = authn.SourceSpec{Type: s.Type, Scheme: s.Scheme, Header: s.Name}
	}
	sources, err := authn.NewSources(specs)
	if err != nil {
		return nil, nil, nil, err
	}
	prefixes := prefixesOf(cfg)
	resolver := authn.NewResolver(st, prefixes, o.Now)
	refusals := audit.NewRefusals(st, key, o.Now, log)
	login := throttle.Config{
		MaxFailures:     cfg.Login.MaxFailures,
		Lockout:         cfg.Login.Lockout,
		AddrMaxFailures: cfg.Login.IPMaxFailures,
		Now:             o.Now,
	}
	var tracker throttle.Tracker
	if rdb != nil {
		refusals.Share(audit.NewRedisClaims(rdb, ""))
		tracker = throttle.NewShared(throttle.SharedConfig{Redis: rdb, Limits: login,
			OnError: warnEvery(log, 10*time.Second, "sharing the login throttle through Redis; this node throttles alone meanwhile")})
	}
	pwParams := credential.Params{
		MemoryKiB:   uint32(cfg.Passwords.MemoryKiB),
		Iterations:  uint32(cfg.Passwords.Iterations),
		Parallelism: uint8(cfg.Passwords.Parallelism),
		SaltLen:     16,
		KeyLen:      32,
	}
	hasher := o.Hasher
	if hasher == nil {
		hasher = credential.NewArgon2(pwParams)
	}
	var plans []string
	for name := range cfg.Plans {
		plans = append(plans, name)
	}
	az := authz.New(st, st, cfg.Roles)
	az.KeysPerOwner = cfg.Quotas.KeysPerOwner
	gw, err := newGateway(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	if gw != nil && o.next != nil {
		gw.Next = o.next
	}
	limits, err := newLimits(cfg, az, o.Now, log)
	if err != nil {
		return nil, nil, nil, err
	}
	var xs *exchange.Service
	if len(cfg.Exchange) > 0 {
		xs = exchange.New(st, az, cfg.Exchange, cfg.Tokens.ScopedPrefix, o.Now)
	}
	h, err := api.New(api.Options{
		Exchange:                 xs,
		Limits:                   limits,
		IETFHeaders:              cfg.RateLimit.IETFHeaders,
		Ready:                    readiness(st, limits),
		Gateway:                  gw,
		VerifyRequiresCredential: cfg.API.VerifyRequiresCredential,
		Store:                    st,
		Resolver:                 resolver,
		Sources:                  sources,
		Authz:                    az,
		Quotas:                   cfg.Quotas,
		Schema:                   cfg.Schema,
		Hasher:                   hasher,
		Refusals:                 refusals,
		Logger:                   log,
		Now:                      o.Now,
		Prefix:                   cfg.API.Prefix,
		Envelope:                 cfg.API.Envelope,
		MaxBodyBytes:             cfg.Server.MaxBodyBytes,
		Prefixes:                 prefixes,
		DefaultKeyFormat:         cfg.Keys.DefaultFormat,
		Plans:                    plans,
		TrustedProxies:           cfg.Server.TrustedPrefixes(),
		Metrics:                  newRegistry(st, limits),
		Nodes:                    nodes,
		PasswordParams:           pwParams,
		HashConcurrency:          cfg.Passwords.MaxConcurrent,
		HashQueueTimeout:         cfg.Passwords.QueueTimeout,
		PersonalTTL:              cfg.Tokens.PersonalTTL,
		Login:                    login,
		LoginTracker:             tracker,
	})
	return h, resolver, refusals, err
}

// sharedRedis is the client of --redis that the login throttle and the refusal counts use:
// every call answers or fails within ratelimit.DefaultTimeout.
func sharedRedis(raw string) (*redis.Client, error) {
	opts, err := parseRedisURL(raw)
	if err != nil {
		return nil, err
	}
	return redis.NewClient(ratelimit.BoundedOptions(opts, ratelimit.DefaultTimeout)), nil
}

// parseRedisURL reads --redis. Its error names the URL without its password: a URL that
// does not parse comes back from redis.ParseURL as a *url.Error quoting the whole of it, and
// its reason may quote a piece of the password (an invalid escape), so neither is kept.
func parseRedisURL(raw string) (*redis.Options, error) {
	opts, err := redis.ParseURL(raw)
	if err != nil {
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			return nil, fmt.Errorf("--redis %s: not a valid URL", redactURL(raw))
		}
		return nil, fmt.Errorf("--redis %s: %v", redactURL(raw), err)
	}
	return opts, nil
}

// warnEvery returns a function that logs msg with the error it is given, at most once per
// interval: a failing dependency is reported without a line per request.
func warnEvery(log *slog.Logger, interval time.Duration, msg string) func(error) {
	var last atomic.Int64
	return func(err error) {
		now := time.Now().UnixNano()
		if prev := last.Load(); now-prev >= int64(interval) && last.CompareAndSwap(prev, now) {
			log.Warn(msg, "error", err)
		}
	}
}

// newLimits builds the plan and credits layer: a limiter in process, or shared through Redis
// when --redis is set (rate_limit.mode and redis_down apply then).
func newLimits(cfg *config.Config, az *authz.Authorizer, now func() time.Time, log *slog.Logger) (*gateway.Limits, error) {
	var l ratelimit.Limiter
	if cfg.Server.Redis != "" {
		opts, err := parseRedisURL(cfg.Server.Redis)
		if err != nil {
			return nil, err
		}
		if l, err = ratelimit.NewRedis(ratelimit.RedisConfig{Options: opts, Mode: cfg.RateLimit.Mode, Down: cfg.RateLimit.RedisDown, Now: now, Logger: log}); err != nil {
			return nil, fmt.Errorf("--redis: %w", err)
		}
	} else {
		l = ratelimit.NewMemory(ratelimit.MemoryConfig{Now: now})
	}
	return &gateway.Limits{Limiter: l, Plans: cfg.Plans, Default: cfg.DefaultPlan, Authz: az}, nil
}

// readiness is /readyz's check: the store answers, and so does Redis when limits need it.
func readiness(st store.Store, l *gateway.Limits) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := st.Ping(ctx); err != nil {
			return err
		}
		if r, ok := l.Limiter.(interface{ Healthy() error }); ok {
			return r.Healthy()
		}
		return nil
	}
}

// nodeID is the node's id: server.node_id, or "<hostname>:<port>" with the port listened on.
func nodeID(cfg *config.Config, ln net.Listener) string {
	if cfg.Server.NodeID != "" {
		return cfg.Server.NodeID
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	port := ln.Addr().String()
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		port = strconv.Itoa(a.Port)
	}
	return host + ":" + port
}

// prefixesOf is the config's token prefixes, as the credential resolver takes them.
func prefixesOf(cfg *config.Config) authn.Prefixes {
	return authn.Prefixes{
		Key:       cfg.Tokens.KeyPrefix,
		Secret:    cfg.Tokens.SecretPrefix,
		Personal:  cfg.Tokens.PersonalPrefix,
		Admin:     cfg.Tokens.AdminPrefix,
		Bootstrap: cfg.Tokens.BootstrapPrefix,
		Scoped:    cfg.Tokens.ScopedPrefix,
	}
}

// newRegistry is the Prometheus registry /metrics serves: the Go runtime and process series,
// the credential cache's size, and the API's own (api registers those).
func newRegistry(st *cache.Store, limits *gateway.Limits) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lanyard_credential_cache_entries",
			Help: "Resolved credentials (and remembered unknown ones) held in process.",
		}, func() float64 { return float64(st.Len()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "lanyard_credential_cache_lookups_total",
			Help:        "Credential lookups, answered from the in-process cache (hit) or the store (miss).",
			ConstLabels: prometheus.Labels{"result": "hit"},
		}, func() float64 { h, _ := st.Lookups(); return float64(h) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "lanyard_credential_cache_lookups_total",
			Help:        "Credential lookups, answered from the in-process cache (hit) or the store (miss).",
			ConstLabels: prometheus.Labels{"result": "miss"},
		}, func() float64 { _, m := st.Lookups(); return float64(m) }),
	)
	if r, ok := limits.Limiter.(*ratelimit.Redis); ok {
		stat := func(name, help string, v func(ratelimit.RedisStats) uint64) prometheus.Collector {
			return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v(r.Stats())) })
		}
		reg.MustRegister(
			stat("lanyard_ratelimit_redis_failures_total", "Redis calls of the rate limiter that failed (timeouts, refused connections, errors).",
				func(s ratelimit.RedisStats) uint64 { return s.Failures }),
			stat("lanyard_ratelimit_redis_fallbacks_total", "Rate-limit decisions made by rate_limit.redis_down because Redis could not be used.",
				func(s ratelimit.RedisStats) uint64 { return s.Fallbacks }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lanyard_ratelimit_redis_up", Help: "1 while the rate limiter reaches Redis, else 0."},
				func() float64 {
					if r.Stats().Healthy {
						return 1
					}
					return 0
				}),
		)
	}
	return reg
}

// countNodes keeps the rate limiter's node count at the number of live nodes, checked every
// heartbeat interval. A failed listing keeps the last count.
func countNodes(ctx context.Context, fan *fanout.Fanout, l interface{ SetNodes(int) }, log *slog.Logger) {
	t := time.NewTicker(fanout.HeartbeatInterval)
	defer t.Stop()
	for {
		if nodes, err := fan.Live(ctx); err == nil {
			l.SetNodes(len(nodes))
		} else if ctx.Err() == nil {
			log.Warn("counting live nodes for rate limits", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
