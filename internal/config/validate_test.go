package config

import (
	"strings"
	"testing"
	"time"
)

// layered is a valid config with exchange types, plans and routes, for the rules about them.
func layered() *Config {
	c := Default()
	c.Schema = Schema{
		"event":        {},
		"collaborator": {Parents: []string{"event"}},
		"area":         {Parents: []string{"event"}},
	}
	c.Exchange = map[string]Exchange{
		"event":        {Path: "/Events/{id}/authorize", Header: "x-Event-Token", TTL: time.Hour},
		"collaborator": {Path: "/Collaborators/{id}/authorize", Header: "x-Collaborator-Token", Requires: "event", TTL: time.Hour},
	}
	c.Plans = map[string]Plan{
		"free": {Bucket: BucketResource, Windows: []Window{{Limit: 60, Window: time.Minute}, {Limit: 1000, Window: 24 * time.Hour}}},
	}
	c.DefaultPlan = "free"
	c.Gateway = Gateway{
		Upstream: "http://127.0.0.1:9000/base",
		Routes: []Route{{
			Path:     "/Events/{id}/{rest...}",
			Methods:  []string{"GET", "POST"},
			Resource: &RouteResource{Type: "event", Param: "id"},
			Tokens:   []string{"event"},
			Plan:     "free",
			Cost:     1,
		}, {
			Path:       "/announce",
			Permission: "none",
		}},
	}
	return c
}

func TestValidate(t *testing.T) {
	if err := layered().Validate(); err != nil {
		t.Fatalf("the base config does not validate: %v", err)
	}
	route := func(c *Config) *Route { return &c.Gateway.Routes[0] }
	for _, tc := range []struct {
		name   string
		mutate func(c *Config)
		want   string // "" for valid
	}{
		// server
		{"addr without port", func(c *Config) { c.Server.Addr = "localhost" }, "server.addr must be HOST:PORT"},
		{"addr with a bad port", func(c *Config) { c.Server.Addr = "localhost:http" }, "server.addr must end in a port number"},
		{"addr port too big", func(c *Config) { c.Server.Addr = ":70000" }, "server.addr must end in a port number"},
		{"addr any port", func(c *Config) { c.Server.Addr = "127.0.0.1:0" }, ""},
		{"addr all interfaces", func(c *Config) { c.Server.Addr = ":8080" }, ""},
		{"addr ipv6", func(c *Config) { c.Server.Addr = "[::1]:8080" }, ""},
		{"data empty", func(c *Config) { c.Server.Data = "" }, "server.data must name a directory"},
		{"store postgres", func(c *Config) { c.Server.Store = "postgres://u:p@db:5432/lanyard?sslmode=disable" }, ""},
		{"store postgresql", func(c *Config) { c.Server.Store = "postgresql://db/lanyard" }, ""},
		{"store other", func(c *Config) { c.Server.Store = "mysql://db/lanyard" }, "server.store must be empty (SQLite in server.data) or a postgres:// URL"},
		{"store a path", func(c *Config) { c.Server.Store = "./lanyard.db" }, "server.store must be empty"},
		{"redis", func(c *Config) { c.Server.Redis = "rediss://:p@r:6380/0" }, ""},
		{"redis other", func(c *Config) { c.Server.Redis = "r:6379" }, "server.redis must be empty or a redis://"},
		{"tls cert alone", func(c *Config) { c.Server.TLSCert = "c.pem" }, "server.tls_cert and server.tls_key must be given together"},
		{"tls key alone", func(c *Config) { c.Server.TLSKey = "k.pem" }, "server.tls_cert and server.tls_key must be given together"},
		{"tls both", func(c *Config) { c.Server.TLSCert, c.Server.TLSKey = "c.pem", "k.pem" }, ""},
		{"log format", func(c *Config) { c.Server.LogFormat = "xml" }, `server.log_format must be text or json, not "xml"`},
		{"log format json", func(c *Config) { c.Server.LogFormat = "json" }, ""},
		{"node id", func(c *Config) { c.Server.NodeID = "eu-1.lanyard.internal:8080" }, ""},
		{"node id unicode", func(c *Config) { c.Server.NodeID = "nœud-1" }, ""},
		{"node id with a space", func(c *Config) { c.Server.NodeID = "node 1" }, "server.node_id must be text without spaces"},
		{"node id with a control character", func(c *Config) { c.Server.NodeID = "node\x001" }, "server.node_id must be text without spaces"},
		{"node id not UTF-8", func(c *Config) { c.Server.NodeID = "node\xff" }, "server.node_id must be text without spaces"},
		{"node id too long", func(c *Config) { c.Server.NodeID = strings.Repeat("n", 129) }, "server.node_id must be at most 128 bytes"},
		{"max body", func(c *Config) { c.Server.MaxBodyBytes = 0 }, "server.max_body_bytes must be positive"},
		{"max header", func(c *Config) { c.Server.MaxHeaderBytes = -1 }, "server.max_header_bytes must be positive"},
		{"read header timeout", func(c *Config) { c.Server.ReadHeaderTimeout = 0 }, "server.read_header_timeout must be positive"},
		{"read timeout negative", func(c *Config) { c.Server.ReadTimeout = -time.Second }, "server.read_timeout must be positive"},
		{"write timeout none", func(c *Config) { c.Server.WriteTimeout = 0 }, ""},
		{"idle timeout negative", func(c *Config) { c.Server.IdleTimeout = -1 }, "server.idle_timeout must be positive"},
		{"shutdown timeout", func(c *Config) { c.Server.ShutdownTimeout = 0 }, "server.shutdown_timeout must be positive"},
		{"trusted proxies", func(c *Config) { c.Server.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.1", "::1", "fd00::/8"} }, ""},
		{"trusted proxy bad", func(c *Config) { c.Server.TrustedProxies = []string{"10.0.0.0/8", "10.0.0.0/33"} }, `server.trusted_proxies[1] must be a CIDR`},
		{"trusted proxy name", func(c *Config) { c.Server.TrustedProxies = []string{"proxy.local"} }, `server.trusted_proxies[0] must be a CIDR`},

		// api
		{"prefix other", func(c *Config) { c.API.Prefix = "/api/v2" }, ""},
		{"prefix empty", func(c *Config) { c.API.Prefix = "" }, "api.prefix must start with '/'"},
		{"prefix relative", func(c *Config) { c.API.Prefix = "v1" }, "api.prefix must start with '/'"},
		{"prefix root", func(c *Config) { c.API.Prefix = "/" }, "api.prefix must start with '/'"},
		{"prefix trailing slash", func(c *Config) { c.API.Prefix = "/v1/" }, "without a trailing '/'"},
		{"prefix empty segment", func(c *Config) { c.API.Prefix = "/a//b" }, "api.prefix must be path segments"},
		{"prefix wildcard", func(c *Config) { c.API.Prefix = "/{v}" }, "api.prefix must be path segments"},
		{"prefix dot dot", func(c *Config) { c.API.Prefix = "/a/.." }, "api.prefix must be path segments"},
		{"prefix healthz", func(c *Config) { c.API.Prefix = "/healthz" }, "collides with lanyard's own /healthz"},
		{"prefix readyz", func(c *Config) { c.API.Prefix = "/readyz" }, "collides with lanyard's own /readyz"},
		{"prefix under metrics", func(c *Config) { c.API.Prefix = "/metrics/v1" }, "collides with lanyard's own /metrics"},
		{"prefix console", func(c *Config) { c.API.Prefix = "/console" }, "collides with lanyard's own /console"},
		{"prefix consoles", func(c *Config) { c.API.Prefix = "/consoles" }, ""},

		// schema
		{"schema empty", func(c *Config) { c.Schema = nil }, "schema must name at least one resource type"},
		{"schema bad name", func(c *Config) { c.Schema["Org"] = ResourceType{} }, `schema: type name "Org" must match`},
		{"schema name with dash", func(c *Config) { c.Schema["event-type"] = ResourceType{} }, `schema: type name "event-type" must match`},
		{"schema name too long", func(c *Config) { c.Schema["a"+strings.Repeat("b", 64)] = ResourceType{} }, "must match"},
		{"schema unknown parent", func(c *Config) {
			c.Schema = Schema{"organization": {}, "project": {Parents: []string{"org"}}}
		}, `config: schema: type "project" names unknown parent "org"`},
		{"schema parent twice", func(c *Config) { c.Schema["scene"] = ResourceType{Parents: []string{"event", "event"}} }, `names parent "event" twice`},
		{"schema self parent", func(c *Config) { c.Schema["folder"] = ResourceType{Parents: []string{"folder"}, Root: true} }, `type "folder" is its own ancestor (folder > folder)`},
		{"schema cycle", func(c *Config) {
			c.Schema["a"] = ResourceType{Parents: []string{"b"}}
			c.Schema["b"] = ResourceType{Parents: []string{"c"}}
			c.Schema["c"] = ResourceType{Parents: []string{"a", "event"}}
		}, `type "a" is its own ancestor (a > b > c > a)`},
		{"schema no root", func(c *Config) {
			c.Schema = Schema{"a": {Parents: []string{"b"}}, "b": {Parents: []string{"a"}}}
		}, "is its own ancestor"},
		{"schema root with parents", func(c *Config) { c.Schema["area"] = ResourceType{Parents: []string{"event"}, Root: true} }, ""},

		// roles
		{"role added", func(c *Config) { c.Roles["contributor"] = Role{Perms: PermWrite} }, ""},
		{"role no permissions", func(c *Config) { c.Roles["nobody"] = Role{} }, "roles.nobody must give at least one permission"},
		{"role bad permission bits", func(c *Config) { c.Roles["odd"] = Role{Perms: 1 << 5} }, "roles.odd holds a permission other than read, write and manage"},
		{"role bad name", func(c *Config) { c.Roles["Viewer"] = Role{Perms: PermRead} }, `roles: role name "Viewer" must match`},
		{"builtin redefined", func(c *Config) { c.Roles["observer"] = Role{Perms: PermRead | PermWrite} }, `roles: the built-in role "observer" is read and cannot be redefined as read+write`},
		{"builtin missing", func(c *Config) { delete(c.Roles, "admin") }, `roles: the built-in role "admin" is missing`},

		// sources
		{"sources empty", func(c *Config) { c.Sources = nil }, "sources must list at least one credential source"},
		{"source unknown type", func(c *Config) { c.Sources = []Source{{Type: "cookie"}} }, `sources[0].type must be bearer, basic, scheme or header, not "cookie"`},
		{"source scheme", func(c *Config) { c.Sources = append(c.Sources, Source{Type: "scheme", Scheme: "APIKEY:ORGANIZATION"}) }, ""},
		{"source scheme with space", func(c *Config) { c.Sources = []Source{{Type: "scheme", Scheme: "API KEY"}} }, `sources[0].scheme must be an Authorization scheme without spaces`},
		{"source scheme empty", func(c *Config) { c.Sources = []Source{{Type: "scheme"}} }, `sources[0].scheme must be an Authorization scheme`},
		{"source scheme bearer", func(c *Config) { c.Sources = []Source{{Type: "scheme", Scheme: "BEARER"}} }, `use type: bearer`},
		{"source scheme with name", func(c *Config) { c.Sources = []Source{{Type: "scheme", Scheme: "Token", Name: "x"}} }, "takes a scheme, not a name"},
		{"source header", func(c *Config) { c.Sources = []Source{{Type: "header", Name: "x-bbk-auth-token"}} }, ""},
		{"source header bad name", func(c *Config) { c.Sources = []Source{{Type: "header", Name: "x auth"}} }, `sources[0].name must be an HTTP header name, not "x auth"`},
		{"source header empty", func(c *Config) { c.Sources = []Source{{Type: "header"}} }, `sources[0].name must be an HTTP header name`},
		{"source header authorization", func(c *Config) { c.Sources = []Source{{Type: "header", Name: "authorization"}} }, "cannot be Authorization"},
		{"source header lanyard", func(c *Config) { c.Sources = []Source{{Type: "header", Name: "X-Lanyard-Principal"}} }, "lanyard sets the X-Lanyard- headers itself"},
		{"source header with scheme", func(c *Config) { c.Sources = []Source{{Type: "header", Name: "x-a", Scheme: "b"}} }, "takes a name, not a scheme"},
		{"source bearer with scheme", func(c *Config) { c.Sources = []Source{{Type: "bearer", Scheme: "Token"}} }, "a bearer source takes neither scheme nor name"},
		{"source duplicate", func(c *Config) { c.Sources = append(c.Sources, Source{Type: "bearer"}) }, "sources[2] repeats sources[0]"},
		{"source duplicate header", func(c *Config) {
			c.Sources = []Source{{Type: "header", Name: "X-Key"}, {Type: "header", Name: "x-key"}}
		}, "sources[1] repeats sources[0]"},
		{"source duplicate scheme", func(c *Config) {
			c.Sources = []Source{{Type: "scheme", Scheme: "Token"}, {Type: "scheme", Scheme: "token"}}
		}, "sources[1] repeats sources[0]"},

		// tokens
		{"prefix empty", func(c *Config) { c.Tokens.KeyPrefix = "" }, `tokens.key_prefix must be 1 to 16 characters of [a-z0-9], not ""`},
		{"prefix underscore", func(c *Config) { c.Tokens.AdminPrefix = "l_a" }, "tokens.admin_prefix must be 1 to 16 characters"},
		{"prefix upper case", func(c *Config) { c.Tokens.ScopedPrefix = "LT" }, "tokens.scoped_prefix must be 1 to 16 characters"},
		{"prefix too long", func(c *Config) { c.Tokens.PersonalPrefix = strings.Repeat("p", 17) }, "tokens.personal_prefix must be 1 to 16 characters"},
		{"prefix sixteen", func(c *Config) { c.Tokens.PersonalPrefix = strings.Repeat("p", 16) }, ""},
		{"prefix shared", func(c *Config) { c.Tokens.BootstrapPrefix = "la" }, `tokens.admin_prefix and tokens.bootstrap_prefix are both "la"`},
		{"personal ttl", func(c *Config) { c.Tokens.PersonalTTL = 0 }, "tokens.personal_ttl must be positive"},

		// keys
		{"default format key_secret", func(c *Config) { c.Keys.DefaultFormat = "key_secret" }, ""},
		{"default format", func(c *Config) { c.Keys.DefaultFormat = "jwt" }, `keys.default_format must be token or key_secret, not "jwt"`},

		// passwords
		{"parallelism zero", func(c *Config) { c.Passwords.Parallelism = 0 }, "passwords.parallelism must be from 1 to 255"},
		{"parallelism too big", func(c *Config) { c.Passwords.Parallelism = 256 }, "passwords.parallelism must be from 1 to 255"},
		{"iterations", func(c *Config) { c.Passwords.Iterations = 0 }, "passwords.iterations must be at least 1"},
		{"memory below 8 per lane", func(c *Config) { c.Passwords.MemoryKiB, c.Passwords.Parallelism = 31, 4 }, "passwords.memory_kib must be at least 8 × parallelism (32), not 31"},
		{"memory cheap for tests", func(c *Config) { c.Passwords.MemoryKiB, c.Passwords.Iterations = 8, 1 }, ""},
		{"memory too big", func(c *Config) { c.Passwords.MemoryKiB = 4<<20 + 1 }, "passwords.memory_kib must be at most 4 GiB"},
		{"max concurrent", func(c *Config) { c.Passwords.MaxConcurrent = -1 }, "passwords.max_concurrent must be 0"},
		{"queue timeout", func(c *Config) { c.Passwords.QueueTimeout = 0 }, "passwords.queue_timeout must be positive"},

		// login
		{"max failures", func(c *Config) { c.Login.MaxFailures = 0 }, "login.max_failures must be positive"},
		{"lockout", func(c *Config) { c.Login.Lockout = 0 }, "login.lockout must be positive"},
		{"ip max failures", func(c *Config) { c.Login.IPMaxFailures = -5 }, "login.ip_max_failures must be positive"},

		// cache
		{"cache size", func(c *Config) { c.Cache.Size = 0 }, "cache.size must be positive"},
		{"negative ttl off", func(c *Config) { c.Cache.NegativeTTL = 0 }, ""},
		{"negative ttl negative", func(c *Config) { c.Cache.NegativeTTL = -time.Second }, "cache.negative_ttl must be 0 (off) or positive"},
		{"staleness", func(c *Config) { c.Cache.Staleness = 0 }, "cache.staleness must be positive"},
		{"last used flush", func(c *Config) { c.Cache.LastUsedFlush = 0 }, "cache.last_used_flush must be positive"},

		// exchange
		{"exchange unknown type", func(c *Config) {
			c.Exchange["ticket"] = Exchange{Path: "/Tickets/{id}/authorize", Header: "x-Ticket-Token", TTL: time.Hour}
		}, `exchange: type "ticket" is not a resource type of the schema`},
		{"exchange path without id", func(c *Config) {
			c.Exchange["area"] = Exchange{Path: "/Areas/authorize", Header: "x-Area-Token", TTL: time.Hour}
		}, "exchange.area.path must hold the wildcard {id} and no other"},
		{"exchange path other wildcard", func(c *Config) {
			c.Exchange["area"] = Exchange{Path: "/Areas/{id}/{x}", Header: "x-Area-Token", TTL: time.Hour}
		}, "exchange.area.path must hold the wildcard {id} and no other"},
		{"exchange path invalid", func(c *Config) {
			c.Exchange["area"] = Exchange{Path: "/Areas/{id/authorize", Header: "x-Area-Token", TTL: time.Hour}
		}, "exchange.area.path \"/Areas/{id/authorize\" is not a valid net/http pattern"},
		{"exchange path with method", func(c *Config) {
			c.Exchange["area"] = Exchange{Path: "GET /Areas/{id}", Header: "x-Area-Token", TTL: time.Hour}
		}, "exchange.area.path must be a path pattern starting with '/'"},
		{"exchange path shared", func(c *Config) {
			c.Exchange["area"] = Exchange{Path: "/Events/{id}/authorize", Header: "x-Area-Token", TTL: time.Hour}
		}, "exchange.event.path is also the path of exchange.area"},
		{"exchange header invalid", func(c *Config) {
			c.Exchange["area"] = Exchange{Path: "/Areas/{id}/authorize", Header: "x:Area", TTL: time.Hour}
		}, "exchange.area.header must be an HTTP header name"},
		{"exchange header shared", func(c *Config) {
			c.Exchange["area"] = Exchange{Path: "/Areas/{id}/authorize", Header: "X-EVENT-TOKEN", TTL: time.Hour}
		}, `exchange.event.header "x-Event-Token" is already the header of exchange.area`},
		{"exchange header is a source", func(c *Config) {
			c.Sources = []Source{{Type: "header", Name: "x-area-token"}}
		}, ""},
		{"exchange header is a source's", func(c *Config) {
			c.Sources = []Source{{Type: "header", Name: "x-event-token"}}
		}, `exchange.event.header "x-Event-Token" is already the header of a credential source`},
		{"exchange requires unknown", func(c *Config) {
			c.Exchange["area"] = Exchange{Path: "/Areas/{id}/authorize", Header: "x-Area-Token", Requires: "venue", TTL: time.Hour}
		}, `exchange.area.requires names "venue", which is not an exchange type`},
		{"exchange requires not a parent", func(c *Config) {
			c.Exchange["area"] = Exchange{Path: "/Areas/{id}/authorize", Header: "x-Area-Token", Requires: "collaborator", TTL: time.Hour}
		}, `exchange.area.requires names "collaborator", which is not an allowed parent of "area"`},
		{"exchange requires itself", func(c *Config) {
			c.Exchange["area"] = Exchange{Path: "/Areas/{id}/authorize", Header: "x-Area-Token", Requires: "area", TTL: time.Hour}
		}, "which is not an allowed parent"},
		{"exchange ttl", func(c *Config) {
			c.Exchange["area"] = Exchange{Path: "/Areas/{id}/authorize", Header: "x-Area-Token"}
		}, "exchange.area.ttl must be positive"},

		// plans
		{"plan bad name", func(c *Config) { c.Plans["Pro"] = c.Plans["free"] }, `plans: plan name "Pro" must match`},
		{"plan bucket", func(c *Config) { c.Plans["free"] = Plan{Bucket: "user", Windows: c.Plans["free"].Windows} }, `plans.free.bucket must be resource or key, not "user"`},
		{"plan bucket key", func(c *Config) { c.Plans["free"] = Plan{Bucket: "key", Windows: c.Plans["free"].Windows} }, ""},
		{"plan no windows", func(c *Config) { c.Plans["free"] = Plan{Bucket: "resource"} }, "plans.free.windows must list at least one window"},
		{"plan limit", func(c *Config) {
			c.Plans["free"] = Plan{Bucket: "resource", Windows: []Window{{Limit: 0, Window: time.Minute}}}
		}, "plans.free.windows[0].limit must be positive"},
		{"plan window", func(c *Config) {
			c.Plans["free"] = Plan{Bucket: "resource", Windows: []Window{{Limit: 1, Window: 0}}}
		}, "plans.free.windows[0].window must be at least 1s"},
		{"plan window same length", func(c *Config) {
			c.Plans["free"] = Plan{Bucket: "resource", Windows: []Window{{Limit: 1, Window: time.Minute}, {Limit: 2, Window: time.Minute}}}
		}, "plans.free.windows[1] has the same length as windows[0]"},
		{"default plan unknown", func(c *Config) { c.DefaultPlan = "gold" }, `default_plan names "gold", which is not a plan`},
		{"default plan none", func(c *Config) { c.DefaultPlan = "" }, ""},

		// rate_limit
		{"rate limit mode", func(c *Config) { c.RateLimit.Mode = "loose" }, `rate_limit.mode must be exact or fast`},
		{"rate limit fast", func(c *Config) { c.RateLimit.Mode, c.RateLimit.RedisDown = "fast", "local" }, ""},
		{"rate limit redis down", func(c *Config) { c.RateLimit.RedisDown = "" }, `rate_limit.redis_down must be closed, local or open`},

		// console
		{"session ttl an hour", func(c *Config) { c.Console.SessionTTL = time.Hour }, ""},
		{"session ttl 30 days", func(c *Config) { c.Console.SessionTTL = MaxSessionTTL }, ""},
		{"session ttl zero", func(c *Config) { c.Console.SessionTTL = 0 }, "console.session_ttl must be from 1m to 720h0m0s, not 0s"},
		{"session ttl too long", func(c *Config) { c.Console.SessionTTL = MaxSessionTTL + time.Hour }, "console.session_ttl must be from 1m to 720h0m0s"},

		// gateway
		{"upstream none", func(c *Config) { c.Gateway.Upstream = "" }, ""},
		{"upstream no scheme", func(c *Config) { c.Gateway.Upstream = "localhost:9000" }, "gateway.upstream must be an http:// or https:// URL"},
		{"upstream no host", func(c *Config) { c.Gateway.Upstream = "http:///x" }, "gateway.upstream must be an http:// or https:// URL"},
		{"route path invalid", func(c *Config) { route(c).Path = "/Events/{id}/{rest...}/more" }, `gateway.routes[0].path "/Events/{id}/{rest...}/more" is not a valid net/http pattern`},
		{"route path relative", func(c *Config) { route(c).Path = "Events/{id}" }, "gateway.routes[0].path must be a path pattern starting with '/'"},
		{"route path with method", func(c *Config) { route(c).Path = "GET /Events/{id}" }, "gateway.routes[0].path must be a path pattern"},
		{"route path exact", func(c *Config) { route(c).Path = "/Events/{id}/{$}" }, ""},
		{"route method lower case", func(c *Config) { route(c).Methods = []string{"get"} }, `gateway.routes[0].methods[0] must be an upper-case HTTP method such as GET, not "get"`},
		{"route method twice", func(c *Config) { route(c).Methods = []string{"GET", "GET"} }, "gateway.routes[0].methods lists GET twice"},
		{"route permission", func(c *Config) { route(c).Permission = "delete" }, `gateway.routes[0].permission must be read, write, manage or none`},
		{"route permission manage", func(c *Config) { route(c).Permission = "manage" }, ""},
		{"route resource type", func(c *Config) { route(c).Resource.Type = "venue" }, `gateway.routes[0].resource.type "venue" is not a resource type of the schema`},
		{"route resource param", func(c *Config) { route(c).Resource.Param = "eventId" }, `gateway.routes[0].resource.param "eventId" is not a wildcard of the path`},
		{"route resource param rest", func(c *Config) { route(c).Resource.Param = "rest" }, ""},
		{"route resource header", func(c *Config) { route(c).Resource = &RouteResource{Type: "event", Header: "X-Event"} }, ""},
		{"route resource header bad", func(c *Config) { route(c).Resource = &RouteResource{Type: "event", Header: "X Event"} }, "gateway.routes[0].resource.header must be an HTTP header name"},
		{"route resource query", func(c *Config) { route(c).Resource = &RouteResource{Type: "event", Query: "event"} }, ""},
		{"route resource from credential", func(c *Config) { route(c).Resource = &RouteResource{Type: "event", From: "credential"} }, ""},
		{"route resource from other", func(c *Config) { route(c).Resource = &RouteResource{Type: "event", From: "cookie"} }, `gateway.routes[0].resource.from must be credential, not "cookie"`},
		{"route resource no source", func(c *Config) { route(c).Resource = &RouteResource{Type: "event"} }, "gateway.routes[0].resource must name exactly one of param, header, query and from"},
		{"route resource two sources", func(c *Config) { route(c).Resource.Query = "event" }, "gateway.routes[0].resource must name exactly one of"},
		{"route without resource", func(c *Config) { c.Gateway.Routes[1].Permission = "" }, "gateway.routes[1] names no resource to check a permission on"},
		{"route without resource reads", func(c *Config) { c.Gateway.Routes[1].Permission = "read" }, "gateway.routes[1] names no resource"},
		{"route admin", func(c *Config) { c.Gateway.Routes[1] = Route{Path: "/admin/{rest...}", Admin: true} }, ""},
		{"route admin reads nothing", func(c *Config) { c.Gateway.Routes[1] = Route{Path: "/admin/", Admin: true, Permission: "read"} }, "gateway.routes[1] names no resource"},
		{"route tokens without resource", func(c *Config) { c.Gateway.Routes[1].Tokens = []string{"event"} }, "gateway.routes[1] needs scoped tokens, so it must name the resource"},
		{"route token unknown", func(c *Config) { route(c).Tokens = []string{"event", "area"} }, `gateway.routes[0].tokens[1] "area" is not an exchange type`},
		{"route token without its parent", func(c *Config) { route(c).Tokens = []string{"collaborator"} }, `gateway.routes[0].tokens lists "collaborator" but not "event"`},
		{"route token with its parent", func(c *Config) { route(c).Tokens = []string{"collaborator", "event"} }, ""},
		{"route token twice", func(c *Config) { route(c).Tokens = []string{"event", "event"} }, `gateway.routes[0].tokens lists "event" twice`},
		{"route plan unknown", func(c *Config) { route(c).Plan = "gold" }, `gateway.routes[0].plan names "gold", which is not a plan`},
		{"route cost", func(c *Config) { route(c).Cost = -1 }, "gateway.routes[0].cost must be 0 or more"},
		{"route cost free", func(c *Config) { route(c).Cost = 0 }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := layered()
			tc.mutate(c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error containing %q", tc.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "config: ") || !strings.Contains(msg, tc.want) {
				t.Errorf("Validate() = %q, want one containing %q", msg, tc.want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("Validate() = %q: more than one line", msg)
			}
		})
	}
}

// TestValidateFromFile checks that rules reached through a file give the same errors.
func TestValidateFromFile(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"schema:\n  organization: {}\n  project: {parents: [org]}\n", `config: schema: type "project" names unknown parent "org"`},
		{"schema: ~\n", "config: schema must name at least one resource type"},
		{"sources: []\n", "config: sources must list at least one credential source"},
		{"roles:\n  admin: [read]\n", `config: roles: the built-in role "admin" is read+write+manage and cannot be redefined as read`},
		{"roles:\n  nobody: []\n", "config: roles.nobody must give at least one permission"},
		{"tokens:\n  personal_ttl: -1\n", "config: tokens.personal_ttl must be positive, not -1s"},
		{"exchange:\n  event:\n    path: /Events/{id}/authorize\n    header: x-Event-Token\n", `config: exchange: type "event" is not a resource type of the schema`},
		{"plans:\n  free: {windows: [{limit: 60, window: 1m}]}\ndefault_plan: pro\n", `config: default_plan names "pro"`},
	} {
		_, err := Parse([]byte(tc.doc))
		if err == nil || err.Error() != tc.want && !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want %q", tc.doc, err, tc.want)
		}
	}
}
