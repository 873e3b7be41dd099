package server

import (
	"slices"
	"strings"
	"testing"
)

// TestManagersReachBusinessKeysOnly: a resource's managers see and revoke the business keys of
// it and its descendants; a personal key is its owner's and the admins' alone, by ?resource= as
// by id (CONTRACT §11.37).
func TestManagersReachBusinessKeysOnly(t *testing.T) {
	in := start(t, startOpts{})
	boot := testBootstrap
	for _, u := range []string{"mgr", "mem"} {
		in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "` + u + `", "email": "` + u + `@example.com"}`})
	}
	in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "organization", "id": "acme"}`})
	in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "project", "id": "rocket", "parent": "organization/acme"}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/organization/acme/grants/user:mgr", token: boot, body: `{"role": "admin"}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/organization/acme/grants/user:mem", token: boot, body: `{"role": "member"}`})
	mgr := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "m", "owner": "user:mgr", "id": "mgr-full"}`}).json(t)["token"].(string)
	mem := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "p", "owner": "user:mem", "id": "mem-full"}`}).json(t)["token"].(string)
	in.must(201, req{method: "POST", path: "/v1/keys", token: mem, body: `{"name": "p", "resource": "project/rocket", "id": "mem-rocket"}`})
	in.must(201, req{method: "POST", path: "/v1/keys", token: mgr, body: `{"name": "b", "resource": "project/rocket", "role": "member", "id": "biz-rocket"}`})
	in.must(201, req{method: "POST", path: "/v1/keys", token: mgr, body: `{"name": "m2", "resource": "organization/acme", "id": "mgr-acme"}`})

	// The keys listed, sorted by id: which ones is what this test is about (the list is in
	// creation order, to the second, and the keys above may straddle a second).
	ids := func(a answer) string {
		var out []string
		for _, k := range a.json(t)["keys"].([]any) {
			out = append(out, k.(map[string]any)["id"].(string))
		}
		slices.Sort(out)
		return strings.Join(out, ",")
	}
	// The manager's view of acme's keys: the business key and the manager's own, never the
	// member's personal key confined to rocket.
	if got := ids(in.must(200, req{method: "GET", path: "/v1/keys?resource=organization/acme", token: mgr})); got != "biz-rocket,mgr-acme" {
		t.Fatalf("manager lists %q, want biz-rocket,mgr-acme", got)
	}
	// An admin sees them all.
	if got := ids(in.must(200, req{method: "GET", path: "/v1/keys?resource=organization/acme", token: boot})); got != "biz-rocket,mem-rocket,mgr-acme" {
		t.Fatalf("admin lists %q", got)
	}
	// By id: the member's key is invisible to the manager.
	in.must(404, req{method: "GET", path: "/v1/keys/mem-rocket", token: mgr})
	in.must(404, req{method: "DELETE", path: "/v1/keys/mem-rocket", token: mgr})
	// The manager's bulk delete leaves the member's personal key alone.
	in.must(204, req{method: "DELETE", path: "/v1/keys?resource=organization/acme", token: mgr})
	if got := ids(in.must(200, req{method: "GET", path: "/v1/keys?resource=organization/acme", token: boot})); got != "mem-rocket" {
		t.Fatalf("after the manager's bulk delete, %q remain; want only mem-rocket", got)
	}
	in.must(200, req{method: "GET", path: "/v1/me", token: mem})
	// ?owner= for another user: 403 whether or not the user exists.
	in.must(403, req{method: "GET", path: "/v1/keys?owner=user:mem", token: mgr})
	in.must(403, req{method: "GET", path: "/v1/keys?owner=user:nobody", token: mgr})
	in.must(403, req{method: "DELETE", path: "/v1/keys?owner=user:mem", token: mgr})
}

// TestTakingAGrantNeedsWhatGivingItNeeds: a credential that may not give a grant may not take
// it away either (CONTRACT §11.38): nothing changes.
func TestTakingAGrantNeedsWhatGivingItNeeds(t *testing.T) {
	in := start(t, startOpts{})
	boot := testBootstrap
	for _, u := range []string{"mgr", "mem"} {
		in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "` + u + `", "email": "` + u + `@example.com"}`})
	}
	in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "organization", "id": "acme"}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/organization/acme/grants/user:mgr", token: boot, body: `{"role": "admin"}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/organization/acme/grants/user:mem", token: boot, body: `{"role": "member"}`})
	// A manager's key that works only from one network, or only for some time, gives no grant
	// — and so takes none away.
	for _, limit := range []string{`"allowed_cidrs": ["127.0.0.0/8"]`, `"expires_in": 3600`} {
		lim := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "l", "owner": "user:mgr", ` + limit + `}`}).json(t)["token"].(string)
		in.must(403, req{method: "PUT", path: "/v1/resources/organization/acme/grants/user:mem", token: lim, body: `{"role": "observer"}`})
		in.must(403, req{method: "DELETE", path: "/v1/resources/organization/acme/grants/user:mem", token: lim})
	}
	// A member (no manage) can do neither.
	memKey := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "k", "owner": "user:mem"}`}).json(t)["token"].(string)
	in.must(403, req{method: "DELETE", path: "/v1/resources/organization/acme/grants/user:mgr", token: memKey})
	grants := string(in.must(200, req{method: "GET", path: "/v1/resources/organization/acme/grants", token: boot}).body)
	if !strings.Contains(grants, `"user:mem"`) || !strings.Contains(grants, `"user:mgr"`) {
		t.Fatalf("grants changed: %s", grants)
	}
	// The manager's full credential may.
	mgr := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "m", "owner": "user:mgr"}`}).json(t)["token"].(string)
	in.must(204, req{method: "DELETE", path: "/v1/resources/organization/acme/grants/user:mem", token: mgr})
}
