package server

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/config"
)

// layeredWorld is examples/layered-tokens in front of an upstream: the provider has mirrored
// events e1 and e2, collaborators c1 and c3 of e1, c2 of e2 and area a1 of e1; a client user
// reads e1 and e2 with an API key.
type layeredWorld struct {
	in          *instance
	up          *upstream
	clock       *fakeClock
	key, other  string // two API keys of the client
	outsiderKey string
}

func newLayeredWorld(t *testing.T) *layeredWorld {
	t.Helper()
	up := newUpstream(t)
	cfg, err := config.Load(presetFile("layered-tokens"), nil, config.Overrides{Upstream: &up.URL})
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)}
	in := start(t, startOpts{clock: clock, mutate: func(c *config.Config) {
		server, passwords := c.Server, c.Passwords
		*c = *cfg
		c.Server, c.Passwords = server, passwords
	}})
	boot := testBootstrap
	// The provider mirrors its events, collaborators and areas as resources.
	for _, r := range []string{
		`{"type": "event", "id": "e1"}`, `{"type": "event", "id": "e2"}`,
		`{"type": "collaborator", "id": "c1", "parent": "event/e1"}`, `{"type": "collaborator", "id": "c3", "parent": "event/e1"}`,
		`{"type": "collaborator", "id": "c2", "parent": "event/e2"}`, `{"type": "area", "id": "a1", "parent": "event/e1"}`,
	} {
		in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: r})
	}
	for _, u := range []string{"client", "outsider"} {
		in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "` + u + `", "email": "` + u + `@example.com"}`})
	}
	in.must(200, req{method: "PUT", path: "/v1/resources/event/e1/grants/user:client", token: boot, body: `{"role": "member"}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/event/e2/grants/user:client", token: boot, body: `{"role": "member"}`})
	key := func(owner, id string) string {
		return in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "k", "owner": "user:` + owner + `", "id": "` + id + `"}`}).json(t)["token"].(string)
	}
	return &layeredWorld{in: in, up: up, clock: clock, key: key("client", "api-key"), other: key("client", "second-key"), outsiderKey: key("outsider", "out-key")}
}

// authorize gets a scoped token at path with key and the headers h.
func (w *layeredWorld) authorize(t *testing.T, path, key string, h map[string]string) answer {
	t.Helper()
	return w.in.do(req{method: "GET", path: path, token: key, headers: h})
}

func (w *layeredWorld) token(t *testing.T, path, key string, h map[string]string) string {
	t.Helper()
	a := w.authorize(t, path, key, h)
	if a.status != 200 {
		t.Fatalf("GET %s: %d %s", path, a.status, a.body)
	}
	return a.json(t)["token"].(string)
}

// TestPresetLayeredTokens follows the event API's document step by step: the API key alone
// reaches only the authorize endpoints; an event token; collaborator and area tokens from the key
// and the event token; every later call carries the key and each token in its own header.
func TestPresetLayeredTokens(t *testing.T) {
	w := newLayeredWorld(t)
	in, up := w.in, w.up

	// Step 1: the API key alone reaches only the authorize endpoints; the refusal says what is
	// missing.
	before := up.count()
	a0 := in.do(req{method: "GET", path: "/Events/e1/sessions", token: w.key})
	refused(t, up, before, a0, 401, "invalid_token")
	if !strings.Contains(string(a0.body), "This request needs the event token in x-Event-Token.") {
		t.Errorf("a missing scoped token's refusal: %s", a0.body)
	}

	// Step 2: the key for an event token.
	a := w.authorize(t, "/Events/e1/authorize", w.key, nil)
	if a.status != 200 || a.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("event authorize: %d %v %s", a.status, a.header, a.body)
	}
	got := a.json(t)
	ev, _ := got["token"].(string)
	if !strings.HasPrefix(ev, "lt_") || got["expires_in"] != float64(3600) || got["resource"] != "event/e1" {
		t.Fatalf("event token answer: %v", got)
	}
	eh := map[string]string{"x-Event-Token": ev}
	proxied(t, up, in.do(req{method: "GET", path: "/Events/e1/sessions", token: w.key, headers: eh}), map[string]string{
		"X-Lanyard-Principal": "user:client", "X-Lanyard-Resource": "event/e1", "X-Lanyard-Role": "member", "X-Event-Token": ""})

	// Step 3: the key and the event token for a collaborator or an area token.
	co := w.token(t, "/Collaborators/c1/authorize", w.key, eh)
	ar := w.token(t, "/Areas/a1/authorize", w.key, eh)
	ch := map[string]string{"x-Event-Token": ev, "x-Collaborator-Token": co}
	proxied(t, up, in.do(req{method: "GET", path: "/Collaborators/c1/shifts", token: w.key, headers: ch}), map[string]string{
		"X-Lanyard-Resource": "collaborator/c1", "X-Collaborator-Token": "", "X-Event-Token": ""})
	proxied(t, up, in.do(req{method: "POST", path: "/Areas/a1/checkins", token: w.key, headers: map[string]string{"x-Event-Token": ev, "x-Area-Token": ar}}),
		map[string]string{"X-Lanyard-Resource": "area/a1"})

	// Misuse: each refused, nothing reaches the upstream.
	e2 := w.token(t, "/Events/e2/authorize", w.key, nil)
	otherEv := w.token(t, "/Events/e1/authorize", w.other, nil)
	before = up.count()
	tests := []struct {
		name   string
		r      req
		status int
		code   string
	}{
		{"a collaborator token without the event token", req{method: "GET", path: "/Collaborators/c1/authorize", token: w.key}, 401, "invalid_token"},
		{"a collaborator of e1 with e2's event token", req{method: "GET", path: "/Collaborators/c1/authorize", token: w.key, headers: map[string]string{"x-Event-Token": e2}}, 403, "forbidden"},
		{"an event token of another credential", req{method: "GET", path: "/Collaborators/c1/authorize", token: w.key, headers: map[string]string{"x-Event-Token": otherEv}}, 403, "forbidden"},
		{"an event the outsider may not read", req{method: "GET", path: "/Events/e1/authorize", token: w.outsiderKey}, 404, "not_found"},
		{"no credential at all", req{method: "GET", path: "/Events/e1/authorize"}, 401, "unauthenticated"},
		{"the event token for another event", req{method: "GET", path: "/Events/e2/sessions", token: w.key, headers: eh}, 403, "forbidden"},
		{"the collaborator token for another collaborator", req{method: "GET", path: "/Collaborators/c3/shifts", token: w.key, headers: ch}, 403, "forbidden"},
		{"the collaborator token without its event token", req{method: "GET", path: "/Collaborators/c1/shifts", token: w.key, headers: map[string]string{"x-Collaborator-Token": co}}, 401, "invalid_token"},
		{"the tokens with another key of the same user", req{method: "GET", path: "/Collaborators/c1/shifts", token: w.other, headers: ch}, 403, "forbidden"},
		{"an area token in the collaborator's header", req{method: "GET", path: "/Collaborators/c1/shifts", token: w.key, headers: map[string]string{"x-Event-Token": ev, "x-Collaborator-Token": ar}}, 403, "forbidden"},
		{"a scoped token as the credential", req{method: "GET", path: "/Events/e1/sessions", token: ev, headers: eh}, 401, "invalid_token"},
		{"a garbled scoped token", req{method: "GET", path: "/Events/e1/sessions", token: w.key, headers: map[string]string{"x-Event-Token": garble(ev)}}, 401, "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refused(t, up, before, in.do(tt.r), tt.status, tt.code)
		})
	}

	// verify takes the same headers and names the refusing layer.
	v := in.must(200, req{method: "POST", path: "/v1/verify", body: `{"headers": {"Authorization": "Bearer ` + w.key + `", "x-Event-Token": "` + e2 + `"}, "resource": "collaborator/c1", "explain": true}`}).json(t)
	if v["valid"] != false || v["because"].(map[string]any)["layer"] != "scoped_token" {
		t.Errorf("verify with another event's token: %v", v)
	}
	v = in.must(200, req{method: "POST", path: "/v1/verify", body: `{"headers": {"Authorization": "Bearer ` + w.key + `", "x-Event-Token": "` + ev + `", "x-Collaborator-Token": "` + co + `"}, "resource": "collaborator/c1"}`}).json(t)
	if v["valid"] != true {
		t.Errorf("verify with the right tokens: %v", v)
	}
	// /v1/authz answers like the gateway.
	in.must(200, req{method: "GET", path: "/v1/authz", token: w.key, headers: map[string]string{"X-Forwarded-Uri": "/Collaborators/c1/shifts", "x-Event-Token": ev, "x-Collaborator-Token": co}})
	in.must(401, req{method: "GET", path: "/v1/authz", token: w.key, headers: map[string]string{"X-Forwarded-Uri": "/Collaborators/c1/shifts", "x-Event-Token": ev}})

	// Revoking the event token revokes its subtree at once: the collaborator and area tokens.
	in.must(204, req{method: "DELETE", path: "/v1/tokens/scoped", token: w.key, headers: map[string]string{"x-Event-Token": ev}})
	for _, r := range []req{
		{method: "GET", path: "/Events/e1/sessions", token: w.key, headers: eh},
		{method: "GET", path: "/Collaborators/c1/shifts", token: w.key, headers: ch},
		{method: "GET", path: "/Areas/a1/x", token: w.key, headers: map[string]string{"x-Event-Token": ev, "x-Area-Token": ar}},
	} {
		refused(t, up, up.count(), in.do(r), 401, "invalid_token")
	}
	// Another credential cannot revoke a token it does not hold.
	ev = w.token(t, "/Events/e1/authorize", w.key, nil)
	in.must(403, req{method: "DELETE", path: "/v1/tokens/scoped", token: w.other, headers: map[string]string{"x-Event-Token": ev}})
	// Whoever holds a leaked scoped token may revoke it (RFC 7009), with its subtree.
	co = w.token(t, "/Collaborators/c1/authorize", w.key, map[string]string{"x-Event-Token": ev})
	in.must(200, req{method: "POST", path: "/v1/tokens/revoke", body: "token=" + ev})
	refused(t, up, up.count(), in.do(req{method: "GET", path: "/Collaborators/c1/x", token: w.key, headers: map[string]string{"x-Event-Token": ev, "x-Collaborator-Token": co}}), 401, "invalid_token")

	// The grant behind a token is checked at every use.
	ev = w.token(t, "/Events/e2/authorize", w.key, nil)
	in.must(200, req{method: "GET", path: "/Events/e2/x", token: w.key, headers: map[string]string{"x-Event-Token": ev}})
	in.must(204, req{method: "DELETE", path: "/v1/resources/event/e2/grants/user:client", token: testBootstrap})
	refused(t, up, up.count(), in.do(req{method: "GET", path: "/Events/e2/x", token: w.key, headers: map[string]string{"x-Event-Token": ev}}), 404, "not_found")

	// A token expires after its lifetime.
	ev = w.token(t, "/Events/e1/authorize", w.key, nil)
	w.clock.Advance(time.Hour)
	refused(t, up, up.count(), in.do(req{method: "GET", path: "/Events/e1/x", token: w.key, headers: map[string]string{"x-Event-Token": ev}}), 401, "invalid_token")

	// Revoking the credential ends every token it obtained.
	ev = w.token(t, "/Events/e1/authorize", w.key, nil)
	in.must(204, req{method: "DELETE", path: "/v1/keys/api-key", token: testBootstrap})
	refused(t, up, up.count(), in.do(req{method: "GET", path: "/Events/e1/x", token: w.key, headers: map[string]string{"x-Event-Token": ev}}), 401, "invalid_token")
}

// TestTokenExchangeRFC8693: POST /v1/tokens/exchange issues the same tokens as the authorize
// paths, with RFC 8693's answer and RFC 6749's errors (CONTRACT §11.48).
func TestTokenExchangeRFC8693(t *testing.T) {
	w := newLayeredWorld(t)
	in, up := w.in, w.up
	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	const grant = "urn:ietf:params:oauth:grant-type:token-exchange"
	const at = "urn:ietf:params:oauth:token-type:access_token"
	a := in.do(req{method: "POST", path: "/v1/tokens/exchange", body: form("grant_type", grant, "subject_token", w.key,
		"subject_token_type", at, "resource", "event/e1", "client_id", "ignored", "scope", "ignored")})
	got := a.json(t)
	if a.status != 200 || got["issued_token_type"] != at || got["token_type"] != "N_A" || got["expires_in"] != float64(3600) || a.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("exchange: %d %v %s", a.status, a.header, a.body)
	}
	ev := got["access_token"].(string)
	proxied(t, up, in.do(req{method: "GET", path: "/Events/e1/x", token: w.key, headers: map[string]string{"x-Event-Token": ev}}), nil)
	a = in.do(req{method: "POST", path: "/v1/tokens/exchange", body: form("grant_type", grant, "subject_token", w.key,
		"actor_token", ev, "actor_token_type", at, "resource", "collaborator/c1")})
	if a.status != 200 {
		t.Fatalf("exchange for a collaborator: %d %s", a.status, a.body)
	}
	co := a.json(t)["access_token"].(string)
	proxied(t, up, in.do(req{method: "GET", path: "/Collaborators/c1/x", token: w.key, headers: map[string]string{"x-Event-Token": ev, "x-Collaborator-Token": co}}), nil)

	for _, tt := range []struct {
		name, body, code string
	}{
		{"no subject_token", form("grant_type", grant, "resource", "event/e1"), "invalid_request"},
		{"an invalid subject_token", form("grant_type", grant, "subject_token", "lk_000000000000000000000000000000000", "resource", "event/e1"), "invalid_request"},
		{"no resource", form("grant_type", grant, "subject_token", w.key), "invalid_request"},
		{"a collaborator without actor_token", form("grant_type", grant, "subject_token", w.key, "resource", "collaborator/c1"), "invalid_request"},
		{"an actor_token of another event", form("grant_type", grant, "subject_token", w.key, "actor_token", ev, "resource", "collaborator/c2"), "invalid_request"},
		{"a resource the subject may not read", form("grant_type", grant, "subject_token", w.outsiderKey, "resource", "event/e1"), "invalid_target"},
		{"another grant type", form("grant_type", "client_credentials", "subject_token", w.key, "resource", "event/e1"), "unsupported_grant_type"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := in.do(req{method: "POST", path: "/v1/tokens/exchange", body: tt.body})
			got := a.json(t)
			if a.status != 400 || got["error"] != tt.code || got["error_description"] == "" || a.header.Get("WWW-Authenticate") != "" {
				t.Fatalf("%d %v %s, want 400 %s", a.status, a.header, a.body, tt.code)
			}
		})
	}
}

// garble changes a token's last character (to one it is not), so its checksum no longer holds.
func garble(tok string) string {
	last := "x"
	if strings.HasSuffix(tok, "x") {
		last = "y"
	}
	return tok[:len(tok)-1] + last
}
