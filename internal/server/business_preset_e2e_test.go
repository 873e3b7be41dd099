package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/config"
)

// The event staffing app's flow (examples/business-keys): business API keys that belong to a
// business, personal access tokens from an email and password login that last 24 hours, list /
// revoke one / revoke all, and requests limited per business by its plan (free 60, basic 120,
// professional 300, enterprise 1000 a minute) with X-RateLimit-* on every answer, the answers
// of lanyard's own API in the {"success", "data", "message"} envelope.

// startBusinessKeys runs examples/business-keys/lanyard.yaml as startPreset does, on a clock the
// test moves: it starts on a minute's boundary, so every window of the plans is a whole minute
// away from its end (X-RateLimit-Reset 60) until the test advances it.
func startBusinessKeys(t *testing.T) (*instance, *upstream, *fakeClock) {
	t.Helper()
	up := newUpstream(t)
	cfg, err := config.Load(presetFile("business-keys"), nil, config.Overrides{Upstream: &up.URL})
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)}
	in := start(t, startOpts{clock: clock, mutate: func(c *config.Config) {
		server, passwords := c.Server, c.Passwords
		*c = *cfg
		c.Server, c.Passwords = server, passwords
	}})
	return in, up, clock
}

// enveloped fails the test unless a is an enveloped success — exactly "success": true, "data"
// and "message" (CONTRACT §11.7, §11.49) — and returns its data.
func enveloped(t *testing.T, a answer) map[string]any {
	t.Helper()
	m := a.json(t)
	if len(m) != 3 || m["success"] != true || m["message"] == nil {
		t.Fatalf("not an enveloped success: %s", a.body)
	}
	if _, ok := m["message"].(string); !ok {
		t.Fatalf("the envelope's message is not a string: %s", a.body)
	}
	d, ok := m["data"].(map[string]any)
	if !ok {
		t.Fatalf("the envelope's data is not an object: %s", a.body)
	}
	return d
}

// envelopedError fails the test unless a is the envelope's error form with status and code:
// {"success": false, "data": null, "message": <error.message>, "error": {"code", "message"}}.
func envelopedError(t *testing.T, a answer, status int, code string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d %s; body %s", a.status, status, code, a.body)
	}
	m := a.json(t)
	e, _ := m["error"].(map[string]any)
	if len(m) != 4 || m["success"] != false || m["data"] != nil || e == nil || e["code"] != code ||
		e["message"] == "" || m["message"] != e["message"] {
		t.Fatalf("not the envelope's error form with %s: %s", code, a.body)
	}
}

// limited fails the test unless a carries the rate-limit headers of a one-minute window with
// limit and remaining, reset seconds from its end.
func limited(t *testing.T, a answer, limit, remaining, reset int) {
	t.Helper()
	for name, want := range map[string]int{"X-RateLimit-Limit": limit, "X-RateLimit-Remaining": remaining, "X-RateLimit-Reset": reset} {
		if got := a.header.Get(name); got != strconv.Itoa(want) {
			t.Fatalf("%s = %q, want %d (status %d)", name, got, want, a.status)
		}
	}
	if a.status == http.StatusTooManyRequests {
		if got := a.header.Get("Retry-After"); got != strconv.Itoa(reset) {
			t.Fatalf("Retry-After = %q, want %d", got, reset)
		}
	} else if a.header.Get("Retry-After") != "" {
		t.Fatalf("Retry-After on a %d", a.status)
	}
}

// TestPresetBusinessKeys follows the document step by step: an admin creates businesses with a
// plan and their staff; a staff member logs in for a personal access token, lists, creates,
// revokes one and revokes all of the business's API keys; every request to the API counts in
// the business's bucket, which its keys and its people share; exactly the plan's limit passes
// in a minute, then 429 with Retry-After, until the next minute.
func TestPresetBusinessKeys(t *testing.T) {
	in, up, clock := startBusinessKeys(t)
	boot := testBootstrap

	// An admin creates the businesses: Acme on the default plan (free), Globex on basic. A
	// plan the config does not have is refused.
	acme := enveloped(t, in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "business", "id": "acme", "name": "Acme Events"}`}))
	if acme["plan"] != nil || acme["type"] != "business" || acme["id"] != "acme" {
		t.Fatalf("acme = %v", acme)
	}
	globex := enveloped(t, in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "business", "id": "globex", "plan": "basic"}`}))
	if globex["plan"] != "basic" {
		t.Fatalf("globex = %v", globex)
	}
	envelopedError(t, in.do(req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "business", "id": "initech", "plan": "gold"}`}), 400, "invalid_request")

	// Their staff: Sam manages Acme's keys, Gil Globex's; Obi may only read Acme's data.
	for _, u := range []struct{ id, business, role string }{{"sam", "acme", "admin"}, {"gil", "globex", "admin"}, {"obi", "acme", "observer"}} {
		in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "` + u.id + `", "email": "` + u.id + `@example.com", "password": "a long passphrase for ` + u.id + `"}`})
		in.must(200, req{method: "PUT", path: "/v1/resources/business/" + u.business + "/grants/user:" + u.id, token: boot, body: `{"role": "` + u.role + `"}`})
	}

	// Obtaining a personal access token: POST /v1/auth/login, the answer exactly as the
	// document shows it.
	login := in.must(200, req{method: "POST", path: "/v1/auth/login", headers: map[string]string{"Content-Type": "application/json"},
		body: `{"email": "sam@example.com", "password": "a long passphrase for sam"}`})
	if login.header.Get("Cache-Control") != "no-store" {
		t.Error("the login answer is not Cache-Control: no-store")
	}
	if m := login.json(t); m["message"] != "Successfully authenticated" {
		t.Errorf("login message = %v", m["message"])
	}
	tok := enveloped(t, login)
	pat, _ := tok["access_token"].(string)
	if len(tok) != 3 || !strings.HasPrefix(pat, "lp_") || tok["token_type"] != "Bearer" || tok["expires_in"] != float64(86400) {
		t.Fatalf("login data = %v", tok)
	}
	envelopedError(t, in.do(req{method: "POST", path: "/v1/auth/login", body: `{"email": "sam@example.com", "password": "not the passphrase"}`}), 401, "invalid_credentials")
	loginAs := func(id string) string {
		t.Helper()
		return enveloped(t, in.must(200, req{method: "POST", path: "/v1/auth/login", body: `{"email": "` + id + `@example.com", "password": "a long passphrase for ` + id + `"}`}))["access_token"].(string)
	}
	gil, obi := loginAs("gil"), loginAs("obi")

	// Only an admin sets a plan: a business's own staff cannot upgrade it, nor give a key one.
	envelopedError(t, in.do(req{method: "PATCH", path: "/v1/resources/business/acme", token: pat, body: `{"plan": "enterprise"}`}), 403, "forbidden")
	envelopedError(t, in.do(req{method: "POST", path: "/v1/keys", token: pat, body: `{"name": "x", "resource": "business/acme", "role": "member", "plan": "enterprise"}`}), 403, "forbidden")

	// Using personal access tokens: /v1/objects/… goes to the API as the person, on their
	// business, and counts in its bucket (free: 60 a minute).
	spent := 0 // requests of Acme's bucket in this minute
	call := func(token string) answer {
		t.Helper()
		return in.do(req{method: "GET", path: "/v1/objects/events", token: token})
	}
	a := call(pat)
	spent++
	proxied(t, up, a, map[string]string{"X-Lanyard-Principal": "user:sam", "X-Lanyard-Key-Id": "", "X-Lanyard-Resource": "business/acme", "X-Lanyard-Role": "admin"})
	limited(t, a, 60, 60-spent, 60)
	if up.last(t).Path != "/v1/objects/events" {
		t.Fatalf("the upstream saw %s", up.last(t).Path)
	}
	a = call(gil)
	proxied(t, up, a, map[string]string{"X-Lanyard-Principal": "user:gil", "X-Lanyard-Resource": "business/globex"})
	limited(t, a, 120, 119, 60)

	// Listing business API keys: none yet.
	if keys := enveloped(t, in.must(200, req{method: "GET", path: "/v1/tokens/business", token: pat}))["keys"].([]any); len(keys) != 0 {
		t.Fatalf("keys = %v", keys)
	}
	// Sam creates three for Acme's integrations, Gil one for Globex. The token is in the
	// creating answer and nowhere else.
	newKey := func(token, business, name string) (id, secret string) {
		t.Helper()
		created := in.must(201, req{method: "POST", path: "/v1/keys", token: token, body: `{"name": "` + name + `", "resource": "business/` + business + `", "role": "member"}`})
		if created.header.Get("Cache-Control") != "no-store" {
			t.Error("the answer with the key is not Cache-Control: no-store")
		}
		k := enveloped(t, created)
		if k["owner"] != nil || k["resource"] != "business/"+business || k["role"] != "member" || k["plan"] != nil || !strings.HasPrefix(k["token"].(string), "lk_") {
			t.Fatalf("business key = %v", k)
		}
		return k["id"].(string), k["token"].(string)
	}
	ticketsID, tickets := newKey(pat, "acme", "ticketing")
	payrollID, payroll := newKey(pat, "acme", "payroll")
	_, kiosk := newKey(pat, "acme", "kiosk")
	globexID, globexKey := newKey(gil, "globex", "scheduling")
	// Obi may read Acme's data but not manage its keys.
	envelopedError(t, in.do(req{method: "POST", path: "/v1/keys", token: obi, body: `{"name": "mine", "resource": "business/acme", "role": "observer"}`}), 403, "forbidden")

	// Using business API keys: each reaches the API as itself, in Acme's one bucket.
	a = call(tickets)
	spent++
	proxied(t, up, a, map[string]string{"X-Lanyard-Principal": "key:" + ticketsID, "X-Lanyard-Key-Id": ticketsID, "X-Lanyard-Resource": "business/acme", "X-Lanyard-Role": "member"})
	limited(t, a, 60, 60-spent, 60)
	a = in.do(req{method: "POST", path: "/v1/objects/events", token: payroll, body: `{"name": "Summer gala"}`})
	spent++
	proxied(t, up, a, map[string]string{"X-Lanyard-Key-Id": payrollID})
	limited(t, a, 60, 60-spent, 60)
	a = call(obi)
	spent++
	proxied(t, up, a, map[string]string{"X-Lanyard-Principal": "user:obi", "X-Lanyard-Role": "observer"})
	limited(t, a, 60, 60-spent, 60)
	// A refusal by another layer spends nothing: Obi may not write, nobody without a
	// credential gets in.
	before := up.count()
	refused(t, up, before, in.do(req{method: "POST", path: "/v1/objects/events", token: obi, body: `{}`}), 403, "forbidden")
	envelopedError(t, in.do(req{method: "GET", path: "/v1/objects/events"}), 401, "unauthenticated")

	// The list: Acme's three keys, never a token, never Globex's.
	list := in.must(200, req{method: "GET", path: "/v1/tokens/business", token: pat})
	keys := enveloped(t, list)["keys"].([]any)
	if len(keys) != 3 || strings.Contains(string(list.body), globexID) {
		t.Fatalf("Acme's business keys: %s", list.body)
	}
	for _, tok := range []string{tickets, payroll, kiosk} {
		if strings.Contains(string(list.body), tok) {
			t.Fatal("the list shows a key's token")
		}
	}
	for _, k := range keys {
		km := k.(map[string]any)
		if km["token"] != nil || km["resource"] != "business/acme" || km["owner"] != nil {
			t.Fatalf("listed key = %v", km)
		}
	}

	// Revoking a business API key: that one stops at once, the others go on.
	if a := in.must(204, req{method: "DELETE", path: "/v1/tokens/business/" + ticketsID, token: pat}); len(a.body) != 0 {
		t.Fatalf("a 204 with a body: %q", a.body)
	}
	before = up.count()
	refused(t, up, before, call(tickets), 401, "invalid_token")
	envelopedError(t, call(tickets), 401, "invalid_token")
	a = call(payroll)
	spent++
	proxied(t, up, a, nil)
	limited(t, a, 60, 60-spent, 60)
	// Another business's key is not Sam's to see or revoke.
	envelopedError(t, in.do(req{method: "DELETE", path: "/v1/tokens/business/" + globexID, token: pat}), 404, "not_found")

	// Revoking all business API keys: every one of Acme's, none of Globex's.
	in.must(204, req{method: "DELETE", path: "/v1/tokens/business", token: pat})
	before = up.count()
	refused(t, up, before, call(payroll), 401, "invalid_token")
	refused(t, up, before, call(kiosk), 401, "invalid_token")
	if keys := enveloped(t, in.must(200, req{method: "GET", path: "/v1/tokens/business", token: pat}))["keys"].([]any); len(keys) != 0 {
		t.Fatalf("Acme has keys left: %v", keys)
	}
	if keys := enveloped(t, in.must(200, req{method: "GET", path: "/v1/tokens/business", token: gil}))["keys"].([]any); len(keys) != 1 {
		t.Fatalf("Globex lost its key: %v", keys)
	}
	a = call(globexKey)
	proxied(t, up, a, map[string]string{"X-Lanyard-Resource": "business/globex"})
	limited(t, a, 120, 118, 60)

	// Rate limiting: exactly the plan's 60 requests pass in a minute, whichever of the
	// business's credentials sends them, and every answer says where the window stands.
	_, integration := newKey(pat, "acme", "integration")
	for i := 0; spent < 60; i++ {
		token := []string{integration, pat, obi}[i%3]
		a := call(token)
		spent++
		proxied(t, up, a, nil)
		limited(t, a, 60, 60-spent, 60)
	}
	before = up.count()
	for _, token := range []string{integration, pat, obi} {
		a := call(token)
		envelopedError(t, a, 429, "rate_limited")
		limited(t, a, 60, 0, 60)
	}
	if up.count() != before {
		t.Fatal("a request over the limit reached the upstream")
	}
	// Globex's bucket is its own: 2 of its 120 spent before this one.
	a = call(gil)
	proxied(t, up, a, nil)
	limited(t, a, 120, 117, 60)

	// GET /v1/limits shows where a key stands without spending anything.
	lim := enveloped(t, in.must(200, req{method: "GET", path: "/v1/limits", token: integration}))
	if want := `{"credits":null,"plan":"free","windows":[{"limit":60,"remaining":0,"reset":60,"window":60}]}`; canonical(t, lim) != want {
		t.Fatalf("/v1/limits = %s, want %s", canonical(t, lim), want)
	}

	// Half a minute later the window is still spent, and says so.
	clock.Advance(30 * time.Second)
	a = call(integration)
	envelopedError(t, a, 429, "rate_limited")
	limited(t, a, 60, 0, 30)

	// The next minute frees the window: 60 more, then 429 again.
	clock.Advance(30 * time.Second)
	for i := 1; i <= 60; i++ {
		a := call([]string{pat, integration}[i%2])
		proxied(t, up, a, nil)
		limited(t, a, 60, 60-i, 60)
	}
	a = call(pat)
	envelopedError(t, a, 429, "rate_limited")
	limited(t, a, 60, 0, 60)

	// A business on basic gets 120 a minute (Globex has spent nothing in this one).
	for i := 1; i <= 120; i++ {
		a := call([]string{gil, globexKey}[i%2])
		proxied(t, up, a, map[string]string{"X-Lanyard-Resource": "business/globex"})
		limited(t, a, 120, 120-i, 60)
	}
	a = call(globexKey)
	envelopedError(t, a, 429, "rate_limited")
	limited(t, a, 120, 0, 60)

	// An admin moves Acme to professional: the next request already counts against 300, in
	// the same bucket (61 requests were made this minute, 60 of them spent).
	if p := enveloped(t, in.must(200, req{method: "PATCH", path: "/v1/resources/business/acme", token: boot, body: `{"plan": "professional"}`}))["plan"]; p != "professional" {
		t.Fatalf("plan = %v", p)
	}
	a = call(integration)
	proxied(t, up, a, nil)
	limited(t, a, 300, 239, 60)
	// And enterprise is 1000.
	in.must(200, req{method: "PATCH", path: "/v1/resources/business/acme", token: boot, body: `{"plan": "enterprise"}`})
	a = call(pat)
	proxied(t, up, a, nil)
	limited(t, a, 1000, 938, 60)
	// Back to the default plan: null is free.
	if p := enveloped(t, in.must(200, req{method: "PATCH", path: "/v1/resources/business/acme", token: boot, body: `{"plan": null}`}))["plan"]; p != nil {
		t.Fatalf("plan = %v", p)
	}
	a = call(integration)
	envelopedError(t, a, 429, "rate_limited")
	limited(t, a, 60, 0, 60)

	// Revoking personal access tokens: the current one, then all of one's account.
	sam2 := loginAs("sam")
	in.must(204, req{method: "DELETE", path: "/v1/tokens/personal", token: pat})
	envelopedError(t, in.do(req{method: "GET", path: "/v1/tokens/business", token: pat}), 401, "invalid_token")
	clock.Advance(time.Minute)
	proxied(t, up, call(sam2), nil)
	sam3 := loginAs("sam")
	in.must(204, req{method: "DELETE", path: "/v1/tokens/personal/all", token: sam3})
	before = up.count()
	refused(t, up, before, call(sam2), 401, "invalid_token")
	refused(t, up, before, call(sam3), 401, "invalid_token")

	// Personal access tokens expire after 24 hours; business keys do not.
	clock.Advance(24 * time.Hour)
	refused(t, up, before, call(gil), 401, "invalid_token")
	proxied(t, up, call(globexKey), nil)
}

// canonical is v as compact JSON with sorted keys.
func canonical(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPresetBusinessKeysConcurrent: requests sent at once by many clients of one business on
// the free plan — its business keys and a staff member's personal access token together — pass
// exactly 60 times in a minute; every answer carries the window, and the 60 that passed saw
// each remaining count from 59 to 0 exactly once.
func TestPresetBusinessKeysConcurrent(t *testing.T) {
	in, up, _ := startBusinessKeys(t)
	boot := testBootstrap
	in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "business", "id": "acme"}`})
	in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "sam", "email": "sam@example.com", "password": "a long passphrase for sam"}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/business/acme/grants/user:sam", token: boot, body: `{"role": "admin"}`})
	pat := enveloped(t, in.must(200, req{method: "POST", path: "/v1/auth/login", body: `{"email": "sam@example.com", "password": "a long passphrase for sam"}`}))["access_token"].(string)
	tokens := []string{pat}
	for i := 0; i < 3; i++ {
		k := enveloped(t, in.must(201, req{method: "POST", path: "/v1/keys", token: pat, body: `{"name": "integration", "resource": "business/acme", "role": "member"}`}))
		tokens = append(tokens, k["token"].(string))
	}

	const clients, each = 8, 25
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	// Closed before lanyard stops: a connection dialled but never used would hold its
	// shutdown for seconds.
	defer client.CloseIdleConnections()
	type result struct {
		status                  int
		limit, remaining, reset string
		retryAfter              string
	}
	results := make(chan result, clients*each)
	errs := make(chan error, clients*each)
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(token string) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				r, _ := http.NewRequest("GET", in.base+"/v1/objects/events", nil)
				r.Header.Set("Authorization", "Bearer "+token)
				resp, err := client.Do(r)
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				h := resp.Header
				results <- result{resp.StatusCode, h.Get("X-RateLimit-Limit"), h.Get("X-RateLimit-Remaining"), h.Get("X-RateLimit-Reset"), h.Get("Retry-After")}
			}
		}(tokens[c%len(tokens)])
	}
	wg.Wait()
	close(results)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var passed []int
	refusedN := 0
	for r := range results {
		if r.limit != "60" || r.reset != "60" {
			t.Fatalf("an answer's window: %+v", r)
		}
		switch r.status {
		case 200:
			n, _ := strconv.Atoi(r.remaining)
			passed = append(passed, n)
		case 429:
			if r.remaining != "0" || r.retryAfter != "60" {
				t.Fatalf("a refusal: %+v", r)
			}
			refusedN++
		default:
			t.Fatalf("an answer: %+v", r)
		}
	}
	slices.Sort(passed)
	want := make([]int, 60)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(passed, want) || refusedN != clients*each-60 {
		t.Fatalf("%d passed (remaining %v), %d refused; want 60 (remaining 0…59) and %d", len(passed), passed, refusedN, clients*each-60)
	}
	if n := up.count(); n != 60 {
		t.Fatalf("the upstream saw %d requests, want 60", n)
	}
	// Nothing was left to spend: GET /v1/limits says so.
	lim := enveloped(t, in.must(200, req{method: "GET", path: "/v1/limits", token: tokens[1]}))
	if fmt.Sprint(lim["windows"]) != "[map[limit:60 remaining:0 reset:60 window:60]]" {
		t.Fatalf("/v1/limits = %v", lim)
	}
}

// personalLimitsUnresolved is true while GET /v1/limits called with a personal access token
// answers for the token alone — the default plan and a bucket of its own — instead of the
// business the token's requests count against: the handler asks for the plan without a
// resource, and only a key carries one. TestPresetBusinessKeysLimitsOfAPerson checks the fix.
const personalLimitsUnresolved = false

// TestPresetBusinessKeysLimitsOfAPerson: a staff member's GET /v1/limits shows the plan of their
// business and what its shared bucket holds — what their next request through the API will
// meet (CONTRACT §11.30) — as a business key's does.
func TestPresetBusinessKeysLimitsOfAPerson(t *testing.T) {
	if personalLimitsUnresolved {
		t.Skip("known gap: GET /v1/limits ignores a personal token's business; see personalLimitsUnresolved")
	}
	in, up, _ := startBusinessKeys(t)
	boot := testBootstrap
	in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "business", "id": "globex", "plan": "basic"}`})
	in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "gil", "email": "gil@example.com", "password": "a long passphrase for gil"}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/business/globex/grants/user:gil", token: boot, body: `{"role": "admin"}`})
	gil := enveloped(t, in.must(200, req{method: "POST", path: "/v1/auth/login", body: `{"email": "gil@example.com", "password": "a long passphrase for gil"}`}))["access_token"].(string)
	key := enveloped(t, in.must(201, req{method: "POST", path: "/v1/keys", token: gil, body: `{"name": "scheduling", "resource": "business/globex", "role": "member"}`}))["token"].(string)
	proxied(t, up, in.do(req{method: "GET", path: "/v1/objects/shifts", token: gil}), nil)
	proxied(t, up, in.do(req{method: "GET", path: "/v1/objects/shifts", token: key}), nil)

	want := `{"credits":null,"plan":"basic","windows":[{"limit":120,"remaining":118,"reset":60,"window":60}]}`
	for name, token := range map[string]string{"the business key": key, "the staff member": gil} {
		if got := canonical(t, enveloped(t, in.must(200, req{method: "GET", path: "/v1/limits", token: token}))); got != want {
			t.Errorf("GET /v1/limits with %s = %s, want %s", name, got, want)
		}
	}

	// A member of two businesses names one, as the gateway asks them to (400 there too).
	in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "business", "id": "initech", "plan": "free"}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/business/initech/grants/user:gil", token: boot, body: `{"role": "member"}`})
	in.must(400, req{method: "GET", path: "/v1/objects/shifts", token: gil})
	in.must(400, req{method: "GET", path: "/v1/limits", token: gil})
	if got := canonical(t, enveloped(t, in.must(200, req{method: "GET", path: "/v1/limits?resource=business/globex", token: gil}))); got != want {
		t.Errorf("GET /v1/limits?resource=business/globex for a member of two = %s, want %s", got, want)
	}
}

// refusalHeadersMissing is true while a request that the credential layer lets through but a
// later layer refuses (403: a read-only staff member writing) answers without X-RateLimit-*,
// though its business and plan are known and the route is rate limited (CONTRACT §8: "on every
// answer of a rate-limited route"; the document: "Rate limit information is included in the
// response headers"). TestPresetBusinessKeysHeadersOnRefusals checks the fix.
const refusalHeadersMissing = false

// TestPresetBusinessKeysHeadersOnRefusals: a refusal after the credential is known carries the
// business's window as it stands, spending nothing.
func TestPresetBusinessKeysHeadersOnRefusals(t *testing.T) {
	if refusalHeadersMissing {
		t.Skip("known gap: a 403 of a rate-limited route has no X-RateLimit-*; see refusalHeadersMissing")
	}
	in, up, _ := startBusinessKeys(t)
	boot := testBootstrap
	in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "business", "id": "acme"}`})
	in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "obi", "email": "obi@example.com", "password": "a long passphrase for obi"}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/business/acme/grants/user:obi", token: boot, body: `{"role": "observer"}`})
	obi := enveloped(t, in.must(200, req{method: "POST", path: "/v1/auth/login", body: `{"email": "obi@example.com", "password": "a long passphrase for obi"}`}))["access_token"].(string)
	a := in.do(req{method: "GET", path: "/v1/objects/events", token: obi})
	proxied(t, up, a, nil)
	limited(t, a, 60, 59, 60)
	a = in.do(req{method: "POST", path: "/v1/objects/events", token: obi, body: `{}`})
	refused(t, up, up.count(), a, 403, "forbidden")
	limited(t, a, 60, 59, 60)
	limited(t, in.do(req{method: "GET", path: "/v1/objects/events", token: obi}), 60, 58, 60)
}
