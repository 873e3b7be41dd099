package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/lanyardhq/lanyard/internal/audit"
	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/testenv"
)

// TestLoginThrottleAcrossNodes: two nodes over one store and one Redis throttle an account
// together — failures spread over both lock it on both after login.max_failures in all — and
// claim the refused credentials' rows of their own through the same Redis (internal/audit
// tests the counting). The Redis is the test's own: the address counts of the shared one
// would carry over between runs.
func TestLoginThrottleAcrossNodes(t *testing.T) {
	rs := testenv.StartRedis(t)
	dir := t.TempDir()
	mutate := func(c *config.Config) {
		c.Server.Redis = rs.URL()
		c.Login.MaxFailures = 4
	}
	a := start(t, startOpts{dataDir: dir, mutate: mutate})
	b := start(t, startOpts{dataDir: dir, mutate: mutate})
	const pw = "correct horse battery staple"
	a.must(201, req{method: "POST", path: "/v1/users", token: testBootstrap,
		body: `{"id": "ann", "email": "ann@example.com", "password": "` + pw + `"}`})

	login := func(in *instance, password string) int {
		resp, err := http.Post(in.base+"/v1/auth/login", "application/json",
			strings.NewReader(`{"email": "ann@example.com", "password": "`+password+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i, in := range []*instance{a, b, a, b} {
		if got := login(in, "wrong guess"); got != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d, want 401", i+1, got)
		}
	}
	for name, in := range map[string]*instance{"a": a, "b": b} {
		if got := login(in, pw); got != http.StatusTooManyRequests {
			t.Errorf("node %s after 4 failures over two nodes: %d, want 429", name, got)
		}
	}

	for _, in := range []*instance{a, b} {
		in.must(401, req{method: "GET", path: "/v1/me", token: "lk_not_a_real_token_at_all_0000000000"})
		if err := in.stop(); err != nil { // its last flush writes the refusal
			t.Fatal(err)
		}
	}
	keys, err := testenv.RedisClient(t, rs.URL()).Keys(t.Context(), audit.DefaultClaimsPrefix+"*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("no refusal claims in Redis (%v): the nodes count refused credentials alone", err)
	}
}
