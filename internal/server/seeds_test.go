package server

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lanyardhq/lanyard/internal/config"
)

// preset returns a mutator that gives the test server a preset's schema, roles, sources and
// API settings (examples/<preset>/lanyard.yaml, the file users run).
func preset(t *testing.T, name string) func(*config.Config) {
	t.Helper()
	raw, err := os.ReadFile(presetFile(name))
	if err != nil {
		t.Fatal(err)
	}
	p, err := config.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return func(c *config.Config) {
		c.Schema, c.Roles, c.Sources, c.API = p.Schema, p.Roles, p.Sources, p.API
		c.Plans, c.DefaultPlan = p.Plans, p.DefaultPlan
	}
}

// presetFile is a preset's config: examples/<preset>/lanyard.yaml.
func presetFile(name string) string {
	return filepath.Join("..", "..", "examples", name, "lanyard.yaml")
}

// TestSeed002RoleAPIs follows seed 002 (BitBroker) on the native API: one header,
// x-bbk-auth-token; the bootstrap coordinator token; promote and demote; connectors and
// accesses.
func TestSeed002RoleAPIs(t *testing.T) {
	in := start(t, startOpts{mutate: preset(t, "role-apis")})
	hdr := func(tok string) map[string]string { return map[string]string{"x-bbk-auth-token": tok} }
	boot := hdr(testBootstrap)
	// Without the header, or with a wrong one: 401.
	in.must(401, req{method: "GET", path: "/v1/me"})
	in.must(401, req{method: "GET", path: "/v1/me", headers: hdr("4735d360-dc03-499c-91ce-68dfc1554691.5d5c9eab")})
	// Bearer is not a configured source here: ignored, so unauthenticated.
	in.must(401, req{method: "GET", path: "/v1/me", token: testBootstrap})

	// The bootstrap coordinator creates a user and promotes them to coordinator.
	in.must(201, req{method: "POST", path: "/v1/users", headers: boot, body: `{"id": "coord", "email": "coord@example.com"}`})
	coord := in.must(200, req{method: "POST", path: "/v1/users/coord/admin", headers: boot}).json(t)["token"].(string)
	c := hdr(coord)
	if me := in.must(200, req{method: "GET", path: "/v1/me", headers: c}).json(t); me["admin"] != true {
		t.Fatalf("coordinator /v1/me = %v", me)
	}

	// A connector: a business key on an entity type with the role contributor.
	in.must(201, req{method: "POST", path: "/v1/resources", headers: c, body: `{"type": "entity_type", "id": "country"}`})
	conn := in.must(201, req{method: "POST", path: "/v1/keys", headers: c, body: `{"name": "wikipedia", "id": "conn-wiki", "resource": "entity_type/country", "role": "contributor"}`}).json(t)["token"].(string)
	ok := in.must(200, req{method: "POST", path: "/v1/check", headers: hdr(conn), body: `{"permission": "write", "resource": "entity_type/country"}`}).json(t)
	if ok["allowed"] != true {
		t.Fatalf("the connector cannot contribute: %v", ok)
	}
	// Losing the key: delete the connector and create it afresh — the same id, a new key.
	in.must(204, req{method: "DELETE", path: "/v1/keys/conn-wiki", headers: c})
	in.must(401, req{method: "GET", path: "/v1/me", headers: hdr(conn)})
	conn2 := in.must(201, req{method: "POST", path: "/v1/keys", headers: c, body: `{"name": "wikipedia", "id": "conn-wiki", "resource": "entity_type/country", "role": "contributor"}`}).json(t)["token"].(string)
	in.must(200, req{method: "GET", path: "/v1/me", headers: hdr(conn2)})

	// An access: a consumer grant on a policy plus a personal key of that user on it.
	in.must(201, req{method: "POST", path: "/v1/users", headers: c, body: `{"id": "alice", "email": "alice@example.com"}`})
	in.must(201, req{method: "POST", path: "/v1/resources", headers: c, body: `{"type": "policy", "id": "public-data"}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/policy/public-data/grants/user:alice", headers: c, body: `{"role": "consumer"}`})
	access := in.must(201, req{method: "POST", path: "/v1/keys", headers: c, body: `{"name": "access", "id": "alice-public", "owner": "user:alice", "resource": "policy/public-data", "role": "consumer"}`}).json(t)["token"].(string)
	read := in.must(200, req{method: "POST", path: "/v1/check", headers: hdr(access), body: `{"permission": "read", "resource": "policy/public-data"}`}).json(t)
	if read["allowed"] != true {
		t.Fatalf("the consumer cannot read through its policy: %v", read)
	}
	// Reissuing the access rescinds the old token.
	access2 := in.must(200, req{method: "POST", path: "/v1/keys/alice-public/reissue", headers: c}).json(t)["token"].(string)
	in.must(401, req{method: "GET", path: "/v1/me", headers: hdr(access)})
	in.must(200, req{method: "GET", path: "/v1/me", headers: hdr(access2)})

	// Demoting the coordinator rescinds the coordinator token; promoting again gives a new one.
	in.must(204, req{method: "DELETE", path: "/v1/users/coord/admin", headers: boot})
	in.must(401, req{method: "GET", path: "/v1/me", headers: c})
	again := in.must(200, req{method: "POST", path: "/v1/users/coord/admin", headers: boot}).json(t)["token"].(string)
	in.must(200, req{method: "GET", path: "/v1/users", headers: hdr(again)})
}

// TestSeed003OrgScopes follows seed 003 on the native API: organization keys shown once,
// optionally read-only, sent as "Authorization: APIKEY:ORGANIZATION <key>", reaching the
// organization and everything below it — and nothing else.
func TestSeed003OrgScopes(t *testing.T) {
	in := start(t, startOpts{mutate: preset(t, "org-scopes")})
	boot := testBootstrap
	apikey := func(tok string) map[string]string {
		return map[string]string{"Authorization": "APIKEY:ORGANIZATION " + tok}
	}
	in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "olga", "email": "olga@example.com"}`})
	in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "domain", "id": "label"}`})
	in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "organization", "id": "vrco", "parent": "domain/label"}`})
	in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "organization", "id": "other"}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/organization/vrco/grants/user:olga", token: boot, body: `{"role": "admin"}`})
	olga := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "olga", "owner": "user:olga"}`}).json(t)["token"].(string)

	// The organization admin builds projects and scenes and creates an organization API key:
	// read-only, as the seed recommends.
	in.must(201, req{method: "POST", path: "/v1/resources", token: olga, body: `{"type": "project", "id": "museum", "parent": "organization/vrco"}`})
	in.must(201, req{method: "POST", path: "/v1/resources", token: olga, body: `{"type": "scene", "id": "lobby", "parent": "project/museum"}`})
	created := in.must(201, req{method: "POST", path: "/v1/keys", token: olga, body: `{"name": "reporting", "resource": "organization/vrco", "role": "observer"}`})
	if created.header.Get("Cache-Control") != "no-store" {
		t.Fatal("the key is not marked no-store")
	}
	key := created.json(t)["token"].(string)
	keyID := created.json(t)["id"].(string)
	// Shown once: never again.
	if strings.Contains(string(in.must(200, req{method: "GET", path: "/v1/keys/" + keyID, token: olga}).body), key) {
		t.Fatal("the key is shown again")
	}

	in.must(200, req{method: "GET", path: "/v1/resources/scene/lobby", headers: apikey(key)})
	in.must(403, req{method: "PATCH", path: "/v1/resources/scene/lobby", headers: apikey(key), body: `{"name": "x"}`})
	in.must(404, req{method: "GET", path: "/v1/resources/organization/other", headers: apikey(key)})
	in.must(404, req{method: "GET", path: "/v1/resources/domain/label", headers: apikey(key)})
	// The organization admin reads the organization's audit log, projects and scenes included.
	trail := in.must(200, req{method: "GET", path: "/v1/audit?resource=organization/vrco", token: olga})
	if !strings.Contains(string(trail.body), `"scene/lobby"`) {
		t.Fatalf("the organization's audit log lacks its scene: %s", trail.body)
	}
}

// TestSeed004KeySecret follows seed 004: many key+secret pairs per user, each revocable, sent
// as HTTP Basic, each able to do only what its user may do.
func TestSeed004KeySecret(t *testing.T) {
	in := start(t, startOpts{mutate: func(c *config.Config) {
		preset(t, "key-secret")(c)
		c.Keys.DefaultFormat = "key_secret"
	}})
	boot := testBootstrap
	in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "web", "email": "web@example.com"}`})
	in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "event_type", "id": "concerts"}`})
	in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "event_type", "id": "rosters"}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/event_type/concerts/grants/user:web", token: boot, body: `{"role": "observer"}`})
	basic := func(k map[string]any) map[string]string {
		return map[string]string{"Authorization": basicHeader(k["key"].(string), k["secret"].(string))}
	}
	site := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "public site", "owner": "user:web"}`}).json(t)
	bookings := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "bookings", "owner": "user:web"}`}).json(t)
	if site["format"] != "key_secret" || site["key"] == nil || site["secret"] == nil {
		t.Fatalf("key = %v", site)
	}
	in.must(200, req{method: "GET", path: "/v1/resources/event_type/concerts", headers: basic(site)})
	// Only what the user may do: view, not modify; nothing of what the user cannot see.
	in.must(403, req{method: "PATCH", path: "/v1/resources/event_type/concerts", headers: basic(site), body: `{"name": "x"}`})
	in.must(404, req{method: "GET", path: "/v1/resources/event_type/rosters", headers: basic(site)})
	// Each pair is revocable on its own.
	in.must(204, req{method: "DELETE", path: "/v1/keys/" + site["id"].(string), token: boot})
	in.must(401, req{method: "GET", path: "/v1/me", headers: basic(site)})
	in.must(200, req{method: "GET", path: "/v1/me", headers: basic(bookings)})
}

// basicHeader is an Authorization header for a key+secret pair (RFC 7617).
func basicHeader(key, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(key+":"+secret))
}
