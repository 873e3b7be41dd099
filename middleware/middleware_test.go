package middleware

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeLanyard answers POST /v1/verify as CONTRACT §5 and §11.28 say lanyard does, for the
// credentials it holds. The end-to-end test in internal/server runs the middleware against a
// real lanyard; this one lets the unit tests reach every answer.
type fakeLanyard struct {
	*httptest.Server
	mu       sync.Mutex
	creds    map[string]fakeCred // by Bearer token
	asked    []verifyRequest
	envelope bool
	// status, when set, is answered instead (with a §3 body).
	status int
}

type fakeCred struct {
	principal, keyID string
	roles            map[string][]string // resource → permissions
	cidr             string              // the one client address it works from ("" any)
	limited          bool                // under a plan, its window used up
	planned          bool                // under a plan, room left
	expired          bool
}

func newFakeLanyard(t *testing.T) *fakeLanyard {
	t.Helper()
	f := &fakeLanyard{creds: map[string]fakeCred{
		"lk_member":   {principal: "user:ann", keyID: "ann-key", roles: map[string][]string{"organization/acme": {"read", "write"}}},
		"lk_observer": {principal: "user:bob", keyID: "bob-key", roles: map[string][]string{"organization/acme": {"read"}}},
		"lk_fenced":   {principal: "user:ann", keyID: "fenced", cidr: "198.51.100.7", roles: map[string][]string{"organization/acme": {"read"}}},
		"lk_limited":  {principal: "key:ci", keyID: "ci", limited: true},
		"lk_planned":  {principal: "key:cd", keyID: "cd", planned: true},
		"lk_expired":  {principal: "user:ann", keyID: "old", expired: true},
	}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeLanyard) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if f.status != 0 {
		w.WriteHeader(f.status)
		io.WriteString(w, `{"error": {"code": "unavailable", "message": "Down."}}`)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/verify" {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error": {"code": "not_found", "message": "The path was not found."}}`)
		return
	}
	var q verifyRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error": {"code": "invalid_request", "message": "Bad JSON."}}`)
		return
	}
	f.asked = append(f.asked, q)
	auth, ok := q.Headers["Authorization"]
	if !ok || !strings.HasPrefix(auth, "Bearer ") {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error": {"code": "invalid_request", "message": "headers: the Authorization header is malformed."}}`)
		return
	}
	ans := map[string]any{"valid": false, "code": nil, "principal": nil, "key_id": nil, "resource": nil, "role": nil, "ratelimit": nil}
	layer := any(nil)
	c, known := f.creds[strings.TrimPrefix(auth, "Bearer ")]
	switch {
	case !known:
		ans["code"], layer = "invalid_token", "credential"
	case c.expired:
		ans["code"], layer = "expired", "credential"
	default:
		ans["principal"], ans["key_id"] = c.principal, c.keyID
		if q.Resource != "" {
			ans["resource"] = q.Resource
		}
		perms := c.roles[q.Resource]
		switch {
		case c.cidr != "" && q.ClientIP != c.cidr:
			ans["code"], layer = "forbidden", "cidr"
		case q.Resource != "" && !contains(perms, q.Permission):
			ans["code"], layer = "forbidden", "grant"
		case c.limited:
			ans["code"], layer = "rate_limited", "window"
			ans["ratelimit"] = map[string]any{"limit": 10, "window": 60, "remaining": 0, "reset": 7}
		default:
			ans["valid"] = true
			if q.Resource != "" {
				ans["role"] = "member"
			}
			if c.planned {
				ans["ratelimit"] = map[string]any{"limit": 10, "window": 60, "remaining": 5, "reset": 30}
			}
		}
	}
	if q.Explain {
		ans["because"] = map[string]any{"layer": layer, "reason": "Because.", "grant": nil, "path": nil, "window": nil}
	}
	var v any = ans
	if f.envelope {
		v = map[string]any{"success": true, "data": ans, "message": "Verified"}
	}
	json.NewEncoder(w).Encode(v)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (f *fakeLanyard) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.asked)
}

func (f *fakeLanyard) last() verifyRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.asked[len(f.asked)-1]
}

// clock is a settable clock for the cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// orgs is a service's route: /orgs/{id}/... acts on organization/{id}.
func orgs(r *http.Request) (string, string) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/orgs/")
	if !ok {
		return "", ""
	}
	id, _, _ := strings.Cut(rest, "/")
	return "organization/" + id, ""
}

// echo answers with the identity the middleware gave it.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	id, ok := IdentityFrom(r.Context())
	if !ok {
		http.Error(w, "no identity", http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "%s %s %s %s", id.Principal, id.KeyID, id.Resource, id.Role)
})

type result struct {
	status int
	header http.Header
	body   string
}

func serve(h http.Handler, method, path, token string, header map[string]string) result {
	r := httptest.NewRequest(method, path, nil)
	r.RemoteAddr = "203.0.113.9:4711"
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return result{rec.Code, rec.Header(), rec.Body.String()}
}

func (r result) code(t *testing.T) string {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("answer %d has no contract error body: %q", r.status, r.body)
	}
	return e.Error.Code
}

func TestMiddlewareAnswers(t *testing.T) {
	f := newFakeLanyard(t)
	h := New(Remote(f.URL, RemoteOptions{CacheTTL: -1, NegativeTTL: -1}), Options{Resource: orgs})(echo)
	tests := []struct {
		name, method, path, token string
		header                    map[string]string
		status                    int
		code, www, retryAfter     string
	}{
		{"allowed", "GET", "/orgs/acme/x", "lk_member", nil, 200, "", "", ""},
		{"allowed to write", "POST", "/orgs/acme/x", "lk_member", nil, 200, "", "", ""},
		{"no credential", "GET", "/orgs/acme/x", "", nil, 401, "unauthenticated", `Bearer realm="lanyard"`, ""},
		{"an unknown token", "GET", "/orgs/acme/x", "lk_nobody", nil, 401, "invalid_token", `Bearer realm="lanyard", error="invalid_token"`, ""},
		{"an expired key", "GET", "/orgs/acme/x", "lk_expired", nil, 401, "invalid_token", `Bearer realm="lanyard", error="invalid_token"`, ""},
		{"readable, not writable", "DELETE", "/orgs/acme/x", "lk_observer", nil, 403, "forbidden", `Bearer realm="lanyard", error="insufficient_scope"`, ""},
		{"not even readable", "DELETE", "/orgs/globex/x", "lk_observer", nil, 404, "not_found", "", ""},
		{"not readable", "GET", "/orgs/globex/x", "lk_member", nil, 404, "not_found", "", ""},
		{"from outside the key's network", "GET", "/orgs/acme/x", "lk_fenced", nil, 403, "forbidden", `Bearer realm="lanyard", error="insufficient_scope"`, ""},
		{"rate limited", "GET", "/status", "lk_limited", nil, 429, "rate_limited", "", "7"},
		{"a malformed credential", "GET", "/orgs/acme/x", "", map[string]string{"Authorization": "Basic !!"}, 400, "invalid_request", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := serve(h, tt.method, tt.path, tt.token, tt.header)
			if got.status != tt.status {
				t.Fatalf("status %d, want %d: %s", got.status, tt.status, got.body)
			}
			if tt.status == 200 {
				if !strings.HasPrefix(got.body, "user:ann ann-key organization/acme member") {
					t.Errorf("the handler saw %q", got.body)
				}
				return
			}
			if c := got.code(t); c != tt.code {
				t.Errorf("code %q, want %q", c, tt.code)
			}
			if www := got.header.Values("WWW-Authenticate"); tt.www == "" && len(www) > 0 || tt.www != "" && (len(www) != 1 || www[0] != tt.www) {
				t.Errorf("WWW-Authenticate %q, want %q", www, tt.www)
			}
			if ra := got.header.Get("Retry-After"); ra != tt.retryAfter {
				t.Errorf("Retry-After %q, want %q", ra, tt.retryAfter)
			}
			if (tt.status == 401 || tt.status == 403) && got.header.Get("Cache-Control") != "no-store" {
				t.Error("no Cache-Control: no-store")
			}
			if ct := got.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestMiddlewareAsksWhatTheRouteNeeds(t *testing.T) {
	f := newFakeLanyard(t)
	v := Remote(f.URL, RemoteOptions{CacheTTL: -1})
	h := New(v, Options{
		Resource:          orgs,
		CredentialHeaders: []string{"authorization", "X-Event-Token"},
		ClientIP:          func(*http.Request) string { return "198.51.100.7" },
	})(echo)
	serve(h, "PATCH", "/orgs/acme/x", "lk_member", map[string]string{"X-Event-Token": "lt_e", "X-Other": "secret", "Cookie": "c=1"})
	q := f.last()
	want := verifyRequest{Headers: map[string]string{"Authorization": "Bearer lk_member", "X-Event-Token": "lt_e"},
		ClientIP: "198.51.100.7", Resource: "organization/acme", Permission: "write"}
	if fmt.Sprint(q) != fmt.Sprint(want) {
		t.Errorf("asked %+v, want %+v", q, want)
	}
	serve(h, "HEAD", "/orgs/acme", "lk_member", nil)
	if q := f.last(); q.Permission != "read" {
		t.Errorf("HEAD asked for %q", q.Permission)
	}
	// The default client address is the peer's; a route without a resource asks no permission.
	h = New(v, Options{})(echo)
	serve(h, "DELETE", "/anything", "lk_member", map[string]string{"X-Forwarded-For": "198.51.100.7"})
	if q := f.last(); q.ClientIP != "203.0.113.9" || q.Resource != "" || q.Permission != "" {
		t.Errorf("asked %+v", q)
	}
	// Two Authorization headers: which one would lanyard judge? Neither.
	r := httptest.NewRequest("GET", "/orgs/acme", nil)
	r.Header.Add("Authorization", "Bearer lk_member")
	r.Header.Add("Authorization", "Bearer lk_observer")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != 400 {
		t.Errorf("two credentials: %d", rec.Code)
	}
}

// TestMiddlewareFailsClosed: when lanyard cannot answer, nothing reaches the handler, the
// client gets 503 with Retry-After, and the log says why without the credential.
func TestMiddlewareFailsClosed(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	handlerRan := false
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { handlerRan = true })

	f := newFakeLanyard(t)
	f.status = http.StatusInternalServerError
	down := httptest.NewServer(nil)
	down.Close()
	stuck := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stuck:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(stuck); hang.Close() })
	notJSON := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>") }))
	t.Cleanup(notJSON.Close)
	needsToken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error": {"code": "unauthenticated", "message": "A credential is required."}}`)
	}))
	t.Cleanup(needsToken.Close)

	for name, url := range map[string]string{
		"a 500": f.URL, "unreachable": down.URL, "no answer in time": hang.URL, "not JSON": notJSON.URL,
		"verify needs the service's credential": needsToken.URL,
	} {
		t.Run(name, func(t *testing.T) {
			logs.Reset()
			handlerRan = false
			h := New(Remote(url, RemoteOptions{Timeout: 50 * time.Millisecond}), Options{Logger: log})(next)
			got := serve(h, "GET", "/x", "lk_secret_token_value", nil)
			if got.status != 503 || got.code(t) != "unavailable" || got.header.Get("Retry-After") != "1" {
				t.Errorf("%d %v %s", got.status, got.header, got.body)
			}
			if handlerRan {
				t.Error("the handler ran")
			}
			if !strings.Contains(logs.String(), "lanyard could not decide") {
				t.Errorf("nothing logged: %q", logs.String())
			}
			if strings.Contains(logs.String(), "lk_secret_token_value") {
				t.Errorf("the log holds the credential: %s", logs.String())
			}
		})
	}
}

// TestRemoteCache: an allowed answer is reused for CacheTTL and no longer, so a revocation is
// honoured within it; a refusal for NegativeTTL; an answer under a plan never.
func TestRemoteCache(t *testing.T) {
	f := newFakeLanyard(t)
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	h := New(Remote(f.URL, RemoteOptions{Now: clk.Now}), Options{Resource: orgs})(echo)
	get := func(path, token string) int { return serve(h, "GET", path, token, nil).status }

	if get("/orgs/acme", "lk_member") != 200 || get("/orgs/acme", "lk_member") != 200 || f.calls() != 1 {
		t.Fatalf("two requests asked lanyard %d times, want 1", f.calls())
	}
	// Another path to the same resource is the same question; another resource, permission,
	// token or client is another one.
	if get("/orgs/acme/x", "lk_member"); f.calls() != 1 {
		t.Errorf("the same question was asked again for another path to the same resource")
	}
	fromElsewhere := func() {
		r := httptest.NewRequest("GET", "/orgs/acme", nil)
		r.RemoteAddr = "198.51.100.1:4711"
		r.Header.Set("Authorization", "Bearer lk_member")
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	for _, v := range []struct {
		name string
		do   func()
	}{
		{"another permission", func() { serve(h, "POST", "/orgs/acme", "lk_member", nil) }},
		{"another resource", func() { get("/orgs/globex", "lk_member") }},
		{"another token", func() { get("/orgs/acme", "lk_observer") }},
		{"another client", fromElsewhere},
	} {
		n := f.calls()
		if v.do(); f.calls() == n {
			t.Errorf("%s was answered from the cache", v.name)
		}
	}
	// Revoked: still allowed within the TTL (lanyard's own staleness bound), then refused.
	f.mu.Lock()
	delete(f.creds, "lk_member")
	f.mu.Unlock()
	clk.Advance(999 * time.Millisecond)
	if get("/orgs/acme", "lk_member") != 200 {
		t.Error("a fresh answer was not reused")
	}
	clk.Advance(time.Millisecond)
	if get("/orgs/acme", "lk_member") != 401 {
		t.Error("a revoked key still works after CacheTTL")
	}

	// A refusal is reused for NegativeTTL only.
	n := f.calls()
	get("/orgs/acme", "lk_nobody")
	get("/orgs/acme", "lk_nobody")
	if f.calls() != n+1 {
		t.Errorf("a refusal was asked %d times within NegativeTTL", f.calls()-n)
	}
	clk.Advance(250 * time.Millisecond)
	if get("/orgs/acme", "lk_nobody"); f.calls() != n+2 {
		t.Error("a refusal was reused past NegativeTTL")
	}

	// Under a plan, every request is asked about, so that each spends what it costs; a
	// rate-limit refusal is not reused either.
	n = f.calls()
	get("/status", "lk_planned")
	get("/status", "lk_planned")
	get("/status", "lk_limited")
	get("/status", "lk_limited")
	if f.calls() != n+4 {
		t.Errorf("answers under a plan were reused: %d questions for 4 requests", f.calls()-n)
	}
}

func TestCacheIsBounded(t *testing.T) {
	c := &cache{max: 100, m: map[[32]byte]entry{}}
	now := time.Unix(0, 0)
	for i := 0; i < 1000; i++ {
		c.put([32]byte{byte(i), byte(i >> 8)}, Result{Valid: true}, now.Add(time.Second), now)
		if c.len() > 100 {
			t.Fatalf("%d entries, max 100", c.len())
		}
	}
}

func TestRemoteEnvelopeAndPath(t *testing.T) {
	f := newFakeLanyard(t)
	f.envelope = true
	h := New(Remote(f.URL+"/", RemoteOptions{}), Options{Resource: orgs})(echo)
	if got := serve(h, "GET", "/orgs/acme", "lk_member", nil); got.status != 200 || !strings.HasPrefix(got.body, "user:ann") {
		t.Errorf("an enveloped answer: %d %s", got.status, got.body)
	}
	h = New(Remote(f.URL, RemoteOptions{Path: "/api/verify"}), Options{})(echo)
	if got := serve(h, "GET", "/x", "lk_member", nil); got.status != 503 {
		t.Errorf("another path was not asked: %d", got.status)
	}
}

func TestRemoteSendsTheServiceToken(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		io.WriteString(w, `{"valid": true, "code": null, "principal": "user:ann", "key_id": null, "resource": null, "role": null, "ratelimit": null}`)
	}))
	t.Cleanup(srv.Close)
	v := Remote(srv.URL, RemoteOptions{Token: "svc"})
	res, err := v.Verify(context.Background(), Request{Header: http.Header{"Authorization": {"Bearer lk_x"}}})
	if err != nil || !res.Valid || res.Principal != "user:ann" || got != "Bearer svc" {
		t.Errorf("%+v %v, Authorization %q", res, err, got)
	}
}
