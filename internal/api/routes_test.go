package api

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/authz"
	"github.com/lanyardhq/lanyard/internal/cache"
	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store"
	"github.com/lanyardhq/lanyard/internal/store/sqlite"
)

// newTestHandler builds the native API over a fresh SQLite store.
func newTestHandler(t testing.TB) *Handler {
	t.Helper()
	db, err := sqlite.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st := cache.New(db, cache.Options{NegativeTTL: 2 * time.Second})
	sources, err := authn.NewSources([]authn.SourceSpec{{Type: authn.SourceBearer}, {Type: authn.SourceBasic}})
	if err != nil {
		t.Fatal(err)
	}
	prefixes := authn.Prefixes{Key: "lk", Secret: "lks", Personal: "lp", Admin: "la", Bootstrap: "lb"}
	h, err := New(Options{
		Store:    st,
		Resolver: authn.NewResolver(st, prefixes, nil),
		Sources:  sources,
		Authz:    authz.New(st, st, config.BuiltinRoles()),
		Schema:   config.Default().Schema,
		Hasher:   credential.NewArgon2(credential.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}),
		Prefixes: prefixes,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// publicRoutes are the only routes that may answer without a credential: a route becomes public
// by being added here, on purpose, never by a slip in the table.
var publicRoutes = map[string]bool{
	"GET /healthz":        true,
	"GET /readyz":         true,
	"GET /openapi.json":   true,
	"POST /auth/login":    true,
	"POST /tokens/revoke": true,
	// The credential forward auth and verify decide on is the end client's, not the caller's.
	"POST /verify": true,
	// Token exchange's credential is its subject_token, in the body (RFC 8693).
	"POST /tokens/exchange": true,
	"GET /authz":            true,
	"* /authz/{path...}":    true,
}

// TestEveryRouteDeclaresAPolicy walks the route table: every route has a policy, and every
// route whose policy needs a credential refuses a request without one (default deny).
func TestEveryRouteDeclaresAPolicy(t *testing.T) {
	h := newTestHandler(t)
	routes := h.Routes()
	if len(routes) == 0 {
		t.Fatal("no routes")
	}
	for _, rt := range routes {
		name := rt.Method + " " + rt.FullPath(h.Prefix())
		if rt.Policy == nil {
			t.Errorf("%s declares no policy", name)
			continue
		}
		if !rt.Policy.NeedsCredential() {
			if rt.Policy != authz.Public {
				t.Errorf("%s: only the Public policy may go without a credential", name)
			}
			if !publicRoutes[rt.Method+" "+rt.Path] {
				t.Errorf("%s is public but not on the list of routes that may be", name)
			}
			continue
		}
		path := strings.NewReplacer("{id}", "x", "{type}", "organization", "{principal}", "user:x").Replace(rt.FullPath(h.Prefix()))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(rt.Method, path, nil))
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%s without a credential: %d, want 401", name, rec.Code)
		}
	}
}

func TestRouteWithoutPolicyIsRefused(t *testing.T) {
	h := newTestHandler(t)
	_, err := h.buildMux([]Route{{Method: "GET", Path: "/x", Handle: h.healthz}})
	if err == nil {
		t.Fatal("a route without a policy was accepted")
	}
}

// downStore is a store whose database stopped answering: a fault we cannot cause for real
// without killing the test's own SQLite file.
type downStore struct{ store.Store }

func (downStore) Ping(context.Context) error { return store.ErrUnavailable }

func TestReadyzFollowsTheStore(t *testing.T) {
	h := newTestHandler(t)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/readyz = %d with a live store", rec.Code)
	}
	h.store = downStore{h.store}
	for _, path := range []string{"/readyz", "/healthz"} {
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		want := http.StatusServiceUnavailable
		if path == "/healthz" {
			want = http.StatusOK // the process runs
		}
		if rec.Code != want {
			t.Fatalf("%s = %d with the store down, want %d", path, rec.Code, want)
		}
	}
	if rec := httptest.NewRecorder(); true {
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		if rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), `"unavailable"`) {
			t.Fatalf("503 without Retry-After or the error body: %v %s", rec.Header(), rec.Body)
		}
	}
}

// unreachable is a store that cannot be reached for lookups.
type unreachable struct{ store.Store }

func (unreachable) Resolve(context.Context, store.Hash) (store.Resolved, error) {
	return store.Resolved{}, store.ErrUnavailable
}

// TestFailsClosed: when the store cannot answer, a credential gets 503 with Retry-After —
// never a 2xx and never a misleading 401.
func TestFailsClosed(t *testing.T) {
	h := newTestHandler(t)
	h.resolver = authn.NewResolver(unreachable{h.store}, h.prefixes, nil)
	h.checker.Resolver = h.resolver
	tok, _ := credential.Generate("lk")
	r := httptest.NewRequest("GET", "/v1/me", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("/v1/me with the store down = %d %v", rec.Code, rec.Header())
	}
}

// TestRequestTargets: targets no route can take get the contract's 400 body (§11.41).
func TestRequestTargets(t *testing.T) {
	h := newTestHandler(t)
	for _, tt := range []struct {
		method, target string
		want           int
	}{
		{"GET", "*", 400},
		{"POST", "*", 400},
		{"GET", "/v1/keys?owner=%zz", 400},
		{"GET", "/v1/keys?owner=user:a&limit=%", 400},
		{"GET", "/healthz?x=1", 200},
	} {
		r := httptest.NewRequest(tt.method, "/", nil)
		r.RequestURI = tt.target
		if tt.target != "*" {
			r = httptest.NewRequest(tt.method, tt.target, nil)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != tt.want {
			t.Errorf("%s %s = %d %s, want %d", tt.method, tt.target, rec.Code, rec.Body, tt.want)
		}
		if tt.want == 400 && !strings.Contains(rec.Body.String(), `"invalid_request"`) {
			t.Errorf("%s %s: body %s is not the contract's error", tt.method, tt.target, rec.Body)
		}
	}
}

func TestRequestIDsAreRandom(t *testing.T) {
	h := newTestHandler(t)
	seen := map[string]bool{}
	for range 100 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
		id := rec.Header().Get("X-Request-Id")
		if len(id) != 16 || seen[id] {
			t.Fatalf("request id %q: want 16 random characters, never twice", id)
		}
		seen[id] = true
	}
}

func TestLogPathHidesTokens(t *testing.T) {
	tok, _ := credential.Generate("lk")
	for in, want := range map[string]string{
		"/v1/keys/k1":                  "/v1/keys/k1",
		"/v1/keys/" + tok:              "/v1/keys/[token]",
		"/v1/keys/" + tok + "/reissue": "/v1/keys/[token]/reissue",
		"/v1/users/a_b":                "/v1/users/a_b",
		// §11.40: found anywhere, not only as a whole segment.
		"/v1/keys/x" + tok + "y":       "/v1/keys/[token]",
		"/v1/keys/k1;token=" + tok:     "/v1/keys/k1;token=[token]",
		"/v1/keys/a-" + tok + "-b":     "/v1/keys/a-[token]-b",
		"/" + tok + tok:                "/[token][token]",
		"/v1/check/" + tok + "/" + tok: "/v1/check/[token]/[token]",
		"/v1/keys/Bearer " + tok:       "/v1/keys/Bearer [token]",
	} {
		if got := logPath(in); got != want {
			t.Errorf("logPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzLogPath: whatever path a client sends, the logged form holds no run that could be a
// token's body ('_' and 33 base62 characters).
func FuzzLogPath(f *testing.F) {
	tok, _ := credential.Generate("lk")
	for _, s := range []string{"/v1/keys/k1", "/" + tok, "/a_" + tok + "_b", "/" + tok + tok} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		out := logPath(p)
		for i := 0; i < len(out); i++ {
			if out[i] != '_' {
				continue
			}
			n := 0
			for j := i + 1; j < len(out) && isAlnum(out[j]); j++ {
				n++
			}
			if n >= credential.RandomLen+credential.ChecksumLen {
				t.Fatalf("logPath(%q) = %q still holds a token body", p, out)
			}
		}
	})
}

// TestServeAs: the console acts for a signed-in person through the same routes and deciders;
// a session of an admin user carries admin power, any other session only the user's grants.
func TestServeAs(t *testing.T) {
	w := newWalkWorld(t)
	do := func(id *authn.Identity, method, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		w.h.ServeAs(rec, httptest.NewRequest(method, path, nil), id)
		return rec
	}
	nobody := &authn.Identity{Type: authn.TypeSession, ID: "s1", UserID: "nobody"}
	if rec := do(nobody, "GET", "/v1/me"); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"principal":"user:nobody"`) {
		t.Errorf("/v1/me as a session: %d %s", rec.Code, rec.Body)
	}
	if rec := do(nobody, "GET", "/v1/resources/organization/acme"); rec.Code != 404 {
		t.Errorf("another tenant's resource as a session: %d", rec.Code)
	}
	if rec := do(nobody, "GET", "/v1/users"); rec.Code != 403 {
		t.Errorf("the users list as a session of a non-admin: %d", rec.Code)
	}
	admin := &authn.Identity{Type: authn.TypeSession, ID: "s2", UserID: "ann", SessionAdmin: true}
	if rec := do(admin, "GET", "/v1/users"); rec.Code != 200 {
		t.Errorf("the users list as an admin's session: %d %s", rec.Code, rec.Body)
	}
	// Over HTTP, nothing is a session: the same request without a credential is 401.
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/me", nil))
	if rec.Code != 401 {
		t.Errorf("/v1/me over HTTP without a credential: %d", rec.Code)
	}
}

// TestUnavailable: the API of a node that has not reached its store answers everything, /healthz
// included, 503 with Retry-After, in the envelope under the prefix when one is set, with a
// request id like every answer.
func TestUnavailable(t *testing.T) {
	var logs bytes.Buffer
	h := Unavailable(Options{Envelope: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer func() {
		// A load balancer polling a waiting node must not fill the log with errors (a 503
		// is a dependency's outage, reported once by what watches it).
		if strings.Contains(logs.String(), "level=ERROR") {
			t.Errorf("the waiting node logged errors:\n%s", logs.String())
		}
	}()
	for _, tt := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/healthz", 503, `{"error":{"code":"unavailable",`},
		{"GET", "/readyz", 503, `{"error":{"code":"unavailable",`},
		{"POST", "/v1/keys", 503, `{"success":false,"data":null,"message":`},
		{"GET", "/orgs/acme/items", 503, `{"error":{"code":"unavailable",`},
	} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(tt.method, tt.path, nil)
		r.Header.Set("Authorization", "Bearer lk_anything")
		h.ServeHTTP(rec, r)
		if rec.Code != tt.status || !strings.HasPrefix(rec.Body.String(), tt.body) || rec.Header().Get("X-Request-Id") == "" {
			t.Errorf("%s %s: %d %v %s", tt.method, tt.path, rec.Code, rec.Header(), rec.Body)
		}
		if rec.Code == 503 && (rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), `"unavailable"`)) {
			t.Errorf("%s %s: 503 without Retry-After or the error code: %v %s", tt.method, tt.path, rec.Header(), rec.Body)
		}
	}
}
