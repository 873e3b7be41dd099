// Package api serves lanyard's native HTTP API (/v1 by default): identity, users and admins,
// logins and personal access tokens, keys (personal and business, leaked-token revocation),
// resources, grants, permission checks, the audit trail, and the health and metrics endpoints.
// Every route is declared in one table with the policy that guards it (routes.go); the router
// runs the one pipeline — sources, resolver, authorizer — before any handler, and every failure
// goes through one error writer that produces the contract's body (errors.go).
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lanyardhq/lanyard/internal/audit"
	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/authz"
	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/exchange"
	"github.com/lanyardhq/lanyard/internal/gateway"
	"github.com/lanyardhq/lanyard/internal/store"
	"github.com/lanyardhq/lanyard/internal/throttle"
)

// Options are the native API's dependencies and settings.
type Options struct {
	Store    store.Store // should be a cache.Store
	Resolver *authn.Resolver
	Sources  *authn.Sources
	Authz    *authz.Authorizer
	Hasher   credential.Hasher
	Refusals *audit.Refusals
	Logger   *slog.Logger
	Now      func() time.Time

	// Prefix is where the native API is mounted ("/v1").
	Prefix string
	// Envelope wraps native answers in {"success", "data", "message"}.
	Envelope bool
	// MaxBodyBytes caps request bodies.
	MaxBodyBytes int64
	// Prefixes are the token prefixes per kind.
	Prefixes authn.Prefixes
	// DefaultKeyFormat is "token" or "key_secret".
	DefaultKeyFormat string
	// Schema is the resource types and which may parent which.
	Schema config.Schema
	// Plans are the configured plan names a key may name.
	Plans []string
	// TrustedProxies may set X-Forwarded-For.
	TrustedProxies []netip.Prefix
	// Ready reports whether everything lanyard needs answers (for /readyz).
	Ready func(ctx context.Context) error
	// Gateway is the gateway's routes and proxy; nil: no routes (every other path is 404, and
	// /v1/authz answers 404).
	Gateway *Gateway
	// Limits decides plans and credits for gateway routes, /authz and /verify; nil: nothing
	// is limited. IETFHeaders adds the IETF RateLimit fields (rate_limit.ietf_headers).
	Limits      *gateway.Limits
	IETFHeaders bool
	// Exchange issues and checks scoped tokens; nil: no exchangeable types.
	Exchange *exchange.Service
	// VerifyRequiresCredential makes POST /verify need a caller credential (api.verify_requires_credential).
	VerifyRequiresCredential bool
	// Metrics, when set, receives the API's Prometheus series and is served at /metrics.
	Metrics *prometheus.Registry
	// Nodes are the nodes of the store (GET /nodes, ?wait=propagated); nil: this node alone.
	Nodes Nodes

	// PasswordParams are the configured argon2id parameters: a login rehashes a stored hash
	// made with others, and verifies an unknown email against a dummy hash made with these
	// (zero: credential.DefaultParams).
	PasswordParams credential.Params
	// HashConcurrency bounds the password hashings in progress at once (0: the number of
	// CPUs); HashQueueTimeout is how long one waits for its turn before the answer is 429
	// (0: 2 s).
	HashConcurrency  int
	HashQueueTimeout time.Duration
	// PersonalTTL is the lifetime of a personal access token from login (0: 24 h).
	PersonalTTL time.Duration
	// Login throttles failed logins; zero fields take throttle's defaults, Now defaults to Now.
	Login throttle.Config
	// LoginTracker, when set, throttles logins instead of a tracker of Login's in this
	// process: a throttle.Shared, so that nodes sharing Redis throttle together.
	LoginTracker throttle.Tracker
	// Quotas bound requests per client address (login, leaked-token revocation) and writes
	// per principal; a zero field is no bound (config.Quotas).
	Quotas config.Quotas
}

// Handler is the native API.
type Handler struct {
	store         store.Store
	resolver      *authn.Resolver
	sources       *authn.Sources
	authz         *authz.Authorizer
	hasher        credential.Hasher
	refusals      *audit.Refusals
	log           *slog.Logger
	now           func() time.Time
	prefix        string
	envelope      bool
	maxBody       int64
	prefixes      authn.Prefixes
	defaultFormat string
	trusted       []netip.Prefix
	plans         map[string]bool
	schema        config.Schema
	ready         func(ctx context.Context) error
	gateway       *Gateway
	exchange      *exchange.Service
	limits        *gateway.Limits
	ietf          bool
	verifyPolicy  authz.Policy
	pw            passwords // login: see login.go
	checker       *gateway.Checker
	quotas        quotas
	nodes         Nodes

	metrics *metrics
	ids     *requestIDs

	routes []Route
	mux    *http.ServeMux
}

// New builds the native API.
func New(o Options) (*Handler, error) {
	if o.Store == nil || o.Resolver == nil || o.Sources == nil || o.Authz == nil || o.Hasher == nil {
		return nil, errors.New("api: missing a dependency")
	}
	h := &Handler{
		store:         o.Store,
		resolver:      o.Resolver,
		sources:       o.Sources,
		authz:         o.Authz,
		hasher:        o.Hasher,
		refusals:      o.Refusals,
		log:           o.Logger,
		now:           o.Now,
		prefix:        o.Prefix,
		envelope:      o.Envelope,
		maxBody:       o.MaxBodyBytes,
		prefixes:      o.Prefixes,
		defaultFormat: o.DefaultKeyFormat,
		trusted:       o.TrustedProxies,
		ready:         o.Ready,
		gateway:       o.Gateway,
		exchange:      o.Exchange,
		limits:        o.Limits,
		ietf:          o.IETFHeaders,
		schema:        o.Schema,
		nodes:         o.Nodes,
	}
	if len(o.Plans) > 0 {
		h.plans = make(map[string]bool, len(o.Plans))
		for _, p := range o.Plans {
			h.plans[p] = true
		}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.prefix == "" {
		h.prefix = "/v1"
	}
	if h.maxBody <= 0 {
		h.maxBody = 1 << 20
	}
	if h.defaultFormat == "" {
		h.defaultFormat = store.FormatToken
	}
	if err := h.initPasswords(o); err != nil {
		return nil, err
	}
	if o.Metrics != nil {
		h.metrics = newMetrics(o.Metrics)
	}
	h.ids = newRequestIDs()
	h.checker = &gateway.Checker{Sources: o.Sources, Resolver: o.Resolver, Authz: o.Authz, Refused: h.recordRefusal}
	if o.Exchange != nil {
		h.checker.Scoped = o.Exchange
	}
	h.checker.Limits = o.Limits
	h.quotas = newQuotas(o.Quotas, h.now)
	if gw := h.gateway; gw != nil && gw.Upstream != nil {
		gw.proxy = gateway.NewProxy(gw.Upstream, gw.UpstreamTimeout, h.upstreamError, h.metrics.upstreamDone)
	}
	h.verifyPolicy = authz.Public
	if o.VerifyRequiresCredential {
		h.verifyPolicy = authz.Authenticated
	}
	h.routes = h.table()
	mux, err := h.buildMux(h.routes)
	if err != nil {
		return nil, err
	}
	h.mux = mux
	return h, nil
}

// Limits is the plan and credits layer (nil when nothing is limited).
func (h *Handler) Limits() *gateway.Limits { return h.limits }

// Routes returns the route table (for tests and the OpenAPI description).
func (h *Handler) Routes() []Route { return append([]Route(nil), h.routes...) }

// Prefix is where the native API is mounted.
func (h *Handler) Prefix() string { return h.prefix }

// clock returns the current time, truncated to the second as the contract's times are.
func (h *Handler) clock() time.Time { return h.now().UTC().Truncate(time.Second) }
