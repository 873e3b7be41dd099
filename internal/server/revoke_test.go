package server

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store/sqlite"
)

// TestRevokeLeakedTokens: whoever holds a token revokes it without a credential; the answer
// is the same 200 {} for live, unknown and garbage tokens; only a malformed body is refused.
func TestRevokeLeakedTokens(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	in := start(t, startOpts{clock: clock, dataDir: dir})
	boot := testBootstrap
	in.must(201, req{method: "POST", path: "/v1/users", token: boot,
		body: `{"id": "ann", "email": "ann@example.com", "password": "` + annPassword + `"}`})
	newKey := func(id, format string) string {
		k := in.must(201, req{method: "POST", path: "/v1/keys", token: boot,
			body: `{"name": "k", "owner": "user:ann", "id": "` + id + `", "format": "` + format + `"}`}).json(t)
		if format == "key_secret" {
			return k["secret"].(string)
		}
		return k["token"].(string)
	}
	tokenKey := newKey("k1", "token")
	pairSecret := newKey("k2", "key_secret")
	pat := in.mustLogin("ann@example.com", annPassword)
	basic := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("k2:"+pairSecret))}
	in.must(200, req{method: "GET", path: "/v1/me", token: tokenKey}) // cached now
	in.must(200, req{method: "GET", path: "/v1/me", headers: basic})
	in.must(200, req{method: "GET", path: "/v1/me", token: pat})

	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	revoke := func(body string, headers map[string]string) {
		t.Helper()
		a := in.must(200, req{method: "POST", path: "/v1/tokens/revoke", body: body, headers: headers})
		if strings.TrimSpace(string(a.body)) != "{}" {
			t.Fatalf("revoke answer %q, want {}", a.body)
		}
	}

	// RFC 7009 form, with the hint it may carry.
	revoke("token="+url.QueryEscape(tokenKey)+"&token_type_hint=access_token", form)
	in.must(401, req{method: "GET", path: "/v1/me", token: tokenKey})
	in.must(404, req{method: "GET", path: "/v1/keys/k1", token: boot})

	// JSON, even when the Content-Type says form (what curl -d sends); a key's secret revokes
	// the key.
	revoke(`{"token": "`+pairSecret+`", "token_type_hint": "refresh_token"}`, form)
	in.must(401, req{method: "GET", path: "/v1/me", headers: basic})

	// GitHub secret scanning's alert: an array of matches with fields lanyard ignores.
	revoke(`[{"token": "`+pat+`", "type": "lanyard_personal_access_token", "url": "https://github.com/o/r/blob/x/f", "source": "content"}]`,
		map[string]string{"Content-Type": "application/json", "Github-Public-Key-Identifier": "x", "Github-Public-Key-Signature": "y"})
	in.must(401, req{method: "GET", path: "/v1/me", token: pat})

	// Whatever the string, the answer is the same and nothing is written.
	unknown, _ := credential.Generate("lk")
	foreign, _ := credential.Generate("ghp")
	for _, tok := range []string{unknown, foreign, unknown[:len(unknown)-1] + flip(unknown[len(unknown)-1]), "hello", tokenKey,
		strings.Repeat("x", 40), strings.Repeat("y", 8<<10)} {
		revoke("token="+url.QueryEscape(tok), nil)
		revoke(`{"token": "`+tok+`"}`, nil)
	}
	// No credential is needed, and a bad one is not looked at.
	revoke(`{"token": "`+unknown+`"}`, map[string]string{"Authorization": "Bearer nonsense"})

	// Only a body that names no token, or is not JSON or a form, is refused.
	for _, body := range []string{``, `{}`, `[]`, `{"token": ""}`, `{"token": 5}`, `{"token": "a"} x`, `{"token": `,
		`[{"token": "a"}, {}]`, `%zz`, `token=a&token=b`, `tok=a`, `[` + strings.Repeat(`{"token": "a"},`, 100) + `{"token": "a"}]`} {
		a := in.must(400, req{method: "POST", path: "/v1/tokens/revoke", body: body})
		if code := a.errCode(t); code != "invalid_request" {
			t.Fatalf("body %q: code %q", body, code)
		}
	}

	// An admin token revokes that admin token (and nothing else of the user's).
	adminTok := in.must(200, req{method: "POST", path: "/v1/users/ann/admin", token: boot}).json(t)["token"].(string)
	in.must(200, req{method: "GET", path: "/v1/users", token: adminTok})
	patAfter := in.mustLogin("ann@example.com", annPassword)
	revoke("token="+adminTok, nil)
	in.must(401, req{method: "GET", path: "/v1/users", token: adminTok})
	in.must(200, req{method: "GET", path: "/v1/me", token: patAfter})

	// An old secret whose reissue grace has ended works no more by itself: reporting it must
	// not take down the key's current secret.
	old := newKey("k3", "token")
	current := in.must(200, req{method: "POST", path: "/v1/keys/k3/reissue", token: boot, body: `{"grace_seconds": 60}`}).json(t)["token"].(string)
	clock.Advance(61 * time.Second)
	in.must(401, req{method: "GET", path: "/v1/me", token: old})
	revoke(`{"token": "`+old+`"}`, nil)
	in.must(200, req{method: "GET", path: "/v1/me", token: current})
	// A secret still in its grace works, so reporting it revokes the key.
	old = current
	current = in.must(200, req{method: "POST", path: "/v1/keys/k3/reissue", token: boot, body: `{"grace_seconds": 600}`}).json(t)["token"].(string)
	revoke(`{"token": "`+old+`"}`, nil)
	in.must(401, req{method: "GET", path: "/v1/me", token: current})
	in.must(404, req{method: "GET", path: "/v1/keys/k3", token: boot})

	if err := in.stop(); err != nil {
		t.Fatal(err)
	}
	evs := events(t, dir, "token.revoke_leaked")
	var targets []string
	for _, e := range evs {
		if e.Actor != "" || e.Credential != "" || e.IP != "127.0.0.1" || e.Result != "success" {
			t.Errorf("revocation event %+v: want anonymous, from 127.0.0.1", e)
		}
		targets = append(targets, e.Target)
	}
	slices.Sort(targets)
	if len(targets) != 5 || !strings.HasPrefix(targets[0], "admin:") || targets[1] != "key:k1" || targets[2] != "key:k2" ||
		targets[3] != "key:k3" || !strings.HasPrefix(targets[4], "personal:") {
		t.Fatalf("revocations audited: %v, want the admin token, k1, k2, k3 and the personal token", targets)
	}
}

// TestRevokeLeakedBootstrapToken: a leaked bootstrap token can be revoked like any other; it
// stays revoked across restarts, even with LANYARD_BOOTSTRAP_TOKEN still holding it, and
// `lanyard bootstrap reset` is the recovery (a start with the variable set would replace the
// token reset made: TestBootstrapEnvReplacesAnotherToken).
func TestRevokeLeakedBootstrapToken(t *testing.T) {
	dir := t.TempDir()
	in := start(t, startOpts{dataDir: dir})
	in.must(200, req{method: "POST", path: "/v1/tokens/revoke", body: "token=" + testBootstrap})
	in.must(401, req{method: "GET", path: "/v1/me", token: testBootstrap})
	if err := in.stop(); err != nil {
		t.Fatal(err)
	}
	// The same LANYARD_BOOTSTRAP_TOKEN on the next start does not bring it back.
	var logs syncBuffer
	again := start(t, startOpts{dataDir: dir, logs: &logs})
	again.must(401, req{method: "GET", path: "/v1/me", token: testBootstrap})
	if !strings.Contains(logs.String(), BootstrapEnv+" is not used") {
		t.Errorf("the start did not say it left the revoked token revoked: %q", logs.String())
	}
	if err := again.stop(); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := ResetBootstrap(t.Context(), db, testConfig(dir), time.Now())
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	third := start(t, startOpts{dataDir: dir, env: map[string]string{}})
	third.must(200, req{method: "GET", path: "/v1/me", token: fresh})
	third.must(401, req{method: "GET", path: "/v1/me", token: testBootstrap})
	if err := third.stop(); err != nil {
		t.Fatal(err)
	}
	if evs := events(t, dir, "token.revoke_leaked"); len(evs) != 1 || evs[0].Target != "bootstrap" {
		t.Fatalf("revocation events %+v", evs)
	}
}
