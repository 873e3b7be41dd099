package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/config"
)

// upstream is a test API behind the gateway: it records what reached it and answers with it.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen []seenRequest
}

type seenRequest struct {
	Method, Path, RawPath, Query string
	Header                       http.Header
	Body                         int
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		s := seenRequest{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: int(n)}
		u.mu.Lock()
		u.seen = append(u.seen, s)
		u.mu.Unlock()
		switch r.URL.Path {
		case "/slow":
			time.Sleep(300 * time.Millisecond)
		case "/stream":
			fl := w.(http.Flusher)
			for i := 0; i < 3; i++ {
				fmt.Fprintf(w, "chunk %d\n", i)
				fl.Flush()
			}
			return
		}
		w.Header().Set("X-Upstream", "yes")
		json.NewEncoder(w).Encode(s)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) last(t *testing.T) seenRequest {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		t.Fatal("nothing reached the upstream")
	}
	return u.seen[len(u.seen)-1]
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.seen)
}

// gatewayWorld is lanyard in front of an upstream with org-scoped routes, a member of acme
// (with a key), an observer of acme's project rocket, and an outsider.
type gatewayWorld struct {
	in                    *instance
	up                    *upstream
	member, observer, out string
}

func gatewayRoutes(c *config.Config) {
	c.Gateway.Routes = []config.Route{
		{Path: "/announce", Permission: "none", Cost: 1},
		{Path: "/admin/{rest...}", Admin: true, Cost: 1},
		{Path: "/orgs/{id}", Resource: &config.RouteResource{Type: "organization", Param: "id"}, Cost: 1},
		{Path: "/orgs/{id}/{rest...}", Resource: &config.RouteResource{Type: "organization", Param: "id"}, Cost: 1},
		{Path: "/projects/{id}/{rest...}", Resource: &config.RouteResource{Type: "project", Param: "id"}, Cost: 1},
		{Path: "/by-header", Resource: &config.RouteResource{Type: "organization", Header: "X-Org"}, Cost: 1},
		{Path: "/by-query", Resource: &config.RouteResource{Type: "organization", Query: "org"}, Cost: 1},
		{Path: "/mine/{rest...}", Resource: &config.RouteResource{Type: "organization", From: config.FromCredential}, Cost: 1},
		{Path: "/forwarding/{id}", Resource: &config.RouteResource{Type: "organization", Param: "id"}, ForwardCredential: true, Cost: 1},
		{Path: "/slow", Permission: "none", Cost: 1},
		{Path: "/stream", Permission: "none", Cost: 1},
		{Path: "/ws", Permission: "none", Upgrade: true, Cost: 1},
	}
}

// tokenFor turns a test table's placeholder ("mem", "obs", "out") into that caller's key; any
// other value is a token already.
func (w *gatewayWorld) tokenFor(name string) string {
	switch name {
	case "mem":
		return w.member
	case "obs":
		return w.observer
	case "out":
		return w.out
	}
	return name
}

func newGatewayWorld(t *testing.T, mutate func(*config.Config)) *gatewayWorld {
	t.Helper()
	up := newUpstream(t)
	in := start(t, startOpts{mutate: func(c *config.Config) {
		c.Gateway.Upstream = up.URL
		gatewayRoutes(c)
		if mutate != nil {
			mutate(c)
		}
	}})
	boot := testBootstrap
	for _, u := range []string{"mem", "obs", "out"} {
		in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "` + u + `", "email": "` + u + `@example.com"}`})
	}
	in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "organization", "id": "acme"}`})
	in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "organization", "id": "globex"}`})
	in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "project", "id": "rocket", "parent": "organization/acme"}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/organization/acme/grants/user:mem", token: boot, body: `{"role": "member"}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/project/rocket/grants/user:obs", token: boot, body: `{"role": "observer"}`})
	w := &gatewayWorld{in: in, up: up}
	key := func(owner, id string) string {
		return in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "k", "owner": "user:` + owner + `", "id": "` + id + `"}`}).json(t)["token"].(string)
	}
	w.member, w.observer, w.out = key("mem", "mem-key"), key("obs", "obs-key"), key("out", "out-key")
	return w
}

func TestGatewayDecidesAndForwards(t *testing.T) {
	w := newGatewayWorld(t, nil)
	in := w.in
	tests := []struct {
		name   string
		r      req
		status int
		code   string
	}{
		{"no route", req{method: "GET", path: "/nowhere", token: w.member}, 404, "not_found"},
		{"no credential", req{method: "GET", path: "/orgs/acme"}, 401, "unauthenticated"},
		{"a bad token", req{method: "GET", path: "/orgs/acme", token: "lk_000000000000000000000000000000000"}, 401, "invalid_token"},
		{"member reads", req{method: "GET", path: "/orgs/acme"}, 200, ""},
		{"member writes", req{method: "POST", path: "/orgs/acme/items", body: `{"a": 1}`}, 200, ""},
		{"outsider: invisible", req{method: "GET", path: "/orgs/acme", token: "out"}, 404, "not_found"},
		{"a resource that does not exist", req{method: "GET", path: "/orgs/nope"}, 404, "not_found"},
		{"observer reads the project", req{method: "GET", path: "/projects/rocket/x", token: "obs"}, 200, ""},
		{"observer may not write", req{method: "PUT", path: "/projects/rocket/x", token: "obs"}, 403, "forbidden"},
		{"observer cannot see the org", req{method: "GET", path: "/orgs/acme", token: "obs"}, 404, "not_found"},
		{"any valid credential", req{method: "GET", path: "/announce", token: "out"}, 200, ""},
		{"admins only", req{method: "GET", path: "/admin/x"}, 403, "forbidden"},
		{"the bootstrap token is an admin", req{method: "GET", path: "/admin/x", token: testBootstrap}, 200, ""},
		{"resource from a header", req{method: "GET", path: "/by-header", headers: map[string]string{"X-Org": "acme"}}, 200, ""},
		{"resource from a header, missing", req{method: "GET", path: "/by-header"}, 400, "invalid_request"},
		{"resource from the query", req{method: "GET", path: "/by-query?org=acme"}, 200, ""},
		{"resource from the query, another org", req{method: "GET", path: "/by-query?org=globex"}, 404, "not_found"},
		{"resource from the query, named twice", req{method: "GET", path: "/by-query?org=acme&org=globex"}, 400, "invalid_request"},
		{"resource from the query, named twice alike", req{method: "GET", path: "/by-query?org=acme&org=acme"}, 400, "invalid_request"},
		{"resource from the credential", req{method: "GET", path: "/mine/x"}, 200, ""},
		{"a bad id in the path", req{method: "GET", path: "/orgs/a@b"}, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.r
			if r.token == "" && tt.status != 401 {
				r.token = "mem"
			}
			r.token = w.tokenFor(r.token)
			before := w.up.count()
			a := in.do(r)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", a.status, tt.status, a.body)
			}
			if tt.code != "" {
				if a.errCode(t) != tt.code {
					t.Fatalf("code %q, want %q", a.errCode(t), tt.code)
				}
				if w.up.count() != before {
					t.Fatal("a refused request reached the upstream")
				}
			} else if a.header.Get("X-Upstream") != "yes" {
				t.Fatalf("an allowed request did not reach the upstream: %s", a.body)
			}
		})
	}
}

func TestGatewayIdentityHeaders(t *testing.T) {
	w := newGatewayWorld(t, nil)
	in := w.in
	in.must(200, req{method: "POST", path: "/orgs/acme/items", token: w.member, headers: map[string]string{
		"X-Lanyard-Principal": "user:root", "X-Lanyard-Role": "admin", "X-LANYARD-Extra": "x", "X-Forwarded-For": "203.0.113.9",
		"Connection": "X-Lanyard-Principal, X-Lanyard-Role",
	}})
	got := w.up.last(t)
	want := map[string]string{
		"X-Lanyard-Principal": "user:mem", "X-Lanyard-Key-Id": "mem-key", "X-Lanyard-Resource": "organization/acme",
		"X-Lanyard-Role": "member", "X-Lanyard-Extra": "", "Authorization": "",
	}
	for name, v := range want {
		if g := got.Header.Get(name); g != v {
			t.Errorf("upstream saw %s = %q, want %q", name, g, v)
		}
	}
	if xff := got.Header.Get("X-Forwarded-For"); xff != "127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q: a client's own value must not be passed on", xff)
	}
	// A route that forwards the credential keeps it.
	in.must(200, req{method: "GET", path: "/forwarding/acme", token: w.member})
	if got := w.up.last(t); got.Header.Get("Authorization") != "Bearer "+w.member {
		t.Errorf("forward_credential: Authorization = %q", got.Header.Get("Authorization"))
	}
	// A personal access token has no key id.
	in.must(200, req{method: "GET", path: "/announce", token: testBootstrap})
	if got := w.up.last(t); got.Header.Get("X-Lanyard-Key-Id") != "" || got.Header.Get("X-Lanyard-Principal") != "" {
		t.Errorf("the bootstrap token forwarded %v", got.Header)
	}
}

// TestGatewayPathSafety: one row per trick; a request is refused with 400, or decided and
// forwarded on one and the same path — never decided on one resource and proxied to another.
func TestGatewayPathSafety(t *testing.T) {
	w := newGatewayWorld(t, nil)
	tricks := []string{
		"/orgs/globex/../acme", "/orgs/acme/../globex", "/orgs/acme/%2e%2e/globex", "/orgs/acme/%2E%2E/%2E%2E/orgs/globex",
		"/orgs/acme/./x", "/orgs/acme%2Fglobex", "/orgs/acme%2f..%2fglobex", "/orgs/acme%5C..%5Cglobex", "/orgs/acme\\..\\globex",
		"/orgs//globex", "//orgs/globex", "/orgs/acme;/globex", "/orgs/acme;jsessionid=1", "/orgs/acme%3B/globex",
		"/orgs/acme#/../globex", "/orgs/acme?/../globex", "/orgs/acme%00", "/orgs/acme/%2e",
	}
	for _, p := range tricks {
		t.Run(p, func(t *testing.T) {
			before := w.up.count()
			status, body := rawRequest(t, w.in.base, "GET "+p+" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+w.member+"\r\nConnection: close\r\n\r\n")
			switch {
			case status == 400:
				if w.up.count() != before {
					t.Fatal("a refused path reached the upstream")
				}
			case status == 200:
				// Decided on the path that was forwarded: the member may read acme only.
				got := w.up.last(t)
				if !strings.HasPrefix(got.Path, "/orgs/acme") || strings.Contains(got.Path, "globex") || strings.Contains(got.RawPath, "..") {
					t.Fatalf("allowed and forwarded as %q (%q)", got.Path, got.RawPath)
				}
			case status == 404:
				if w.up.count() != before {
					t.Fatal("a refused path reached the upstream")
				}
			default:
				t.Fatalf("status %d: %s", status, body)
			}
		})
	}
}

// TestGatewayRefusesSmugglingShapes: h2c upgrades, upgrades a route does not allow, and a body
// framed twice (Transfer-Encoding with Content-Length) never reach the upstream.
func TestGatewayRefusesSmugglingShapes(t *testing.T) {
	w := newGatewayWorld(t, nil)
	auth := "Authorization: Bearer " + w.member + "\r\n"
	tests := []struct {
		name, raw string
		want      int
	}{
		{"h2c upgrade", "GET /announce HTTP/1.1\r\nHost: x\r\n" + auth + "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n", 400},
		{"websocket where the route allows none", "GET /orgs/acme HTTP/1.1\r\nHost: x\r\n" + auth + "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 400},
		{"h2c even where upgrades are allowed", "GET /ws HTTP/1.1\r\nHost: x\r\n" + auth + "Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := w.up.count()
			status, body := rawRequest(t, w.in.base, tt.raw)
			if status != tt.want {
				t.Fatalf("status %d, want %d: %s", status, tt.want, body)
			}
			if w.up.count() != before {
				t.Fatal("it reached the upstream")
			}
		})
	}
}

// TestGatewayBodyFramedTwice: a body framed by Transfer-Encoding and Content-Length at once is
// read as chunked, the way RFC 9112 §6.3 says, and the Content-Length is dropped; the
// connection is closed after the answer, so bytes the two framings disagree on — a request
// smuggled behind the body — are never read as a request of their own. The upstream gets one
// request, framed anew by lanyard.
func TestGatewayBodyFramedTwice(t *testing.T) {
	w := newGatewayWorld(t, nil)
	before := w.up.count()
	c, err := net.Dial("tcp", strings.TrimPrefix(w.in.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "POST /orgs/acme/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+w.member+"\r\n"+
		"Content-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"+
		"GET /orgs/globex HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+w.member+"\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !resp.Close {
		t.Fatalf("status %d, close %v: want 200 and the connection closed", resp.StatusCode, resp.Close)
	}
	if _, err := http.ReadResponse(br, nil); err == nil {
		t.Fatal("the bytes behind the body were answered as a request of their own")
	}
	if n := w.up.count() - before; n != 1 {
		t.Fatalf("%d requests reached the upstream, want 1", n)
	}
	if got := w.up.last(t); got.Path != "/orgs/acme/x" || got.Body != 0 {
		t.Fatalf("the upstream saw %s with %d body bytes", got.Path, got.Body)
	}
}

// rawRequest writes raw to the server at base and reads the first answer.
func rawRequest(t *testing.T, base, raw string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestGatewayUpstreamFailures(t *testing.T) {
	w := newGatewayWorld(t, func(c *config.Config) { c.Gateway.Timeout = 100 * time.Millisecond })
	a := w.in.do(req{method: "GET", path: "/slow", token: w.member})
	if a.status != 504 || a.errCode(t) != "gateway_timeout" {
		t.Fatalf("a slow upstream: %d %s", a.status, a.body)
	}
	w.up.Close()
	a = w.in.do(req{method: "GET", path: "/announce", token: w.member})
	if a.status != 502 || a.errCode(t) != "bad_gateway" {
		t.Fatalf("a closed upstream: %d %s", a.status, a.body)
	}
}

func TestGatewayStreams(t *testing.T) {
	w := newGatewayWorld(t, nil)
	big := strings.Repeat("x", 3<<20) // beyond any of lanyard's own body limits
	a := w.in.do(req{method: "POST", path: "/orgs/acme/upload", token: w.member, body: big})
	if a.status != 200 || w.up.last(t).Body != len(big) {
		t.Fatalf("a 3 MiB body: %d, upstream read %d bytes", a.status, w.up.last(t).Body)
	}
	a = w.in.do(req{method: "GET", path: "/stream", token: w.member})
	if a.status != 200 || string(a.body) != "chunk 0\nchunk 1\nchunk 2\n" {
		t.Fatalf("a streamed answer: %d %q", a.status, a.body)
	}
}

func TestUpstreamWithoutRoutesRefusesToStart(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Gateway.Upstream = "http://127.0.0.1:1"
	if err := Unsupported(cfg); err == nil || !strings.Contains(err.Error(), "gateway.routes") {
		t.Fatalf("an upstream without routes: %v", err)
	}
}

// TestForwardAuth: /v1/authz applies the gateway routes to the original request that nginx,
// Traefik or Envoy hand it, and answers like the gateway (CONTRACT §5, §11.35, §11.55–57).
func TestForwardAuth(t *testing.T) {
	w := newGatewayWorld(t, nil)
	in := w.in
	orig := func(method, uri string) map[string]string {
		return map[string]string{"X-Forwarded-Method": method, "X-Forwarded-Uri": uri}
	}
	tests := []struct {
		name    string
		r       req
		status  int
		headers map[string]string // identity headers the answer must carry
	}{
		{"allowed", req{path: "/v1/authz", token: "mem", headers: orig("GET", "/orgs/acme?x=1")}, 200,
			map[string]string{"X-Lanyard-Principal": "user:mem", "X-Lanyard-Key-Id": "mem-key", "X-Lanyard-Resource": "organization/acme", "X-Lanyard-Role": "member"}},
		{"nginx's header names", req{path: "/v1/authz", token: "mem", headers: map[string]string{"X-Original-Method": "POST", "X-Original-URI": "/orgs/acme/items"}}, 200,
			map[string]string{"X-Lanyard-Role": "member"}},
		{"no credential", req{path: "/v1/authz", headers: orig("GET", "/orgs/acme")}, 401, nil},
		{"invisible", req{path: "/v1/authz", token: "out", headers: orig("GET", "/orgs/acme")}, 404, nil},
		{"readable, not writable", req{path: "/v1/authz", token: "obs", headers: orig("DELETE", "/projects/rocket/x")}, 403, nil},
		{"no route", req{path: "/v1/authz", token: "mem", headers: orig("GET", "/nowhere")}, 404, nil},
		{"no original URI", req{path: "/v1/authz", token: "mem"}, 400, nil},
		{"not origin-form", req{path: "/v1/authz", token: "mem", headers: orig("GET", "http://x/orgs/acme")}, 400, nil},
		{"a malformed escape", req{path: "/v1/authz", token: "mem", headers: orig("GET", "/orgs/ac%zzme")}, 400, nil},
		{"dot segments", req{path: "/v1/authz", token: "mem", headers: orig("GET", "/orgs/globex/../acme")}, 400, nil},
		{"an encoded slash", req{path: "/v1/authz", token: "mem", headers: orig("GET", "/orgs/acme%2F..%2Fglobex")}, 400, nil},
		{"Envoy: method and path follow the prefix", req{method: "PUT", path: "/v1/authz/orgs/acme/items?y=2", token: "mem"}, 200,
			map[string]string{"X-Lanyard-Resource": "organization/acme"}},
		{"Envoy: refused", req{method: "GET", path: "/v1/authz/orgs/globex", token: "mem"}, 404, nil},
		{"Envoy: an encoded slash", req{method: "GET", path: "/v1/authz/orgs/acme%2Fx", token: "mem"}, 400, nil},
		{"nginx's auth_request: a 404 as 403 with its status", req{path: "/v1/authz", token: "out", headers: map[string]string{
			"X-Forwarded-Uri": "/orgs/acme", "X-Lanyard-Auth-Request": "1"}}, 403, map[string]string{"X-Lanyard-Status": "404"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.r
			if r.method == "" {
				r.method = "GET"
			}
			r.token = w.tokenFor(r.token)
			before := w.up.count()
			a := in.do(r)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.body)
			}
			for name, v := range tt.headers {
				if got := a.header.Get(name); got != v {
					t.Errorf("%s = %q, want %q", name, got, v)
				}
			}
			if a.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", a.header.Get("Cache-Control"))
			}
			if tt.status >= 400 && a.errCode(t) == "" {
				t.Errorf("a refusal without the contract's body: %s", a.body)
			}
			if w.up.count() != before {
				t.Error("forward auth reached the upstream")
			}
		})
	}
}

// TestVerify: POST /v1/verify, always 200 for a well-formed request (CONTRACT §5, §11.28).
func TestVerify(t *testing.T) {
	w := newGatewayWorld(t, nil)
	in := w.in
	boot := testBootstrap
	netKey := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "n", "owner": "user:mem", "allowed_cidrs": ["198.51.100.0/24"]}`}).json(t)["token"].(string)
	type ans = map[string]any
	tests := []struct {
		name string
		body string
		want ans
	}{
		{"a valid key", `{"token": "` + w.member + `"}`, ans{"valid": true, "code": nil, "principal": "user:mem", "key_id": "mem-key", "resource": nil, "role": nil}},
		{"a key that may read", `{"token": "` + w.member + `", "resource": "organization/acme"}`, ans{"valid": true, "resource": "organization/acme", "role": "member"}},
		{"a key that may not manage", `{"token": "` + w.member + `", "resource": "organization/acme", "permission": "manage"}`, ans{"valid": false, "code": "forbidden", "principal": "user:mem", "role": nil}},
		{"an unknown token", `{"token": "lk_000000000000000000000000000000000"}`, ans{"valid": false, "code": "invalid_token", "principal": nil, "key_id": nil, "resource": nil, "role": nil}},
		{"in headers, through the sources", `{"headers": {"Authorization": "Bearer ` + w.member + `"}}`, ans{"valid": true, "key_id": "mem-key"}},
		{"a network the key is not for", `{"token": "` + netKey + `", "client_ip": "203.0.113.5"}`, ans{"valid": false, "code": "forbidden"}},
		{"a network the key is for", `{"token": "` + netKey + `", "client_ip": "198.51.100.5"}`, ans{"valid": true}},
		{"explain a refusal", `{"token": "` + w.out + `", "resource": "organization/acme", "explain": true}`, ans{"valid": false, "code": "forbidden"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := in.must(200, req{method: "POST", path: "/v1/verify", body: tt.body})
			got := a.json(t)
			for k, v := range tt.want {
				if fmt.Sprint(got[k]) != fmt.Sprint(v) {
					t.Errorf("%s = %v, want %v (answer %s)", k, got[k], v, a.body)
				}
			}
			for _, k := range []string{"valid", "code", "principal", "key_id", "resource", "role", "ratelimit"} {
				if _, ok := got[k]; !ok {
					t.Errorf("the answer lacks %q: %s", k, a.body)
				}
			}
			if a.header.Get("Cache-Control") != "no-store" {
				t.Error("no Cache-Control: no-store")
			}
		})
	}
	// A deleted key's token is "revoked", not "invalid_token" (§11.14), and reveals no owner.
	gone := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "g", "owner": "user:mem", "id": "gone"}`}).json(t)["token"].(string)
	in.must(204, req{method: "DELETE", path: "/v1/keys/gone", token: boot})
	for i := 0; i < 2; i++ { // the second answer comes from the cache's negative entry
		got := in.must(200, req{method: "POST", path: "/v1/verify", body: `{"token": "` + gone + `"}`}).json(t)
		if got["code"] != "revoked" || got["principal"] != nil || got["key_id"] != nil {
			t.Errorf("a deleted key's token: %v", got)
		}
	}
	explained := in.must(200, req{method: "POST", path: "/v1/verify", body: `{"token": "` + w.out + `", "resource": "organization/acme", "explain": true}`}).json(t)
	b, _ := explained["because"].(map[string]any)
	if b == nil || b["layer"] != "grant" || b["reason"] == "" {
		t.Errorf("because = %v", explained["because"])
	}
	allowed := in.must(200, req{method: "POST", path: "/v1/verify", body: `{"token": "` + w.member + `", "resource": "project/rocket", "explain": true}`}).json(t)
	b, _ = allowed["because"].(map[string]any)
	if b == nil || b["layer"] != nil || fmt.Sprint(b["path"]) != "[project/rocket organization/acme]" {
		t.Errorf("because of an allowed request = %v", allowed["because"])
	}
	for _, bad := range []string{
		`{}`, `{"headers": {"X-Other": "1"}}`, `{"token": "x", "headers": {"Authorization": "Bearer ` + w.member + `"}}`,
		`{"token": "x", "permission": "read"}`, `{"token": "x", "resource": "nope/1"}`, `{"token": "x", "client_ip": "not an ip"}`,
	} {
		if a := in.do(req{method: "POST", path: "/v1/verify", body: bad}); a.status != 400 {
			t.Errorf("verify %s: %d %s, want 400", bad, a.status, a.body)
		}
	}
}
