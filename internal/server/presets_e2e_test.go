package server

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lanyardhq/lanyard/internal/config"
)

// The presets end to end: each test runs examples/<preset>/lanyard.yaml as `lanyard serve
// --config examples/<preset>/lanyard.yaml --upstream URL` would, in front of a test upstream,
// and follows the flow its README walks, step by step, through the gateway and the native API.

// startPreset runs lanyard with the preset's config, loaded by the same loader serve uses, in
// front of a fresh upstream. Only where the data lives and the password-hashing cost are the
// test's own.
func startPreset(t *testing.T, name string) (*instance, *upstream) {
	t.Helper()
	up := newUpstream(t)
	cfg, err := config.Load(presetFile(name), nil, config.Overrides{Upstream: &up.URL})
	if err != nil {
		t.Fatal(err)
	}
	in := start(t, startOpts{mutate: func(c *config.Config) {
		server, passwords := c.Server, c.Passwords
		*c = *cfg
		c.Server, c.Passwords = server, passwords
	}})
	return in, up
}

// proxied fails the test unless a reached the upstream with the identity headers want ("" for a
// header that must be absent) and without the credential headers.
func proxied(t *testing.T, up *upstream, a answer, want map[string]string) {
	t.Helper()
	if a.status != 200 || a.header.Get("X-Upstream") != "yes" {
		t.Fatalf("the request did not reach the upstream: %d %s", a.status, a.body)
	}
	got := up.last(t)
	for name, v := range want {
		if g := got.Header.Get(name); g != v {
			t.Errorf("the upstream saw %s = %q, want %q", name, g, v)
		}
	}
	for _, name := range []string{"Authorization", "X-Bbk-Auth-Token"} {
		if got.Header.Get(name) != "" {
			t.Errorf("the credential header %s reached the upstream", name)
		}
	}
}

// refused fails the test unless a is the contract's refusal with status and code, with the
// WWW-Authenticate the contract gives it, and nothing reached the upstream since before.
func refused(t *testing.T, up *upstream, before int, a answer, status int, code string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d %s; body %s", a.status, status, code, a.body)
	}
	if got := a.errCode(t); got != code {
		t.Fatalf("code %q, want %q; body %s", got, code, a.body)
	}
	want := map[string]string{
		"unauthenticated": `Bearer realm="lanyard"`,
		"invalid_token":   `Bearer realm="lanyard", error="invalid_token"`,
		"forbidden":       `Bearer realm="lanyard", error="insufficient_scope"`,
	}[code]
	if got := a.header.Get("WWW-Authenticate"); got != want {
		t.Errorf("WWW-Authenticate = %q, want %q", got, want)
	}
	if up != nil && up.count() != before {
		t.Fatal("a refused request reached the upstream")
	}
}

// TestPresetKeySecret follows the rostering platform's flow (examples/key-secret): per-user key +
// secret pairs sent as HTTP Basic or URL userinfo, as many as needed, each revocable, each able
// to do only what its user may do at the moment of use.
func TestPresetKeySecret(t *testing.T) {
	in, up := startPreset(t, "key-secret")
	boot := testBootstrap

	// The administrator sets up event types and events, a dedicated account for the public web
	// site that may only view concerts, and an account for the bookings system that may
	// modify them (roster people, update attendance).
	in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "event_type", "id": "concerts", "name": "Concerts"}`})
	in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "event_type", "id": "staff-training"}`})
	in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "event", "id": "gig-0614", "parent": "event_type/concerts"}`})
	in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "event", "id": "first-aid-0620", "parent": "event_type/staff-training"}`})
	in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "website", "email": "website@example.com", "name": "Public web site"}`})
	in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "bookings", "email": "bookings@example.com", "password": "a long passphrase for bookings"}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/event_type/concerts/grants/user:website", token: boot, body: `{"role": "observer"}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/event_type/concerts/grants/user:bookings", token: boot, body: `{"role": "member"}`})

	// The administrator generates a key for the web site's account (its profile's
	// "Permissions/password" page): a key and a secret, shown once.
	created := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "public site", "owner": "user:website"}`})
	if created.header.Get("Cache-Control") != "no-store" {
		t.Error("the answer with the secret is not Cache-Control: no-store")
	}
	site := created.json(t)
	if site["format"] != "key_secret" || site["key"] != site["id"] || site["token"] != nil || site["owner"] != "user:website" ||
		!strings.HasPrefix(site["secret"].(string), "lks_") {
		t.Fatalf("the web site's key = %v", site)
	}
	siteKey, siteSecret := site["key"].(string), site["secret"].(string)
	basic := func(key, secret string) map[string]string {
		return map[string]string{"Authorization": basicHeader(key, secret)}
	}
	siteAuth := basic(siteKey, siteSecret)
	if a := in.must(200, req{method: "GET", path: "/v1/keys/" + siteKey, token: boot}); strings.Contains(string(a.body), siteSecret) {
		t.Fatal("the secret is shown again")
	}

	// The key views what its user may view: the event type and every event of it.
	proxied(t, up, in.do(req{method: "GET", path: "/event_types/concerts", headers: siteAuth}), map[string]string{
		"X-Lanyard-Principal": "user:website", "X-Lanyard-Key-Id": siteKey,
		"X-Lanyard-Resource": "event_type/concerts", "X-Lanyard-Role": "observer",
	})
	proxied(t, up, in.do(req{method: "GET", path: "/events/gig-0614/roster", headers: siteAuth}), map[string]string{
		"X-Lanyard-Resource": "event/gig-0614", "X-Lanyard-Role": "observer",
	})
	// The same pair in the URL (https://<key>:<secret>@host) arrives as Basic.
	a := userinfoGet(t, in, siteKey, siteSecret, "/events/gig-0614")
	proxied(t, up, a, map[string]string{"X-Lanyard-Principal": "user:website", "X-Lanyard-Key-Id": siteKey})

	// Viewing only: rostering people onto an event needs modify access the user lacks (403);
	// event types the user may not view do not exist for the key (404).
	before := up.count()
	refused(t, up, before, in.do(req{method: "POST", path: "/events/gig-0614/roster", headers: siteAuth, body: `{"person": "p1"}`}), 403, "forbidden")
	refused(t, up, before, in.do(req{method: "GET", path: "/event_types/staff-training", headers: siteAuth}), 404, "not_found")
	refused(t, up, before, in.do(req{method: "GET", path: "/events/first-aid-0620", headers: siteAuth}), 404, "not_found")
	refused(t, up, before, in.do(req{method: "GET", path: "/events/no-such-event", headers: siteAuth}), 404, "not_found")

	// No credential, a wrong secret, another key's key, a secret on its own: 401.
	refused(t, up, before, in.do(req{method: "GET", path: "/events/gig-0614"}), 401, "unauthenticated")
	refused(t, up, before, in.do(req{method: "GET", path: "/events/gig-0614", headers: basic(siteKey, "lks_000000000000000000000000000000000")}), 401, "invalid_token")
	refused(t, up, before, in.do(req{method: "GET", path: "/events/gig-0614", headers: basic("no-such-key", siteSecret)}), 401, "invalid_token")
	refused(t, up, before, in.do(req{method: "GET", path: "/events/gig-0614", token: siteSecret}), 401, "invalid_token")
	refused(t, up, before, userinfoGet(t, in, siteKey, "wrong", "/events/gig-0614"), 401, "invalid_token")
	// An Authorization header that is not Basic base64(key:secret) is malformed: 400.
	if a := in.do(req{method: "GET", path: "/events/gig-0614", headers: map[string]string{"Authorization": "Basic not-base64!"}}); a.status != 400 || a.errCode(t) != "invalid_request" {
		t.Fatalf("a malformed Basic header: %d %s", a.status, a.body)
	}
	if up.count() != before {
		t.Fatal("a refused request reached the upstream")
	}

	// The bookings account generates keys for itself on its "My Account & Password" page: it
	// logs in with its password and creates as many pairs as it has integrations.
	login := in.must(200, req{method: "POST", path: "/v1/auth/login", body: `{"email": "bookings@example.com", "password": "a long passphrase for bookings"}`}).json(t)
	pat := login["access_token"].(string)
	if me := in.must(200, req{method: "GET", path: "/v1/me", token: pat}).json(t); me["principal"] != "user:bookings" {
		t.Fatalf("/v1/me = %v", me)
	}
	roster := in.must(201, req{method: "POST", path: "/v1/keys", token: pat, body: `{"name": "rostering system"}`}).json(t)
	attend := in.must(201, req{method: "POST", path: "/v1/keys", token: pat, body: `{"name": "attendance kiosk"}`}).json(t)
	if roster["owner"] != "user:bookings" || roster["format"] != "key_secret" || attend["key"] == roster["key"] {
		t.Fatalf("the bookings keys: %v, %v", roster, attend)
	}
	rosterAuth := basic(roster["key"].(string), roster["secret"].(string))
	attendAuth := basic(attend["key"].(string), attend["secret"].(string))
	proxied(t, up, in.do(req{method: "POST", path: "/events/gig-0614/roster", headers: rosterAuth, body: `{"person": "p1"}`}), map[string]string{
		"X-Lanyard-Principal": "user:bookings", "X-Lanyard-Key-Id": roster["key"].(string), "X-Lanyard-Role": "member",
	})
	proxied(t, up, in.do(req{method: "PUT", path: "/events/gig-0614/attendance", headers: attendAuth, body: `{"p1": "present"}`}), map[string]string{
		"X-Lanyard-Key-Id": attend["key"].(string), "X-Lanyard-Resource": "event/gig-0614",
	})
	// The account lists its keys (never a secret) and revokes one: only that one stops.
	list := in.must(200, req{method: "GET", path: "/v1/keys", token: pat})
	if keys := list.json(t)["keys"].([]any); len(keys) != 2 || strings.Contains(string(list.body), `"secret"`) ||
		strings.Contains(string(list.body), roster["secret"].(string)) || strings.Contains(string(list.body), attend["secret"].(string)) {
		t.Fatalf("the bookings account's keys: %s", list.body)
	}
	in.must(204, req{method: "DELETE", path: "/v1/keys/" + attend["key"].(string), token: pat})
	before = up.count()
	refused(t, up, before, in.do(req{method: "PUT", path: "/events/gig-0614/attendance", headers: attendAuth}), 401, "invalid_token")
	proxied(t, up, in.do(req{method: "POST", path: "/events/gig-0614/roster", headers: rosterAuth}), nil)

	// A key is never stronger than its user: it cannot make a key for another user, and a key
	// made by a key is still the user's.
	in.must(403, req{method: "POST", path: "/v1/keys", headers: siteAuth, body: `{"name": "x", "owner": "user:bookings"}`})
	child := in.must(201, req{method: "POST", path: "/v1/keys", headers: siteAuth, body: `{"name": "made by a key"}`}).json(t)
	if child["owner"] != "user:website" || child["format"] != "key_secret" {
		t.Fatalf("a key made by a key = %v", child)
	}
	before = up.count()
	refused(t, up, before, in.do(req{method: "POST", path: "/events/gig-0614/roster", headers: basic(child["key"].(string), child["secret"].(string))}), 403, "forbidden")

	// A key does what its user may do at the moment of use: when the account is narrowed to
	// viewing, its keys can no longer roster; when its grant goes, they see nothing.
	in.must(200, req{method: "PUT", path: "/v1/resources/event_type/concerts/grants/user:bookings", token: boot, body: `{"role": "observer"}`})
	before = up.count()
	refused(t, up, before, in.do(req{method: "POST", path: "/events/gig-0614/roster", headers: rosterAuth}), 403, "forbidden")
	proxied(t, up, in.do(req{method: "GET", path: "/events/gig-0614", headers: rosterAuth}), map[string]string{"X-Lanyard-Role": "observer"})
	in.must(204, req{method: "DELETE", path: "/v1/resources/event_type/concerts/grants/user:bookings", token: boot})
	before = up.count()
	refused(t, up, before, in.do(req{method: "GET", path: "/events/gig-0614", headers: rosterAuth}), 404, "not_found")

	// The administrator revokes the web site's key when the site is retired.
	in.must(204, req{method: "DELETE", path: "/v1/keys/" + siteKey, token: boot})
	refused(t, up, before, in.do(req{method: "GET", path: "/events/gig-0614", headers: siteAuth}), 401, "invalid_token")
}

// userinfoGet sends GET path with key:secret in the URL's userinfo, as
// https://<key>:<secret>@host does; Go's client turns it into Basic, as curl and browsers do.
func userinfoGet(t *testing.T, in *instance, key, secret, path string) answer {
	t.Helper()
	u, err := url.Parse(in.base + path)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(key, secret)
	resp, err := http.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// TestPresetOrgScopes follows the VR analytics platform's flow (examples/org-scopes):
// organization API keys sent as "Authorization: APIKEY:ORGANIZATION <key>", shown once,
// optionally read-only, reaching their organization and everything below it; roles over Domain
// > Organization > Project > Scene with read-only observers; the organization's audit log;
// people with Bearer personal access tokens.
func TestPresetOrgScopes(t *testing.T) {
	in, up := startPreset(t, "org-scopes")
	boot := testBootstrap
	apikey := func(tok string) map[string]string {
		return map[string]string{"Authorization": "APIKEY:ORGANIZATION " + tok}
	}

	// The platform sets up a private-label domain with an organization, a standalone
	// organization, and the organization's admin.
	in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "domain", "id": "label"}`})
	in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "organization", "id": "vrco", "parent": "domain/label"}`})
	in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "organization", "id": "other"}`})
	for _, u := range []string{"olga", "bob", "dora"} {
		in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "` + u + `", "email": "` + u + `@example.com", "password": "passphrase of ` + u + ` 2024"}`})
	}
	in.must(200, req{method: "PUT", path: "/v1/resources/organization/vrco/grants/user:olga", token: boot, body: `{"role": "admin"}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/domain/label/grants/user:dora", token: boot, body: `{"role": "observer"}`})
	loginAs := func(u string) string {
		t.Helper()
		return in.must(200, req{method: "POST", path: "/v1/auth/login", body: `{"email": "` + u + `@example.com", "password": "passphrase of ` + u + ` 2024"}`}).json(t)["access_token"].(string)
	}

	// Olga logs in and runs her organization with her personal access token (Bearer).
	olga := loginAs("olga")
	in.must(201, req{method: "POST", path: "/v1/resources", token: olga, body: `{"type": "project", "id": "museum", "parent": "organization/vrco"}`})
	in.must(201, req{method: "POST", path: "/v1/resources", token: olga, body: `{"type": "scene", "id": "lobby", "parent": "project/museum"}`})
	// She adds a member by email, read-only on one project.
	g := in.must(200, req{method: "PUT", path: "/v1/resources/project/museum/grants/email:bob@example.com", token: olga, body: `{"role": "observer"}`}).json(t)
	if g["principal"] != "user:bob" || g["role"] != "observer" || g["resource"] != "project/museum" {
		t.Fatalf("grant = %v", g)
	}

	// Organization Settings > Manage API Keys > Create API Key: read-only, as recommended.
	created := in.must(201, req{method: "POST", path: "/v1/keys", token: olga, body: `{"name": "reporting", "resource": "organization/vrco", "role": "observer"}`})
	if created.header.Get("Cache-Control") != "no-store" {
		t.Error("the answer with the key is not Cache-Control: no-store")
	}
	rep := created.json(t)
	if rep["owner"] != nil || rep["resource"] != "organization/vrco" || rep["role"] != "observer" || !strings.HasPrefix(rep["token"].(string), "lk_") {
		t.Fatalf("the organization key = %v", rep)
	}
	repKey, repID := rep["token"].(string), rep["id"].(string)
	// Once the window is closed it cannot be retrieved: no list or get shows it again.
	for _, p := range []string{"/v1/keys/" + repID, "/v1/tokens/business?resource=organization/vrco", "/v1/keys?resource=organization/vrco"} {
		a := in.must(200, req{method: "GET", path: p, token: olga})
		if strings.Contains(string(a.body), repKey) || !strings.Contains(string(a.body), repID) {
			t.Fatalf("GET %s: %s", p, a.body)
		}
	}

	// The key reaches the organization and its projects, scenes and sessions, read-only.
	proxied(t, up, in.do(req{method: "GET", path: "/organizations/vrco", headers: apikey(repKey)}), map[string]string{
		"X-Lanyard-Principal": "key:" + repID, "X-Lanyard-Key-Id": repID,
		"X-Lanyard-Resource": "organization/vrco", "X-Lanyard-Role": "observer",
	})
	proxied(t, up, in.do(req{method: "GET", path: "/projects/museum", headers: apikey(repKey)}), map[string]string{"X-Lanyard-Resource": "project/museum"})
	proxied(t, up, in.do(req{method: "GET", path: "/scenes/lobby/sessions", headers: apikey(repKey)}), map[string]string{"X-Lanyard-Resource": "scene/lobby"})
	// The scheme is matched case-insensitively; the key alone, as Bearer, is the same key.
	proxied(t, up, in.do(req{method: "GET", path: "/scenes/lobby", headers: map[string]string{"Authorization": "apikey:organization " + repKey}}), nil)
	proxied(t, up, in.do(req{method: "GET", path: "/scenes/lobby", token: repKey}), nil)
	before := up.count()
	refused(t, up, before, in.do(req{method: "POST", path: "/scenes/lobby/sessions", headers: apikey(repKey), body: `{}`}), 403, "forbidden")
	refused(t, up, before, in.do(req{method: "PATCH", path: "/organizations/vrco", headers: apikey(repKey), body: `{}`}), 403, "forbidden")
	// Only that organization: another one, and the domain above it, do not exist for the key.
	refused(t, up, before, in.do(req{method: "GET", path: "/organizations/other", headers: apikey(repKey)}), 404, "not_found")
	refused(t, up, before, in.do(req{method: "GET", path: "/domains/label", headers: apikey(repKey)}), 404, "not_found")
	// The header must be "APIKEY:ORGANIZATION", a space, the key.
	refused(t, up, before, in.do(req{method: "GET", path: "/organizations/vrco", headers: map[string]string{"Authorization": "APIKEY:ORGANIZATION" + repKey}}), 401, "unauthenticated")
	refused(t, up, before, in.do(req{method: "GET", path: "/organizations/vrco", headers: map[string]string{"Authorization": "APIKEY " + repKey}}), 401, "unauthenticated")
	refused(t, up, before, in.do(req{method: "GET", path: "/organizations/vrco", headers: apikey("lk_000000000000000000000000000000000")}), 401, "invalid_token")
	refused(t, up, before, in.do(req{method: "GET", path: "/organizations/vrco"}), 401, "unauthenticated")
	// Forward auth (/v1/authz), for a proxy that keeps its own routing, answers as the gateway.
	fwd := func(method, uri string) answer {
		h := apikey(repKey)
		h["X-Forwarded-Method"], h["X-Forwarded-Uri"] = method, uri
		return in.do(req{method: "GET", path: "/v1/authz", headers: h})
	}
	if a := fwd("GET", "/scenes/lobby/sessions?page=2"); a.status != 200 || a.header.Get("X-Lanyard-Role") != "observer" || a.header.Get("X-Lanyard-Resource") != "scene/lobby" {
		t.Fatalf("/v1/authz of a read: %d %v %s", a.status, a.header, a.body)
	}
	refused(t, up, before, fwd("POST", "/scenes/lobby/sessions"), 403, "forbidden")
	refused(t, up, before, fwd("GET", "/organizations/other"), 404, "not_found")
	// A read-only key makes no keys and reads no audit log.
	in.must(403, req{method: "POST", path: "/v1/keys", headers: apikey(repKey), body: `{"name": "x", "resource": "organization/vrco", "role": "observer"}`})
	in.must(403, req{method: "GET", path: "/v1/audit?resource=organization/vrco", headers: apikey(repKey)})

	// A read-write key, when one is really needed.
	ingest := in.must(201, req{method: "POST", path: "/v1/keys", token: olga, body: `{"name": "ingest", "resource": "organization/vrco", "role": "member"}`}).json(t)
	proxied(t, up, in.do(req{method: "POST", path: "/scenes/lobby/sessions", headers: apikey(ingest["token"].(string)), body: `{}`}), map[string]string{
		"X-Lanyard-Principal": "key:" + ingest["id"].(string), "X-Lanyard-Role": "member",
	})

	// An observer (Bob, read-only on the project) reads the project and its scenes with his
	// personal access token, changes nothing, and sees nothing above the project.
	bob := loginAs("bob")
	proxied(t, up, in.do(req{method: "GET", path: "/projects/museum", token: bob}), map[string]string{
		"X-Lanyard-Principal": "user:bob", "X-Lanyard-Key-Id": "", "X-Lanyard-Role": "observer",
	})
	proxied(t, up, in.do(req{method: "GET", path: "/scenes/lobby", token: bob}), nil)
	before = up.count()
	refused(t, up, before, in.do(req{method: "PATCH", path: "/scenes/lobby", token: bob, body: `{}`}), 403, "forbidden")
	refused(t, up, before, in.do(req{method: "GET", path: "/organizations/vrco", token: bob}), 404, "not_found")
	// Organization settings are the organization admin's: members, keys, the audit log.
	in.must(404, req{method: "GET", path: "/v1/audit?resource=organization/vrco", token: bob})
	in.must(404, req{method: "POST", path: "/v1/keys", token: bob, body: `{"name": "x", "resource": "organization/vrco", "role": "observer"}`})
	in.must(404, req{method: "PUT", path: "/v1/resources/organization/vrco/grants/user:bob", token: bob, body: `{"role": "admin"}`})
	in.must(403, req{method: "PUT", path: "/v1/resources/project/museum/grants/user:bob", token: bob, body: `{"role": "admin"}`})
	// Every user has their own account: their information and their password.
	if me := in.must(200, req{method: "GET", path: "/v1/users/me", token: bob}).json(t); me["id"] != "bob" || me["email"] != "bob@example.com" {
		t.Fatalf("/v1/users/me = %v", me)
	}
	in.must(200, req{method: "PATCH", path: "/v1/users/me", token: bob, body: `{"password": "bob's brand new passphrase", "current_password": "passphrase of bob 2024"}`})

	// Domain scope (private label): an observer of the domain reads its organizations, not
	// the ones outside it.
	dora := loginAs("dora")
	proxied(t, up, in.do(req{method: "GET", path: "/organizations/vrco", token: dora}), map[string]string{"X-Lanyard-Role": "observer"})
	proxied(t, up, in.do(req{method: "GET", path: "/scenes/lobby", token: dora}), nil)
	proxied(t, up, in.do(req{method: "GET", path: "/domains/label/settings", token: dora}), map[string]string{"X-Lanyard-Resource": "domain/label"})
	before = up.count()
	refused(t, up, before, in.do(req{method: "GET", path: "/organizations/other", token: dora}), 404, "not_found")

	// The organization audit log: its projects' and scenes' events, the keys and the members.
	trail := in.must(200, req{method: "GET", path: "/v1/audit?resource=organization/vrco", token: olga})
	for _, want := range []string{`"scene/lobby"`, `"project/museum"`, `"key:` + repID + `"`, `"user:olga"`} {
		if !strings.Contains(string(trail.body), want) {
			t.Errorf("the organization's audit log lacks %s: %s", want, trail.body)
		}
	}
	if strings.Contains(string(trail.body), repKey) {
		t.Fatal("the audit log holds a key")
	}

	// An organization key belongs to the organization: it outlives the admin who made it,
	// until an admin of the organization revokes it.
	in.must(204, req{method: "DELETE", path: "/v1/users/olga", token: boot})
	proxied(t, up, in.do(req{method: "GET", path: "/organizations/vrco", headers: apikey(repKey)}), nil)
	in.must(200, req{method: "PUT", path: "/v1/resources/organization/vrco/grants/email:dora@example.com", token: boot, body: `{"role": "admin"}`})
	in.must(204, req{method: "DELETE", path: "/v1/tokens/business/" + repID, token: dora})
	before = up.count()
	refused(t, up, before, in.do(req{method: "GET", path: "/organizations/vrco", headers: apikey(repKey)}), 401, "invalid_token")
	// All of the organization's keys at once.
	in.must(204, req{method: "DELETE", path: "/v1/tokens/business?resource=organization/vrco", token: dora})
	refused(t, up, before, in.do(req{method: "POST", path: "/scenes/lobby/sessions", headers: apikey(ingest["token"].(string))}), 401, "invalid_token")
}

// TestPresetRoleAPIs follows the data broker's flow (examples/role-apis): one header,
// x-bbk-auth-token, for three API sets; the bootstrap coordinator token; promoting a user to
// coordinator, and demote + promote as the recovery of a lost coordinator token; connectors as
// business keys with stable ids; accesses as a consumer grant plus a personal key, reissued.
func TestPresetRoleAPIs(t *testing.T) {
	in, up := startPreset(t, "role-apis")
	bbk := func(tok string) map[string]string { return map[string]string{"x-bbk-auth-token": tok} }
	boot := bbk(testBootstrap)

	// The base end-point of each API set answers to any valid credential: a test of one's
	// token and header. Without the header, with another header, or with a wrong token: 401.
	for _, base := range []string{"/coordinator/", "/contributor/", "/consumer/"} {
		before := up.count()
		refused(t, up, before, in.do(req{method: "GET", path: base}), 401, "unauthenticated")
		refused(t, up, before, in.do(req{method: "GET", path: base, token: testBootstrap}), 401, "unauthenticated")
		refused(t, up, before, in.do(req{method: "GET", path: base, headers: bbk("4735d360-dc03-499c-91ce-68dfc1554691.5d5c9eab-1d9c-4c88-9478-9f4ab35568a7")}), 401, "invalid_token")
		proxied(t, up, in.do(req{method: "GET", path: base, headers: boot}), map[string]string{"X-Lanyard-Principal": "", "X-Lanyard-Key-Id": ""})
	}
	// Header names are case-insensitive in HTTP: the exact casing is no second credential.
	proxied(t, up, in.do(req{method: "GET", path: "/coordinator/", headers: map[string]string{"X-BBK-Auth-Token": testBootstrap}, rawHeaders: true}), nil)
	if me := in.must(200, req{method: "GET", path: "/v1/me", headers: boot}).json(t); me["admin"] != true {
		t.Fatalf("the bootstrap coordinator token: %v", me)
	}

	// The bootstrap coordinator creates the master coordinator: a user, promoted.
	in.must(201, req{method: "POST", path: "/v1/users", headers: boot, body: `{"id": "master", "email": "master@example.com", "name": "Master coordinator"}`})
	promoted := in.must(200, req{method: "POST", path: "/v1/users/master/admin", headers: boot})
	if promoted.header.Get("Cache-Control") != "no-store" {
		t.Error("the coordinator token's answer is not Cache-Control: no-store")
	}
	master := bbk(promoted.json(t)["token"].(string))
	proxied(t, up, in.do(req{method: "GET", path: "/coordinator/entity-types", headers: master}), map[string]string{"X-Lanyard-Principal": "user:master", "X-Lanyard-Key-Id": ""})
	proxied(t, up, in.do(req{method: "POST", path: "/coordinator/entity-types/country", headers: master, body: `{}`}), nil)

	// A connector: a business key on an entity type with the role contributor; its id is the
	// coordinator's choice (the connector's name), so recreating it keeps it.
	in.must(201, req{method: "POST", path: "/v1/resources", headers: master, body: `{"type": "entity_type", "id": "country", "name": "Countries"}`})
	connBody := `{"id": "country.wikipedia", "name": "wikipedia", "resource": "entity_type/country", "role": "contributor"}`
	conn := in.must(201, req{method: "POST", path: "/v1/keys", headers: master, body: connBody}).json(t)
	if conn["id"] != "country.wikipedia" || conn["owner"] != nil || conn["role"] != "contributor" {
		t.Fatalf("connector = %v", conn)
	}
	connTok := conn["token"].(string)
	// The broker keeps no accessible copy of a token: no list or get shows it again.
	for _, p := range []string{"/v1/keys/country.wikipedia", "/v1/keys?resource=entity_type/country", "/v1/tokens/business"} {
		if a := in.must(200, req{method: "GET", path: p, headers: master}); strings.Contains(string(a.body), connTok) || !strings.Contains(string(a.body), "country.wikipedia") {
			t.Fatalf("GET %s: %s", p, a.body)
		}
	}
	in.must(409, req{method: "POST", path: "/v1/keys", headers: master, body: connBody})
	proxied(t, up, in.do(req{method: "GET", path: "/contributor/", headers: bbk(connTok)}), nil)
	proxied(t, up, in.do(req{method: "POST", path: "/contributor/session/open", headers: bbk(connTok), body: `{}`}), map[string]string{
		"X-Lanyard-Principal": "key:country.wikipedia", "X-Lanyard-Key-Id": "country.wikipedia",
		"X-Lanyard-Resource": "entity_type/country", "X-Lanyard-Role": "contributor",
	})
	before := up.count()
	refused(t, up, before, in.do(req{method: "GET", path: "/coordinator/entity-types", headers: bbk(connTok)}), 403, "forbidden")
	refused(t, up, before, in.do(req{method: "GET", path: "/consumer/catalog", headers: bbk(connTok)}), 403, "forbidden")
	// A lost contributor key: delete the connector and create it afresh — the same id, a new
	// key; the old one is rescinded.
	in.must(204, req{method: "DELETE", path: "/v1/keys/country.wikipedia", headers: master})
	refused(t, up, before, in.do(req{method: "POST", path: "/contributor/session/open", headers: bbk(connTok)}), 401, "invalid_token")
	conn2 := in.must(201, req{method: "POST", path: "/v1/keys", headers: master, body: connBody}).json(t)
	if conn2["id"] != "country.wikipedia" || conn2["token"] == connTok {
		t.Fatalf("the recreated connector = %v", conn2)
	}
	proxied(t, up, in.do(req{method: "POST", path: "/contributor/session/open", headers: bbk(conn2["token"].(string))}), map[string]string{"X-Lanyard-Key-Id": "country.wikipedia"})
	refused(t, up, up.count(), in.do(req{method: "POST", path: "/contributor/session/open", headers: bbk(connTok)}), 401, "invalid_token")

	// An access: a link between a user and a policy — a grant of consumer on the policy plus
	// a personal key of that user on it, its token returned once.
	in.must(201, req{method: "POST", path: "/v1/users", headers: master, body: `{"id": "alice", "email": "alice@example.com"}`})
	for _, p := range []string{"public-data", "premium"} {
		in.must(201, req{method: "POST", path: "/v1/resources", headers: master, body: `{"type": "policy", "id": "` + p + `"}`})
		in.must(200, req{method: "PUT", path: "/v1/resources/policy/" + p + "/grants/user:alice", headers: master, body: `{"role": "consumer"}`})
	}
	access := func(policy string) map[string]any {
		t.Helper()
		return in.must(201, req{method: "POST", path: "/v1/keys", headers: master, body: `{"id": "alice.` + policy + `", "name": "` + policy + `", "owner": "user:alice", "resource": "policy/` + policy + `", "role": "consumer"}`}).json(t)
	}
	pub, prem := access("public-data"), access("premium")
	pubTok := pub["token"].(string)
	proxied(t, up, in.do(req{method: "GET", path: "/consumer/", headers: bbk(pubTok)}), nil)
	proxied(t, up, in.do(req{method: "GET", path: "/consumer/catalog", headers: bbk(pubTok)}), map[string]string{
		"X-Lanyard-Principal": "user:alice", "X-Lanyard-Key-Id": "alice.public-data",
		"X-Lanyard-Resource": "policy/public-data", "X-Lanyard-Role": "consumer",
	})
	// Each access reads through its own policy.
	proxied(t, up, in.do(req{method: "GET", path: "/consumer/catalog", headers: bbk(prem["token"].(string))}), map[string]string{"X-Lanyard-Resource": "policy/premium"})
	before = up.count()
	// A header that holds no token, or more than one, is malformed (400), not a wrong token.
	for _, bad := range []string{"", "two tokens"} {
		if a := in.do(req{method: "GET", path: "/consumer/catalog", headers: bbk(bad)}); a.status != 400 || a.errCode(t) != "invalid_request" {
			t.Fatalf("x-bbk-auth-token %q: %d %s", bad, a.status, a.body)
		}
	}
	refused(t, up, before, in.do(req{method: "POST", path: "/contributor/session/open", headers: bbk(pubTok)}), 403, "forbidden")
	refused(t, up, before, in.do(req{method: "GET", path: "/coordinator/users", headers: bbk(pubTok)}), 403, "forbidden")
	// A lost consumer token: reissue the access; the old token is rescinded.
	re := in.must(200, req{method: "POST", path: "/v1/keys/alice.public-data/reissue", headers: master}).json(t)
	pubTok2 := re["token"].(string)
	if re["id"] != "alice.public-data" || pubTok2 == pubTok {
		t.Fatalf("reissue = %v", re)
	}
	refused(t, up, before, in.do(req{method: "GET", path: "/consumer/catalog", headers: bbk(pubTok)}), 401, "invalid_token")
	proxied(t, up, in.do(req{method: "GET", path: "/consumer/catalog", headers: bbk(pubTok2)}), map[string]string{"X-Lanyard-Key-Id": "alice.public-data"})
	// Deleting an access takes the grant and the key: the token is refused.
	in.must(204, req{method: "DELETE", path: "/v1/resources/policy/premium/grants/user:alice", headers: master})
	before = up.count()
	refused(t, up, before, in.do(req{method: "GET", path: "/consumer/catalog", headers: bbk(prem["token"].(string))}), 404, "not_found")
	in.must(204, req{method: "DELETE", path: "/v1/keys/alice.premium", headers: master})
	refused(t, up, before, in.do(req{method: "GET", path: "/consumer/catalog", headers: bbk(prem["token"].(string))}), 401, "invalid_token")

	// A lost coordinator token: demote the user, then promote them again. The old token is
	// rescinded at once; the new one works.
	in.must(204, req{method: "DELETE", path: "/v1/users/master/admin", headers: boot})
	refused(t, up, before, in.do(req{method: "GET", path: "/coordinator/", headers: master}), 401, "invalid_token")
	refused(t, up, before, in.do(req{method: "GET", path: "/v1/users", headers: master}), 401, "invalid_token")
	again := bbk(in.must(200, req{method: "POST", path: "/v1/users/master/admin", headers: boot}).json(t)["token"].(string))
	proxied(t, up, in.do(req{method: "GET", path: "/coordinator/users", headers: again}), map[string]string{"X-Lanyard-Principal": "user:master"})
	in.must(200, req{method: "GET", path: "/v1/users", headers: again})
	refused(t, up, up.count(), in.do(req{method: "GET", path: "/coordinator/users", headers: master}), 401, "invalid_token")
	// What the coordinator made lives on: the connector and the access still work.
	proxied(t, up, in.do(req{method: "POST", path: "/contributor/session/open", headers: bbk(conn2["token"].(string))}), nil)
	proxied(t, up, in.do(req{method: "GET", path: "/consumer/catalog", headers: bbk(pubTok2)}), nil)
	// Any coordinator promotes and demotes others, not only the bootstrap token.
	in.must(201, req{method: "POST", path: "/v1/users", headers: again, body: `{"id": "second", "email": "second@example.com"}`})
	second := bbk(in.must(200, req{method: "POST", path: "/v1/users/second/admin", headers: again}).json(t)["token"].(string))
	proxied(t, up, in.do(req{method: "GET", path: "/coordinator/users", headers: second}), map[string]string{"X-Lanyard-Principal": "user:second"})
	in.must(204, req{method: "DELETE", path: "/v1/users/second/admin", headers: again})
	refused(t, up, up.count(), in.do(req{method: "GET", path: "/coordinator/users", headers: second}), 401, "invalid_token")
	// A plain user, demoted or never promoted, is no coordinator.
	in.must(204, req{method: "DELETE", path: "/v1/users/master/admin", headers: boot})
	refused(t, up, up.count(), in.do(req{method: "GET", path: "/coordinator/users", headers: again}), 401, "invalid_token")
}
