package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/middleware"
)

// guardedService is a Go service whose routes are wrapped with the public middleware, asking
// the lanyard at base: /orgs/{id}/... acts on organization/{id}, /projects/{id}/... on
// project/{id}; each handler answers with the identity it was given.
func guardedService(t *testing.T, v middleware.Verifier, clientIP string) *httptest.Server {
	t.Helper()
	opts := func(typ string) middleware.Options {
		return middleware.Options{
			Resource: func(r *http.Request) (string, string) { return typ + "/" + r.PathValue("id"), "" },
			ClientIP: func(r *http.Request) string {
				if ip := r.Header.Get("X-Test-Client"); ip != "" {
					return ip // the test plays a proxy that vouches for the address
				}
				return clientIP
			},
		}
	}
	show := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := middleware.IdentityFrom(r.Context())
		if !ok {
			http.Error(w, "no identity", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%s|%s|%s|%s", id.Principal, id.KeyID, id.Resource, id.Role)
	})
	mux := http.NewServeMux()
	mux.Handle("/orgs/{id}/{rest...}", middleware.New(v, opts("organization"))(show))
	mux.Handle("/projects/{id}/{rest...}", middleware.New(v, opts("project"))(show))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func callService(t *testing.T, base, method, path, token string, header map[string]string) answer {
	t.Helper()
	r, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// TestMiddlewareAgainstLanyard: a service wrapped with middleware.New(middleware.Remote(…))
// beside a real lanyard answers as lanyard's gateway does — the same status for the same
// request as /v1/authz — gives its handlers the identity, honours a revocation within the
// cache's lifetime, and fails closed when lanyard is gone.
func TestMiddlewareAgainstLanyard(t *testing.T) {
	w := newGatewayWorld(t, func(c *config.Config) { c.Gateway.Upstream = "" })
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	svc := guardedService(t, middleware.Remote(w.in.base, middleware.RemoteOptions{Now: clk.Now}), "127.0.0.1")
	fenced := w.in.must(201, req{method: "POST", path: "/v1/keys", token: testBootstrap,
		body: `{"name": "n", "owner": "user:mem", "allowed_cidrs": ["198.51.100.0/24"]}`}).json(t)["token"].(string)

	tests := []struct {
		name, method, path, token string
		client                    string
		status                    int
		code, identity            string
	}{
		{"a member reads", "GET", "/orgs/acme/x", w.member, "", 200, "", "user:mem|mem-key|organization/acme|member"},
		{"a member writes", "POST", "/orgs/acme/x", w.member, "", 200, "", "user:mem|mem-key|organization/acme|member"},
		{"through the project's parent", "GET", "/projects/rocket/x", w.member, "", 200, "", "user:mem|mem-key|project/rocket|member"},
		{"an observer reads", "GET", "/projects/rocket/x", w.observer, "", 200, "", "user:obs|obs-key|project/rocket|observer"},
		{"an observer may not write", "DELETE", "/projects/rocket/x", w.observer, "", 403, "forbidden", ""},
		{"an observer cannot see the org", "DELETE", "/orgs/acme/x", w.observer, "", 404, "not_found", ""},
		{"an outsider", "GET", "/orgs/acme/x", w.out, "", 404, "not_found", ""},
		{"a resource that does not exist", "GET", "/orgs/nope/x", w.member, "", 404, "not_found", ""},
		{"no credential", "GET", "/orgs/acme/x", "", "", 401, "unauthenticated", ""},
		{"an unknown token", "GET", "/orgs/acme/x", "lk_000000000000000000000000000000000", "", 401, "invalid_token", ""},
		{"a bad id", "GET", "/orgs/a@b/x", w.member, "", 400, "invalid_request", ""},
		{"a key from its network", "GET", "/orgs/acme/x", fenced, "198.51.100.5", 200, "", "user:mem|"},
		{"a key from elsewhere", "GET", "/orgs/acme/x", fenced, "203.0.113.5", 403, "forbidden", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr map[string]string
			if tt.client != "" {
				hdr = map[string]string{"X-Test-Client": tt.client}
			}
			a := callService(t, svc.URL, tt.method, tt.path, tt.token, hdr)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.body)
			}
			if tt.code != "" && a.errCode(t) != tt.code {
				t.Errorf("code %q, want %q", a.errCode(t), tt.code)
			}
			if tt.identity != "" && !strings.HasPrefix(string(a.body), tt.identity) {
				t.Errorf("the handler got %q, want %q", a.body, tt.identity)
			}
			// The gateway's own answer to the same request, through /v1/authz.
			if tt.client != "" {
				return // /v1/authz sees the test's own address
			}
			g := w.in.do(req{method: "GET", path: "/v1/authz", token: tt.token, headers: map[string]string{
				"X-Forwarded-Method": tt.method, "X-Forwarded-Uri": tt.path}})
			if g.status != a.status {
				t.Errorf("/v1/authz answers %d, the middleware %d", g.status, a.status)
			}
			if g.status >= 400 && g.errCode(t) != a.errCode(t) {
				t.Errorf("/v1/authz answers %q, the middleware %q", g.errCode(t), a.errCode(t))
			}
		})
	}

	t.Run("revocation is honoured within the cache's lifetime", func(t *testing.T) {
		key := w.in.must(201, req{method: "POST", path: "/v1/keys", token: testBootstrap,
			body: `{"name": "soon gone", "owner": "user:mem", "id": "gone"}`}).json(t)["token"].(string)
		if a := callService(t, svc.URL, "GET", "/orgs/acme/x", key, nil); a.status != 200 {
			t.Fatalf("%d %s", a.status, a.body)
		}
		w.in.must(204, req{method: "DELETE", path: "/v1/keys/gone", token: testBootstrap})
		// Within the cache's lifetime (1s, lanyard's staleness bound) the answer may be reused …
		clk.Advance(500 * time.Millisecond)
		if a := callService(t, svc.URL, "GET", "/orgs/acme/x", key, nil); a.status != 200 {
			t.Fatalf("within the TTL: %d %s", a.status, a.body)
		}
		// … and after it, the key is refused.
		clk.Advance(500 * time.Millisecond)
		if a := callService(t, svc.URL, "GET", "/orgs/acme/x", key, nil); a.status != 401 {
			t.Fatalf("after the TTL, a revoked key: %d %s", a.status, a.body)
		}
	})

	t.Run("lanyard gone", func(t *testing.T) {
		if err := w.in.stop(); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Hour)
		a := callService(t, svc.URL, "GET", "/orgs/acme/x", w.member, nil)
		if a.status != 503 || a.errCode(t) != "unavailable" || a.header.Get("Retry-After") == "" {
			t.Fatalf("%d %v %s", a.status, a.header, a.body)
		}
	})
}

// TestMiddlewareWithVerifyCredential: a lanyard whose verify needs a credential answers the
// middleware only when it brings the service's own.
func TestMiddlewareWithVerifyCredential(t *testing.T) {
	w := newGatewayWorld(t, func(c *config.Config) {
		c.Gateway.Upstream = ""
		c.API.VerifyRequiresCredential = true
	})
	without := guardedService(t, middleware.Remote(w.in.base, middleware.RemoteOptions{}), "127.0.0.1")
	if a := callService(t, without.URL, "GET", "/orgs/acme/x", w.member, nil); a.status != 503 {
		t.Errorf("without the service's credential: %d %s", a.status, a.body)
	}
	with := guardedService(t, middleware.Remote(w.in.base, middleware.RemoteOptions{Token: testBootstrap}), "127.0.0.1")
	if a := callService(t, with.URL, "GET", "/orgs/acme/x", w.member, nil); a.status != 200 {
		t.Errorf("with the service's credential: %d %s", a.status, a.body)
	}
}
