package server

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/testenv"
)

// limitedWorld is lanyard in front of an upstream with plans: "small" (5 per minute and 8 per
// hour, per owning resource) on organization/acme, a route that costs 2, and a member's key.
type limitedWorld struct {
	in    *instance
	up    *upstream
	clock *fakeClock
	key   string
	org   string
}

func limitedConfig(org string, extra func(*config.Config)) func(*config.Config) {
	return func(c *config.Config) {
		c.Plans = map[string]config.Plan{
			"small": {Bucket: config.BucketResource, Windows: []config.Window{{Limit: 5, Window: time.Minute}, {Limit: 8, Window: time.Hour}}},
			"wide":  {Bucket: config.BucketKey, Windows: []config.Window{{Limit: 1000, Window: time.Minute}}},
		}
		c.Gateway.Routes = []config.Route{
			{Path: "/orgs/{id}/costly", Resource: &config.RouteResource{Type: "organization", Param: "id"}, Cost: 2},
			{Path: "/orgs/{id}/{rest...}", Resource: &config.RouteResource{Type: "organization", Param: "id"}, Cost: 1},
		}
		c.Cache.LastUsedFlush = 50 * time.Millisecond
		if extra != nil {
			extra(c)
		}
	}
}

func newLimitedWorld(t *testing.T, extra func(*config.Config)) *limitedWorld {
	t.Helper()
	up := newUpstream(t)
	clock := &fakeClock{t: time.Date(2030, 6, 1, 12, 0, 30, 0, time.UTC)}
	org := "acme"
	in := start(t, startOpts{clock: clock, mutate: limitedConfig(org, func(c *config.Config) {
		c.Gateway.Upstream = up.URL
		if extra != nil {
			extra(c)
		}
	})})
	key := limitedSetup(t, in, org)
	return &limitedWorld{in: in, up: up, clock: clock, key: key, org: org}
}

// limitedSetup makes organization/<org> on the small plan, a member and a key of theirs.
func limitedSetup(t *testing.T, in *instance, org string) string {
	t.Helper()
	boot := testBootstrap
	in.must(201, req{method: "POST", path: "/v1/resources", token: boot, body: `{"type": "organization", "id": "` + org + `", "plan": "small"}`})
	in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "m", "email": "m@example.com"}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/organization/" + org + "/grants/user:m", token: boot, body: `{"role": "member"}`})
	return in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "k", "owner": "user:m", "id": "mk"}`}).json(t)["token"].(string)
}

func headerInt(t *testing.T, a answer, name string) int {
	t.Helper()
	n, err := strconv.Atoi(a.header.Get(name))
	if err != nil {
		t.Fatalf("%s = %q", name, a.header.Get(name))
	}
	return n
}

// TestRateLimitedRoutes: every window must allow a request; the answer of a limited route
// carries the window nearest to refusing; a refusal is 429 with Retry-After and spends nothing;
// a route's cost spends that many (CONTRACT §8, §11.29–30).
func TestRateLimitedRoutes(t *testing.T) {
	w := newLimitedWorld(t, nil)
	in := w.in
	get := func(path string) answer { return in.do(req{method: "GET", path: path, token: w.key}) }
	for i := 1; i <= 5; i++ {
		a := get("/orgs/acme/items")
		if a.status != 200 {
			t.Fatalf("request %d: %d %s", i, a.status, a.body)
		}
		// The minute window is nearest to refusing: 5 − i left of 5.
		if headerInt(t, a, "X-RateLimit-Limit") != 5 || headerInt(t, a, "X-RateLimit-Remaining") != 5-i {
			t.Fatalf("request %d: headers %v", i, a.header)
		}
		if r := headerInt(t, a, "X-RateLimit-Reset"); r < 1 || r > 60 {
			t.Fatalf("X-RateLimit-Reset = %d", r)
		}
	}
	before := w.up.count()
	a := get("/orgs/acme/items")
	if a.status != 429 || a.errCode(t) != "rate_limited" || a.header.Get("Retry-After") == "" || headerInt(t, a, "X-RateLimit-Remaining") != 0 {
		t.Fatalf("the 6th request: %d %v %s", a.status, a.header, a.body)
	}
	if w.up.count() != before {
		t.Fatal("a refused request reached the upstream")
	}
	// The next minute frees 5 again, but the hour has only 3 left: it is now nearest, and the
	// route that costs 2 spends 2 of them.
	w.clock.Advance(time.Minute)
	a = get("/orgs/acme/costly")
	if a.status != 200 || headerInt(t, a, "X-RateLimit-Limit") != 8 || headerInt(t, a, "X-RateLimit-Remaining") != 1 {
		t.Fatalf("a costly request: %d %v", a.status, a.header)
	}
	// Cost 2 with 1 left is refused, and spends nothing: one cost-1 request still passes.
	if a = get("/orgs/acme/costly"); a.status != 429 {
		t.Fatalf("cost 2 with 1 left: %d", a.status)
	}
	if a = get("/orgs/acme/items"); a.status != 200 || headerInt(t, a, "X-RateLimit-Remaining") != 0 {
		t.Fatalf("after a refused costly request: %d %v", a.status, a.header)
	}
	// /v1/authz spends from the same buckets and answers the same headers.
	a = in.do(req{method: "GET", path: "/v1/authz", token: w.key, headers: map[string]string{"X-Forwarded-Uri": "/orgs/acme/items"}})
	if a.status != 429 || a.header.Get("X-RateLimit-Limit") != "8" {
		t.Fatalf("/v1/authz past the hour's limit: %d %v", a.status, a.header)
	}
	in.must(404, req{method: "GET", path: "/v1/limits?resource=organization/globex", token: w.key})
	// The native API is never limited by a plan.
	for i := 0; i < 10; i++ {
		in.must(200, req{method: "GET", path: "/v1/me", token: w.key})
	}
}

// TestRateLimitIsExactUnderConcurrency: N concurrent requests against a limit L accept exactly
// L, the rest 429.
func TestRateLimitIsExactUnderConcurrency(t *testing.T) {
	w := newLimitedWorld(t, nil)
	var ok, limited atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := http.NewRequest("GET", w.in.base+"/orgs/acme/items", nil)
			r.Header.Set("Authorization", "Bearer "+w.key)
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				return
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case 200:
				ok.Add(1)
			case 429:
				limited.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 5 || limited.Load() != 35 {
		t.Fatalf("40 concurrent requests against a limit of 5: %d allowed, %d limited", ok.Load(), limited.Load())
	}
}

// TestCredits: credits are spent by the route's cost in the same decision as the windows, at
// zero the answer is credits_exhausted, a refill tops them up at the start of the next UTC day,
// setting credits replaces the live balance, and the balance is written back to the store.
func TestCredits(t *testing.T) {
	w := newLimitedWorld(t, func(c *config.Config) {
		c.Plans["small"] = config.Plan{Bucket: config.BucketResource, Windows: []config.Window{{Limit: 100, Window: time.Minute}}}
	})
	in := w.in
	boot := testBootstrap
	k := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "c", "owner": "user:m", "id": "ck", "credits": {"remaining": 3, "refill": {"amount": 5, "interval": "day"}}}`}).json(t)
	tok := k["token"].(string)
	credits := k["credits"].(map[string]any)
	if credits["remaining"] != float64(3) || credits["refilled_at"] != nil {
		t.Fatalf("credits as created: %v", credits)
	}
	in.must(200, req{method: "GET", path: "/orgs/acme/costly", token: tok}) // 2 of 3
	a := in.do(req{method: "GET", path: "/orgs/acme/costly", token: tok})
	if a.status != 429 || a.errCode(t) != "credits_exhausted" {
		t.Fatalf("cost 2 with 1 credit left: %d %s", a.status, a.body)
	}
	in.must(200, req{method: "GET", path: "/orgs/acme/items", token: tok}) // the last one
	lim := in.must(200, req{method: "GET", path: "/v1/limits?resource=organization/acme", token: tok}).json(t)
	if lim["plan"] != "small" || lim["credits"].(map[string]any)["remaining"] != float64(0) || len(lim["windows"].([]any)) != 1 {
		t.Fatalf("/v1/limits: %v", lim)
	}
	// verify says so without spending; the refill is due at the start of the next UTC day.
	v := in.must(200, req{method: "POST", path: "/v1/verify", body: `{"token": "` + tok + `", "resource": "organization/acme", "explain": true}`}).json(t)
	if v["valid"] != false || v["code"] != "credits_exhausted" || v["because"].(map[string]any)["layer"] != "credits" {
		t.Fatalf("verify with no credits: %v", v)
	}
	w.clock.Advance(24 * time.Hour)
	in.must(200, req{method: "GET", path: "/orgs/acme/items", token: tok})
	lim = in.must(200, req{method: "GET", path: "/v1/limits", token: tok}).json(t)
	if lim["plan"] != nil {
		t.Errorf("a personal key about no resource has no plan here: %v", lim)
	}
	c := lim["credits"].(map[string]any)
	if c["remaining"] != float64(4) || c["refilled_at"] != "2030-06-02T00:00:00Z" {
		t.Fatalf("after the day's refill: %v", c)
	}
	// The balance reaches the store in a batch (cache.last_used_flush, 50 ms here).
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := in.must(200, req{method: "GET", path: "/v1/keys/ck", token: boot}).json(t)["credits"].(map[string]any)
		if got["remaining"] == float64(4) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the balance was not written back: %v", got)
		}
		time.Sleep(20 * time.Millisecond) // waiting for a background writer on the real clock
	}
	// Setting credits replaces the live balance.
	in.must(200, req{method: "PATCH", path: "/v1/keys/ck", token: boot, body: `{"credits": {"remaining": 1, "refill": null}}`})
	in.must(200, req{method: "GET", path: "/orgs/acme/items", token: tok})
	if a := in.do(req{method: "GET", path: "/orgs/acme/items", token: tok}); a.status != 429 || a.errCode(t) != "credits_exhausted" || a.header.Get("Retry-After") != "" {
		t.Fatalf("after setting 1 credit without refill: %d %v %s", a.status, a.header, a.body)
	}
}

// TestVerifyDryRun: a dry run answers what the request would get and spends nothing; the next
// real request gets the remaining the dry run announced (CONTRACT §11.29).
func TestVerifyDryRun(t *testing.T) {
	w := newLimitedWorld(t, nil)
	in := w.in
	body := func(dry bool) string {
		return fmt.Sprintf(`{"token": %q, "resource": "organization/acme", "dry_run": %v}`, w.key, dry)
	}
	for i := 0; i < 3; i++ {
		v := in.must(200, req{method: "POST", path: "/v1/verify", body: body(true)}).json(t)
		rl := v["ratelimit"].(map[string]any)
		if v["valid"] != true || rl["remaining"] != float64(4) || rl["limit"] != float64(5) || rl["window"] != float64(60) {
			t.Fatalf("dry run %d: %v", i, v)
		}
	}
	v := in.must(200, req{method: "POST", path: "/v1/verify", body: body(false)}).json(t)
	if v["ratelimit"].(map[string]any)["remaining"] != float64(4) {
		t.Fatalf("the real request after dry runs: %v", v)
	}
}

// TestIETFRateLimitHeaders: rate_limit.ietf_headers adds RateLimit-Policy and RateLimit in the
// structured-field syntax (CONTRACT §11.32).
func TestIETFRateLimitHeaders(t *testing.T) {
	w := newLimitedWorld(t, func(c *config.Config) { c.RateLimit.IETFHeaders = true })
	a := w.in.must(200, req{method: "GET", path: "/orgs/acme/items", token: w.key})
	if got := a.header.Get("RateLimit-Policy"); got != `"60s";q=5;w=60, "3600s";q=8;w=3600` {
		t.Errorf("RateLimit-Policy = %q", got)
	}
	if got := a.header.Get("RateLimit"); !strings.HasPrefix(got, `"60s";r=4;t=`) {
		t.Errorf("RateLimit = %q", got)
	}
}

// TestRateLimitsAcrossNodes: two lanyard nodes sharing Redis (exact mode) accept exactly a
// resource's limit between them.
func TestRateLimitsAcrossNodes(t *testing.T) {
	redisURL := testenv.Redis(t)
	org := "shared-" + strings.ToLower(credential.NewID()[:8]) // a bucket of its own in the shared Redis
	var keys []string
	var nodes []*instance
	for i := 0; i < 2; i++ {
		up := newUpstream(t)
		in := start(t, startOpts{mutate: limitedConfig(org, func(c *config.Config) {
			c.Gateway.Upstream = up.URL
			c.Server.Redis = redisURL
		})})
		keys = append(keys, limitedSetup(t, in, org))
		nodes = append(nodes, in)
	}
	var ok, limited atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := i % 2
			r, _ := http.NewRequest("GET", nodes[n].base+"/orgs/"+org+"/items", nil)
			r.Header.Set("Authorization", "Bearer "+keys[n])
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				return
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case 200:
				ok.Add(1)
			case 429:
				limited.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 5 || limited.Load() != 25 {
		t.Fatalf("30 requests on two nodes against a shared limit of 5: %d allowed, %d limited", ok.Load(), limited.Load())
	}
	for _, in := range nodes {
		in.must(200, req{method: "GET", path: "/readyz"})
	}
}

// TestRedisDownFailsClosed: while the Redis of the limits is unreachable, a limited request is
// answered 503 with Retry-After within 5 s (never a 2xx, never a 429) and /readyz is 503; once
// Redis answers again both are back within 10 s, without a restart (CONTRACT §11.46).
func TestRedisDownFailsClosed(t *testing.T) {
	rs := testenv.StartRedis(t)
	up := newUpstream(t)
	in := start(t, startOpts{mutate: limitedConfig("acme", func(c *config.Config) {
		c.Gateway.Upstream = up.URL
		c.Server.Redis = rs.URL()
	})})
	key := limitedSetup(t, in, "acme")
	in.must(200, req{method: "GET", path: "/orgs/acme/items", token: key})

	rs.Stop()
	start := time.Now()
	a := in.do(req{method: "GET", path: "/orgs/acme/items", token: key})
	if took := time.Since(start); a.status != 503 || a.header.Get("Retry-After") == "" || took > 5*time.Second {
		t.Fatalf("with Redis down: %d %v in %s", a.status, a.header, took)
	}
	eventually(t, 5*time.Second, func() bool { return in.do(req{method: "GET", path: "/readyz"}).status == 503 })

	rs.Start()
	eventually(t, 10*time.Second, func() bool {
		return in.do(req{method: "GET", path: "/readyz"}).status == 200 &&
			in.do(req{method: "GET", path: "/orgs/acme/items", token: key}).status == 200
	})
}

// eventually polls cond (a background state on the real clock) until it holds or within
// passes.
func eventually(t *testing.T, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s", within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
