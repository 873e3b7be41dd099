package config

import (
	"net/netip"
	"slices"
	"sort"
	"time"
)

// Config is lanyard's whole configuration. Get one from Default, Parse or Load; a Config from
// Parse or Load has passed Validate. The yaml tags name the file's keys.
type Config struct {
	// Server is how lanyard listens, where it keeps its data, and how it logs.
	Server Server `yaml:"server"`
	// API is how the native API is mounted and answers.
	API API `yaml:"api"`
	// Schema is the resource types and which may parent which.
	Schema Schema `yaml:"schema"`
	// Roles maps a role name to its permissions. It always holds the built-in observer, member
	// and admin; a file's roles are added to them.
	Roles map[string]Role `yaml:"roles"`
	// Sources are where requests carry their credential, tried in this order.
	Sources []Source `yaml:"sources"`
	// Tokens are the prefixes of the tokens lanyard issues and the personal-token lifetime.
	Tokens Tokens `yaml:"tokens"`
	// Keys holds API-key settings.
	Keys Keys `yaml:"keys"`
	// Passwords are the argon2id parameters and the bound on concurrent hashing.
	Passwords Passwords `yaml:"passwords"`
	// Login is the throttling of failed logins.
	Login Login `yaml:"login"`
	// Quotas bound what one client address or one principal can make lanyard do.
	Quotas Quotas `yaml:"quotas"`
	// Cache is the in-process credential cache and the cross-node staleness bound.
	Cache Cache `yaml:"cache"`
	// Exchange maps each exchangeable resource type (CONTRACT §6) to how its scoped tokens are
	// obtained and presented. Empty: no scoped tokens.
	Exchange map[string]Exchange `yaml:"exchange"`
	// Plans maps a plan name to its rate-limit windows. Empty: nothing is rate limited.
	Plans map[string]Plan `yaml:"plans"`
	// DefaultPlan is the plan of a key or resource that names none; "" for none (unlimited).
	DefaultPlan string `yaml:"default_plan"`
	// RateLimit is how limits are shared between nodes through Redis.
	RateLimit RateLimit `yaml:"rate_limit"`
	// Gateway is the upstream and the routes requests to it are checked against.
	Gateway Gateway `yaml:"gateway"`
	// Console is the web console at /console/.
	Console Console `yaml:"console"`
}

// MaxAdminSession is the longest an admin's console session lasts, whatever
// console.session_ttl says: a session of an admin carries admin power (CONTRACT §11.34).
const MaxAdminSession = 12 * time.Hour

// MaxSessionTTL bounds console.session_ttl.
const MaxSessionTTL = 30 * 24 * time.Hour

// Console is the web console at /console/ (CONTRACT §9).
type Console struct {
	// SessionTTL is how long a console sign-in lasts (default 12h, at most 720h). An admin's
	// session lasts at most MaxAdminSession whatever this says.
	SessionTTL time.Duration `yaml:"session_ttl"`
}

// Log formats.
const (
	LogText = "text"
	LogJSON = "json"
)

// Server is how lanyard listens, stores and logs. Flags and env override Addr, Data, Store,
// Redis, TLSCert, TLSKey, LogFormat and NodeID.
type Server struct {
	// Addr is the HOST:PORT to listen on (port 0: any free port).
	Addr string `yaml:"addr"`
	// Data is the directory of the embedded SQLite database (and other local state).
	Data string `yaml:"data"`
	// Store is "" for SQLite in Data, or a postgres:// (postgresql://) URL for PostgreSQL.
	Store string `yaml:"store"`
	// Redis is "" to keep rate limits and revocation fan-out in process, or a redis://,
	// rediss:// or unix:// URL to share them between nodes.
	Redis string `yaml:"redis"`
	// TLSCert and TLSKey are the PEM files to serve HTTPS with; both or neither. Neither: plain
	// HTTP, for a TLS-terminating proxy in front.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// LogFormat is LogText or LogJSON.
	LogFormat string `yaml:"log_format"`
	// NodeID names this node among the nodes of one store (GET /v1/nodes, the lagging nodes of
	// ?wait=propagated; CONTRACT §11.33). "" is the default: the OS hostname and the listening
	// port, "<hostname>:<port>".
	NodeID string `yaml:"node_id"`
	// MaxBodyBytes bounds a request body lanyard reads itself (413 above it).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxHeaderBytes bounds a request's headers (431 above it).
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout are http.Server's; 0 means
	// none for all but ReadHeaderTimeout, which must be positive.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	// ShutdownTimeout is how long a graceful shutdown waits for requests in flight.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// TrustedProxies are the CIDRs (or single addresses) of proxies whose X-Forwarded-For is
	// believed when deciding a client's address.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// TrustedPrefixes returns TrustedProxies parsed and masked; a bare address is a one-address
// prefix. Entries that do not parse are left out (a validated Config has none).
func (s Server) TrustedPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, v := range s.TrustedProxies {
		if p, ok := parsePrefix(v); ok {
			out = append(out, p)
		}
	}
	return out
}

// API is how the native API is mounted and answers.
type API struct {
	// Prefix is where the native API is mounted: it starts with '/', has no trailing '/', and
	// is not /healthz, /readyz, /metrics or /console, nor under or above them.
	Prefix string `yaml:"prefix"`
	// Envelope wraps every native answer as {"success", "data", "message"} (CONTRACT §11.7).
	Envelope bool `yaml:"envelope"`
	// VerifyRequiresCredential makes POST <prefix>/verify need a caller credential
	// (CONTRACT §5: by default it needs none).
	VerifyRequiresCredential bool `yaml:"verify_requires_credential"`
}

// Schema maps each resource type to its allowed parents. A validated Schema has at least one
// root type and no cycles, so every chain of parents is at most len(Schema) long.
type Schema map[string]ResourceType

// ResourceType is one resource type of the schema.
type ResourceType struct {
	// Parents are the types a resource of this type may have as its parent. None: the type is
	// a root type.
	Parents []string `yaml:"parents"`
	// Root lets a type that has Parents also be created without a parent (org-scopes'
	// organization is a root or under a domain).
	Root bool `yaml:"root"`
}

// Has reports whether typ is a resource type of the schema.
func (s Schema) Has(typ string) bool {
	_, ok := s[typ]
	return ok
}

// Types returns the schema's type names in byte order.
func (s Schema) Types() []string {
	out := make([]string, 0, len(s))
	for t := range s {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Parents returns the allowed parent types of typ (nil for a root-only or unknown type). The
// slice is the Schema's own: do not modify it.
func (s Schema) Parents(typ string) []string { return s[typ].Parents }

// IsRoot reports whether a resource of type typ may be created without a parent: typ is known
// and has no parents or is marked root.
func (s Schema) IsRoot(typ string) bool {
	t, ok := s[typ]
	return ok && (t.Root || len(t.Parents) == 0)
}

// AllowedParent reports whether a resource of type parent may be the parent of one of type
// child.
func (s Schema) AllowedParent(child, parent string) bool {
	return slices.Contains(s[child].Parents, parent)
}

// Built-in role names. They always exist with the permissions of CONTRACT §7.
const (
	RoleObserver = "observer"
	RoleMember   = "member"
	RoleAdmin    = "admin"
)

// BuiltinRoles returns the built-in roles and their permissions (a fresh map each call).
func BuiltinRoles() map[string]Role {
	return map[string]Role{
		RoleObserver: {Perms: PermRead},
		RoleMember:   {Perms: PermRead | PermWrite},
		RoleAdmin:    {Perms: PermAll},
	}
}

// Role is a named set of permissions. In the file it is a list of permission names:
// contributor: [write].
type Role struct {
	Perms Perms
}

// Permissions returns the permissions of the named role, and whether the role exists.
func (c *Config) Permissions(role string) (Perms, bool) {
	r, ok := c.Roles[role]
	return r.Perms, ok
}

// Source types.
const (
	SourceBearer = "bearer" // Authorization: Bearer <token>
	SourceBasic  = "basic"  // Authorization: Basic base64(<key id>:<secret>)
	SourceScheme = "scheme" // Authorization: <Scheme> <token>
	SourceHeader = "header" // <Name>: <token>
)

// Source is one place a request may carry its credential (CONTRACT §4).
type Source struct {
	// Type is SourceBearer, SourceBasic, SourceScheme or SourceHeader.
	Type string `yaml:"type"`
	// Scheme is the Authorization scheme of a scheme source, e.g. "APIKEY:ORGANIZATION";
	// empty for every other type.
	Scheme string `yaml:"scheme"`
	// Name is the header name of a header source, e.g. "x-bbk-auth-token"; empty for every
	// other type.
	Name string `yaml:"name"`
}

// Tokens are the prefixes of the tokens lanyard issues (CONTRACT §11.9: <prefix>_<random><crc>)
// and the lifetime of personal access tokens. Each prefix is 1–16 characters of [a-z0-9]; all
// differ.
type Tokens struct {
	// KeyPrefix starts API key tokens (format token).
	KeyPrefix string `yaml:"key_prefix"`
	// SecretPrefix starts the secret of a key_secret key.
	SecretPrefix string `yaml:"secret_prefix"`
	// PersonalPrefix starts personal access tokens.
	PersonalPrefix string `yaml:"personal_prefix"`
	// AdminPrefix starts admin tokens.
	AdminPrefix string `yaml:"admin_prefix"`
	// BootstrapPrefix starts a generated bootstrap token.
	BootstrapPrefix string `yaml:"bootstrap_prefix"`
	// ScopedPrefix starts scoped (exchanged) tokens.
	ScopedPrefix string `yaml:"scoped_prefix"`
	// PersonalTTL is the lifetime of a personal access token (login's expires_in).
	PersonalTTL time.Duration `yaml:"personal_ttl"`
}

// Key formats.
const (
	FormatToken     = "token"      // one token
	FormatKeySecret = "key_secret" // a key id and a secret, sent as Basic
)

// Keys holds API-key settings.
type Keys struct {
	// DefaultFormat is the format of a key whose create request names none: FormatToken or
	// FormatKeySecret.
	DefaultFormat string `yaml:"default_format"`
}

// Passwords are the argon2id parameters (default: OWASP's m=19456 KiB, t=2, p=1) and the bound
// on concurrent hashing. Tests use cheap values.
type Passwords struct {
	// MemoryKiB is argon2id's memory in KiB: at least 8×Parallelism, at most 4 GiB.
	MemoryKiB int `yaml:"memory_kib"`
	// Iterations is argon2id's time parameter, at least 1.
	Iterations int `yaml:"iterations"`
	// Parallelism is argon2id's lanes, 1–255.
	Parallelism int `yaml:"parallelism"`
	// MaxConcurrent bounds hashings in progress at once; 0 means the number of CPUs.
	MaxConcurrent int `yaml:"max_concurrent"`
	// QueueTimeout is how long a login waits for its turn to hash before it gets 429.
	QueueTimeout time.Duration `yaml:"queue_timeout"`
}

// Login is the throttling of failed logins (CONTRACT §11.19).
type Login struct {
	// MaxFailures is the consecutive failures of one account after which further attempts get
	// 429 until Lockout has passed; a success resets the count.
	MaxFailures int `yaml:"max_failures"`
	// Lockout is the throttling window.
	Lockout time.Duration `yaml:"lockout"`
	// IPMaxFailures is the failures from one client address per Lockout window after which its
	// attempts get 429.
	IPMaxFailures int `yaml:"ip_max_failures"`
}

// Quotas bound what one client address or one principal can make lanyard do, whatever its
// permissions (CONTRACT §11.59, §11.63); past a rate the answer is 429 with Retry-After, past
// KeysPerOwner it is 403. Each rate allows that many requests at once after a quiet minute
// and one more every minute/rate after that. A zero turns that quota off. These guard
// lanyard's own endpoints; plans limit the APIs behind it.
type Quotas struct {
	// LoginPerMinute bounds POST /v1/auth/login requests per client address (default 120,
	// above the 100 failures per address that login throttling lets through first),
	// besides the throttling of failed logins.
	LoginPerMinute int `yaml:"login_per_minute"`
	// RevokePerMinute bounds POST /v1/tokens/revoke requests per client address (default 60;
	// each names at most 100 tokens).
	RevokePerMinute int `yaml:"revoke_per_minute"`
	// WritesPerMinute bounds the keys, resources, users and grants one principal creates or
	// gives (default 300: 5 a second sustained). Admin credentials are not bound by it.
	WritesPerMinute int `yaml:"writes_per_minute"`
	// KeysPerOwner bounds the keys one user, or one resource's business keys, may hold at
	// once (default 1000; an expired key counts until it is deleted).
	KeysPerOwner int `yaml:"keys_per_owner"`
}

// Cache is the in-process credential cache and the cross-node staleness bound.
type Cache struct {
	// Size is the number of resolved credentials kept in process.
	Size int `yaml:"size"`
	// NegativeTTL is how long an unknown token is remembered as unknown; 0 turns that off.
	NegativeTTL time.Duration `yaml:"negative_ttl"`
	// Staleness bounds how long another node's change may go unseen here.
	Staleness time.Duration `yaml:"staleness"`
	// LastUsedFlush is how often last_used_at is written, in one batch.
	LastUsedFlush time.Duration `yaml:"last_used_flush"`
}

// DefaultExchangeTTL is a scoped token's lifetime when its exchange type names none.
const DefaultExchangeTTL = time.Hour

// Exchange is one exchangeable resource type: a credential that may read a resource of the type
// gets a scoped token for it at Path and presents it in Header (CONTRACT §6).
type Exchange struct {
	// Path is the authorize path, a net/http pattern with the wildcard {id} (the resource's
	// id) and no other, answered for GET: /Events/{id}/authorize.
	Path string `yaml:"path"`
	// Header is the request header the scoped token is presented in: x-Event-Token.
	Header string `yaml:"header"`
	// Requires is the exchangeable type, an allowed parent of this one, whose scoped token must
	// come with the authorize request (and with every request that presents this type's
	// token); "" for none.
	Requires string `yaml:"requires"`
	// TTL is a scoped token's lifetime (default DefaultExchangeTTL).
	TTL time.Duration `yaml:"ttl"`
}

func (e *Exchange) setDefaults() { e.TTL = DefaultExchangeTTL }

// Bucket kinds of a plan.
const (
	BucketResource = "resource" // one bucket per owning resource, shared by its keys
	BucketKey      = "key"      // one bucket per key
)

// Plan is a rate-limit plan: every window must allow a request.
type Plan struct {
	// Bucket is BucketResource (default) or BucketKey.
	Bucket string `yaml:"bucket"`
	// Windows are the limits, e.g. 60 per minute and 10000 per day; at least one, no two of the
	// same length.
	Windows []Window `yaml:"windows"`
}

func (p *Plan) setDefaults() { p.Bucket = BucketResource }

// Window is one rate-limit window: at most Limit requests (or credits of cost) per Window.
type Window struct {
	// Limit is the requests allowed per window, at least 1.
	Limit int64 `yaml:"limit"`
	// Window is the window's length, at least 1s.
	Window time.Duration `yaml:"window"`
}

// Rate-limit modes and Redis-down policies (DESIGN "Rate limits").
const (
	RateLimitExact = "exact" // one atomic Redis script per decision: exact across nodes
	RateLimitFast  = "fast"  // decide from a local share, reconcile in the background

	RedisDownClosed = "closed" // refuse with 503
	RedisDownLocal  = "local"  // each node enforces limit ÷ nodes
	RedisDownOpen   = "open"   // let requests through
)

// RateLimit is how limits are shared through Redis; without Redis limits are exact in process
// and these settings are unused.
type RateLimit struct {
	// Mode is RateLimitExact (default) or RateLimitFast.
	Mode string `yaml:"mode"`
	// RedisDown is what happens while Redis cannot be reached: RedisDownClosed (default),
	// RedisDownLocal or RedisDownOpen. Always logged and counted.
	RedisDown string `yaml:"redis_down"`
	// IETFHeaders adds the IETF RateLimit and RateLimit-Policy fields wherever X-RateLimit-*
	// are sent (CONTRACT §11.32).
	IETFHeaders bool `yaml:"ietf_headers"`
}

// Gateway is the upstream and the routes checked before a request is proxied to it. The routes
// also serve forward auth (GET <prefix>/authz), with or without an upstream.
type Gateway struct {
	// Upstream is the http:// or https:// URL requests are proxied to; "" for no proxying.
	// --upstream and LANYARD_UPSTREAM override it.
	Upstream string `yaml:"upstream"`
	// Timeout bounds the wait for the upstream's response headers (default 30s); past it the
	// answer is 504. A response's body then streams for as long as server.write_timeout allows.
	Timeout time.Duration `yaml:"timeout"`
	// Routes are matched in order, first match wins; no match: 404.
	Routes []Route `yaml:"routes"`
}

// Route resource sources.
const (
	// FromCredential takes a route's resource from the credential: a business key's resource,
	// or a personal credential's one granted resource of the route's type.
	FromCredential = "credential"
)

// Route is one gateway route: what a request matching it needs before it is proxied.
type Route struct {
	// Path is a Go 1.22 net/http pattern without method or host: /v1/objects/{rest...}.
	Path string `yaml:"path"`
	// Methods the route matches (upper case); empty: every method.
	Methods []string `yaml:"methods"`
	// Resource is where the request names the resource the permission is checked on; nil
	// for none (then Permission must be "none", or Admin true).
	Resource *RouteResource `yaml:"resource"`
	// Permission is "read", "write", "manage", "none" (a valid credential is enough), or ""
	// to derive it from the method: read for GET, HEAD and OPTIONS, write otherwise.
	Permission string `yaml:"permission"`
	// Admin makes the route need an admin or the bootstrap token.
	Admin bool `yaml:"admin"`
	// Tokens are the exchange types whose scoped tokens must come with the request.
	Tokens []string `yaml:"tokens"`
	// Plan is the plan that limits this route; "" for the key's or resource's plan (or the
	// default plan).
	Plan string `yaml:"plan"`
	// Cost is the requests (or credits) one request spends, default 1; 0 spends nothing.
	Cost int64 `yaml:"cost"`
	// ForwardCredential keeps the credential headers on the proxied request.
	ForwardCredential bool `yaml:"forward_credential"`
	// Upgrade lets a request through that asks for a protocol upgrade (a WebSocket); without
	// it such a request is refused with 400. h2c is never let through.
	Upgrade bool `yaml:"upgrade"`
}

func (r *Route) setDefaults() { r.Cost = 1 }

// RequiredPermission is the permission a request with method needs on the route's resource:
// the route's Permission, PermNone for "none", or, when Permission is empty, PermRead for GET,
// HEAD and OPTIONS and PermWrite for every other method. It matters only for a route with a
// Resource: one without needs PermNone (permission: none) or an admin (admin: true).
func (r *Route) RequiredPermission(method string) Perms {
	switch r.Permission {
	case "":
		switch method {
		case "GET", "HEAD", "OPTIONS":
			return PermRead
		}
		return PermWrite
	case PermissionNone:
		return PermNone
	}
	p, _ := ParsePermission(r.Permission)
	return p
}

// RouteResource says where a request names the route's resource: exactly one of Param, Header,
// Query and From is set.
type RouteResource struct {
	// Type is the resource type.
	Type string `yaml:"type"`
	// Param is a wildcard of the route's path holding the resource id.
	Param string `yaml:"param"`
	// Header is a request header holding the resource id.
	Header string `yaml:"header"`
	// Query is a query parameter holding the resource id.
	Query string `yaml:"query"`
	// From is FromCredential: the resource comes from the credential.
	From string `yaml:"from"`
}

// Default returns the built-in default config of CONTRACT §7: schema organization > project,
// the roles observer, member and admin, the sources Bearer and Basic, no exchange, no plans and
// no upstream. Every call returns a fresh value.
func Default() *Config {
	return &Config{
		Server: Server{
			Addr:              "127.0.0.1:8080",
			Data:              "./lanyard-data",
			LogFormat:         LogText,
			MaxBodyBytes:      1 << 20,
			MaxHeaderBytes:    64 << 10,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			ShutdownTimeout:   30 * time.Second,
		},
		API: API{Prefix: "/v1"},
		Schema: Schema{
			"organization": {},
			"project":      {Parents: []string{"organization"}},
		},
		Roles:   BuiltinRoles(),
		Sources: []Source{{Type: SourceBearer}, {Type: SourceBasic}},
		Tokens: Tokens{
			KeyPrefix:       "lk",
			SecretPrefix:    "lks",
			PersonalPrefix:  "lp",
			AdminPrefix:     "la",
			BootstrapPrefix: "lb",
			ScopedPrefix:    "lt",
			PersonalTTL:     24 * time.Hour,
		},
		Keys: Keys{DefaultFormat: FormatToken},
		Passwords: Passwords{
			MemoryKiB:    19456,
			Iterations:   2,
			Parallelism:  1,
			QueueTimeout: 2 * time.Second,
		},
		Login: Login{
			MaxFailures:   20,
			Lockout:       15 * time.Minute,
			IPMaxFailures: 100,
		},
		Quotas: Quotas{LoginPerMinute: 120, RevokePerMinute: 60, WritesPerMinute: 300, KeysPerOwner: 1000},
		Cache: Cache{
			Size:          100000,
			NegativeTTL:   2 * time.Second,
			Staleness:     time.Second,
			LastUsedFlush: 10 * time.Second,
		},
		RateLimit: RateLimit{Mode: RateLimitExact, RedisDown: RedisDownClosed},
		Console:   Console{SessionTTL: 12 * time.Hour},
	}
}
