package inprocess_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lanyardhq/lanyard/middleware"
	"github.com/lanyardhq/lanyard/middleware/inprocess"
)

const boot = "bootstrap-for-the-inprocess-test-0123456789"

const routes = `
gateway:
  routes:
    - path: /orgs/{id}/{rest...}
      resource: {type: organization, param: id}
`

// TestMiddleware runs lanyard inside a service: only what the pipeline allows reaches the
// service, with lanyard's identity headers and without the credential; lanyard's API answers
// beside it, and a revocation made through it is refused on the next request.
func TestMiddleware(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "lanyard.yaml")
	if err := os.WriteFile(cfgPath, []byte(routes), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LANYARD_BOOTSTRAP_TOKEN", boot)
	lan, err := inprocess.Open(t.Context(), inprocess.Options{Config: cfgPath, Data: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	var reached atomic.Int32
	var seen http.Header
	service := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		seen = r.Header.Clone()
		io.WriteString(w, "service")
	})
	srv := httptest.NewServer(lan.Middleware(service))
	defer func() {
		srv.Close()
		if err := lan.Close(); err != nil {
			t.Error(err)
		}
	}()

	call := func(method, path, token, body string, extra ...string) (int, string) {
		t.Helper()
		return send(t, method, srv.URL+path, token, body, extra...)
	}
	must := func(want int, method, path, token, body string) string {
		t.Helper()
		got, b := call(method, path, token, body)
		if got != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, got, b, want)
		}
		return b
	}
	must(201, "POST", "/v1/resources", boot, `{"type": "organization", "id": "acme"}`)
	must(201, "POST", "/v1/resources", boot, `{"type": "organization", "id": "other"}`)
	must(201, "POST", "/v1/users", boot, `{"id": "m", "email": "m@example.com"}`)
	must(200, "PUT", "/v1/resources/organization/acme/grants/user:m", boot, `{"role": "member"}`)
	var k struct{ Token string }
	if err := json.Unmarshal([]byte(must(201, "POST", "/v1/keys", boot, `{"name": "k", "owner": "user:m", "id": "mk"}`)), &k); err != nil {
		t.Fatal(err)
	}

	if got, b := call("GET", "/orgs/acme/items", k.Token, "", "X-Lanyard-Principal", "user:admin"); got != 200 || b != "service" {
		t.Fatalf("allowed request: %d %q", got, b)
	}
	if seen.Get("X-Lanyard-Principal") != "user:m" || seen.Get("X-Lanyard-Key-Id") != "mk" ||
		seen.Get("X-Lanyard-Resource") != "organization/acme" || seen.Get("Authorization") != "" {
		t.Fatalf("the service saw %v", seen)
	}

	before := reached.Load()
	for _, c := range []struct {
		name, path, token string
		want              int
	}{
		{"no credential", "/orgs/acme/items", "", 401},
		{"unknown key", "/orgs/acme/items", "lk_" + strings.Repeat("a", 33), 401},
		{"another tenant's organization: invisible", "/orgs/other/items", k.Token, 404},
		{"no route", "/billing", k.Token, 404},
	} {
		if got, b := call("GET", c.path, c.token, ""); got != c.want || !strings.Contains(b, `"error"`) {
			t.Errorf("%s: %d %s, want %d with an error body", c.name, got, b, c.want)
		}
	}
	if reached.Load() != before {
		t.Fatal("a refused request reached the service")
	}

	// The same lanyard as a middleware.Verifier, for a service that keeps its own routing.
	guard := middleware.New(lan.Verifier(""), middleware.Options{Resource: func(r *http.Request) (string, string) {
		return "organization/" + r.PathValue("org"), ""
	}})
	mux := http.NewServeMux()
	mux.Handle("/projects/{org}", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := middleware.IdentityFrom(r.Context())
		io.WriteString(w, id.Principal)
	})))
	own := httptest.NewServer(mux)
	defer own.Close()
	ask := func(path, token string) (int, string) {
		t.Helper()
		return send(t, "GET", own.URL+path, token, "")
	}
	for _, c := range []struct {
		path, token string
		want        int
		body        string
	}{
		{"/projects/acme", k.Token, 200, "user:m"},
		{"/projects/acme", "", 401, `"error"`},
		{"/projects/other", k.Token, 404, `"error"`},
	} {
		if got, b := ask(c.path, c.token); got != c.want || !strings.Contains(b, c.body) {
			t.Errorf("verifier: GET %s: %d %s, want %d %s", c.path, got, b, c.want, c.body)
		}
	}

	must(204, "DELETE", "/v1/keys/mk", boot, "")
	if got, _ := ask("/projects/acme", k.Token); got != 401 {
		t.Fatalf("the verifier let a revoked key through: %d", got)
	}
	if got, _ := call("GET", "/orgs/acme/items", k.Token, ""); got != 401 {
		t.Fatalf("a revoked key got %d", got)
	}
}

// send makes one request with token as a Bearer credential and extra as header name/value
// pairs, and returns the answer's status and body.
func send(t *testing.T, method, url, token, body string, extra ...string) (int, string) {
	t.Helper()
	r, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		r.Header.Set(extra[i], extra[i+1])
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestOpenRefusesWithoutRoutes: without gateway routes nothing could reach the service, and an
// upstream has no meaning in process; both are refused at Open.
func TestOpenRefusesWithoutRoutes(t *testing.T) {
	for name, yaml := range map[string]string{
		"no routes": "",
		"upstream":  routes + "  upstream: http://127.0.0.1:1\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "lanyard.yaml")
			if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			if lan, err := inprocess.Open(t.Context(), inprocess.Options{Config: p, Data: dir}); err == nil {
				lan.Close()
				t.Fatal("opened")
			}
		})
	}
}
