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
