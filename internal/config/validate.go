package config

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

var (
	typeName   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	roleName   = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`) // roles and plans
	prefixName = regexp.MustCompile(`^[a-z0-9]{1,16}$`)
	segment    = regexp.MustCompile(`^[A-Za-z0-9._~-]+$`)
)

// maxArgon2MemoryKiB is 4 GiB in KiB.
const maxArgon2MemoryKiB = 4 << 20

// Validate checks the whole Config and returns the first problem found, as one sentence that
// names the field. Sections are checked in the order of the Config's fields, map entries in
// name order, so the same Config always gets the same error.
func (c *Config) Validate() error {
	for _, check := range []func() error{
		c.validateServer,
		c.validateAPI,
		c.validateSchema,
		c.validateRoles,
		c.validateSources,
		c.validateTokens,
		c.validateKeys,
		c.validatePasswords,
		c.validateLogin,
		c.validateQuotas,
		c.validateCache,
		c.validateExchange,
		c.validatePlans,
		c.validateRateLimit,
		c.validateGateway,
		c.validateConsole,
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("config: "+format, args...)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (c *Config) validateServer() error {
	s := &c.Server
	host, port, err := net.SplitHostPort(s.Addr)
	if err != nil || strings.ContainsAny(host, " /") {
		return errorf("server.addr must be HOST:PORT, such as 127.0.0.1:8080, not %q", s.Addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return errorf("server.addr must end in a port number from 0 to 65535, not %q", s.Addr)
	}
	if strings.TrimSpace(s.Data) == "" {
		return errorf("server.data must name a directory")
	}
	if s.Store != "" {
		if scheme := urlScheme(s.Store); scheme != "postgres" && scheme != "postgresql" {
			return errorf("server.store must be empty (SQLite in server.data) or a postgres:// URL")
		}
	}
	if s.Redis != "" {
		if scheme := urlScheme(s.Redis); scheme != "redis" && scheme != "rediss" && scheme != "unix" {
			return errorf("server.redis must be empty or a redis://, rediss:// or unix:// URL")
		}
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		return errorf("server.tls_cert and server.tls_key must be given together, or neither")
	}
	if err := checkNodeID(s.NodeID); err != nil {
		return err
	}
	if s.LogFormat != LogText && s.LogFormat != LogJSON {
		return errorf("server.log_format must be text or json, not %q", s.LogFormat)
	}
	if s.MaxBodyBytes <= 0 {
		return errorf("server.max_body_bytes must be positive, not %d", s.MaxBodyBytes)
	}
	if s.MaxHeaderBytes <= 0 {
		return errorf("server.max_header_bytes must be positive, not %d", s.MaxHeaderBytes)
	}
	for _, t := range []struct {
		name string
		d    time.Duration
		zero bool // 0 allowed (none)
	}{
		{"read_header_timeout", s.ReadHeaderTimeout, false},
		{"read_timeout", s.ReadTimeout, true},
		{"write_timeout", s.WriteTimeout, true},
		{"idle_timeout", s.IdleTimeout, true},
		{"shutdown_timeout", s.ShutdownTimeout, false},
	} {
		if t.d < 0 || (t.d == 0 && !t.zero) {
			return errorf("server.%s must be positive, not %s", t.name, t.d)
		}
	}
	for i, p := range s.TrustedProxies {
		if _, ok := parsePrefix(p); !ok {
			return errorf("server.trusted_proxies[%d] must be a CIDR such as 10.0.0.0/8 or an address, not %q", i, p)
		}
	}
	return nil
}

// urlScheme returns the lower-case scheme of a URL with a host or path, or "" when v is not
// one. It never echoes v: a store or Redis URL may hold a password.
func urlScheme(v string) string {
	u, err := url.Parse(v)
	if err != nil || (u.Host == "" && u.Path == "" && u.Opaque == "") {
		return ""
	}
	return strings.ToLower(u.Scheme)
}

// parsePrefix reads a CIDR or a bare address (as its one-address prefix), masked.
func parsePrefix(v string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(v); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(v); err == nil && a.Zone() == "" {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

func (c *Config) validateAPI() error {
	p := c.API.Prefix
	if p == "" || p[0] != '/' || p == "/" || strings.HasSuffix(p, "/") {
		return errorf("api.prefix must start with '/' and name a path without a trailing '/', such as /v1, not %q", p)
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if !segment.MatchString(seg) || seg == "." || seg == ".." {
			return errorf("api.prefix must be path segments of [A-Za-z0-9._~-], not %q", p)
		}
	}
	// lanyard's own endpoints outside the native API
	for _, r := range [...]string{"/healthz", "/readyz", "/metrics", "/console"} {
		if p == r || strings.HasPrefix(p, r+"/") {
			return errorf("api.prefix %q collides with lanyard's own %s", p, r)
		}
	}
	return nil
}

func (c *Config) validateSchema() error {
	s := c.Schema
	if len(s) == 0 {
		return errorf("schema must name at least one resource type")
	}
	types := s.Types()
	for _, t := range types {
		if !typeName.MatchString(t) {
			return errorf("schema: type name %q must match ^[a-z][a-z0-9_]{0,63}$", t)
		}
	}
	roots := 0
	for _, t := range types {
		for i, p := range s[t].Parents {
			if !s.Has(p) {
				return errorf("schema: type %q names unknown parent %q", t, p)
			}
			if slices.Contains(s[t].Parents[:i], p) {
				return errorf("schema: type %q names parent %q twice", t, p)
			}
		}
		if s.IsRoot(t) {
			roots++
		}
	}
	// No cycles: a depth-first walk up the parents that meets a type on its own path.
	const (
		unseen = iota
		onPath
		done
	)
	state := make(map[string]int, len(s))
	var path []string
	var walk func(t string) error
	walk = func(t string) error {
		switch state[t] {
		case onPath:
			i := slices.Index(path, t)
			cycle := append(slices.Clone(path[i:]), t)
			return errorf("schema: type %q is its own ancestor (%s)", t, strings.Join(cycle, " > "))
		case done:
			return nil
		}
		state[t] = onPath
		path = append(path, t)
		for _, p := range s[t].Parents {
			if err := walk(p); err != nil {
				return err
			}
		}
		path = path[:len(path)-1]
		state[t] = done
		return nil
	}
	for _, t := range types {
		if err := walk(t); err != nil {
			return err
		}
	}
	if roots == 0 {
		return errorf("schema must have at least one root type (a type without parents, or root: true)")
	}
	return nil
}

func (c *Config) validateRoles() error {
	for name, want := range BuiltinRoles() {
		got, ok := c.Roles[name]
		if !ok {
			return errorf("roles: the built-in role %q is missing", name)
		}
		if got.Perms != want.Perms {
			return errorf("roles: the built-in role %q is %s and cannot be redefined as %s", name, want.Perms, got.Perms)
		}
	}
	for _, name := range sortedKeys(c.Roles) {
		if !roleName.MatchString(name) {
			return errorf("roles: role name %q must match ^[a-z][a-z0-9_-]{0,63}$", name)
		}
		p := c.Roles[name].Perms
		if p == PermNone {
			return errorf("roles.%s must give at least one permission of read, write and manage", name)
		}
		if p&^PermAll != 0 {
			return errorf("roles.%s holds a permission other than read, write and manage", name)
		}
	}
	return nil
}

func (c *Config) validateSources() error {
	if len(c.Sources) == 0 {
		return errorf("sources must list at least one credential source")
	}
	seen := map[string]int{}
	for i, s := range c.Sources {
		var id string
		switch s.Type {
		case SourceBearer, SourceBasic:
			if s.Scheme != "" || s.Name != "" {
				return errorf("sources[%d]: a %s source takes neither scheme nor name", i, s.Type)
			}
			id = s.Type
		case SourceScheme:
			if s.Name != "" {
				return errorf("sources[%d]: a scheme source takes a scheme, not a name", i)
			}
			if !validScheme(s.Scheme) {
				return errorf("sources[%d].scheme must be an Authorization scheme without spaces, such as APIKEY:ORGANIZATION, not %q", i, s.Scheme)
			}
			if l := strings.ToLower(s.Scheme); l == "bearer" || l == "basic" {
				return errorf("sources[%d]: scheme %q is a source type of its own: use type: %s", i, s.Scheme, l)
			}
			id = "scheme " + strings.ToLower(s.Scheme)
		case SourceHeader:
			if s.Scheme != "" {
				return errorf("sources[%d]: a header source takes a name, not a scheme", i)
			}
			if err := checkHeaderName(fmt.Sprintf("sources[%d].name", i), s.Name); err != nil {
				return err
			}
			id = "header " + strings.ToLower(s.Name)
		default:
			return errorf("sources[%d].type must be bearer, basic, scheme or header, not %q", i, s.Type)
		}
		if j, dup := seen[id]; dup {
			return errorf("sources[%d] repeats sources[%d]", i, j)
		}
		seen[id] = i
	}
	return nil
}

// isTchar reports whether b is an RFC 9110 token character.
func isTchar(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if !isTchar(s[i]) {
			return false
		}
	}
	return true
}

// validScheme: an RFC 9110 auth-scheme (a token), also allowing ':' as in APIKEY:ORGANIZATION,
// at most 64 characters.
func validScheme(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := range len(s) {
		if !isTchar(s[i]) && s[i] != ':' {
			return false
		}
	}
	return true
}

// checkHeaderName: a token, not Authorization (sources of type bearer, basic and scheme read
// it), not one of the identity headers lanyard sets.
func checkHeaderName(field, name string) error {
	if !isToken(name) || len(name) > 128 {
		return errorf("%s must be an HTTP header name, not %q", field, name)
	}
	l := strings.ToLower(name)
	if l == "authorization" {
		return errorf("%s cannot be Authorization: use a source of type bearer, basic or scheme", field)
	}
	if strings.HasPrefix(l, "x-lanyard-") {
		return errorf("%s cannot be %q: lanyard sets the X-Lanyard- headers itself", field, name)
	}
	return nil
}

func (c *Config) validateTokens() error {
	t := &c.Tokens
	seen := map[string]string{}
	for _, p := range []struct{ field, v string }{
		{"key_prefix", t.KeyPrefix},
		{"secret_prefix", t.SecretPrefix},
		{"personal_prefix", t.PersonalPrefix},
		{"admin_prefix", t.AdminPrefix},
		{"bootstrap_prefix", t.BootstrapPrefix},
		{"scoped_prefix", t.ScopedPrefix},
	} {
		if !prefixName.MatchString(p.v) {
			return errorf("tokens.%s must be 1 to 16 characters of [a-z0-9], not %q", p.field, p.v)
		}
		if other, dup := seen[p.v]; dup {
			return errorf("tokens.%s and tokens.%s are both %q; every kind of token needs its own prefix", other, p.field, p.v)
		}
		seen[p.v] = p.field
	}
	if t.PersonalTTL <= 0 {
		return errorf("tokens.personal_ttl must be positive, not %s", t.PersonalTTL)
	}
	return nil
}

func (c *Config) validateKeys() error {
	if f := c.Keys.DefaultFormat; f != FormatToken && f != FormatKeySecret {
		return errorf("keys.default_format must be token or key_secret, not %q", f)
	}
	return nil
}

func (c *Config) validatePasswords() error {
	p := &c.Passwords
	if p.Parallelism < 1 || p.Parallelism > 255 {
		return errorf("passwords.parallelism must be from 1 to 255, not %d", p.Parallelism)
	}
	if p.Iterations < 1 || p.Iterations > math.MaxUint32 {
		return errorf("passwords.iterations must be at least 1, not %d", p.Iterations)
	}
	if p.MemoryKiB < 8*p.Parallelism {
		return errorf("passwords.memory_kib must be at least 8 × parallelism (%d), not %d", 8*p.Parallelism, p.MemoryKiB)
	}
	if p.MemoryKiB > maxArgon2MemoryKiB {
		return errorf("passwords.memory_kib must be at most 4 GiB (%d), not %d", maxArgon2MemoryKiB, p.MemoryKiB)
	}
	if p.MaxConcurrent < 0 {
		return errorf("passwords.max_concurrent must be 0 (the number of CPUs) or more, not %d", p.MaxConcurrent)
	}
	if p.QueueTimeout <= 0 {
		return errorf("passwords.queue_timeout must be positive, not %s", p.QueueTimeout)
	}
	return nil
}

func (c *Config) validateLogin() error {
	l := &c.Login
	if l.MaxFailures <= 0 {
		return errorf("login.max_failures must be positive, not %d", l.MaxFailures)
	}
	if l.Lockout <= 0 {
		return errorf("login.lockout must be positive, not %s", l.Lockout)
	}
	if l.IPMaxFailures <= 0 {
		return errorf("login.ip_max_failures must be positive, not %d", l.IPMaxFailures)
	}
	return nil
}

func (c *Config) validateQuotas() error {
	q := &c.Quotas
	for _, f := range []struct {
		name string
		v    int
	}{{"login_per_minute", q.LoginPerMinute}, {"revoke_per_minute", q.RevokePerMinute},
		{"writes_per_minute", q.WritesPerMinute}, {"keys_per_owner", q.KeysPerOwner}} {
		if f.v < 0 || f.v > 1_000_000_000 {
			return errorf("quotas.%s must be 0 (off) or a positive number up to 1000000000, not %d", f.name, f.v)
		}
	}
	return nil
}

func (c *Config) validateCache() error {
	k := &c.Cache
	if k.Size <= 0 {
		return errorf("cache.size must be positive, not %d", k.Size)
	}
	if k.NegativeTTL < 0 {
		return errorf("cache.negative_ttl must be 0 (off) or positive, not %s", k.NegativeTTL)
	}
	if k.Staleness <= 0 {
		return errorf("cache.staleness must be positive, not %s", k.Staleness)
	}
	if k.LastUsedFlush <= 0 {
		return errorf("cache.last_used_flush must be positive, not %s", k.LastUsedFlush)
	}
	return nil
}

// checkPattern checks a path that is registered as a net/http pattern: it starts with '/',
// names no method or host, and net/http accepts it. It returns the pattern's wildcard names.
func checkPattern(field, path string) ([]string, error) {
	if path == "" || path[0] != '/' || strings.ContainsAny(path, " \t\r\n") {
		return nil, errorf("%s must be a path pattern starting with '/', without method or spaces, not %q", field, path)
	}
	if err := registerPattern(path); err != nil {
		return nil, errorf("%s %q is not a valid net/http pattern: %v", field, path, err)
	}
	var names []string
	for _, seg := range strings.Split(path, "/") {
		if len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}' {
			name := strings.TrimSuffix(seg[1:len(seg)-1], "...")
			if name != "$" {
				names = append(names, name)
			}
		}
	}
	return names, nil
}

// registerPattern asks net/http whether it accepts pattern: ServeMux panics on a bad one.
func registerPattern(pattern string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	http.NewServeMux().Handle(pattern, http.NotFoundHandler())
	return nil
}

func (c *Config) validateExchange() error {
	paths := map[string]string{}
	headers := map[string]string{}
	for _, s := range c.Sources {
		if s.Type == SourceHeader {
			headers[strings.ToLower(s.Name)] = "a credential source"
		}
	}
	for _, typ := range sortedKeys(c.Exchange) {
		e := c.Exchange[typ]
		f := "exchange." + typ
		if !c.Schema.Has(typ) {
			return errorf("exchange: type %q is not a resource type of the schema", typ)
		}
		names, err := checkPattern(f+".path", e.Path)
		if err != nil {
			return err
		}
		if !slices.Equal(names, []string{"id"}) {
			return errorf("%s.path must hold the wildcard {id} and no other, not %q", f, e.Path)
		}
		if other, dup := paths[e.Path]; dup {
			return errorf("%s.path is also the path of exchange.%s", f, other)
		}
		paths[e.Path] = typ
		if err := checkHeaderName(f+".header", e.Header); err != nil {
			return err
		}
		if other, dup := headers[strings.ToLower(e.Header)]; dup {
			return errorf("%s.header %q is already the header of %s", f, e.Header, other)
		}
		headers[strings.ToLower(e.Header)] = "exchange." + typ
		if e.Requires != "" {
			if _, ok := c.Exchange[e.Requires]; !ok {
				return errorf("%s.requires names %q, which is not an exchange type", f, e.Requires)
			}
			if !c.Schema.AllowedParent(typ, e.Requires) {
				return errorf("%s.requires names %q, which is not an allowed parent of %q in the schema", f, e.Requires, typ)
			}
		}
		if e.TTL <= 0 {
			return errorf("%s.ttl must be positive, not %s", f, e.TTL)
		}
	}
	return nil
}

func (c *Config) validatePlans() error {
	for _, name := range sortedKeys(c.Plans) {
		p := c.Plans[name]
		f := "plans." + name
		if !roleName.MatchString(name) {
			return errorf("plans: plan name %q must match ^[a-z][a-z0-9_-]{0,63}$", name)
		}
		if p.Bucket != BucketResource && p.Bucket != BucketKey {
			return errorf("%s.bucket must be resource or key, not %q", f, p.Bucket)
		}
		if len(p.Windows) == 0 {
			return errorf("%s.windows must list at least one window", f)
		}
		for i, w := range p.Windows {
			if w.Limit <= 0 {
				return errorf("%s.windows[%d].limit must be positive, not %d", f, i, w.Limit)
			}
			if w.Window < time.Second {
				return errorf("%s.windows[%d].window must be at least 1s, not %s", f, i, w.Window)
			}
			for j := range i {
				if p.Windows[j].Window == w.Window {
					return errorf("%s.windows[%d] has the same length as windows[%d]", f, i, j)
				}
			}
		}
	}
	if c.DefaultPlan != "" {
		if _, ok := c.Plans[c.DefaultPlan]; !ok {
			return errorf("default_plan names %q, which is not a plan", c.DefaultPlan)
		}
	}
	return nil
}

func (c *Config) validateRateLimit() error {
	switch c.RateLimit.Mode {
	case RateLimitExact, RateLimitFast:
	default:
		return errorf("rate_limit.mode must be exact or fast, not %q", c.RateLimit.Mode)
	}
	switch c.RateLimit.RedisDown {
	case RedisDownClosed, RedisDownLocal, RedisDownOpen:
	default:
		return errorf("rate_limit.redis_down must be closed, local or open, not %q", c.RateLimit.RedisDown)
	}
	return nil
}

func (c *Config) validateGateway() error {
	g := &c.Gateway
	if g.Upstream != "" {
		u, err := url.Parse(g.Upstream)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" || u.User != nil {
			return errorf("gateway.upstream must be an http:// or https:// URL with a host (and no user or fragment)")
		}
	}
	if g.Timeout < 0 {
		return errorf("gateway.timeout must be positive, not %s", g.Timeout)
	}
	for i := range g.Routes {
		if err := c.validateRoute(i, &g.Routes[i]); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) validateRoute(i int, r *Route) error {
	f := fmt.Sprintf("gateway.routes[%d]", i)
	wildcards, err := checkPattern(f+".path", r.Path)
	if err != nil {
		return err
	}
	for j, m := range r.Methods {
		if !isToken(m) || strings.ToUpper(m) != m {
			return errorf("%s.methods[%d] must be an upper-case HTTP method such as GET, not %q", f, j, m)
		}
		if slices.Contains(r.Methods[:j], m) {
			return errorf("%s.methods lists %s twice", f, m)
		}
	}
	switch r.Permission {
	case "", PermissionNone, PermissionRead, PermissionWrite, PermissionManage:
	default:
		return errorf("%s.permission must be read, write, manage or none (or empty to derive it from the method), not %q", f, r.Permission)
	}
	if res := r.Resource; res != nil {
		if !c.Schema.Has(res.Type) {
			return errorf("%s.resource.type %q is not a resource type of the schema", f, res.Type)
		}
		set := 0
		for _, v := range []string{res.Param, res.Header, res.Query, res.From} {
			if v != "" {
				set++
			}
		}
		if set != 1 {
			return errorf("%s.resource must name exactly one of param, header, query and from", f)
		}
		switch {
		case res.Param != "" && !slices.Contains(wildcards, res.Param):
			return errorf("%s.resource.param %q is not a wildcard of the path %q", f, res.Param, r.Path)
		case res.Header != "":
			if err := checkHeaderName(f+".resource.header", res.Header); err != nil {
				return err
			}
		case res.From != "" && res.From != FromCredential:
			return errorf("%s.resource.from must be credential, not %q", f, res.From)
		}
	} else {
		if r.Permission != PermissionNone && !(r.Admin && r.Permission == "") {
			return errorf("%s names no resource to check a permission on: give it permission: none (any valid credential will do) or admin: true", f)
		}
		if len(r.Tokens) > 0 {
			return errorf("%s needs scoped tokens, so it must name the resource they are for", f)
		}
	}
	for j, t := range r.Tokens {
		if _, ok := c.Exchange[t]; !ok {
			return errorf("%s.tokens[%d] %q is not an exchange type", f, j, t)
		}
		if slices.Contains(r.Tokens[:j], t) {
			return errorf("%s.tokens lists %q twice", f, t)
		}
	}
	// A child token is checked against its parent's token, so a route takes the whole chain:
	// listing a child alone would let it through without the token it was obtained with.
	for _, t := range r.Tokens {
		if p := c.Exchange[t].Requires; p != "" && !slices.Contains(r.Tokens, p) {
			return errorf("%s.tokens lists %q but not %q, the token it is obtained with: list both", f, t, p)
		}
	}
	if r.Plan != "" {
		if _, ok := c.Plans[r.Plan]; !ok {
			return errorf("%s.plan names %q, which is not a plan", f, r.Plan)
		}
	}
	if r.Cost < 0 {
		return errorf("%s.cost must be 0 or more, not %d", f, r.Cost)
	}
	return nil
}

func (c *Config) validateConsole() error {
	if t := c.Console.SessionTTL; t < time.Minute || t > MaxSessionTTL {
		return errorf("console.session_ttl must be from 1m to %s, not %s", MaxSessionTTL, t)
	}
	return nil
}

// MaxNodeIDLen bounds server.node_id.
const MaxNodeIDLen = 128

// checkNodeID refuses a node id that lists and logs could not show as it is: one longer than
// MaxNodeIDLen bytes, or holding a space, a control character or invalid UTF-8. "" is the
// default id.
func checkNodeID(id string) error {
	if len(id) > MaxNodeIDLen {
		return errorf("server.node_id must be at most %d bytes, not %d", MaxNodeIDLen, len(id))
	}
	if !utf8.ValidString(id) || strings.ContainsFunc(id, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return errorf("server.node_id must be text without spaces or control characters, not %q", id)
	}
	return nil
}
