package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default() does not validate: %v", err)
	}
	want := &Config{
		Server: Server{
			Addr:              "127.0.0.1:8080",
			Data:              "./lanyard-data",
			LogFormat:         "text",
			MaxBodyBytes:      1048576,
			MaxHeaderBytes:    65536,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			ShutdownTimeout:   30 * time.Second,
		},
		API: API{Prefix: "/v1"},
		// CONTRACT §7: organization > project, the three roles, Bearer and Basic, no exchange,
		// no plans, no upstream.
		Schema: Schema{
			"organization": {},
			"project":      {Parents: []string{"organization"}},
		},
		Roles: map[string]Role{
			"observer": {Perms: PermRead},
			"member":   {Perms: PermRead | PermWrite},
			"admin":    {Perms: PermRead | PermWrite | PermManage},
		},
		Sources: []Source{{Type: "bearer"}, {Type: "basic"}},
		Tokens: Tokens{
			KeyPrefix: "lk", SecretPrefix: "lks", PersonalPrefix: "lp", AdminPrefix: "la",
			BootstrapPrefix: "lb", ScopedPrefix: "lt", PersonalTTL: 24 * time.Hour,
		},
		Keys:      Keys{DefaultFormat: "token"},
		Passwords: Passwords{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, QueueTimeout: 2 * time.Second},
		Login:     Login{MaxFailures: 20, Lockout: 15 * time.Minute, IPMaxFailures: 100},
		Cache:     Cache{Size: 100000, NegativeTTL: 2 * time.Second, Staleness: time.Second, LastUsedFlush: 10 * time.Second},
		Quotas:    Quotas{LoginPerMinute: 120, RevokePerMinute: 60, WritesPerMinute: 300, KeysPerOwner: 1000},
		RateLimit: RateLimit{Mode: "exact", RedisDown: "closed"},
		Console:   Console{SessionTTL: 12 * time.Hour},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Default() =\n%+v\nwant\n%+v", c, want)
	}
	if len(c.Exchange) != 0 || len(c.Plans) != 0 || c.DefaultPlan != "" || c.Gateway.Upstream != "" || len(c.Gateway.Routes) != 0 {
		t.Errorf("Default() has exchange, plans or a gateway: %+v", c)
	}

	// A fresh value each call: changing one leaves the next alone.
	c.Schema["project"] = ResourceType{Parents: []string{"x"}}
	c.Roles["x"] = Role{Perms: PermRead}
	c.Sources[0].Type = "header"
	if d := Default(); !reflect.DeepEqual(d, want) {
		t.Errorf("Default() shares state between calls: %+v", d)
	}
}

func TestParseEmptyIsDefault(t *testing.T) {
	for _, doc := range []string{"", "\n", "# only a comment\n# and another\n", "---\n", "~\n", "null", "--- # c\n...\n"} {
		c, err := Parse([]byte(doc))
		if err != nil {
			t.Errorf("Parse(%q): %v", doc, err)
			continue
		}
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("Parse(%q) = %+v, want the default", doc, c)
		}
	}
}

func mustParse(t *testing.T, doc string) *Config {
	t.Helper()
	c, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse:\n%s\nerror: %v", doc, err)
	}
	return c
}

func TestSectionsReplaceAndRecordsKeepDefaults(t *testing.T) {
	c := mustParse(t, `
server:
  addr: 0.0.0.0:9000
  trusted_proxies: [10.0.0.0/8]
passwords:
  memory_kib: 65536
tokens:
  key_prefix: acme
sources:
  - type: header
    name: x-api-key
schema:
  business: {}
`)
	d := Default()

	// Record sections: the named fields change, the others keep the default.
	if c.Server.Addr != "0.0.0.0:9000" || c.Server.Data != d.Server.Data || c.Server.ReadTimeout != d.Server.ReadTimeout {
		t.Errorf("server = %+v", c.Server)
	}
	if want := (Passwords{MemoryKiB: 65536, Iterations: 2, Parallelism: 1, QueueTimeout: 2 * time.Second}); c.Passwords != want {
		t.Errorf("passwords = %+v, want %+v", c.Passwords, want)
	}
	if c.Tokens.KeyPrefix != "acme" || c.Tokens.PersonalPrefix != "lp" || c.Tokens.PersonalTTL != 24*time.Hour {
		t.Errorf("tokens = %+v", c.Tokens)
	}
	// Sections not named are the default.
	if c.Login != d.Login || c.Cache != d.Cache || c.API != d.API || c.Keys != d.Keys {
		t.Errorf("unnamed sections changed: %+v", c)
	}
	// List and map sections are replaced whole.
	if want := []Source{{Type: "header", Name: "x-api-key"}}; !reflect.DeepEqual(c.Sources, want) {
		t.Errorf("sources = %+v, want %+v (replaced, not appended)", c.Sources, want)
	}
	if want := (Schema{"business": {}}); !reflect.DeepEqual(c.Schema, want) {
		t.Errorf("schema = %+v, want %+v", c.Schema, want)
	}
	if want := []string{"10.0.0.0/8"}; !reflect.DeepEqual(c.Server.TrustedProxies, want) {
		t.Errorf("trusted_proxies = %v", c.Server.TrustedProxies)
	}

	// A record section given null keeps its defaults.
	c = mustParse(t, "server:\nlogin: ~\n")
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("null record sections changed the config: %+v", c)
	}
	// A map section given null is empty.
	c = mustParse(t, "exchange: ~\nplans:\n")
	if len(c.Exchange) != 0 || len(c.Plans) != 0 {
		t.Errorf("null map sections are not empty: %+v", c)
	}
}

func TestEntryDefaults(t *testing.T) {
	c := mustParse(t, `
schema:
  event: {}
exchange:
  event: {path: "/Events/{id}/authorize", header: x-Event-Token}
plans:
  free:
    windows: [{limit: 60, window: 1m}]
gateway:
  routes:
    - path: /Events/{id}/{rest...}
      resource: {type: event, param: id}
      tokens: [event]
    - path: /free
      permission: none
      cost: 0
`)
	if got := c.Exchange["event"].TTL; got != time.Hour {
		t.Errorf("exchange ttl = %s, want the default 1h", got)
	}
	if got := c.Plans["free"].Bucket; got != BucketResource {
		t.Errorf("plan bucket = %q, want resource", got)
	}
	if got := c.Gateway.Routes[0].Cost; got != 1 {
		t.Errorf("route cost = %d, want the default 1", got)
	}
	if got := c.Gateway.Routes[1].Cost; got != 0 {
		t.Errorf("route cost = %d, want the explicit 0", got)
	}
	if r := c.Gateway.Routes[1]; r.Resource != nil {
		t.Errorf("route without resource has %+v", r.Resource)
	}
}

func TestRolesAreAdded(t *testing.T) {
	c := mustParse(t, `
roles:
  contributor: [write]
  consumer: [read]
  owner: [read, write, manage]
  admin: [manage, read, write]   # the built-in one, unchanged: allowed
`)
	want := map[string]Perms{
		"observer": PermRead, "member": PermRead | PermWrite, "admin": PermAll,
		"contributor": PermWrite, "consumer": PermRead, "owner": PermAll,
	}
	if len(c.Roles) != len(want) {
		t.Errorf("roles = %v, want %v", c.Roles, want)
	}
	for name, p := range want {
		if got, ok := c.Permissions(name); !ok || got != p {
			t.Errorf("Permissions(%q) = %v, %v; want %v", name, got, ok, p)
		}
	}
	if _, ok := c.Permissions("nobody"); ok {
		t.Error(`Permissions("nobody") exists`)
	}
	// A second Parse starts again from the built-in roles.
	if d := mustParse(t, ""); len(d.Roles) != 3 {
		t.Errorf("roles leak between parses: %v", d.Roles)
	}
}

func TestDurations(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"24h", 24 * time.Hour},
		{"86400", 24 * time.Hour},
		{"90s", 90 * time.Second},
		{"90", 90 * time.Second},
		{"1h30m", 90 * time.Minute},
		{`"3600"`, -1}, // a quoted number is a string, and a duration string needs a unit
		{"1.5", -1},
		{"soon", -1},
		{"[1]", -1},
		{"99999999999999", -1}, // seconds that overflow a Duration
	} {
		c, err := Parse([]byte("tokens:\n  personal_ttl: " + tc.in + "\n"))
		if tc.want < 0 {
			if err == nil || !strings.Contains(err.Error(), "tokens.personal_ttl: must be a duration") {
				t.Errorf("personal_ttl: %s: err = %v, want a duration error", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("personal_ttl: %s: %v", tc.in, err)
			continue
		}
		if c.Tokens.PersonalTTL != tc.want {
			t.Errorf("personal_ttl: %s = %s, want %s", tc.in, c.Tokens.PersonalTTL, tc.want)
		}
	}
	// Both forms inside lists and maps too.
	c := mustParse(t, "plans:\n  p:\n    windows: [{limit: 1, window: 60}, {limit: 10, window: 1h}]\n")
	if w := c.Plans["p"].Windows; w[0].Window != time.Minute || w[1].Window != time.Hour {
		t.Errorf("windows = %+v", w)
	}
}

// TestDecodeErrors covers the file's shape: unknown keys at every depth, wrong kinds,
// duplicates, and YAML features a config does not take.
func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"unknown section", "servr:\n  addr: x\n", `line 1: unknown section "servr"`},
		{"unknown server field", "server:\n  adress: 1.2.3.4:80\n", `line 2: server: unknown field "adress"`},
		{"unknown schema type field", "schema:\n  org: {parent: []}\n", `schema.org: unknown field "parent"`},
		{"unknown source field", "sources:\n  - type: header\n    header: x-a\n", `sources[0]: unknown field "header"`},
		{"unknown route field", "gateway:\n  routes:\n    - path: /a\n      perm: read\n", `gateway.routes[0]: unknown field "perm"`},
		// §11.44: ietf_headers moved under rate_limit; naming it under gateway is an error.
		{"ietf_headers under gateway", "gateway:\n  ietf_headers: true\n", `gateway: unknown field "ietf_headers"`},
		{"unknown route resource field", "gateway:\n  routes:\n    - path: /a\n      resource: {type: organization, path: x}\n", `gateway.routes[0].resource: unknown field "path"`},
		{"unknown plan window field", "plans:\n  p:\n    windows: [{limit: 1, window: 1m, burst: 2}]\n", `plans.p.windows[0]: unknown field "burst"`},
		{"unknown exchange field", "exchange:\n  project: {path: \"/p/{id}/authorize\", header: x-p, method: GET}\n", `exchange.project: unknown field "method"`},
		{"unknown api field", "api:\n  envelop: true\n", `api: unknown field "envelop"`},
		{"document is a list", "- server\n", "the document must be a mapping"},
		{"document is a scalar", "hello\n", "the document must be a mapping"},
		{"section is a list", "server: [a]\n", "server: must be a mapping, not a list"},
		{"sources is a mapping", "sources: {type: bearer}\n", "sources: must be a list, not a mapping"},
		{"string is a mapping", "server:\n  addr: {a: b}\n", "server.addr: must be a string, not a mapping"},
		{"bool is a string", "api:\n  envelope: yes please\n", "api.envelope: must be true or false"},
		{"int is a string", "cache:\n  size: lots\n", "cache.size: must be a whole number"},
		{"int is a float", "cache:\n  size: 1.5\n", "cache.size: must be a whole number"},
		{"duplicate section", "server: {}\nserver: {}\n", `section "server" is given twice`},
		{"duplicate field", "server:\n  addr: a:1\n  addr: b:2\n", `field "addr" is given twice`},
		{"duplicate map key", "schema:\n  a: {}\n  a: {}\n", `"a" is given twice`},
		{"second document", "server: {}\n---\nserver: {}\n", "second YAML document"},
		{"merge key", "server:\n  <<: {addr: a:1}\n", "merge keys"},
		{"role not a list", "roles:\n  x: read\n", "roles.x: must be a list of permissions"},
		{"role unknown permission", "roles:\n  x: [read, delete]\n", `roles.x: unknown permission "delete"`},
		{"role duplicate permission", "roles:\n  x: [read, read]\n", `permission "read" is listed twice`},
		{"bad yaml", "server: [\n", "yaml:"},
		{"key is a list", "? [a]\n: b\n", "a key must be a plain name"},
		{"application tag", "server:\n  addr: !env LISTEN\n", "line 2: the tag !env is not supported"},
		{"binary tag", "server:\n  data: !!binary aGVsbG8=\n", "the tag !!binary is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want an error containing %q", tc.doc, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "config: ") {
				t.Errorf("Parse(%q) error = %q, want one containing %q", tc.doc, err, tc.want)
			}
		})
	}
}

func TestAliases(t *testing.T) {
	c := mustParse(t, `
schema:
  event: {}
  area: &under_event {parents: [event]}
  collaborator: *under_event
`)
	if !c.Schema.AllowedParent("collaborator", "event") || !c.Schema.AllowedParent("area", "event") {
		t.Errorf("aliases not followed: %+v", c.Schema)
	}

	// Aliases that would expand to millions of nodes are refused, quickly: here a list of 1000
	// addresses named by 1100 types is over a million nodes from a 25 KB file.
	var b strings.Builder
	b.WriteString("server:\n  trusted_proxies: &a [")
	b.WriteString(strings.Repeat("x, ", 999) + "x]\nschema:\n")
	for i := range 1100 {
		fmt.Fprintf(&b, "  t%d: {parents: *a}\n", i)
	}
	start := time.Now()
	_, err := Parse([]byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("alias expansion: err = %v, want a too-large error", err)
	}
	t.Logf("%d bytes refused in %s", b.Len(), time.Since(start))
}

func TestAccessors(t *testing.T) {
	c := mustParse(t, `
schema:
  domain: {}
  organization: {parents: [domain], root: true}
  project: {parents: [organization]}
`)
	s := c.Schema
	for _, tc := range []struct {
		typ     string
		root    bool
		parents []string
	}{
		{"domain", true, nil},
		{"organization", true, []string{"domain"}},
		{"project", false, []string{"organization"}},
		{"nothing", false, nil},
	} {
		if got := s.IsRoot(tc.typ); got != tc.root {
			t.Errorf("IsRoot(%q) = %v", tc.typ, got)
		}
		if got := s.Parents(tc.typ); !reflect.DeepEqual(got, tc.parents) {
			t.Errorf("Parents(%q) = %v", tc.typ, got)
		}
	}
	if !s.AllowedParent("project", "organization") || s.AllowedParent("project", "domain") || s.AllowedParent("domain", "project") {
		t.Error("AllowedParent is wrong")
	}
	if got := s.Types(); !reflect.DeepEqual(got, []string{"domain", "organization", "project"}) {
		t.Errorf("Types() = %v", got)
	}

	for _, tc := range []struct {
		p    Perms
		has  Perms
		ok   bool
		name string
	}{
		{PermRead | PermWrite, PermRead, true, "read+write"},
		{PermRead | PermWrite, PermRead | PermWrite, true, "read+write"},
		{PermRead | PermWrite, PermManage, false, "read+write"},
		{PermWrite, PermRead, false, "write"},
		{PermAll, PermManage | PermRead, true, "read+write+manage"},
		{PermNone, PermNone, true, "none"},
		{PermNone, PermRead, false, "none"},
	} {
		if got := tc.p.Has(tc.has); got != tc.ok {
			t.Errorf("%v.Has(%v) = %v", tc.p, tc.has, got)
		}
		if got := tc.p.String(); got != tc.name {
			t.Errorf("String() = %q, want %q", got, tc.name)
		}
	}
	for name, want := range map[string]Perms{"read": PermRead, "write": PermWrite, "manage": PermManage} {
		if got, ok := ParsePermission(name); !ok || got != want {
			t.Errorf("ParsePermission(%q) = %v, %v", name, got, ok)
		}
	}
	for _, name := range []string{"", "none", "Read", "admin"} {
		if _, ok := ParsePermission(name); ok {
			t.Errorf("ParsePermission(%q) succeeded", name)
		}
	}

	for _, tc := range []struct {
		perm, method string
		want         Perms
	}{
		{"", "GET", PermRead}, {"", "HEAD", PermRead}, {"", "OPTIONS", PermRead},
		{"", "POST", PermWrite}, {"", "DELETE", PermWrite}, {"", "PATCH", PermWrite},
		{"manage", "GET", PermManage}, {"read", "POST", PermRead}, {"none", "POST", PermNone},
	} {
		r := Route{Permission: tc.perm}
		if got := r.RequiredPermission(tc.method); got != tc.want {
			t.Errorf("Route{Permission: %q}.RequiredPermission(%s) = %v, want %v", tc.perm, tc.method, got, tc.want)
		}
	}

	srv := Server{TrustedProxies: []string{"10.1.2.3/8", "192.0.2.7", "2001:db8::/32", "::1"}}
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("::1/128"),
	}
	if got := srv.TrustedPrefixes(); !reflect.DeepEqual(got, want) {
		t.Errorf("TrustedPrefixes() = %v, want %v", got, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lanyard.yaml")
	if err := os.WriteFile(path, []byte(`
server:
  addr: 127.0.0.1:1000
  data: /file/data
  log_format: json
  tls_cert: /file/cert.pem
gateway:
  upstream: http://file.example
`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"LANYARD_ADDR":     "127.0.0.1:2000",
		"LANYARD_DATA":     "/env/data",
		"LANYARD_TLS_KEY":  "/env/key.pem", // completes the file's tls_cert
		"LANYARD_UPSTREAM": "http://env.example",
		"LANYARD_REDIS":    "", // empty: unset
	}
	str := func(s string) *string { return &s }
	c, err := Load(path, func(k string) string { return env[k] }, Overrides{
		Addr:     str("127.0.0.1:3000"),
		Upstream: str(""), // a flag set to empty still wins
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, got, want string }{
		{"addr (flag beats env and file)", c.Server.Addr, "127.0.0.1:3000"},
		{"data (env beats file)", c.Server.Data, "/env/data"},
		{"log_format (file)", c.Server.LogFormat, "json"},
		{"tls_cert (file)", c.Server.TLSCert, "/file/cert.pem"},
		{"tls_key (env)", c.Server.TLSKey, "/env/key.pem"},
		{"upstream (empty flag beats env)", c.Gateway.Upstream, ""},
		{"redis (empty env is unset)", c.Server.Redis, ""},
		{"store (default)", c.Server.Store, ""},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}

	// Every variable and every flag reaches its field.
	all := map[string]string{
		"LANYARD_ADDR": "127.0.0.1:1", "LANYARD_DATA": "d", "LANYARD_STORE": "postgres://db/lanyard",
		"LANYARD_REDIS": "redis://r:6379", "LANYARD_UPSTREAM": "https://up", "LANYARD_TLS_CERT": "c",
		"LANYARD_TLS_KEY": "k", "LANYARD_LOG_FORMAT": "json", "LANYARD_NODE_ID": "node-a",
	}
	c, err = Load("", func(k string) string { return all[k] }, Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{c.Server.Addr, c.Server.Data, c.Server.Store, c.Server.Redis, c.Gateway.Upstream, c.Server.TLSCert, c.Server.TLSKey, c.Server.LogFormat, c.Server.NodeID}
	if want := []string{"127.0.0.1:1", "d", "postgres://db/lanyard", "redis://r:6379", "https://up", "c", "k", "json", "node-a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("from env: %q, want %q", got, want)
	}
	c, err = Load("", func(k string) string { return all[k] }, Overrides{
		Addr: str("127.0.0.1:2"), Data: str("fd"), Store: str(""), Redis: str(""), Upstream: str("http://f"),
		TLSCert: str(""), TLSKey: str(""), LogFormat: str("text"), NodeID: str("node-b"),
	})
	if err != nil {
		t.Fatal(err)
	}
	got = []string{c.Server.Addr, c.Server.Data, c.Server.Store, c.Server.Redis, c.Gateway.Upstream, c.Server.TLSCert, c.Server.TLSKey, c.Server.LogFormat, c.Server.NodeID}
	if want := []string{"127.0.0.1:2", "fd", "", "", "http://f", "", "", "text", "node-b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("from flags: %q, want %q", got, want)
	}

	// No file and no environment: the default.
	c, err = Load("", nil, Overrides{})
	if err != nil || !reflect.DeepEqual(c, Default()) {
		t.Errorf("Load(\"\", nil) = %+v, %v; want the default", c, err)
	}

	// The result is validated after every layer.
	if _, err := Load("", nil, Overrides{LogFormat: str("xml")}); err == nil || !strings.Contains(err.Error(), "server.log_format") {
		t.Errorf("bad flag: err = %v", err)
	}
	if _, err := Load(path, nil, Overrides{}); err == nil || !strings.Contains(err.Error(), "tls_cert and server.tls_key") {
		t.Errorf("file alone (tls_cert without tls_key): err = %v", err)
	}
	// File errors name the file.
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("servr: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad, nil, Overrides{}); err == nil || !strings.Contains(err.Error(), "config: "+bad+": line 1: unknown section") {
		t.Errorf("unknown section: err = %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml"), nil, Overrides{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
}

func TestSecretsStayOutOfErrors(t *testing.T) {
	for _, doc := range []string{
		"server:\n  store: mysql://u:hunter2@db/x\n",
		"server:\n  redis: memcache://u:hunter2@r\n",
		"gateway:\n  upstream: ftp://u:hunter2@up\n",
	} {
		_, err := Parse([]byte(doc))
		if err == nil {
			t.Errorf("Parse(%q) succeeded", doc)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error repeats a password: %v", err)
		}
	}
}

// TestConsole: console.session_ttl is read in either duration form and keeps its default when
// the section does not name it.
func TestConsole(t *testing.T) {
	if c := mustParse(t, "console:\n  session_ttl: 2h\n"); c.Console.SessionTTL != 2*time.Hour {
		t.Errorf("session_ttl: 2h = %s", c.Console.SessionTTL)
	}
	if c := mustParse(t, "console: {session_ttl: 3600}\n"); c.Console.SessionTTL != time.Hour {
		t.Errorf("session_ttl: 3600 = %s", c.Console.SessionTTL)
	}
	if c := mustParse(t, "console: {}\n"); c.Console.SessionTTL != 12*time.Hour {
		t.Errorf("an empty console section: session_ttl = %s, want the default 12h", c.Console.SessionTTL)
	}
	if _, err := Parse([]byte("console: {idle: 1h}\n")); err == nil || !strings.Contains(err.Error(), `console: unknown field "idle"`) {
		t.Errorf("an unknown console field: err = %v", err)
	}
}
