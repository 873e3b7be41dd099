package inprocess_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lanyardhq/lanyard/middleware/inprocess"
)

// BenchmarkMiddleware is a request with a key through the in-process middleware (sources →
// resolve → authorize → access log → the service's handler) against the bare handler, in the
// same run:
//
//	go test -run '^$' -bench Middleware -benchmem ./middleware/inprocess/
func BenchmarkMiddleware(b *testing.B) {
	dir := b.TempDir()
	cfgPath := filepath.Join(dir, "lanyard.yaml")
	if err := os.WriteFile(cfgPath, []byte(routes), 0o600); err != nil {
		b.Fatal(err)
	}
	b.Setenv("LANYARD_BOOTSTRAP_TOKEN", boot)
	lan, err := inprocess.Open(b.Context(), inprocess.Options{Config: cfgPath, Data: filepath.Join(dir, "data")})
	if err != nil {
		b.Fatal(err)
	}
	defer lan.Close()
	service := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := lan.Middleware(service)
	do := func(method, path, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+boot)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	do("POST", "/v1/resources", `{"type": "organization", "id": "acme"}`)
	do("POST", "/v1/users", `{"id": "m", "email": "m@example.com"}`)
	do("PUT", "/v1/resources/organization/acme/grants/user:m", `{"role": "member"}`)
	var k struct{ Token string }
	if err := json.Unmarshal(do("POST", "/v1/keys", `{"name": "k", "owner": "user:m"}`).Body.Bytes(), &k); err != nil || k.Token == "" {
		b.Fatalf("no key: %v", err)
	}
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"bare", service}, {"lanyard", h}} {
		b.Run(c.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/orgs/acme/items", nil)
			b.ReportAllocs()
			for b.Loop() {
				r.Header.Set("Authorization", "Bearer "+k.Token)
				w := httptest.NewRecorder()
				c.h.ServeHTTP(w, r)
				if w.Code != http.StatusNoContent {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}
