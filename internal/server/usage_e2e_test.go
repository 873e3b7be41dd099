package server

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/config"
)

// TestKeyUsage follows a key's requests through the running server: the gateway, forward auth,
// verify and the native API count each of its requests once and each of lanyard's refusals —
// a spent window (429), a resource it may not see (404) — as a refusal too; the node writes
// them with its last-use batch (here at shutdown), and GET /v1/keys/{id}/usage shows them in
// their UTC hour, to whoever may read the key.
func TestKeyUsage(t *testing.T) {
	dir := t.TempDir()
	up := newUpstream(t)
	clock := &fakeClock{t: time.Date(2030, 6, 1, 12, 0, 30, 0, time.UTC)}
	opts := startOpts{dataDir: dir, clock: clock, mutate: limitedConfig("acme", func(c *config.Config) { c.Gateway.Upstream = up.URL })}
	in := start(t, opts)
	key := limitedSetup(t, in, "acme")
	boot := testBootstrap
	for i := 0; i < 5; i++ {
		in.must(200, req{method: "GET", path: "/orgs/acme/items", token: key})
	}
	in.must(429, req{method: "GET", path: "/orgs/acme/items", token: key})
	in.must(404, req{method: "GET", path: "/orgs/globex/items", token: key})
	in.must(404, req{method: "GET", path: "/v1/authz", token: key, headers: map[string]string{"X-Forwarded-Uri": "/orgs/globex/items"}})
	if v := in.must(200, req{method: "POST", path: "/v1/verify", body: `{"token": "` + key + `", "resource": "organization/globex"}`}).json(t); v["valid"] != false {
		t.Fatalf("verify on another organization: %v", v)
	}
	in.must(200, req{method: "GET", path: "/v1/me", token: key})
	clock.Advance(time.Hour)
	in.must(200, req{method: "GET", path: "/v1/me", token: key})
	in.must(404, req{method: "GET", path: "/v1/keys/nope", token: key})

	// Nothing is written per request: the batch goes at the flush, here the shutdown's.
	if err := in.stop(); err != nil {
		t.Fatal(err)
	}
	in = start(t, opts)
	a := in.must(200, req{method: "GET", path: "/v1/keys/mk/usage?hours=3", token: boot})
	var got struct {
		KeyID string `json:"key_id"`
		Hours []struct {
			Hour               time.Time
			Requests, Refusals int64
		} `json:"hours"`
	}
	if err := json.Unmarshal(a.body, &got); err != nil {
		t.Fatal(err)
	}
	type hour struct {
		at                 string
		requests, refusals int64
	}
	want := []hour{{"2030-06-01T11:00:00Z", 0, 0}, {"2030-06-01T12:00:00Z", 10, 4}, {"2030-06-01T13:00:00Z", 2, 1}}
	if got.KeyID != "mk" || len(got.Hours) != len(want) {
		t.Fatalf("usage: %s", a.body)
	}
	for i, w := range want {
		g := got.Hours[i]
		if g.Hour.Format(time.RFC3339) != w.at || g.Requests != w.requests || g.Refusals != w.refusals {
			t.Errorf("hour %d: %s %d requests %d refusals; want %s %d %d", i, g.Hour.Format(time.RFC3339), g.Requests, g.Refusals, w.at, w.requests, w.refusals)
		}
	}
	// The usage of a key is read by the key's readers only (GET /v1/keys/{id}'s rule).
	in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "o", "email": "o@example.com"}`})
	okey := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "o", "owner": "user:o"}`}).json(t)["token"].(string)
	in.must(404, req{method: "GET", path: "/v1/keys/mk/usage", token: okey})
	in.must(200, req{method: "GET", path: "/v1/keys/mk/usage", token: key})
}
