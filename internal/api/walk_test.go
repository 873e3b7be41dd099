package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/authz"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store"
)

// walkWorld is a tenant (organization/acme with project/rocket, its admin ann, her personal
// key and the business key acme-ci) and two outsiders: nobody, a user who holds nothing, and
// obs, an observer of acme who calls with a key capped to the observer role.
type walkWorld struct {
	h *Handler
	// tokens by caller name
	tokens map[string]string
	// personal issues a personal access token (id, user) and returns it.
	personal func(id, user string) string
}

func newWalkWorld(t *testing.T) *walkWorld {
	t.Helper()
	h := newTestHandler(t)
	ctx := t.Context()
	s := h.store
	now := time.Now().UTC().Truncate(time.Second)
	w := &walkWorld{h: h, tokens: map[string]string{}}
	for _, id := range []string{"ann", "nobody", "obs"} {
		if err := s.CreateUser(ctx, store.User{ID: id, Email: id + "@example.com", CreatedAt: now, UpdatedAt: now}, store.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ref := range []struct{ typ, id, parent string }{{"organization", "acme", ""}, {"project", "rocket", "organization/acme"}} {
		if err := s.CreateResource(ctx, store.Resource{Type: ref.typ, ID: ref.id, Parent: ref.parent, CreatedAt: now}, store.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range []store.Grant{
		{Resource: "organization/acme", Principal: "user:ann", Role: "admin"},
		{Resource: "organization/acme", Principal: "user:obs", Role: "observer"},
	} {
		g.CreatedAt = now
		if _, err := s.PutGrant(ctx, g, nil, store.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	key := func(k store.Key) string {
		tok, err := credential.Generate("lk")
		if err != nil {
			t.Fatal(err)
		}
		k.Format, k.Name, k.CreatedAt = store.FormatToken, k.ID, now
		if err := s.CreateKey(ctx, k, store.Secret{Hash: credential.Hash(tok), Kind: store.KindKeyToken}, nil, store.Event{}); err != nil {
			t.Fatal(err)
		}
		return tok
	}
	personal := func(id, user string) string {
		tok, err := credential.Generate("lp")
		if err != nil {
			t.Fatal(err)
		}
		exp := now.Add(time.Hour)
		if err := s.CreateToken(ctx, store.Token{ID: id, Kind: store.KindPersonal, UserID: user, Hash: credential.Hash(tok), ExpiresAt: &exp, CreatedAt: now}, store.Event{}); err != nil {
			t.Fatal(err)
		}
		return tok
	}
	w.tokens["ann"] = personal("ann-pat", "ann")
	key(store.Key{ID: "ann-key", Owner: "ann"})
	key(store.Key{ID: "acme-ci", Resource: "organization/acme", Role: "member"})
	w.tokens["nobody token"] = personal("nobody-pat", "nobody")
	w.personal = personal
	w.tokens["nobody key"] = key(store.Key{ID: "nobody-key", Owner: "nobody"})
	w.tokens["observer key"] = key(store.Key{ID: "obs-key", Owner: "obs", Role: "observer"})
	return w
}

func (w *walkWorld) do(method, path, token, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = "192.0.2.10:1234"
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, r)
	return rec
}

// walkCase is what a route is asked in the walk and the answer each outsider must get. A
// route that acts only on the caller's own things answers them; every other one refuses.
type walkCase struct {
	path, body string
	// nobody is the answer to a user who holds nothing (a personal access token and a
	// full-power personal key alike); observer to an observer's capped key.
	nobody, observer int
	// hides is text the answer must never hold (another tenant's things).
	hides string
}

// walkCases names, for every route of the table, the request the walk makes. A route added
// to the table without an entry here fails the walk: each new route must say what an
// outsider gets.
var walkCases = map[string]walkCase{
	"GET /healthz":      {path: "/healthz", nobody: 200, observer: 200},
	"GET /readyz":       {path: "/readyz", nobody: 200, observer: 200},
	"GET /metrics":      {path: "/metrics", nobody: 403, observer: 403},
	"GET /openapi.json": {path: "/v1/openapi.json", nobody: 200, observer: 200},
	"GET /me":           {path: "/v1/me", nobody: 200, observer: 200, hides: "ann"},
	"GET /limits":       {path: "/v1/limits", nobody: 200, observer: 200, hides: "ann"},

	"POST /users":              {path: "/v1/users", body: `{"email": "eve@example.com"}`, nobody: 403, observer: 403},
	"GET /users":               {path: "/v1/users", nobody: 403, observer: 403},
	"GET /users/{id}":          {path: "/v1/users/ann", nobody: 404, observer: 404},
	"PATCH /users/{id}":        {path: "/v1/users/ann", body: `{"name": "Eve"}`, nobody: 404, observer: 404},
	"DELETE /users/{id}":       {path: "/v1/users/ann", nobody: 403, observer: 403},
	"POST /users/{id}/admin":   {path: "/v1/users/ann/admin", nobody: 403, observer: 403},
	"DELETE /users/{id}/admin": {path: "/v1/users/ann/admin", nobody: 403, observer: 403},
	"GET /nodes":               {path: "/v1/nodes", nobody: 403, observer: 403},

	"POST /keys": {path: "/v1/keys", body: `{"name": "x", "resource": "organization/acme", "role": "member"}`, nobody: 404, observer: 403},
	// Another user's keys: 403 whether or not the user exists (§11.37).
	"GET /keys":               {path: "/v1/keys?owner=user:ann", nobody: 403, observer: 403, hides: "ann-key"},
	"DELETE /keys":            {path: "/v1/keys?resource=organization/acme", nobody: 404, observer: 403},
	"GET /keys/{id}":          {path: "/v1/keys/ann-key", nobody: 404, observer: 404},
	"PATCH /keys/{id}":        {path: "/v1/keys/ann-key", body: `{"name": "mine"}`, nobody: 404, observer: 404},
	"DELETE /keys/{id}":       {path: "/v1/keys/acme-ci", nobody: 404, observer: 404},
	"POST /keys/{id}/reissue": {path: "/v1/keys/ann-key/reissue", nobody: 404, observer: 404},
	"GET /keys/{id}/usage":    {path: "/v1/keys/ann-key/usage", nobody: 404, observer: 404},

	"POST /resources":                               {path: "/v1/resources", body: `{"type": "project", "parent": "organization/acme"}`, nobody: 404, observer: 403},
	"GET /resources":                                {path: "/v1/resources", nobody: 200, observer: 200, hides: "globex"},
	"GET /resources/{type}/{id}":                    {path: "/v1/resources/organization/acme", nobody: 404, observer: 200},
	"PATCH /resources/{type}/{id}":                  {path: "/v1/resources/project/rocket", body: `{"name": "mine"}`, nobody: 404, observer: 403},
	"DELETE /resources/{type}/{id}":                 {path: "/v1/resources/project/rocket", nobody: 404, observer: 403},
	"GET /resources/{type}/{id}/grants":             {path: "/v1/resources/organization/acme/grants", nobody: 404, observer: 403},
	"PUT /resources/{type}/{id}/grants/{principal}": {path: "/v1/resources/organization/acme/grants/user:nobody", body: `{"role": "admin"}`, nobody: 404, observer: 403},
	// Taking a grant away needs what giving it needs (§11.38).
	"DELETE /resources/{type}/{id}/grants/{principal}": {path: "/v1/resources/organization/acme/grants/user:ann", nobody: 404, observer: 403},
	// About someone else on a resource one cannot see: just "no"; one can see: 403.
	"POST /check": {path: "/v1/check", body: `{"principal": "user:ann", "permission": "manage", "resource": "organization/acme"}`, nobody: 200, observer: 403, hides: "true"},

	"GET /audit": {path: "/v1/audit?resource=organization/acme", nobody: 404, observer: 403},

	"GET /tokens/business":         {path: "/v1/tokens/business?resource=organization/acme", nobody: 404, observer: 403},
	"DELETE /tokens/business":      {path: "/v1/tokens/business?resource=organization/acme", nobody: 404, observer: 403},
	"DELETE /tokens/business/{id}": {path: "/v1/tokens/business/acme-ci", nobody: 404, observer: 404},

	"POST /auth/login": {path: "/v1/auth/login", body: `{"email": "ann@example.com", "password": "not her password at all"}`, nobody: 401, observer: 401},
	// Revoking by token needs no credential and answers 200 whatever it names.
	"POST /tokens/revoke": {path: "/v1/tokens/revoke", body: `{"token": "lk_000000000000000000000000000000000"}`, nobody: 200, observer: 200},
	// These two end only the caller's own sessions; the walk makes them last, with the
	// nobody credentials, and a capped key may not end its owner's sessions.
	// Verify and forward auth decide on the credential they are given, here the caller's own.
	"POST /verify":       {path: "/v1/verify", body: `{"headers": {"X-Nothing": "x"}, "token": "lk_000000000000000000000000000000000", "resource": "organization/acme"}`, nobody: 200, observer: 200, hides: "ann"},
	"GET /authz":         {path: "/v1/authz", nobody: 400, observer: 400},
	"* /authz/{path...}": {path: "/v1/authz/organizations/acme", nobody: 404, observer: 404},
	// Token exchange needs no caller credential: its subject_token is the credential.
	"POST /tokens/exchange": {path: "/v1/tokens/exchange", body: "grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token=x&resource=organization/acme", nobody: 400, observer: 400},
	// A server without exchangeable types has no scoped token to revoke.
	"DELETE /tokens/scoped":       {path: "/v1/tokens/scoped", nobody: 400, observer: 400},
	"DELETE /tokens/personal/all": {path: "/v1/tokens/personal/all", nobody: 204, observer: 403},
	"DELETE /tokens/personal":     {path: "/v1/tokens/personal", nobody: 204, observer: 400},
}

// TestRouteWalk is default deny, walked: every route of the table is asked by a user who holds
// nothing and by an observer's capped key, for things of a tenant that is not theirs, and must
// give the contract's refusal — and leave the tenant as it was.
func TestRouteWalk(t *testing.T) {
	w := newWalkWorld(t)
	last := map[string]bool{"DELETE /tokens/personal/all": true, "DELETE /tokens/personal": true}
	var routes, tail []Route
	for _, rt := range w.h.Routes() {
		if last[rt.Method+" "+rt.Path] {
			tail = append(tail, rt)
		} else {
			routes = append(routes, rt)
		}
	}
	for _, rt := range append(routes, tail...) {
		name := rt.Method + " " + rt.Path
		c, ok := walkCases[name]
		if !ok {
			t.Errorf("%s: the walk has no case for this route; add one to walkCases", name)
			continue
		}
		if last[name] {
			// Each ends the caller's sessions: give it a session to end.
			w.tokens["nobody token"] = w.personal("nobody-pat-"+strings.NewReplacer("/", "-", "{", "", "}", "").Replace(rt.Path), "nobody")
		}
		for _, caller := range []string{"nobody token", "nobody key", "observer key"} {
			want := c.nobody
			if caller == "observer key" {
				want = c.observer
			}
			if name == "DELETE /tokens/personal" && caller == "nobody key" {
				want = http.StatusBadRequest // a key is no personal access token
			}
			rec := w.do(rt.Method, c.path, w.tokens[caller], c.body)
			if rec.Code != want {
				t.Errorf("%s %s as %s: %d %s, want %d", rt.Method, c.path, caller, rec.Code, rec.Body, want)
			}
			if c.hides != "" && rec.Code < 300 && strings.Contains(rec.Body.String(), c.hides) {
				t.Errorf("%s %s as %s shows %q: %s", rt.Method, c.path, caller, c.hides, rec.Body)
			}
		}
	}
	// Nothing of the tenant changed: ann's token, her key and the business key still work,
	// and her grants are as they were.
	if rec := w.do("GET", "/v1/keys/ann-key", w.tokens["ann"], ""); rec.Code != 200 {
		t.Errorf("ann's key after the walk: %d %s", rec.Code, rec.Body)
	}
	if rec := w.do("GET", "/v1/keys/acme-ci", w.tokens["ann"], ""); rec.Code != 200 {
		t.Errorf("the business key after the walk: %d %s", rec.Code, rec.Body)
	}
	rec := w.do("GET", "/v1/resources/organization/acme/grants", w.tokens["ann"], "")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"user:ann"`) || strings.Contains(rec.Body.String(), `"user:nobody"`) {
		t.Errorf("acme's grants after the walk: %d %s", rec.Code, rec.Body)
	}
}

// TestUndecidedRouteFailsClosed: a Deferred route whose handler answers without asking its
// decider cannot send a success — it is lanyard's bug, answered 500, never a way in.
func TestUndecidedRouteFailsClosed(t *testing.T) {
	w := newWalkWorld(t)
	h := w.h
	forgetful := Route{Method: "GET", Path: "/forgetful", Policy: authz.Deferred{Decider: "SelectKeys"},
		Handle: func(rw http.ResponseWriter, r *http.Request) error {
			h.writeJSON(rw, http.StatusOK, map[string]string{"secret": "everything"}, "")
			return nil
		}}
	asking := Route{Method: "GET", Path: "/asking", Policy: authz.Deferred{Decider: "SelectKeys"},
		Handle: func(rw http.ResponseWriter, r *http.Request) error {
			if _, err := h.keySelection(r, authn.FromContext(r.Context()), false); err != nil {
				return err
			}
			h.writeJSON(rw, http.StatusOK, map[string]string{"ok": "yes"}, "")
			return nil
		}}
	mux, err := h.buildMux(append(h.Routes(), forgetful, asking))
	if err != nil {
		t.Fatal(err)
	}
	h.mux = mux
	rec := w.do("GET", "/v1/forgetful", w.tokens["nobody token"], "")
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "everything") {
		t.Errorf("an undecided route answered %d %s, want 500 without its body", rec.Code, rec.Body)
	}
	if rec := w.do("GET", "/v1/asking", w.tokens["nobody token"], ""); rec.Code != http.StatusOK {
		t.Errorf("a route that asked its decider answered %d %s", rec.Code, rec.Body)
	}
}

// TestDeferredDecidersExist: every Deferred route names a decider that *authz.Authorizer has.
func TestDeferredDecidersExist(t *testing.T) {
	h := newTestHandler(t)
	for _, rt := range h.Routes() {
		d, ok := rt.Policy.(authz.Deferred)
		if !ok {
			continue
		}
		if !authz.HasDecider(d.Decider) {
			t.Errorf("%s %s: Deferred names %q, which is no decider of authz.Authorizer", rt.Method, rt.Path, d.Decider)
		}
	}
}
