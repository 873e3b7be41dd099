package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/gateway"
	"github.com/lanyardhq/lanyard/internal/store"
)

// TestUsageCountsEveryEntryPoint: a request whose credential resolves to a key counts as one
// request of the key, whatever the entry point; one that lanyard then refuses counts as a
// refusal too. A malformed request, and an upstream's own refusal, are no refusal of lanyard's.
func TestUsageCountsEveryEntryPoint(t *testing.T) {
	h := newTestHandler(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	routes, err := gateway.Compile([]config.Route{{Path: "/orgs/{id}/{rest...}", Resource: &config.RouteResource{Type: "organization", Param: "id"}}})
	if err != nil {
		t.Fatal(err)
	}
	h.gateway = &Gateway{Routes: routes, Next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/deny") {
			w.WriteHeader(http.StatusForbidden) // the upstream's own answer
			return
		}
		w.WriteHeader(http.StatusOK)
	})}
	for _, id := range []string{"u", "v"} {
		if err := h.store.CreateUser(ctx, store.User{ID: id, Email: id + "@example.com", CreatedAt: now, UpdatedAt: now}, store.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"acme", "globex"} {
		if err := h.store.CreateResource(ctx, store.Resource{Type: "organization", ID: id, CreatedAt: now}, store.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.store.PutGrant(ctx, store.Grant{Resource: "organization/acme", Principal: "user:u", Role: "member", CreatedAt: now}, nil, store.Event{}); err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	for _, k := range []store.Key{{ID: "k", Owner: "u"}, {ID: "kc", Owner: "u", AllowedCIDRs: []string{"10.0.0.0/8"}}, {ID: "vk", Owner: "v"}} {
		tok, _ := credential.Generate("lk")
		k.Name, k.Format, k.CreatedAt = k.ID, store.FormatToken, now
		if err := h.store.CreateKey(ctx, k, store.Secret{Hash: credential.Hash(tok), Kind: store.KindKeyToken}, nil, store.Event{}); err != nil {
			t.Fatal(err)
		}
		tokens[k.ID] = tok
	}
	unknown, _ := credential.Generate("lk")
	verify := func(tok, resource string) string {
		return `{"token": "` + tok + `", "resource": "organization/` + resource + `"}`
	}

	tests := []struct {
		name, method, path, key, body string
		headers                       map[string]string
		status                        int
		// requests and refusals are what the request adds to the key's usage.
		requests, refusals int64
	}{
		{name: "native API, allowed", method: "GET", path: "/v1/me", key: "k", status: 200, requests: 1},
		{name: "native API, another's key", method: "GET", path: "/v1/keys/vk", key: "k", status: 404, requests: 1, refusals: 1},
		{name: "native API, malformed", method: "POST", path: "/v1/keys", key: "k", body: "{", status: 400, requests: 1},
		{name: "native API, outside the key's networks", method: "GET", path: "/v1/me", key: "kc", status: 403, requests: 1, refusals: 1},
		{name: "gateway, allowed", method: "GET", path: "/orgs/acme/items", key: "k", status: 200, requests: 1},
		{name: "gateway, no grant", method: "GET", path: "/orgs/globex/items", key: "k", status: 404, requests: 1, refusals: 1},
		{name: "gateway, the upstream refuses", method: "GET", path: "/orgs/acme/deny", key: "k", status: 403, requests: 1},
		{name: "gateway, outside the key's networks", method: "GET", path: "/orgs/acme/items", key: "kc", status: 403, requests: 1, refusals: 1},
		{name: "forward auth, allowed", method: "GET", path: "/v1/authz", key: "k", headers: map[string]string{"X-Forwarded-Uri": "/orgs/acme/x"}, status: 200, requests: 1},
		{name: "forward auth, no grant", method: "GET", path: "/v1/authz", key: "k", headers: map[string]string{"X-Forwarded-Uri": "/orgs/globex/x"}, status: 404, requests: 1, refusals: 1},
		{name: "verify, valid", method: "POST", path: "/v1/verify", body: verify(tokens["k"], "acme"), status: 200, requests: 1},
		{name: "verify, not valid", method: "POST", path: "/v1/verify", body: verify(tokens["k"], "globex"), status: 200, requests: 1, refusals: 1},
		{name: "verify, an unknown token", method: "POST", path: "/v1/verify", body: verify(unknown, "acme"), status: 200},
		{name: "no credential", method: "GET", path: "/orgs/acme/items", status: 401},
	}
	totals := map[string][2]int64{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			r.RemoteAddr = "192.0.2.10:1234"
			if tt.key != "" {
				r.Header.Set("Authorization", "Bearer "+tokens[tt.key])
			}
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tt.status {
				t.Fatalf("%s %s: %d %s, want %d", tt.method, tt.path, rec.Code, rec.Body, tt.status)
			}
			if err := h.resolver.FlushUsage(ctx); err != nil {
				t.Fatal(err)
			}
			counted := tt.key
			if counted == "" && tt.requests > 0 {
				counted = "k" // verify's key is in its body
			}
			for _, key := range []string{"k", "kc", "vk"} {
				want := totals[key]
				if key == counted {
					want[0] += tt.requests
					want[1] += tt.refusals
				}
				var got [2]int64
				hours, err := h.store.UsageOf(ctx, key, now.Add(-2*time.Hour), now.Add(2*time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				for _, u := range hours {
					got[0] += u.Requests
					got[1] += u.Refusals
				}
				if got != want {
					t.Errorf("key %s: %d requests, %d refusals; want %d, %d", key, got[0], got[1], want[0], want[1])
				}
				totals[key] = got
			}
		})
	}
}

// TestKeyUsageAnswer: GET /keys/{id}/usage answers the last ?hours= UTC hours, oldest first and
// the current one last, zero-filled, to whoever may read the key (GET /keys/{id}'s rule:
// another tenant's key is 404), and refuses an hours it does not take.
func TestKeyUsageAnswer(t *testing.T) {
	h := newTestHandler(t)
	ctx := t.Context()
	now := time.Date(2031, 3, 4, 5, 30, 0, 0, time.UTC)
	h.now = func() time.Time { return now }
	current := time.Date(2031, 3, 4, 5, 0, 0, 0, time.UTC)
	tokens := map[string]string{}
	for _, u := range []struct {
		id   string
		kind string
	}{{"ann", store.KindPersonal}, {"bob", store.KindPersonal}, {"root", store.KindAdmin}} {
		if err := h.store.CreateUser(ctx, store.User{ID: u.id, Email: u.id + "@example.com", Admin: u.kind == store.KindAdmin, CreatedAt: now, UpdatedAt: now}, store.Event{}); err != nil {
			t.Fatal(err)
		}
		tok, _ := credential.Generate("lp")
		exp := now.Add(time.Hour)
		if err := h.store.CreateToken(ctx, store.Token{ID: u.id + "-t", Kind: u.kind, UserID: u.id, Hash: credential.Hash(tok), ExpiresAt: &exp, CreatedAt: now}, store.Event{}); err != nil {
			t.Fatal(err)
		}
		tokens[u.id] = tok
	}
	if err := h.store.CreateKey(ctx, store.Key{ID: "ann-key", Name: "ann-key", Format: store.FormatToken, Owner: "ann", CreatedAt: now},
		store.Secret{Hash: credential.Hash("ann-key secret"), Kind: store.KindKeyToken}, nil, store.Event{}); err != nil {
		t.Fatal(err)
	}
	hour := func(back int) time.Time { return current.Add(-time.Duration(back) * time.Hour) }
	if err := h.store.AddUsage(ctx, []store.UsageHour{
		{KeyID: "ann-key", Hour: hour(0), Requests: 5, Refusals: 2},
		{KeyID: "ann-key", Hour: hour(2), Requests: 3},
		{KeyID: "ann-key", Hour: hour(167), Requests: 1},
		{KeyID: "ann-key", Hour: hour(168), Requests: 9, Refusals: 9}, // a week and an hour ago: out
	}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, caller, path string
		status             int
		// hours is how many hours the answer has; counted the ones that are not zero, by how
		// many hours before the current one they are.
		hours   int
		counted map[int][2]int64
	}{
		{"a week by default", "ann", "/v1/keys/ann-key/usage", 200, 168, map[int][2]int64{0: {5, 2}, 2: {3, 0}, 167: {1, 0}}},
		{"the last three hours", "ann", "/v1/keys/ann-key/usage?hours=3", 200, 3, map[int][2]int64{0: {5, 2}, 2: {3, 0}}},
		{"the current hour", "ann", "/v1/keys/ann-key/usage?hours=1", 200, 1, map[int][2]int64{0: {5, 2}}},
		{"a week, asked for", "ann", "/v1/keys/ann-key/usage?hours=168", 200, 168, map[int][2]int64{0: {5, 2}, 2: {3, 0}, 167: {1, 0}}},
		{"an admin", "root", "/v1/keys/ann-key/usage?hours=2", 200, 2, map[int][2]int64{0: {5, 2}}},
		{"another tenant's key", "bob", "/v1/keys/ann-key/usage", 404, 0, nil},
		{"a key that does not exist", "ann", "/v1/keys/nope/usage", 404, 0, nil},
		{"a key that does not exist, to an admin", "root", "/v1/keys/nope/usage", 404, 0, nil},
		{"no hours", "ann", "/v1/keys/ann-key/usage?hours=0", 400, 0, nil},
		{"more than a week", "ann", "/v1/keys/ann-key/usage?hours=169", 400, 0, nil},
		{"not a number", "ann", "/v1/keys/ann-key/usage?hours=all", 400, 0, nil},
		{"not a whole number", "ann", "/v1/keys/ann-key/usage?hours=1.5", 400, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.path, nil)
			r.Header.Set("Authorization", "Bearer "+tokens[tt.caller])
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tt.status {
				t.Fatalf("GET %s as %s: %d %s, want %d", tt.path, tt.caller, rec.Code, rec.Body, tt.status)
			}
			if tt.status != 200 {
				return
			}
			var got struct {
				KeyID string `json:"key_id"`
				Hours []struct {
					Hour     string `json:"hour"`
					Requests int64  `json:"requests"`
					Refusals int64  `json:"refusals"`
				} `json:"hours"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.KeyID != "ann-key" || len(got.Hours) != tt.hours {
				t.Fatalf("answer for %s with %d hours, want ann-key with %d: %s", got.KeyID, len(got.Hours), tt.hours, rec.Body)
			}
			for i, u := range got.Hours {
				back := tt.hours - 1 - i
				if want := hour(back).Format(time.RFC3339); u.Hour != want {
					t.Errorf("hours[%d] is %s, want %s", i, u.Hour, want)
				}
				if c := tt.counted[back]; u.Requests != c[0] || u.Refusals != c[1] {
					t.Errorf("hours[%d] (%s): %d requests, %d refusals; want %d, %d", i, u.Hour, u.Requests, u.Refusals, c[0], c[1])
				}
			}
		})
	}
}
