package server

import (
	"bytes"
	"encoding/base64"
	"github.com/lanyardhq/lanyard/internal/testenv"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/config"
)

// TestReadmeWalk follows the README's curl walk-through: bootstrap token → user → key → /v1/me
// → revoke, and the revoked key's very next request is refused.
func TestReadmeWalk(t *testing.T) {
	in := start(t, startOpts{})
	boot := testBootstrap

	me := in.must(200, req{method: "GET", path: "/v1/me", token: boot}).json(t)
	if me["principal"] != nil || me["admin"] != true {
		t.Fatalf("bootstrap /v1/me = %v", me)
	}
	if c := me["credential"].(map[string]any); c["type"] != "bootstrap" || c["id"] != "bootstrap" {
		t.Fatalf("bootstrap credential = %v", c)
	}

	u := in.must(201, req{method: "POST", path: "/v1/users", token: boot,
		body: `{"id": "ann", "email": "ann@example.com", "name": "Ann"}`}).json(t)
	for _, f := range []string{"id", "email", "name", "admin", "created_at"} {
		if _, ok := u[f]; !ok {
			t.Errorf("user answer lacks %q: %v", f, u)
		}
	}

	created := in.must(201, req{method: "POST", path: "/v1/keys", token: boot,
		body: `{"name": "ci deploys", "owner": "user:ann", "id": "ann-ci"}`})
	if created.header.Get("Cache-Control") != "no-store" {
		t.Errorf("key creation answer lacks Cache-Control: no-store")
	}
	k := created.json(t)
	tok, _ := k["token"].(string)
	if !regexp.MustCompile(`^lk_[0-9A-Za-z]{33}$`).MatchString(tok) {
		t.Fatalf("token %q does not have the documented format", tok)
	}
	if k["prefix"] != tok[:9] || k["owner"] != "user:ann" || k["format"] != "token" {
		t.Fatalf("key answer = %v", k)
	}

	me = in.must(200, req{method: "GET", path: "/v1/me", token: tok}).json(t)
	if me["principal"] != "user:ann" || me["admin"] != false {
		t.Fatalf("key /v1/me = %v", me)
	}
	if c := me["credential"].(map[string]any); c["type"] != "key" || c["id"] != "ann-ci" {
		t.Fatalf("key credential = %v", c)
	}

	list := in.must(200, req{method: "GET", path: "/v1/keys", token: tok})
	if strings.Contains(string(list.body), tok) || strings.Contains(string(list.body), tok[9:]) {
		t.Fatalf("a key list shows the secret: %s", list.body)
	}
	if keys := list.json(t)["keys"].([]any); len(keys) != 1 {
		t.Fatalf("Ann sees %d keys, want 1", len(keys))
	}

	in.must(204, req{method: "DELETE", path: "/v1/keys/ann-ci", token: boot})
	a := in.must(401, req{method: "GET", path: "/v1/me", token: tok})
	if code := a.errCode(t); code != "invalid_token" {
		t.Fatalf("revoked key: code %q", code)
	}
	if got := a.header.Get("WWW-Authenticate"); got != `Bearer realm="lanyard", error="invalid_token"` {
		t.Fatalf("WWW-Authenticate = %q", got)
	}
	// Deleted is gone: a second delete and a get are 404, the id is free again.
	in.must(404, req{method: "DELETE", path: "/v1/keys/ann-ci", token: boot})
	in.must(404, req{method: "GET", path: "/v1/keys/ann-ci", token: boot})
	in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "again", "owner": "user:ann", "id": "ann-ci"}`})
	in.must(409, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "dup", "owner": "user:ann", "id": "ann-ci"}`})
}

// TestRestartDurability: keys, revocations and the bootstrap token survive a restart, and a
// generated bootstrap token is printed once, on its own line, and never again.
func TestRestartDurability(t *testing.T) {
	dir := t.TempDir()
	first := start(t, startOpts{dataDir: dir, env: map[string]string{}})
	out := first.stderr.String()
	m := regexp.MustCompile(`(?m)^(lb_[0-9A-Za-z]{33})$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the generated bootstrap token is not on a line of its own in stderr: %q", out)
	}
	boot := m[1]
	first.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "u1", "email": "u1@example.com"}`})
	keep := first.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "keep", "owner": "user:u1"}`}).json(t)["token"].(string)
	gone := first.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "gone", "owner": "user:u1", "id": "gone"}`}).json(t)["token"].(string)
	first.must(204, req{method: "DELETE", path: "/v1/keys/gone", token: boot})
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}

	second := start(t, startOpts{dataDir: dir, env: map[string]string{}})
	if strings.Contains(second.stderr.String(), "lb_") {
		t.Fatalf("a second start printed a bootstrap token: %q", second.stderr.String())
	}
	second.must(200, req{method: "GET", path: "/v1/me", token: boot})
	second.must(200, req{method: "GET", path: "/v1/me", token: keep})
	second.must(401, req{method: "GET", path: "/v1/me", token: gone})
	second.must(200, req{method: "GET", path: "/v1/users/u1", token: boot})
}

func TestStoreFilesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	in := start(t, startOpts{dataDir: dir})
	in.must(200, req{method: "GET", path: "/healthz"})
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v, want 0700", st.Mode().Perm())
	}
	st, err = os.Stat(filepath.Join(dir, "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("database mode %v, want 0600", st.Mode().Perm())
	}
}

func TestBootstrapPrintedAsJSON(t *testing.T) {
	in := start(t, startOpts{env: map[string]string{}, logJSON: true})
	m := regexp.MustCompile(`(?m)^\{.*"bootstrap_token":"(lb_[0-9A-Za-z]{33})".*\}$`).FindStringSubmatch(in.stderr.String())
	if m == nil {
		t.Fatalf("no JSON bootstrap_token line in %q", in.stderr.String())
	}
	in.must(200, req{method: "GET", path: "/v1/me", token: m[1]})
}

func TestShortBootstrapTokenRefusedBeforeTheStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "never")
	err := Run(t.Context(), Options{
		Config: testConfig(dir),
		Getenv: func(k string) string {
			if k == BootstrapEnv {
				return "too-short"
			}
			return ""
		},
	})
	if err == nil {
		t.Fatal("Run accepted a short bootstrap token")
	}
	if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
		t.Fatalf("the store was touched: %v", statErr)
	}
}

// TestErrorContract: every failure is a clean 4xx with the contract's body.
func TestErrorContract(t *testing.T) {
	in := start(t, startOpts{mutate: func(c *config.Config) { c.Server.MaxBodyBytes = 1024 }})
	boot := testBootstrap
	in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "u1", "email": "u1@example.com"}`})
	in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "u2", "email": "u2@example.com"}`})
	u1 := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "k", "owner": "user:u1", "id": "k1"}`}).json(t)["token"].(string)
	in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "k", "owner": "user:u2", "id": "k2"}`})
	good := strings.Repeat("x", 10)

	tests := []struct {
		name   string
		r      req
		status int
		code   string
	}{
		{"unknown path", req{method: "GET", path: "/v1/nope"}, 404, "not_found"},
		{"unknown path with credential", req{method: "GET", path: "/nope", token: boot}, 404, "not_found"},
		{"wrong method", req{method: "PUT", path: "/v1/me", token: boot}, 405, "method_not_allowed"},
		{"no credential", req{method: "GET", path: "/v1/me"}, 401, "unauthenticated"},
		{"bad checksum", req{method: "GET", path: "/v1/me", token: u1[:len(u1)-1] + flip(u1[len(u1)-1])}, 401, "invalid_token"},
		{"garbage token", req{method: "GET", path: "/v1/me", token: good}, 401, "invalid_token"},
		{"8 KB token", req{method: "GET", path: "/v1/me", token: strings.Repeat("a", 8<<10)}, 401, "invalid_token"},
		{"two tokens", req{method: "GET", path: "/v1/me", headers: map[string]string{"Authorization": "Bearer a b"}}, 400, "invalid_request"},
		{"empty bearer", req{method: "GET", path: "/v1/me", headers: map[string]string{"Authorization": "Bearer "}}, 400, "invalid_request"},
		{"basic bad base64", req{method: "GET", path: "/v1/me", headers: map[string]string{"Authorization": "Basic %%%"}}, 400, "invalid_request"},
		{"basic no colon", req{method: "GET", path: "/v1/me", headers: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("abc"))}}, 400, "invalid_request"},
		{"basic empty", req{method: "GET", path: "/v1/me", headers: map[string]string{"Authorization": "Basic "}}, 400, "invalid_request"},
		{"malformed JSON", req{method: "POST", path: "/v1/users", token: boot, body: `{"email": `}, 400, "invalid_request"},
		{"unknown field", req{method: "POST", path: "/v1/users", token: boot, body: `{"email": "a@example.com", "role": "x"}`}, 400, "invalid_request"},
		{"trailing garbage", req{method: "POST", path: "/v1/users", token: boot, body: `{"email": "a@example.com"} x`}, 400, "invalid_request"},
		{"not an object", req{method: "POST", path: "/v1/users", token: boot, body: `[1]`}, 400, "invalid_request"},
		{"body too large", req{method: "POST", path: "/v1/users", token: boot, body: `{"email": "` + strings.Repeat("a", 2048) + `"}`}, 413, "too_large"},
		{"bad id", req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "a/b", "email": "x@example.com"}`}, 400, "invalid_request"},
		{"dot id", req{method: "POST", path: "/v1/keys", token: boot, body: `{"id": "..", "name": "k", "owner": "user:u1"}`}, 400, "invalid_request"},
		{"bad email", req{method: "POST", path: "/v1/users", token: boot, body: `{"email": "not an email"}`}, 400, "invalid_request"},
		{"duplicate email in another case", req{method: "POST", path: "/v1/users", token: boot, body: `{"email": "U1@Example.com"}`}, 409, "conflict"},
		{"short password", req{method: "POST", path: "/v1/users", token: boot, body: `{"email": "p@example.com", "password": "short"}`}, 400, "invalid_request"},
		{"non-admin creates a user", req{method: "POST", path: "/v1/users", token: u1, body: `{"email": "z@example.com"}`}, 403, "forbidden"},
		{"non-admin lists users", req{method: "GET", path: "/v1/users", token: u1}, 403, "forbidden"},
		{"another user's key is invisible", req{method: "GET", path: "/v1/keys/k2", token: u1}, 404, "not_found"},
		{"another user's key cannot be revoked", req{method: "DELETE", path: "/v1/keys/k2", token: u1}, 404, "not_found"},
		{"another user is invisible", req{method: "GET", path: "/v1/users/u2", token: u1}, 404, "not_found"},
		{"a user called me (§11.42)", req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "me", "email": "me@example.com"}`}, 400, "invalid_request"},
		{"a duplicate JSON key (§11.41)", req{method: "POST", path: "/v1/users", token: boot, body: `{"email": "d1@example.com", "email": "d2@example.com"}`}, 400, "invalid_request"},
		{"a field name in another case (§11.41)", req{method: "POST", path: "/v1/users", token: boot, body: `{"EMAIL": "d1@example.com"}`}, 400, "invalid_request"},
		{"a malformed query (§11.41)", req{method: "GET", path: "/v1/keys?owner=%zz", token: boot}, 400, "invalid_request"},
		{"another user's keys are refused (§11.37)", req{method: "GET", path: "/v1/keys?owner=user:u2", token: u1}, 403, "forbidden"},
		{"a missing user's keys are refused alike", req{method: "GET", path: "/v1/keys?owner=user:nobody", token: u1}, 403, "forbidden"},
		{"bulk revoke of another user's keys", req{method: "DELETE", path: "/v1/keys?owner=user:u2", token: u1}, 403, "forbidden"},
		{"bulk revoke of a missing user's keys", req{method: "DELETE", path: "/v1/keys?owner=user:nobody", token: u1}, 403, "forbidden"},
		{"key for another user", req{method: "POST", path: "/v1/keys", token: u1, body: `{"name": "x", "owner": "user:u2"}`}, 403, "forbidden"},
		{"key for a user that does not exist", req{method: "POST", path: "/v1/keys", token: u1, body: `{"name": "x", "owner": "user:nobody"}`}, 403, "forbidden"},
		{"bootstrap key without owner", req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "x"}`}, 400, "invalid_request"},
		{"key without name", req{method: "POST", path: "/v1/keys", token: u1, body: `{}`}, 400, "invalid_request"},
		{"bad cidr", req{method: "POST", path: "/v1/keys", token: u1, body: `{"name": "x", "allowed_cidrs": ["10.0.0.0/33"]}`}, 400, "invalid_request"},
		{"not a cidr", req{method: "POST", path: "/v1/keys", token: u1, body: `{"name": "x", "allowed_cidrs": ["not-a-cidr"]}`}, 400, "invalid_request"},
		{"bad format", req{method: "POST", path: "/v1/keys", token: u1, body: `{"name": "x", "format": "jwt"}`}, 400, "invalid_request"},
		{"negative expiry", req{method: "POST", path: "/v1/keys", token: u1, body: `{"name": "x", "expires_in": -5}`}, 400, "invalid_request"},
		{"fractional expiry", req{method: "POST", path: "/v1/keys", token: u1, body: `{"name": "x", "expires_in": 1.5}`}, 400, "invalid_request"},
		{"unknown plan", req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "x", "owner": "user:u1", "plan": "gold"}`}, 400, "invalid_request"},
		{"plan set by a non-admin", req{method: "POST", path: "/v1/keys", token: u1, body: `{"name": "x", "plan": "gold"}`}, 403, "forbidden"},
		{"metadata number too large", req{method: "POST", path: "/v1/keys", token: u1, body: `{"name": "x", "metadata": {"n": 1e400}}`}, 400, "invalid_request"},
		{"expires_in overflow", req{method: "POST", path: "/v1/keys", token: u1, body: `{"name": "x", "expires_in": 9223372037}`}, 400, "invalid_request"},
		{"expires_at beyond year 9999", req{method: "PATCH", path: "/v1/keys/k1", token: boot, body: `{"expires_at": "9999-12-31T23:59:59-01:00"}`}, 400, "invalid_request"},
		{"forged resource cursor", req{method: "GET", path: "/v1/resources?cursor=eyJjIjowLCJpIjoieCIsImYiOiJ4In0", token: boot}, 400, "invalid_request"},
		{"revoke all without filter", req{method: "DELETE", path: "/v1/keys", token: boot}, 400, "invalid_request"},
		{"grace too long", req{method: "POST", path: "/v1/keys/k1/reissue", token: boot, body: `{"grace_seconds": 86401}`}, 400, "invalid_request"},
		{"bad limit", req{method: "GET", path: "/v1/users?limit=0", token: boot}, 400, "invalid_request"},
		{"huge limit", req{method: "GET", path: "/v1/users?limit=1001", token: boot}, 400, "invalid_request"},
		{"bad cursor", req{method: "GET", path: "/v1/users?cursor=zzz", token: boot}, 400, "invalid_request"},
		{"patch owner", req{method: "PATCH", path: "/v1/keys/k1", token: boot, body: `{"owner": "user:u2"}`}, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := in.do(tt.r)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", a.status, tt.status, a.body)
			}
			if code := a.errCode(t); code != tt.code {
				t.Fatalf("code %q, want %q", code, tt.code)
			}
			if ct := a.header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
			switch tt.status {
			case 401:
				want := `Bearer realm="lanyard", error="invalid_token"`
				if tt.code == "unauthenticated" {
					want = `Bearer realm="lanyard"`
				}
				if got := a.header.Get("WWW-Authenticate"); got != want {
					t.Fatalf("WWW-Authenticate %q, want %q", got, want)
				}
			case 405:
				if a.header.Get("Allow") == "" {
					t.Fatal("405 without Allow")
				}
			}
		})
	}
	// Nothing a refused request asked for happened.
	if n := len(in.must(200, req{method: "GET", path: "/v1/users", token: boot}).json(t)["users"].([]any)); n != 2 {
		t.Fatalf("%d users after refused requests, want 2", n)
	}
	in.must(200, req{method: "GET", path: "/v1/keys/k2", token: boot})
}

func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

func TestKeySecretPairs(t *testing.T) {
	in := start(t, startOpts{})
	boot := testBootstrap
	in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "ros", "email": "ros@example.com"}`})
	k := in.must(201, req{method: "POST", path: "/v1/keys", token: boot,
		body: `{"name": "rostering", "owner": "user:ros", "format": "key_secret", "id": "ros-key"}`}).json(t)
	if k["key"] != "ros-key" || k["token"] != nil {
		t.Fatalf("key_secret answer = %v", k)
	}
	secret := k["secret"].(string)
	basicAuth := func(id, s string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+s))}
	}
	me := in.must(200, req{method: "GET", path: "/v1/me", headers: basicAuth("ros-key", secret)}).json(t)
	if me["principal"] != "user:ros" {
		t.Fatalf("/v1/me = %v", me)
	}
	// URL userinfo arrives as Basic.
	hr, _ := http.NewRequest("GET", strings.Replace(in.base, "http://", "http://ros-key:"+secret+"@", 1)+"/v1/me", nil)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("userinfo credential: %d", resp.StatusCode)
	}
	in.must(401, req{method: "GET", path: "/v1/me", token: secret})                                  // a secret alone is no credential
	in.must(401, req{method: "GET", path: "/v1/me", headers: basicAuth("other-key", secret)})        // the pair must match
	in.must(401, req{method: "GET", path: "/v1/me", headers: basicAuth("ros-key", secret[:10]+"x")}) // wrong secret

	// Reissue keeps the key id and gives a new secret; the old one stops at once.
	r := in.must(200, req{method: "POST", path: "/v1/keys/ros-key/reissue", token: boot}).json(t)
	if r["key"] != "ros-key" || r["secret"] == secret {
		t.Fatalf("reissue answer = %v", r)
	}
	in.must(401, req{method: "GET", path: "/v1/me", headers: basicAuth("ros-key", secret)})
	in.must(200, req{method: "GET", path: "/v1/me", headers: basicAuth("ros-key", r["secret"].(string))})
}

func TestReissueGraceAndExpiry(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	in := start(t, startOpts{clock: clock})
	boot := testBootstrap
	in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "u", "email": "u@example.com"}`})
	old := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "svc", "owner": "user:u", "id": "svc"}`}).json(t)["token"].(string)
	in.must(200, req{method: "GET", path: "/v1/me", token: old}) // cached now

	first := in.must(200, req{method: "POST", path: "/v1/keys/svc/reissue", token: boot, body: `{"grace_seconds": 60}`}).json(t)["token"].(string)
	in.must(200, req{method: "GET", path: "/v1/me", token: old})
	in.must(200, req{method: "GET", path: "/v1/me", token: first})
	clock.Advance(61 * time.Second)
	in.must(401, req{method: "GET", path: "/v1/me", token: old})
	in.must(200, req{method: "GET", path: "/v1/me", token: first})

	// A new reissue ends any grace still running: at most two secrets are live.
	second := in.must(200, req{method: "POST", path: "/v1/keys/svc/reissue", token: boot, body: `{"grace_seconds": 600}`}).json(t)["token"].(string)
	third := in.must(200, req{method: "POST", path: "/v1/keys/svc/reissue", token: boot, body: `{"grace_seconds": 600}`}).json(t)["token"].(string)
	in.must(401, req{method: "GET", path: "/v1/me", token: first})
	in.must(200, req{method: "GET", path: "/v1/me", token: second})
	in.must(200, req{method: "GET", path: "/v1/me", token: third})

	// expires_in: valid until, refused after, still listed.
	exp := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "short", "owner": "user:u", "id": "short", "expires_in": 30}`}).json(t)
	in.must(200, req{method: "GET", path: "/v1/me", token: exp["token"].(string)})
	clock.Advance(31 * time.Second)
	in.must(401, req{method: "GET", path: "/v1/me", token: exp["token"].(string)})
	in.must(200, req{method: "GET", path: "/v1/keys/short", token: boot})
}

func TestLastUsedAtIsRecorded(t *testing.T) {
	dir := t.TempDir()
	in := start(t, startOpts{dataDir: dir})
	boot := testBootstrap
	in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "u", "email": "u@example.com"}`})
	tok := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "svc", "owner": "user:u", "id": "svc"}`}).json(t)["token"].(string)
	if got := in.must(200, req{method: "GET", path: "/v1/keys/svc", token: boot}).json(t)["last_used_at"]; got != nil {
		t.Fatalf("last_used_at before any use = %v", got)
	}
	in.must(200, req{method: "GET", path: "/v1/me", token: tok})
	// Graceful shutdown flushes the batched use times.
	if err := in.stop(); err != nil {
		t.Fatal(err)
	}
	again := start(t, startOpts{dataDir: dir})
	if got := again.must(200, req{method: "GET", path: "/v1/keys/svc", token: boot}).json(t)["last_used_at"]; got == nil {
		t.Fatal("last_used_at was not recorded")
	}
}

func TestUsersPaginationAndSelf(t *testing.T) {
	in := start(t, startOpts{})
	boot := testBootstrap
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "` + id + `", "email": "` + id + `@example.com"}`})
	}
	var seen []string
	path := "/v1/users?limit=2"
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		page := in.must(200, req{method: "GET", path: path, token: boot}).json(t)
		for _, u := range page["users"].([]any) {
			seen = append(seen, u.(map[string]any)["id"].(string))
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			break
		}
		path = "/v1/users?limit=2&cursor=" + next
	}
	if strings.Join(seen, ",") != "a,b,c,d,e" {
		t.Fatalf("pages gave %v", seen)
	}

	tok := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "k", "owner": "user:c"}`}).json(t)["token"].(string)
	me := in.must(200, req{method: "GET", path: "/v1/users/me", token: tok}).json(t)
	if me["id"] != "c" {
		t.Fatalf("/v1/users/me = %v", me)
	}
	// A key reads its owner's account but never changes it (§11.36).
	in.must(403, req{method: "PATCH", path: "/v1/users/me", token: tok, body: `{"name": "Cee"}`})
	in.must(403, req{method: "PATCH", path: "/v1/users/c", token: tok, body: `{"password": "a long enough new password", "current_password": "wrong guess"}`})
	p := in.must(200, req{method: "PATCH", path: "/v1/users/c", token: boot, body: `{"name": "Cee"}`}).json(t)
	if p["name"] != "Cee" || p["email"] != "c@example.com" {
		t.Fatalf("patched user = %v", p)
	}

	// Deleting a user revokes every credential it owns.
	in.must(204, req{method: "DELETE", path: "/v1/users/c", token: boot})
	in.must(401, req{method: "GET", path: "/v1/me", token: tok})
	in.must(404, req{method: "GET", path: "/v1/users/c", token: boot})
}

// TestChangeOwnPassword: it needs the current password, ends one's other personal access
// tokens, and wrong guesses are throttled like failed logins.
func TestChangeOwnPassword(t *testing.T) {
	in := start(t, startOpts{})
	in.must(201, req{method: "POST", path: "/v1/users", token: testBootstrap,
		body: `{"id": "u", "email": "u@example.com", "password": "correct horse battery staple"}`})
	login := func(pw string) string {
		return in.must(200, req{method: "POST", path: "/v1/auth/login", body: `{"email": "u@example.com", "password": "` + pw + `"}`}).json(t)["access_token"].(string)
	}
	first, second := login("correct horse battery staple"), login("correct horse battery staple")
	in.must(403, req{method: "PATCH", path: "/v1/users/me", token: first, body: `{"password": "a brand new long password", "current_password": "wrong wrong wrong"}`})
	in.must(200, req{method: "PATCH", path: "/v1/users/me", token: first, body: `{"password": "a brand new long password", "current_password": "correct horse battery staple"}`})
	in.must(200, req{method: "GET", path: "/v1/me", token: first})
	in.must(401, req{method: "GET", path: "/v1/me", token: second})
	login("a brand new long password")

	for i := 0; i < 20; i++ {
		in.must(403, req{method: "PATCH", path: "/v1/users/me", token: first, body: `{"password": "another new long password", "current_password": "guess guess guess"}`})
	}
	a := in.must(429, req{method: "PATCH", path: "/v1/users/me", token: first, body: `{"password": "another new long password", "current_password": "a brand new long password"}`})
	if a.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
}

// TestMetrics: /metrics is Prometheus text for admins only, with route patterns as labels.
func TestMetrics(t *testing.T) {
	in := start(t, startOpts{})
	in.must(201, req{method: "POST", path: "/v1/users", token: testBootstrap, body: `{"id": "u", "email": "u@example.com"}`})
	tok := in.must(201, req{method: "POST", path: "/v1/keys", token: testBootstrap, body: `{"name": "k", "owner": "user:u"}`}).json(t)["token"].(string)
	in.must(401, req{method: "GET", path: "/metrics"})
	in.must(403, req{method: "GET", path: "/metrics", token: tok})
	in.must(401, req{method: "GET", path: "/v1/me", token: "lk_" + strings.Repeat("A", 33)})
	a := in.must(200, req{method: "GET", path: "/metrics", token: testBootstrap})
	body := string(a.body)
	for _, want := range []string{
		`lanyard_http_requests_total{code="201",outcome="allowed",route="POST /v1/users"} 1`,
		`lanyard_http_requests_total{code="401",outcome="refused",route="GET /v1/me"} 1`,
		`lanyard_credentials_refused_total{reason="invalid_token"} 1`,
		`lanyard_credential_cache_entries`,
		`lanyard_credential_cache_lookups_total{result="hit"}`,
		`lanyard_credential_cache_lookups_total{result="miss"}`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, tok) || strings.Contains(body, testBootstrap) {
		t.Fatal("a secret is in /metrics")
	}
}

// TestMetricsPassPromtool: /metrics, after traffic through every entry point, is what
// Prometheus's own checker accepts (promtool check metrics: format and naming lint).
func TestMetricsPassPromtool(t *testing.T) {
	promtool := testenv.Promtool(t)
	w := newGatewayWorld(t, nil)
	in := w.in
	in.must(200, req{method: "GET", path: "/orgs/acme", token: w.member})
	in.must(404, req{method: "GET", path: "/orgs/globex", token: w.member})
	in.must(200, req{method: "GET", path: "/v1/authz", token: w.member, headers: map[string]string{"X-Forwarded-Uri": "/orgs/acme"}})
	in.must(200, req{method: "POST", path: "/v1/verify", body: `{"token": "` + w.member + `"}`})
	body := in.must(200, req{method: "GET", path: "/metrics", token: testBootstrap}).body
	for _, want := range []string{
		`lanyard_decision_duration_seconds_count{entry="gateway"} 2`,
		`lanyard_decision_duration_seconds_count{entry="authz"} 1`,
		`lanyard_decision_duration_seconds_count{entry="verify"} 1`,
		`lanyard_upstream_duration_seconds_count 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestContractDetails pins answers a strict reading of the contract asks for.
func TestContractDetails(t *testing.T) {
	in := start(t, startOpts{mutate: func(c *config.Config) { c.API.Envelope = true }})
	boot := testBootstrap
	admin := func() string {
		in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "adm", "email": "adm@example.com"}`})
		return in.must(200, req{method: "POST", path: "/v1/users/adm/admin", token: boot}).json(t)["data"].(map[string]any)["token"].(string)
	}()
	tests := []struct {
		name   string
		r      req
		status int
	}{
		{"dot id in the path", req{method: "GET", path: "/v1/users/.", token: boot}, 400},
		{"dot-dot id in the path", req{method: "DELETE", path: "/v1/keys/%2E%2E", token: boot}, 400},
		{"empty segment", req{method: "GET", path: "/v1//users", token: boot}, 404},
		{"bad owner id", req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "x", "owner": "user:.."}`}, 400},
		{"bad owner id in a list", req{method: "GET", path: "/v1/keys?owner=user:a%20b", token: boot}, 400},
		{"bad principal id in a check", req{method: "POST", path: "/v1/check", token: boot, body: `{"principal": "user:..", "permission": "read", "resource": "organization/x"}`}, 400},
		{"empty chosen id", req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "", "email": "e@example.com"}`}, 400},
		{"admin token without an owner", req{method: "POST", path: "/v1/keys", token: admin, body: `{"name": "x"}`}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := in.do(tt.r)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.body)
			}
			if m := a.json(t); m["success"] != false || m["error"] == nil {
				t.Fatalf("not the envelope's error form: %s", a.body)
			}
		})
	}
	// Only the native API is wrapped.
	for _, r := range []req{{method: "GET", path: "/nope"}, {method: "POST", path: "/healthz"}, {method: "GET", path: "/metrics"}} {
		a := in.do(r)
		if _, wrapped := a.json(t)["success"]; wrapped || a.errCode(t) == "" {
			t.Fatalf("%s %s is wrapped: %s", r.method, r.path, a.body)
		}
	}
}
