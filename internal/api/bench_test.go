package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/gateway"
	"github.com/lanyardhq/lanyard/internal/ratelimit"
	"github.com/lanyardhq/lanyard/internal/store"
)

// BenchmarkPipeline runs GET /v1/me for a cached key through the whole native pipeline —
// request id, sources, resolver, policy, handler, JSON answer, access log, metrics — in process.
// BenchmarkPipelineBaseline is a bare handler writing a JSON answer of the same size: read the
// first as a ratio of the second, measured in the same run.
func BenchmarkPipeline(b *testing.B) {
	h := newTestHandler(b)
	h.metrics = newMetrics(prometheus.NewRegistry())
	ctx := b.Context()
	if err := h.store.CreateUser(ctx, store.User{ID: "u", Email: "u@example.com"}, store.Event{}); err != nil {
		b.Fatal(err)
	}
	tok, _ := credential.Generate("lk")
	k := store.Key{ID: "k", Name: "k", Format: store.FormatToken, Owner: "u", CreatedAt: time.Now()}
	if err := h.store.CreateKey(ctx, k, store.Secret{Hash: credential.Hash(tok), Kind: store.KindKeyToken, ID: "k"}, nil, store.Event{}); err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/v1/me", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		b.Fatalf("GET /v1/me = %d", w.Code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
	}
}

func BenchmarkPipelineBaseline(b *testing.B) {
	body := []byte(`{"principal":"user:u","credential":{"type":"key","id":"k"},"admin":false}` + "\n")
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		_, _ = w.Write(body)
	})
	r := httptest.NewRequest("GET", "/v1/me", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		bare.ServeHTTP(w, r)
	}
}

// benchGatewayHandler is the native API with one gateway route and a member's key, for the
// forward-auth and verify benchmarks.
func benchGatewayHandler(b *testing.B) (*Handler, string) {
	h := newTestHandler(b)
	h.metrics = newMetrics(prometheus.NewRegistry())
	routes, err := gateway.Compile([]config.Route{{Path: "/orgs/{id}/{rest...}", Resource: &config.RouteResource{Type: "organization", Param: "id"}, Cost: 1}})
	if err != nil {
		b.Fatal(err)
	}
	h.gateway = &Gateway{Routes: routes}
	ctx := b.Context()
	if err := h.store.CreateUser(ctx, store.User{ID: "u", Email: "u@example.com"}, store.Event{}); err != nil {
		b.Fatal(err)
	}
	if err := h.store.CreateResource(ctx, store.Resource{Type: "organization", ID: "acme"}, store.Event{}); err != nil {
		b.Fatal(err)
	}
	if _, err := h.store.PutGrant(ctx, store.Grant{Resource: "organization/acme", Principal: "user:u", Role: "member"}, nil, store.Event{}); err != nil {
		b.Fatal(err)
	}
	tok, _ := credential.Generate("lk")
	k := store.Key{ID: "k", Name: "k", Format: store.FormatToken, Owner: "u", CreatedAt: time.Now()}
	if err := h.store.CreateKey(ctx, k, store.Secret{Hash: credential.Hash(tok), Kind: store.KindKeyToken, ID: "k"}, nil, store.Event{}); err != nil {
		b.Fatal(err)
	}
	return h, tok
}

// BenchmarkForwardAuth is GET /v1/authz for a member's key on a route of their organization:
// read it as a ratio of BenchmarkPipelineBaseline.
func BenchmarkForwardAuth(b *testing.B) {
	h, tok := benchGatewayHandler(b)
	r := httptest.NewRequest("GET", "/v1/authz", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	r.Header.Set("X-Forwarded-Uri", "/orgs/acme/items")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		b.Fatalf("GET /v1/authz = %d %s", w.Code, w.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
	}
}

// BenchmarkVerify is POST /v1/verify of a member's key on their organization.
func BenchmarkVerify(b *testing.B) {
	h, tok := benchGatewayHandler(b)
	benchVerify(b, h, tok)
}

// BenchmarkVerifyWithPlan is BenchmarkVerify for a key with a plan of two windows decided in
// memory: read it as a ratio of BenchmarkVerify, the limiter's cost on the verify path.
func BenchmarkVerifyWithPlan(b *testing.B) {
	h, _ := benchGatewayHandler(b)
	h.limits = &gateway.Limits{Limiter: ratelimit.NewMemory(ratelimit.MemoryConfig{}), Authz: h.authz,
		Plans: map[string]config.Plan{"bench": {Bucket: config.BucketKey, Windows: []config.Window{{Limit: 1 << 40, Window: time.Minute}, {Limit: 1 << 41, Window: time.Hour}}}}}
	h.checker.Limits = h.limits
	tok, _ := credential.Generate("lk")
	k := store.Key{ID: "kp", Name: "kp", Format: store.FormatToken, Owner: "u", Plan: "bench", CreatedAt: time.Now()}
	if err := h.store.CreateKey(b.Context(), k, store.Secret{Hash: credential.Hash(tok), Kind: store.KindKeyToken, ID: "kp"}, nil, store.Event{}); err != nil {
		b.Fatal(err)
	}
	benchVerify(b, h, tok)
}

func benchVerify(b *testing.B, h *Handler, tok string) {
	body := `{"token": "` + tok + `", "resource": "organization/acme", "permission": "read"}`
	do := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/v1/verify", strings.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := do(); w.Code != 200 || !strings.Contains(w.Body.String(), `"valid":true`) ||
		h.limits != nil && !strings.Contains(w.Body.String(), `"ratelimit":{`) {
		b.Fatalf("POST /v1/verify = %d %s", w.Code, w.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		do()
	}
}
