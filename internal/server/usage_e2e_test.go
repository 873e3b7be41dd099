package server

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
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
	want := []usageHour{{"2030-06-01T11:00:00Z", 0, 0}, {"2030-06-01T12:00:00Z", 10, 4}, {"2030-06-01T13:00:00Z", 2, 1}}
	if got := keyUsage(t, in, "mk", 3); !slices.Equal(got, want) {
		t.Errorf("usage of mk:\n%v\nwant\n%v", got, want)
	}
	// The usage of a key is read by the key's readers only (GET /v1/keys/{id}'s rule).
	in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "o", "email": "o@example.com"}`})
	okey := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "o", "owner": "user:o"}`}).json(t)["token"].(string)
	in.must(404, req{method: "GET", path: "/v1/keys/mk/usage", token: okey})
	in.must(200, req{method: "GET", path: "/v1/keys/mk/usage", token: key})
}

// usageHour is an hour of GET /v1/keys/{id}/usage's answer.
type usageHour struct {
	Hour               string
	Requests, Refusals int64
}

// keyUsage is the key's last hours, as GET /v1/keys/{id}/usage answers the bootstrap token.
func keyUsage(t *testing.T, in *instance, id string, hours int) []usageHour {
	t.Helper()
	a := in.must(200, req{method: "GET", path: "/v1/keys/" + id + "/usage?hours=" + strconv.Itoa(hours), token: testBootstrap})
	var got struct {
		KeyID string      `json:"key_id"`
		Hours []usageHour `json:"hours"`
	}
	if err := json.Unmarshal(a.body, &got); err != nil || got.KeyID != id {
		t.Fatalf("usage of %s: %s (%v)", id, a.body, err)
	}
	return got.Hours
}

// TestKeyUsageScopedTokens: with layered tokens, a key's request refused for its scoped tokens
// (missing, or for another resource) is a refusal of the key; so is a token exchange lanyard
// refuses, though RFC 6749 has it answered 400.
func TestKeyUsageScopedTokens(t *testing.T) {
	w := newLayeredWorld(t)
	in := w.in
	ev := w.token(t, "/Events/e1/authorize", w.key, nil)
	in.must(401, req{method: "GET", path: "/Events/e1/x", token: w.key})
	in.must(403, req{method: "GET", path: "/Events/e2/x", token: w.key, headers: map[string]string{"x-Event-Token": ev}})
	form := func(kv ...string) string {
		v := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	in.must(200, req{method: "POST", path: "/v1/tokens/exchange", body: form("subject_token", w.key, "resource", "event/e1")})
	in.must(400, req{method: "POST", path: "/v1/tokens/exchange", body: form("subject_token", w.key, "resource", "collaborator/c1")})
	in.must(400, req{method: "POST", path: "/v1/tokens/exchange", body: form("subject_token", w.outsiderKey, "resource", "event/e1")})
	if err := in.flushUsage(t.Context()); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]usageHour{"api-key": {"2030-06-01T12:00:00Z", 5, 3}, "out-key": {"2030-06-01T12:00:00Z", 1, 1}, "second-key": {"2030-06-01T12:00:00Z", 0, 0}} {
		if got := keyUsage(t, in, id, 1); !slices.Equal(got, []usageHour{want}) {
			t.Errorf("usage of %s: %v, want %v", id, got, want)
		}
	}
}
