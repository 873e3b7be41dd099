package server

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store"
	"github.com/lanyardhq/lanyard/internal/store/sqlite"
)

const annPassword = "correct horse battery staple 42"

// cheapParams are testConfig's password-hashing parameters as the server builds them.
func cheapParams() credential.Params {
	return credential.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
}

// countingHasher counts the hashings and verifications the server asks for.
type countingHasher struct {
	credential.Hasher
	hashes, verifies atomic.Int64
}

func newCountingHasher(p credential.Params) *countingHasher {
	return &countingHasher{Hasher: credential.NewArgon2(p)}
}

func (c *countingHasher) Hash(pw string) (string, error) {
	c.hashes.Add(1)
	return c.Hasher.Hash(pw)
}

func (c *countingHasher) Verify(pw, enc string) (bool, error) {
	c.verifies.Add(1)
	return c.Hasher.Verify(pw, enc)
}

func (c *countingHasher) counts() (hashes, verifies int64) { return c.hashes.Load(), c.verifies.Load() }

// login posts an email and password to the login endpoint under prefix ("/v1" when empty).
func (in *instance) login(email, password string, headers map[string]string) answer {
	in.t.Helper()
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	return in.do(req{method: "POST", path: "/v1/auth/login", body: string(b), headers: headers})
}

// mustLogin logs in and returns the personal access token.
func (in *instance) mustLogin(email, password string) string {
	in.t.Helper()
	a := in.login(email, password, nil)
	if a.status != 200 {
		in.t.Fatalf("login %s: status %d, body %s", email, a.status, a.body)
	}
	tok, _ := a.json(in.t)["access_token"].(string)
	if tok == "" {
		in.t.Fatalf("login answer without access_token: %s", a.body)
	}
	return tok
}

// events reads the audit events with action from the store in dir (the instance must have
// stopped, so that aggregated events are flushed).
func events(t *testing.T, dir, action string) []store.Event {
	t.Helper()
	db, err := sqlite.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	evs, err := db.ListEvents(t.Context(), store.EventFilter{Action: action}, store.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func totalCount(evs []store.Event) int {
	n := 0
	for _, e := range evs {
		n += e.Count
	}
	return n
}

// TestPersonalTokenFlowSeed001 follows seed 001's personal-access-token section with its
// envelope: log in, use the token, revoke the current one, revoke all.
func TestPersonalTokenFlowSeed001(t *testing.T) {
	in := start(t, startOpts{mutate: func(c *config.Config) { c.API.Envelope = true }})
	boot := testBootstrap
	in.must(201, req{method: "POST", path: "/v1/users", token: boot,
		body: `{"id": "ann", "email": "Ann@Example.com", "password": "` + annPassword + `"}`})

	a := in.login(" ann@example.COM ", annPassword, map[string]string{"Content-Type": "application/json"})
	if a.status != 200 {
		t.Fatalf("login: %d %s", a.status, a.body)
	}
	if cc := a.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("login answer Cache-Control %q, want no-store", cc)
	}
	var got map[string]any
	if err := json.Unmarshal(a.body, &got); err != nil {
		t.Fatal(err)
	}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, []string{"data", "message", "success"}) {
		t.Fatalf("envelope keys %v: %s", keys, a.body)
	}
	if got["success"] != true || got["message"] != "Successfully authenticated" {
		t.Fatalf("envelope = %s", a.body)
	}
	data := got["data"].(map[string]any)
	if keys := slices.Sorted(maps.Keys(data)); !slices.Equal(keys, []string{"access_token", "expires_in", "token_type"}) {
		t.Fatalf("data keys %v: %s", keys, a.body)
	}
	if data["token_type"] != "Bearer" || data["expires_in"] != float64(86400) {
		t.Fatalf("data = %v", data)
	}
	first := data["access_token"].(string)
	if p, ok := credential.Parse(first); !ok || p != "lp" {
		t.Fatalf("access token %q is not an lp_ token", first)
	}

	me := in.must(200, req{method: "GET", path: "/v1/me", token: first}).json(t)["data"].(map[string]any)
	if me["principal"] != "user:ann" || me["admin"] != false || me["credential"].(map[string]any)["type"] != "personal" {
		t.Fatalf("/v1/me with the token = %v", me)
	}

	second := in.login("ann@example.com", annPassword, nil).json(t)["data"].(map[string]any)["access_token"].(string)
	// Revoke the current token: 204, no body, and the very next request with it is refused.
	rv := in.must(204, req{method: "DELETE", path: "/v1/tokens/personal", token: first})
	if len(rv.body) != 0 {
		t.Fatalf("204 with a body: %q", rv.body)
	}
	refused := in.must(401, req{method: "GET", path: "/v1/me", token: first}).json(t)
	if refused["success"] != false || refused["error"].(map[string]any)["code"] != "invalid_token" {
		t.Fatalf("revoked token answer = %v", refused)
	}
	in.must(200, req{method: "GET", path: "/v1/me", token: second})

	// Revoke all: every personal token of the user goes, whichever one asks.
	third := in.login("ann@example.com", annPassword, nil).json(t)["data"].(map[string]any)["access_token"].(string)
	in.must(204, req{method: "DELETE", path: "/v1/tokens/personal/all", token: second})
	in.must(401, req{method: "GET", path: "/v1/me", token: second})
	in.must(401, req{method: "GET", path: "/v1/me", token: third})

	// Other credentials: "the current personal token" names nothing for them.
	key := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "k", "owner": "user:ann"}`}).json(t)["data"].(map[string]any)["token"].(string)
	in.must(400, req{method: "DELETE", path: "/v1/tokens/personal", token: key})
	in.must(400, req{method: "DELETE", path: "/v1/tokens/personal", token: boot})
	in.must(400, req{method: "DELETE", path: "/v1/tokens/personal/all", token: boot})
	// A personal key acts for its user, so it may end the user's sessions.
	fourth := in.login("ann@example.com", annPassword, nil).json(t)["data"].(map[string]any)["access_token"].(string)
	in.must(204, req{method: "DELETE", path: "/v1/tokens/personal/all", token: key})
	in.must(401, req{method: "GET", path: "/v1/me", token: fourth})
	in.must(200, req{method: "GET", path: "/v1/me", token: key})
	in.must(401, req{method: "DELETE", path: "/v1/tokens/personal"})
}

func TestPersonalTokenExpires(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	in := start(t, startOpts{clock: clock, mutate: func(c *config.Config) { c.Tokens.PersonalTTL = 2 * time.Hour }})
	in.must(201, req{method: "POST", path: "/v1/users", token: testBootstrap,
		body: `{"id": "ann", "email": "ann@example.com", "password": "` + annPassword + `"}`})
	a := in.login("ann@example.com", annPassword, nil)
	if in := a.json(t)["expires_in"]; in != float64(7200) {
		t.Fatalf("expires_in = %v, want 7200", in)
	}
	tok := a.json(t)["access_token"].(string)
	in.must(200, req{method: "GET", path: "/v1/me", token: tok})
	clock.Advance(2*time.Hour - time.Second)
	in.must(200, req{method: "GET", path: "/v1/me", token: tok})
	clock.Advance(time.Second)
	r := in.must(401, req{method: "GET", path: "/v1/me", token: tok})
	if code := r.errCode(t); code != "invalid_token" {
		t.Fatalf("expired token: code %q", code)
	}
}

// TestLoginFailuresAreIndistinguishable: a wrong password, an unknown email and a user without a
// password get the same answer and cost exactly one password verification each (DESIGN
// "Tests": timing by structure; the time itself is BenchmarkLoginTiming in internal/api).
func TestLoginFailuresAreIndistinguishable(t *testing.T) {
	h := newCountingHasher(cheapParams())
	in := start(t, startOpts{hasher: h})
	in.must(201, req{method: "POST", path: "/v1/users", token: testBootstrap,
		body: `{"id": "ann", "email": "ann@example.com", "password": "` + annPassword + `"}`})
	in.must(201, req{method: "POST", path: "/v1/users", token: testBootstrap, body: `{"id": "keys-only", "email": "keys@example.com"}`})
	hashes0, verifies0 := h.counts()

	var bodies []string
	for i, email := range []string{"ann@example.com", "nobody@example.com", "keys@example.com"} {
		a := in.login(email, "not the password at all", nil)
		if a.status != 401 {
			t.Fatalf("%s: status %d", email, a.status)
		}
		if code := a.errCode(t); code != "invalid_credentials" {
			t.Fatalf("%s: code %q", email, code)
		}
		if got := a.header.Get("WWW-Authenticate"); got != `Bearer realm="lanyard"` {
			t.Fatalf("%s: WWW-Authenticate %q", email, got)
		}
		if a.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: no Cache-Control: no-store", email)
		}
		bodies = append(bodies, string(a.body))
		if _, v := h.counts(); v-verifies0 != int64(i+1) {
			t.Fatalf("after %d failed logins, %d verifications, want %d", i+1, v-verifies0, i+1)
		}
	}
	if bodies[0] != bodies[1] || bodies[1] != bodies[2] {
		t.Fatalf("failed logins answer differently:\n%s", strings.Join(bodies, ""))
	}

	// Malformed requests are refused before any hashing.
	for _, body := range []string{`{"email": "ann@example.com"}`, `{"password": "x"}`, `{"email": 1}`, `not json`,
		`{"email": "` + strings.Repeat("a", 300) + `@example.com", "password": "x"}`} {
		in.must(400, req{method: "POST", path: "/v1/auth/login", body: body})
	}
	if _, v := h.counts(); v-verifies0 != 3 {
		t.Fatalf("malformed logins ran verifications: %d", v-verifies0-3)
	}

	in.mustLogin("ann@example.com", annPassword)
	hashes, verifies := h.counts()
	if verifies-verifies0 != 4 || hashes != hashes0 {
		t.Fatalf("a successful login: %d verifications and %d hashings, want 1 and 0 (no rehash with current parameters)",
			verifies-verifies0-3, hashes-hashes0)
	}
}

// TestLoginRehashesOldParameters: a hash made with other parameters than the configured ones is
// replaced at the next successful login, once.
func TestLoginRehashesOldParameters(t *testing.T) {
	dir := t.TempDir()
	first := start(t, startOpts{dataDir: dir})
	first.must(201, req{method: "POST", path: "/v1/users", token: testBootstrap,
		body: `{"id": "ann", "email": "ann@example.com", "password": "` + annPassword + `"}`})
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}

	stronger := cheapParams()
	stronger.MemoryKiB = 128
	h := newCountingHasher(stronger)
	second := start(t, startOpts{dataDir: dir, hasher: h, mutate: func(c *config.Config) { c.Passwords.MemoryKiB = 128 }})
	second.mustLogin("ann@example.com", annPassword)
	if hashes, _ := h.counts(); hashes != 1 {
		t.Fatalf("%d hashings at the first login, want 1 (the rehash)", hashes)
	}
	second.mustLogin("ann@example.com", annPassword)
	if hashes, _ := h.counts(); hashes != 1 {
		t.Fatalf("%d hashings after the second login, want still 1", hashes)
	}
	second.must(401, req{method: "POST", path: "/v1/auth/login", body: `{"email": "ann@example.com", "password": "wrong wrong wrong wrong"}`})
	if err := second.stop(); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u, err := db.GetUserByEmail(t.Context(), "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if credential.NeedsRehash(u.PasswordHash, stronger) {
		t.Fatalf("stored hash %q does not use the new parameters", u.PasswordHash[:30])
	}
}

func TestLoginThrottling(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	in := start(t, startOpts{clock: clock, dataDir: dir})
	for _, u := range []string{"ann", "bob"} {
		in.must(201, req{method: "POST", path: "/v1/users", token: testBootstrap,
			body: `{"id": "` + u + `", "email": "` + u + `@example.com", "password": "` + annPassword + `"}`})
	}
	wrong := "not the password at all"
	variants := []string{"ann@example.com", "ANN@example.com", " Ann@Example.Com", "ann@EXAMPLE.com "}

	// 20 failures under any spelling of the email count for one account; the 21st attempt is
	// refused whatever the password.
	for i := range 20 {
		if a := in.login(variants[i%len(variants)], wrong, nil); a.status != 401 {
			t.Fatalf("failure %d: status %d", i+1, a.status)
		}
	}
	a := in.login("ann@example.com", annPassword, nil)
	if a.status != 429 || a.errCode(t) != "rate_limited" {
		t.Fatalf("21st attempt: %d %s", a.status, a.body)
	}
	if ra := a.header.Get("Retry-After"); ra != "900" {
		t.Fatalf("Retry-After %q, want 900", ra)
	}
	clock.Advance(10 * time.Minute)
	if ra := in.login("Ann@example.com", annPassword, nil).header.Get("Retry-After"); ra != "300" {
		t.Fatalf("10 minutes on, Retry-After %q, want 300", ra)
	}
	// Other accounts are unaffected.
	in.mustLogin("bob@example.com", annPassword)
	clock.Advance(5 * time.Minute)
	ok := in.login("ann@example.com", annPassword, nil)
	if ok.status != 200 {
		t.Fatalf("after the lockout: %d %s", ok.status, ok.body)
	}
	// A success never says how close throttling was.
	for _, h := range []string{"Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit"} {
		if v := ok.header.Get(h); v != "" {
			t.Errorf("successful login carries %s: %q", h, v)
		}
	}

	// A success resets the count: 19 failures, a success, then 20 more failures are all 401.
	for range 19 {
		in.must(401, req{method: "POST", path: "/v1/auth/login", body: `{"email": "bob@example.com", "password": "` + wrong + `"}`})
	}
	in.mustLogin("BOB@example.com", annPassword)
	for range 20 {
		in.must(401, req{method: "POST", path: "/v1/auth/login", body: `{"email": "bob@example.com", "password": "` + wrong + `"}`})
	}
	in.must(429, req{method: "POST", path: "/v1/auth/login", body: `{"email": "bob@example.com", "password": "` + annPassword + `"}`})

	// An unknown email is throttled exactly like a real one.
	for range 20 {
		in.must(401, req{method: "POST", path: "/v1/auth/login", body: `{"email": "ghost@example.com", "password": "` + wrong + `"}`})
	}
	in.must(429, req{method: "POST", path: "/v1/auth/login", body: `{"email": "Ghost@example.com", "password": "` + wrong + `"}`})

	if err := in.stop(); err != nil {
		t.Fatal(err)
	}
	failed := events(t, dir, "login.failed")
	if n := totalCount(failed); n != 20+19+20+20 {
		t.Fatalf("%d failed logins audited, want %d", n, 20+19+20+20)
	}
	throttled := events(t, dir, "login.throttled")
	if n := totalCount(throttled); n != 4 {
		t.Fatalf("%d throttled logins audited, want 4", n)
	}
	for _, e := range append(failed, throttled...) {
		if s := e.Target + " " + e.Detail; strings.Contains(s, "example.com") || strings.Contains(s, wrong) || strings.Contains(s, annPassword) {
			t.Fatalf("audit event names an email or a password: %+v", e)
		}
		if !strings.HasPrefix(e.Target, "user:") && !strings.HasPrefix(e.Target, "email:hmac:") {
			t.Fatalf("audit target %q", e.Target)
		}
	}
	if n := totalCount(events(t, dir, "user.login")); n != 3 {
		t.Fatalf("%d successful logins audited, want 3", n)
	}
}

// TestLoginAddressLimit: failures from one client address count across accounts; the address
// is the one a trusted proxy forwards.
func TestLoginAddressLimit(t *testing.T) {
	in := start(t, startOpts{mutate: func(c *config.Config) {
		c.Login.IPMaxFailures = 30
		c.Server.TrustedProxies = []string{"127.0.0.1"}
	}})
	in.must(201, req{method: "POST", path: "/v1/users", token: testBootstrap,
		body: `{"id": "ann", "email": "ann@example.com", "password": "` + annPassword + `"}`})
	from := func(addr string) map[string]string { return map[string]string{"X-Forwarded-For": addr} }
	for i := range 30 {
		// 15 per account: neither account reaches its own limit.
		email := fmt.Sprintf("guess%d@example.com", i%2)
		if a := in.login(email, "not the password at all", from("198.51.100.7")); a.status != 401 {
			t.Fatalf("failure %d: %d", i+1, a.status)
		}
	}
	a := in.login("ann@example.com", annPassword, from("198.51.100.7"))
	if a.status != 429 || a.header.Get("Retry-After") == "" {
		t.Fatalf("31st attempt from the address: %d, Retry-After %q", a.status, a.header.Get("Retry-After"))
	}
	if a := in.login("ann@example.com", annPassword, from("198.51.100.8")); a.status != 200 {
		t.Fatalf("another address: %d %s", a.status, a.body)
	}
}

// gateHasher blocks every verification until release is closed.
type gateHasher struct {
	credential.Hasher
	entered chan struct{}
	release chan struct{}
}

func (g *gateHasher) Verify(pw, enc string) (bool, error) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.release
	return g.Hasher.Verify(pw, enc)
}

// TestPasswordHashingIsBounded: with one hashing slot taken, a login waits at most the queue
// timeout for it, then gets 429; so does every other password hashing of the API.
func TestPasswordHashingIsBounded(t *testing.T) {
	g := &gateHasher{Hasher: credential.NewArgon2(cheapParams()), entered: make(chan struct{}, 1), release: make(chan struct{})}
	in := start(t, startOpts{hasher: g, mutate: func(c *config.Config) {
		c.Passwords.MaxConcurrent = 1
		c.Passwords.QueueTimeout = 20 * time.Millisecond
	}})
	in.must(201, req{method: "POST", path: "/v1/users", token: testBootstrap,
		body: `{"id": "ann", "email": "ann@example.com", "password": "` + annPassword + `"}`})

	var wg sync.WaitGroup
	var firstStatus int
	wg.Add(1)
	go func() {
		defer wg.Done()
		firstStatus = in.login("ann@example.com", annPassword, nil).status
	}()
	<-g.entered // the only slot is taken

	a := in.login("ann@example.com", annPassword, nil)
	if a.status != 429 || a.errCode(t) != "rate_limited" || a.header.Get("Retry-After") == "" {
		t.Fatalf("login while the slot is taken: %d, Retry-After %q, %s", a.status, a.header.Get("Retry-After"), a.body)
	}
	in.must(429, req{method: "POST", path: "/v1/users", token: testBootstrap,
		body: `{"id": "bob", "email": "bob@example.com", "password": "` + annPassword + `"}`})
	in.must(429, req{method: "PATCH", path: "/v1/users/ann", token: testBootstrap, body: `{"password": "another long passphrase 99"}`})

	close(g.release)
	wg.Wait()
	if firstStatus != 200 {
		t.Fatalf("the login holding the slot: %d", firstStatus)
	}
	in.mustLogin("ann@example.com", annPassword)
	// Nothing a refused request asked for happened.
	in.must(404, req{method: "GET", path: "/v1/users/bob", token: testBootstrap})
}
