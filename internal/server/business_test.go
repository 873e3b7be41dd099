package server

import (
	"strings"
	"testing"

	"github.com/lanyardhq/lanyard/internal/config"
)

// businessConfig is the seed-001 shape: businesses as root resources, the envelope on.
func businessConfig(c *config.Config) {
	c.Schema = config.Schema{"business": {}}
	c.API.Envelope = true
}

// data unwraps an envelope answer.
func data(t *testing.T, a answer) map[string]any {
	t.Helper()
	m := a.json(t)
	if m["success"] != true {
		t.Fatalf("envelope answer not a success: %s", a.body)
	}
	d, _ := m["data"].(map[string]any)
	return d
}

// TestSeed001BusinessKeys follows seed 001: a person logs in for a personal access token and
// manages their business's API keys with it — list, revoke one, revoke all.
func TestSeed001BusinessKeys(t *testing.T) {
	in := start(t, startOpts{mutate: businessConfig})
	boot := testBootstrap
	in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "owner", "email": "owner@example.com", "password": "` + annPassword + `"}`})
	in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "other", "email": "other@example.com", "password": "` + annPassword + `"}`})
	for _, b := range []string{"acme", "globex"} {
		in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "business", "id": "` + b + `"}`})
	}
	in.must(200, req{method: "PUT", path: "/v1/resources/business/acme/grants/user:owner", token: boot, body: `{"role": "admin"}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/business/globex/grants/user:other", token: boot, body: `{"role": "admin"}`})
	login := func(email string) string {
		return data(t, in.must(200, req{method: "POST", path: "/v1/auth/login", body: `{"email": "` + email + `", "password": "` + annPassword + `"}`}))["access_token"].(string)
	}
	pat, otherPAT := login("owner@example.com"), login("other@example.com")

	var tokens []string
	for _, id := range []string{"k1", "k2", "k3"} {
		k := data(t, in.must(201, req{method: "POST", path: "/v1/keys", token: pat, body: `{"name": "integration", "id": "` + id + `", "resource": "business/acme", "role": "member"}`}))
		tokens = append(tokens, k["token"].(string))
	}
	in.must(201, req{method: "POST", path: "/v1/keys", token: otherPAT, body: `{"name": "theirs", "id": "g1", "resource": "business/globex", "role": "member"}`})

	list := data(t, in.must(200, req{method: "GET", path: "/v1/tokens/business", token: pat}))
	keys := list["keys"].([]any)
	if len(keys) != 3 {
		t.Fatalf("the owner sees %d business keys, want 3: %v", len(keys), list)
	}
	for _, k := range keys {
		km := k.(map[string]any)
		for _, f := range []string{"id", "name", "prefix", "owner", "resource", "role", "format", "plan", "metadata", "allowed_cidrs", "credits", "expires_at", "last_used_at", "created_at"} {
			if _, ok := km[f]; !ok {
				t.Fatalf("business key lacks %q: %v", f, km)
			}
		}
		if km["resource"] != "business/acme" || km["owner"] != nil {
			t.Fatalf("business key = %v", km)
		}
	}
	if body := string(in.must(200, req{method: "GET", path: "/v1/tokens/business", token: pat}).body); strings.Contains(body, tokens[0]) {
		t.Fatal("a business key list shows a secret")
	}

	// Revoke one: it stops at once; another business's key is invisible.
	in.must(204, req{method: "DELETE", path: "/v1/tokens/business/k1", token: pat})
	in.must(401, req{method: "GET", path: "/v1/me", token: tokens[0]})
	in.must(200, req{method: "GET", path: "/v1/me", token: tokens[1]})
	in.must(404, req{method: "DELETE", path: "/v1/tokens/business/g1", token: pat})

	// Revoke all: every business key of what the caller manages, none of anyone else's.
	in.must(204, req{method: "DELETE", path: "/v1/tokens/business", token: pat})
	for _, tok := range tokens[1:] {
		in.must(401, req{method: "GET", path: "/v1/me", token: tok})
	}
	if n := len(data(t, in.must(200, req{method: "GET", path: "/v1/tokens/business", token: pat}))["keys"].([]any)); n != 0 {
		t.Fatalf("%d business keys left", n)
	}
	if n := len(data(t, in.must(200, req{method: "GET", path: "/v1/tokens/business", token: otherPAT}))["keys"].([]any)); n != 1 {
		t.Fatalf("the other business lost its keys: %d left", n)
	}

	// An error keeps its status and becomes the envelope's error form.
	e := in.must(404, req{method: "DELETE", path: "/v1/tokens/business/nope", token: pat}).json(t)
	if e["success"] != false || e["data"] != nil || e["message"] == "" || e["error"] == nil {
		t.Fatalf("envelope error = %v", e)
	}
}
