package console

import (
	"errors"
	"html/template"
	"log/slog"
	"math/bits"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/store"
)

// Path is where the console is mounted.
const Path = "/console/"

// API is what the console needs of the native API (api.Handler): serving a request as a
// signed-in person, and the one sign-in check.
type API interface {
	// ServeAs serves r through the native API's routes, policies and deciders as id.
	ServeAs(w http.ResponseWriter, r *http.Request, id *authn.Identity)
	// CheckPassword checks an email and password as /v1/auth/login does, throttling included.
	CheckPassword(r *http.Request, email, password string) (store.User, error)
	// Prefix is where the native API is mounted ("/v1").
	Prefix() string
	// ClientAddr is the client's address; TrustedPeer whether the peer is a trusted proxy.
	ClientAddr(r *http.Request) netip.Addr
	TrustedPeer(r *http.Request) bool
	// SpendLoginQuota spends one sign-in of the client address's quota (429 past it).
	SpendLoginQuota(r *http.Request) error
}

// Options are the console's dependencies and settings.
type Options struct {
	// Config is the validated configuration: the console reads console.session_ttl,
	// api.envelope, the roles, the schema and server.trusted_proxies.
	Config *config.Config
	API    API
	// Sessions keeps the console's sessions; it is the only part of the store the console
	// touches.
	Sessions store.Sessions
	// Key is the instance key (store.Store.InstanceKey): the csrf fields are HMACs under it.
	Key    []byte
	Logger *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Console is the web console's HTTP handler, to be mounted at Path.
type Console struct {
	api      API
	sessions store.Sessions
	key      []byte
	log      *slog.Logger
	now      func() time.Time
	ttl      time.Duration
	envelope bool
	roles    []string
	schema   config.Schema
	trusted  []netip.Prefix
	prefix   string
	// flush is how often a node writes its keys' use (cache.last_used_flush), which the usage
	// chart says it lags by.
	flush time.Duration

	assets *assets
	pages  map[string]*template.Template
	mux    *http.ServeMux
}

// New builds the console.
func New(o Options) (*Console, error) {
	if o.API == nil || o.Sessions == nil || o.Config == nil {
		return nil, errors.New("console: missing a dependency")
	}
	if len(o.Key) < 32 {
		return nil, errors.New("console: the instance key must have at least 32 bytes")
	}
	cfg := o.Config
	c := &Console{
		api:      o.API,
		sessions: o.Sessions,
		key:      o.Key,
		log:      o.Logger,
		now:      o.Now,
		ttl:      cfg.Console.SessionTTL,
		envelope: cfg.API.Envelope,
		schema:   cfg.Schema,
		trusted:  cfg.Server.TrustedPrefixes(),
		prefix:   o.API.Prefix(),
		flush:    cfg.Cache.LastUsedFlush,
	}
	// The forms offer the roles weakest first, so that what a select starts on gives least.
	for name := range cfg.Roles {
		c.roles = append(c.roles, name)
	}
	slices.SortFunc(c.roles, func(a, b string) int {
		if d := bits.OnesCount8(uint8(cfg.Roles[a].Perms)) - bits.OnesCount8(uint8(cfg.Roles[b].Perms)); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.ttl <= 0 {
		c.ttl = 12 * time.Hour
	}
	var err error
	if c.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	if c.pages, err = parsePages(); err != nil {
		return nil, err
	}
	c.mux = c.routes()
	return c, nil
}

// URL is the console's address for a server listening on addr: what `lanyard serve` prints. An
// unspecified listen address (0.0.0.0, ::) is written as the loopback one, which reaches it.
func URL(addr string, tls bool) string {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
			if ip.Is4() {
				host = "127.0.0.1"
			} else {
				host = "::1"
			}
		}
		addr = net.JoinHostPort(host, port)
	}
	return scheme + "://" + addr + Path
}

// Handles reports whether a request path is the console's: /console and everything under
// /console/.
func Handles(path string) bool {
	return path == "/console" || strings.HasPrefix(path, Path)
}

// The security headers of every console answer. The policy allows scripts, styles and requests
// from the console's own origin only: no inline script or style, no plugin, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// ServeHTTP serves every console request: the security headers, then the assets, the sign-in
// page, or — with a valid session and, for a post, the right csrf field — a page or a form.
// It writes one access-log line per request.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusWriter{ResponseWriter: w}
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", contentSecurityPolicy)
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	hdr.Set("Cache-Control", "no-store")
	rid := newRequestID()
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			c.log.Error("panic serving a console request", "request_id", rid, "panic", v)
			if rec.status == 0 {
				c.renderError(rec, r, nil, http.StatusInternalServerError, "Something went wrong on our side.")
			}
		}
		c.accessLog(r, rec, rid, time.Since(start))
	}()
	r = r.WithContext(withRequestID(r.Context(), rid))
	c.mux.ServeHTTP(rec, r)
}

// routes is the console's route table. Every route but the assets and the sign-in page needs a
// session (authed); every post needs the csrf field too (authed checks it).
func (c *Console) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/console", func(w http.ResponseWriter, r *http.Request) {
		c.seeOther(w, r, Path)
	})
	mux.HandleFunc("/console/static/{name}", c.only(http.MethodGet, c.serveAsset))
	mux.HandleFunc("/console/login", c.methods(map[string]http.HandlerFunc{
		http.MethodGet:  c.loginPage,
		http.MethodPost: c.login,
	}))
	byPath := map[string]map[string]http.HandlerFunc{}
	var order []string
	for _, rt := range []struct {
		method, path string
		h            handler
	}{
		{http.MethodGet, "/console/{$}", c.accountPage},
		{http.MethodPost, "/console/logout", c.logout},
		{http.MethodPost, "/console/password", c.changePassword},
		{http.MethodPost, "/console/keys", c.createKey},
		{http.MethodGet, "/console/keys/{id}", c.keyPage},
		{http.MethodPost, "/console/keys/{id}/revoke", c.revokeKey},
		{http.MethodPost, "/console/keys/{id}/reissue", c.reissueKey},
		{http.MethodPost, "/console/resources", c.createResource},
		{http.MethodGet, "/console/resources/{type}/{id}", c.resourcePage},
		{http.MethodPost, "/console/resources/{type}/{id}/members", c.addMember},
		{http.MethodPost, "/console/resources/{type}/{id}/members/role", c.changeMember},
		{http.MethodPost, "/console/resources/{type}/{id}/members/remove", c.removeMember},
		{http.MethodGet, "/console/users", c.usersPage},
		{http.MethodPost, "/console/users", c.createUser},
		{http.MethodPost, "/console/users/{id}/promote", c.promoteUser},
		{http.MethodPost, "/console/users/{id}/demote", c.demoteUser},
		{http.MethodPost, "/console/users/{id}/delete", c.deleteUser},
	} {
		if byPath[rt.path] == nil {
			byPath[rt.path] = map[string]http.HandlerFunc{}
			order = append(order, rt.path)
		}
		byPath[rt.path][rt.method] = c.authed(rt.h)
	}
	for _, p := range order {
		mux.HandleFunc(p, c.methods(byPath[p]))
	}
	mux.HandleFunc("/console/", c.authed(func(w http.ResponseWriter, r *http.Request, s *session) {
		c.renderError(w, r, s, http.StatusNotFound, "There is no such page.")
	}))
	return mux
}

// only answers a request with another method than method (HEAD counts as GET) with a 405 page.
func (c *Console) only(method string, h http.HandlerFunc) http.HandlerFunc {
	return c.methods(map[string]http.HandlerFunc{method: h})
}

func (c *Console) methods(by map[string]http.HandlerFunc) http.HandlerFunc {
	var allow []string
	for m := range by {
		allow = append(allow, m)
		if m == http.MethodGet {
			allow = append(allow, http.MethodHead)
		}
	}
	slices.Sort(allow)
	return func(w http.ResponseWriter, r *http.Request) {
		m := r.Method
		if m == http.MethodHead {
			m = http.MethodGet
		}
		if h, ok := by[m]; ok {
			h(w, r)
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		c.renderError(w, r, nil, http.StatusMethodNotAllowed, "This page does not answer "+r.Method+".")
	}
}

// statusWriter records an answer's status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// accessLog writes the console request's line: never the query string, never a form value.
// The API requests it made are logged by the API with the same request id.
func (c *Console) accessLog(r *http.Request, w *statusWriter, rid string, d time.Duration) {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	c.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("request_id", rid),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.String("ip", c.clientAddr(r).String()),
	)
}

// clientAddr is the client's address, as the API decides it.
func (c *Console) clientAddr(r *http.Request) netip.Addr { return c.api.ClientAddr(r) }

// overTLS reports whether the browser reached lanyard over TLS: directly, or through a trusted
// proxy that says so in X-Forwarded-Proto.
func (c *Console) overTLS(r *http.Request) bool {
	return r.TLS != nil || (c.api.TrustedPeer(r) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"))
}

// newRequestID is a random id for a console request, passed on to the API requests it makes so
// the access log ties them together.
func newRequestID() string {
	const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var b [16]byte
	for i := range b {
		b[i] = base62[rand.IntN(len(base62))]
	}
	return string(b[:])
}
