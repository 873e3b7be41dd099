package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lanyardhq/lanyard/internal/credential"
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
