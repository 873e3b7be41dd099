package server

import (
	"encoding/json"
	"strings"
	"testing"
)

// tenants sets up two organizations, each with its own admin, a project, a member and a
// business key, and returns the tokens.
type tenants struct {
	in                     *instance
	ann, mia, gus          string // acme admin, acme member, globex admin (personal keys)
	acmeKey                string // acme's business key (member)
	annUser, miaUser, gusU string
}

func setupTenants(t *testing.T) *tenants {
	t.Helper()
	in := start(t, startOpts{})
	boot := testBootstrap
	tn := &tenants{in: in, annUser: "ann", miaUser: "mia", gusU: "gus"}
	for _, u := range []string{"ann", "mia", "gus"} {
		in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "` + u + `", "email": "` + u + `@example.com"}`})
	}
	for _, org := range []string{"acme", "globex"} {
		in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "organization", "id": "` + org + `", "name": "` + org + `"}`})
	}
	in.must(200, req{method: "PUT", path: "/v1/resources/organization/acme/grants/user:ann", token: boot, body: `{"role": "admin"}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/organization/globex/grants/email:GUS@example.com", token: boot, body: `{"role": "admin"}`})
	key := func(owner string) string {
		return in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "k", "owner": "user:` + owner + `"}`}).json(t)["token"].(string)
	}
	tn.ann, tn.mia, tn.gus = key("ann"), key("mia"), key("gus")
	in.must(201, req{method: "POST", path: "/v1/resources", token: tn.ann, body: `{"type": "project", "id": "rocket", "parent": "organization/acme"}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/organization/acme/grants/user:mia", token: tn.ann, body: `{"role": "member"}`})
	tn.acmeKey = in.must(201, req{method: "POST", path: "/v1/keys", token: tn.ann, body: `{"name": "acme ci", "id": "acme-ci", "resource": "organization/acme", "role": "member"}`}).json(t)["token"].(string)
	return tn
}

// TestTenantIsolation: for each endpoint, a caller from another tenant gets 404 — the answer
// for a thing that does not exist — and changes nothing.
func TestTenantIsolation(t *testing.T) {
	tn := setupTenants(t)
	in, gus := tn.in, tn.gus
	in.must(201, req{method: "POST", path: "/v1/resources", token: gus, body: `{"type": "project", "id": "hammock", "parent": "organization/globex"}`})
	tests := []req{
		{method: "GET", path: "/v1/resources/organization/acme"},
		{method: "PATCH", path: "/v1/resources/organization/acme", body: `{"name": "mine"}`},
		{method: "DELETE", path: "/v1/resources/organization/acme"},
		{method: "GET", path: "/v1/resources/project/rocket"},
		{method: "DELETE", path: "/v1/resources/project/rocket"},
		{method: "GET", path: "/v1/resources/organization/acme/grants"},
		{method: "PUT", path: "/v1/resources/organization/acme/grants/user:gus", body: `{"role": "admin"}`},
		{method: "DELETE", path: "/v1/resources/organization/acme/grants/user:ann"},
		{method: "POST", path: "/v1/resources", body: `{"type": "project", "parent": "organization/acme"}`},
		{method: "PATCH", path: "/v1/resources/project/hammock", body: `{"parent": "organization/acme"}`},
		{method: "GET", path: "/v1/keys/acme-ci"},
		{method: "PATCH", path: "/v1/keys/acme-ci", body: `{"name": "x"}`},
		{method: "DELETE", path: "/v1/keys/acme-ci"},
		{method: "POST", path: "/v1/keys/acme-ci/reissue"},
		{method: "GET", path: "/v1/keys?resource=organization/acme"},
		{method: "DELETE", path: "/v1/keys?resource=organization/acme"},
		{method: "POST", path: "/v1/keys", body: `{"name": "x", "resource": "organization/acme", "role": "member"}`},
		{method: "POST", path: "/v1/keys", body: `{"name": "x", "resource": "project/rocket"}`},
		{method: "GET", path: "/v1/tokens/business?resource=organization/acme"},
		{method: "DELETE", path: "/v1/tokens/business?resource=organization/acme"},
		{method: "DELETE", path: "/v1/tokens/business/acme-ci"},
		{method: "GET", path: "/v1/audit?resource=organization/acme"},
		{method: "GET", path: "/v1/users/ann"},
	}
	for _, r := range tests {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			r.token = gus
			a := in.do(r)
			if a.status != 404 || a.errCode(t) != "not_found" {
				t.Fatalf("status %d, body %s; want 404", a.status, a.body)
			}
			// The same request about a thing that does not exist answers the same.
			if strings.Contains(r.path, "hammock") {
				r.body = strings.ReplaceAll(r.body, "organization/acme", "organization/nope")
				if b := in.do(r); b.status != 404 {
					t.Fatalf("for a missing parent: %d %s", b.status, b.body)
				}
				return
			}
			r.path = strings.NewReplacer("organization/acme", "organization/nope", "project/rocket", "project/nope", "acme-ci", "nope", "user:ann", "user:nope", "users/ann", "users/nope").Replace(r.path)
			r.body = strings.ReplaceAll(r.body, "organization/acme", "organization/nope")
			r.body = strings.ReplaceAll(r.body, "project/rocket", "project/nope")
			if b := in.do(r); b.status != 404 {
				t.Fatalf("for a missing thing: %d %s", b.status, b.body)
			}
		})
	}
	// /v1/check is always 200 and says no.
	for _, res := range []string{"organization/acme", "organization/nope"} {
		got := in.must(200, req{method: "POST", path: "/v1/check", token: gus, body: `{"permission": "read", "resource": "` + res + `"}`}).json(t)
		if got["allowed"] != false {
			t.Fatalf("check on %s = %v", res, got)
		}
	}
	// Listing shows only globex.
	list := in.must(200, req{method: "GET", path: "/v1/resources", token: gus})
	if strings.Contains(string(list.body), "acme") || !strings.Contains(string(list.body), "globex") {
		t.Fatalf("gus lists %s", list.body)
	}

	// Nothing changed: acme, its project, its grants and its key are as they were.
	in.must(200, req{method: "GET", path: "/v1/resources/project/rocket", token: tn.ann})
	grants := in.must(200, req{method: "GET", path: "/v1/resources/organization/acme/grants", token: tn.ann})
	if strings.Contains(string(grants.body), "gus") || !strings.Contains(string(grants.body), `"user:ann"`) {
		t.Fatalf("acme's grants changed: %s", grants.body)
	}
	if got := in.must(200, req{method: "GET", path: "/v1/resources/organization/acme", token: tn.ann}).json(t)["name"]; got != "acme" {
		t.Fatalf("acme renamed to %v", got)
	}
	in.must(200, req{method: "GET", path: "/v1/me", token: tn.acmeKey})
}

func TestRolesAndGrants(t *testing.T) {
	tn := setupTenants(t)
	in := tn.in
	// A member reads and writes but does not manage: 403 (it may see the thing).
	in.must(200, req{method: "GET", path: "/v1/resources/project/rocket", token: tn.mia})
	if a := in.must(403, req{method: "PUT", path: "/v1/resources/organization/acme/grants/user:mia", token: tn.mia, body: `{"role": "admin"}`}); a.errCode(t) != "forbidden" {
		t.Fatal("not forbidden")
	}
	in.must(403, req{method: "DELETE", path: "/v1/resources/project/rocket", token: tn.mia})
	in.must(403, req{method: "POST", path: "/v1/keys", token: tn.mia, body: `{"name": "x", "resource": "organization/acme", "role": "observer"}`})
	// Root resources need an admin credential.
	in.must(403, req{method: "POST", path: "/v1/resources", token: tn.ann, body: `{"type": "organization", "id": "mine"}`})
	// Schema: a project needs an organization parent; unknown types and roles are 400.
	in.must(400, req{method: "POST", path: "/v1/resources", token: tn.ann, body: `{"type": "project", "id": "x"}`})
	in.must(400, req{method: "POST", path: "/v1/resources", token: tn.ann, body: `{"type": "galaxy", "parent": "organization/acme"}`})
	in.must(400, req{method: "PUT", path: "/v1/resources/organization/acme/grants/user:mia", token: tn.ann, body: `{"role": "emperor"}`})
	in.must(409, req{method: "POST", path: "/v1/resources", token: tn.ann, body: `{"type": "project", "id": "rocket", "parent": "organization/acme"}`})
	in.must(404, req{method: "PUT", path: "/v1/resources/organization/acme/grants/email:nobody@example.com", token: tn.ann, body: `{"role": "observer"}`})

	// check with explain names the grant and the path.
	got := in.must(200, req{method: "POST", path: "/v1/check", token: tn.mia, body: `{"permission": "write", "resource": "project/rocket", "explain": true}`}).json(t)
	because, _ := got["because"].(map[string]any)
	if got["allowed"] != true || because == nil {
		t.Fatalf("check = %v", got)
	}
	g, _ := because["grant"].(map[string]any)
	path, _ := because["path"].([]any)
	if g["resource"] != "organization/acme" || g["role"] != "member" || len(path) != 2 || path[0] != "project/rocket" || path[1] != "organization/acme" {
		t.Fatalf("because = %v", because)
	}
	// Asking about someone else needs manage.
	in.must(403, req{method: "POST", path: "/v1/check", token: tn.mia, body: `{"principal": "user:ann", "permission": "read", "resource": "project/rocket"}`})
	other := in.must(200, req{method: "POST", path: "/v1/check", token: tn.ann, body: `{"principal": "user:mia", "permission": "manage", "resource": "project/rocket", "explain": true}`}).json(t)
	if other["allowed"] != false || other["because"] == nil {
		t.Fatalf("check about mia = %v", other)
	}

	// A read-only personal key (seed 003) reads but cannot write, even for an admin owner.
	ro := in.must(201, req{method: "POST", path: "/v1/keys", token: tn.ann, body: `{"name": "ro", "role": "observer"}`}).json(t)["token"].(string)
	in.must(200, req{method: "GET", path: "/v1/resources/project/rocket", token: ro})
	in.must(403, req{method: "PATCH", path: "/v1/resources/project/rocket", token: ro, body: `{"name": "x"}`})
	// ...and it cannot create a stronger key.
	in.must(403, req{method: "POST", path: "/v1/keys", token: ro, body: `{"name": "escalate"}`})
	in.must(201, req{method: "POST", path: "/v1/keys", token: ro, body: `{"name": "also ro", "role": "observer"}`})

	// Removing a grant takes effect at the very next request.
	in.must(200, req{method: "GET", path: "/v1/resources/project/rocket", token: tn.mia})
	in.must(204, req{method: "DELETE", path: "/v1/resources/organization/acme/grants/user:mia", token: tn.ann})
	in.must(404, req{method: "GET", path: "/v1/resources/project/rocket", token: tn.mia})
}

func TestBusinessKeysOutliveTheirCreator(t *testing.T) {
	tn := setupTenants(t)
	in := tn.in
	me := in.must(200, req{method: "GET", path: "/v1/me", token: tn.acmeKey}).json(t)
	if me["principal"] != "key:acme-ci" {
		t.Fatalf("business key /v1/me = %v", me)
	}
	in.must(200, req{method: "GET", path: "/v1/resources/project/rocket", token: tn.acmeKey})
	grants := in.must(200, req{method: "GET", path: "/v1/resources/organization/acme/grants", token: tn.ann})
	if !strings.Contains(string(grants.body), `"key:acme-ci"`) {
		t.Fatalf("the business key's grant is not listed: %s", grants.body)
	}
	biz := in.must(200, req{method: "GET", path: "/v1/tokens/business", token: tn.ann}).json(t)["keys"].([]any)
	if len(biz) != 1 || biz[0].(map[string]any)["id"] != "acme-ci" {
		t.Fatalf("business keys = %v", biz)
	}
	in.must(204, req{method: "DELETE", path: "/v1/users/ann", token: testBootstrap})
	in.must(200, req{method: "GET", path: "/v1/resources/project/rocket", token: tn.acmeKey})

	// Deleting the organization cascades to the project, the grants and the key.
	in.must(204, req{method: "DELETE", path: "/v1/resources/organization/acme", token: testBootstrap})
	in.must(401, req{method: "GET", path: "/v1/me", token: tn.acmeKey})
	in.must(404, req{method: "GET", path: "/v1/resources/project/rocket", token: testBootstrap})
	in.must(404, req{method: "GET", path: "/v1/keys/acme-ci", token: testBootstrap})
}

func TestAdminsAndAudit(t *testing.T) {
	tn := setupTenants(t)
	in := tn.in
	tok := in.must(200, req{method: "POST", path: "/v1/users/gus/admin", token: testBootstrap}).json(t)["token"].(string)
	me := in.must(200, req{method: "GET", path: "/v1/me", token: tok}).json(t)
	if me["principal"] != "user:gus" || me["admin"] != true || me["credential"].(map[string]any)["type"] != "admin" {
		t.Fatalf("admin token /v1/me = %v", me)
	}
	// Admin power lives in the admin token only: gus's personal key still cannot see acme.
	in.must(404, req{method: "GET", path: "/v1/resources/organization/acme", token: tn.gus})
	in.must(200, req{method: "GET", path: "/v1/resources/organization/acme", token: tok})
	second := in.must(200, req{method: "POST", path: "/v1/users/gus/admin", token: tok}).json(t)["token"].(string)
	in.must(204, req{method: "DELETE", path: "/v1/users/gus/admin", token: testBootstrap})
	in.must(401, req{method: "GET", path: "/v1/me", token: tok})
	in.must(401, req{method: "GET", path: "/v1/me", token: second})
	in.must(403, req{method: "POST", path: "/v1/users/gus/admin", token: tn.ann})

	// The audit trail: acme's managers read acme's (and its project's) events, never a secret.
	a := in.must(200, req{method: "GET", path: "/v1/audit?resource=organization/acme", token: tn.ann})
	var page struct {
		Events []map[string]any `json:"events"`
	}
	if err := json.Unmarshal(a.body, &page); err != nil {
		t.Fatal(err)
	}
	actions := map[string]bool{}
	for _, e := range page.Events {
		actions[e["action"].(string)] = true
		for _, f := range []string{"id", "at", "actor", "credential", "action", "target", "result", "ip"} {
			if _, ok := e[f]; !ok {
				t.Fatalf("event lacks %q: %v", f, e)
			}
		}
	}
	for _, want := range []string{"resource.create", "grant.put", "key.create"} {
		if !actions[want] {
			t.Errorf("acme's audit trail lacks %s: %v", want, actions)
		}
	}
	in.must(403, req{method: "GET", path: "/v1/audit", token: tn.ann})
	all := in.must(200, req{method: "GET", path: "/v1/audit", token: testBootstrap})
	for _, secret := range []string{tn.ann, tn.mia, tn.gus, tn.acmeKey, tok, second, testBootstrap} {
		if strings.Contains(string(all.body), secret) {
			t.Fatalf("a secret is in the audit trail")
		}
	}
}

// TestLimitedKeysStayLimited: a key with limits of its own (a role cap, a resource, networks,
// an expiry) cannot reach its owner's stronger keys, lift its own limits, or mint a key
// without them.
func TestLimitedKeysStayLimited(t *testing.T) {
	tn := setupTenants(t)
	in := tn.in
	in.must(201, req{method: "POST", path: "/v1/keys", token: tn.ann, body: `{"name": "full", "id": "ann-full"}`})
	ro := in.must(201, req{method: "POST", path: "/v1/keys", token: tn.ann, body: `{"name": "ro", "id": "ann-ro", "role": "observer", "allowed_cidrs": ["127.0.0.0/8"], "expires_in": 3600}`}).json(t)["token"].(string)

	in.must(404, req{method: "POST", path: "/v1/keys/ann-full/reissue", token: ro})
	in.must(404, req{method: "DELETE", path: "/v1/keys/ann-full", token: ro})
	in.must(403, req{method: "GET", path: "/v1/keys", token: ro})
	in.must(403, req{method: "DELETE", path: "/v1/keys?owner=user:ann", token: ro})
	in.must(403, req{method: "DELETE", path: "/v1/tokens/personal/all", token: ro})
	in.must(200, req{method: "GET", path: "/v1/keys/ann-ro", token: ro}) // itself, yes
	in.must(403, req{method: "PATCH", path: "/v1/keys/ann-ro", token: ro, body: `{"allowed_cidrs": null}`})
	in.must(403, req{method: "PATCH", path: "/v1/keys/ann-ro", token: ro, body: `{"expires_at": null}`})
	in.must(403, req{method: "PATCH", path: "/v1/keys/ann-ro", token: ro, body: `{"credits": {"remaining": 999999}}`})

	// A key it creates keeps its networks and expiry.
	child := in.must(201, req{method: "POST", path: "/v1/keys", token: ro, body: `{"name": "child", "role": "observer"}`}).json(t)
	if cidrs, _ := child["allowed_cidrs"].([]any); len(cidrs) != 1 || child["expires_at"] == nil {
		t.Fatalf("a limited key's child lost its limits: %v", child)
	}
	in.must(403, req{method: "POST", path: "/v1/keys", token: ro, body: `{"name": "wider", "role": "observer", "allowed_cidrs": ["0.0.0.0/0"]}`})
	in.must(403, req{method: "POST", path: "/v1/keys", token: ro, body: `{"name": "longer", "role": "observer", "expires_in": 7200}`})
}

// TestMovingNeedsTheCurrentParent: a manager of only a project cannot carry it (and its
// history) into another tenant.
func TestMovingNeedsTheCurrentParent(t *testing.T) {
	tn := setupTenants(t)
	in := tn.in
	in.must(200, req{method: "PUT", path: "/v1/resources/project/rocket/grants/user:gus", token: tn.ann, body: `{"role": "admin"}`})
	in.must(403, req{method: "PATCH", path: "/v1/resources/project/rocket", token: tn.gus, body: `{"parent": "organization/globex"}`})
	if got := in.must(200, req{method: "GET", path: "/v1/resources/project/rocket", token: tn.ann}).json(t)["parent"]; got != "organization/acme" {
		t.Fatalf("the project moved to %v", got)
	}
}

// TestCheckIsNoOracle: explain says nothing more about another tenant's resource or key than
// about a missing one.
func TestCheckIsNoOracle(t *testing.T) {
	tn := setupTenants(t)
	in := tn.in
	ask := func(body string) string {
		return string(in.must(200, req{method: "POST", path: "/v1/check", token: tn.gus, body: body}).body)
	}
	if a, b := ask(`{"permission": "read", "resource": "organization/acme", "explain": true}`),
		ask(`{"permission": "read", "resource": "organization/nope", "explain": true}`); a != b {
		t.Fatalf("explain tells acme from a missing organization:\n%s\n%s", a, b)
	}
	in.must(201, req{method: "POST", path: "/v1/keys", token: tn.ann, body: `{"name": "x", "id": "ann-x"}`})
	if a, b := ask(`{"principal": "key:ann-x", "permission": "read", "resource": "organization/globex", "explain": true}`),
		ask(`{"principal": "key:nope", "permission": "read", "resource": "organization/globex", "explain": true}`); strings.Replace(a, "ann-x", "nope", 1) != b {
		t.Fatalf("explain tells another tenant's key from a missing one:\n%s\n%s", a, b)
	}
}

// TestReusedResourceIDInheritsNoHistory: the audit trail of a deleted resource does not pass
// to whoever creates one with the same id.
func TestReusedResourceIDInheritsNoHistory(t *testing.T) {
	tn := setupTenants(t)
	in := tn.in
	in.must(201, req{method: "POST", path: "/v1/resources", token: tn.ann, body: `{"type": "project", "id": "launch", "parent": "organization/acme"}`})
	in.must(201, req{method: "POST", path: "/v1/keys", token: tn.ann, body: `{"name": "l", "resource": "project/launch", "role": "member"}`})
	in.must(204, req{method: "DELETE", path: "/v1/resources/project/launch", token: tn.ann})
	in.must(201, req{method: "POST", path: "/v1/resources", token: tn.gus, body: `{"type": "project", "id": "launch", "parent": "organization/globex"}`})
	trail := in.must(200, req{method: "GET", path: "/v1/audit?resource=project/launch", token: tn.gus})
	if strings.Contains(string(trail.body), "user:ann") || strings.Contains(string(trail.body), "key.create") {
		t.Fatalf("the new project inherited the old one's trail: %s", trail.body)
	}
	// Revoking a business key is in its resource's trail.
	in.must(204, req{method: "DELETE", path: "/v1/keys/acme-ci", token: tn.ann})
	acme := in.must(200, req{method: "GET", path: "/v1/audit?resource=organization/acme&action=key.revoke", token: tn.ann})
	if !strings.Contains(string(acme.body), `"key:acme-ci"`) {
		t.Fatalf("acme's trail lacks the revocation of its key: %s", acme.body)
	}
}

// TestLimitedKeysSecondPass pins the second review's findings.
func TestLimitedKeysSecondPass(t *testing.T) {
	tn := setupTenants(t)
	in := tn.in
	in.must(201, req{method: "POST", path: "/v1/keys", token: tn.ann, body: `{"name": "adm", "id": "acme-adm", "resource": "organization/acme", "role": "admin"}`})
	confined := in.must(201, req{method: "POST", path: "/v1/keys", token: tn.ann, body: `{"name": "c", "resource": "organization/acme", "allowed_cidrs": ["127.0.0.1/32"], "expires_in": 3600}`}).json(t)["token"].(string)
	// No fresh, unlimited secret through another key's reissue; no grant that outlives it.
	in.must(403, req{method: "POST", path: "/v1/keys/acme-adm/reissue", token: confined})
	in.must(403, req{method: "PUT", path: "/v1/resources/organization/acme/grants/user:gus", token: confined, body: `{"role": "observer"}`})
	// No listing or bulk revocation through ?resource= either.
	in.must(403, req{method: "GET", path: "/v1/keys?resource=organization/acme", token: confined})
	in.must(403, req{method: "DELETE", path: "/v1/keys?resource=organization/acme", token: confined})
	in.must(403, req{method: "GET", path: "/v1/tokens/business", token: confined})
	in.must(200, req{method: "GET", path: "/v1/keys/acme-adm", token: tn.ann})

	// What stays allowed: a key with only an expiry lists its owner's keys; an unlimited key
	// tightens a key's expiry and networks; naming the current parent moves nothing.
	expiring := in.must(201, req{method: "POST", path: "/v1/keys", token: tn.ann, body: `{"name": "ci", "expires_in": 7776000}`}).json(t)["token"].(string)
	in.must(200, req{method: "GET", path: "/v1/keys", token: expiring})
	in.must(200, req{method: "PATCH", path: "/v1/keys/acme-ci", token: tn.ann, body: `{"expires_at": "2030-01-01T00:00:00Z", "allowed_cidrs": ["10.0.0.0/8"]}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/project/rocket/grants/user:gus", token: tn.ann, body: `{"role": "admin"}`})
	in.must(200, req{method: "PATCH", path: "/v1/resources/project/rocket", token: tn.gus, body: `{"name": "r2", "parent": "organization/acme"}`})

	// About another principal, a refusal reads the same whether the principal exists or not.
	in.must(201, req{method: "POST", path: "/v1/users", token: testBootstrap, body: `{"id": "zed", "email": "zed@example.com"}`})
	ask := func(who string) string {
		return string(in.must(200, req{method: "POST", path: "/v1/check", token: tn.gus, body: `{"principal": "` + who + `", "permission": "write", "resource": "project/rocket", "explain": true}`}).body)
	}
	if a, b := ask("user:zed"), ask("user:nobody"); strings.Replace(a, "user:zed", "user:nobody", 1) != b {
		t.Fatalf("a refusal about a real user reads differently:\n%s\n%s", a, b)
	}
}
