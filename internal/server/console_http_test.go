package server

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/console"
)

// The console over plain HTTP: what a browser gets, checked without one — the security
// headers, sign-in, sessions and their cookie, csrf, redirects, and that every page shows what
// the API shows this person. The browser tests (console_browser_test.go) drive the same pages
// in Chromium.

// webClient is a browser without JavaScript: it keeps cookies and does not follow redirects.
type webClient struct {
	t   *testing.T
	in  *instance
	jar *cookiejar.Jar
	c   *http.Client
}

func newWebClient(t *testing.T, in *instance) *webClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &webClient{t: t, in: in, jar: jar, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// webPage is an answer read whole.
type webPage struct {
	status int
	header http.Header
	body   string
}

func (b *webClient) do(method, path string, form url.Values, headers map[string]string) webPage {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r, err := http.NewRequest(method, b.in.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	resp, err := b.c.Do(r)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return webPage{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

func (b *webClient) get(path string) webPage { b.t.Helper(); return b.do("GET", path, nil, nil) }

func (b *webClient) post(path string, form url.Values) webPage {
	b.t.Helper()
	return b.do("POST", path, form, nil)
}

// mustGet gets a page and fails unless it answers want.
func (b *webClient) mustGet(want int, path string) webPage {
	b.t.Helper()
	p := b.get(path)
	if p.status != want {
		b.t.Fatalf("GET %s: %d, want %d; body %s", path, p.status, want, p.body)
	}
	return p
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the csrf field of the forms of a page.
func (p webPage) csrf(t *testing.T) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("the page has no csrf field: %s", p.body)
	}
	return m[1]
}

var secretText = regexp.MustCompile(`<code data-secret[^>]*>([^<]+)</code>`)

// secret is the text of the page's one data-secret element.
func (p webPage) secret(t *testing.T) string {
	t.Helper()
	all := secretText.FindAllStringSubmatch(p.body, -1)
	if len(all) != 1 {
		t.Fatalf("the page has %d data-secret elements, want 1: %s", len(all), p.body)
	}
	return all[0][1]
}

// alert is the text of the page's role="alert" element, or "".
func (p webPage) alert() string {
	m := regexp.MustCompile(`(?s)role="alert">([^<]*)<`).FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}

// signIn signs in through the form, as a browser does: the page, then the post.
func (b *webClient) signIn(email, password string) webPage {
	b.t.Helper()
	return b.signInNext(email, password, "")
}

func (b *webClient) signInNext(email, password, next string) webPage {
	b.t.Helper()
	login := b.mustGet(200, "/console/login")
	form := url.Values{"csrf": {login.csrf(b.t)}, "email": {email}, "password": {password}}
	if next != "" {
		form.Set("next", next)
	}
	return b.post("/console/login", form)
}

// mustSignIn signs in and fails unless it worked.
func (b *webClient) mustSignIn(email, password string) {
	b.t.Helper()
	if p := b.signIn(email, password); p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/" {
		b.t.Fatalf("sign-in as %s: %d %s, %s", email, p.status, p.header.Get("Location"), p.body)
	}
}

// cookie is the value of a console cookie in the jar, or "".
func (b *webClient) cookie(name string) string {
	u, _ := url.Parse(b.in.base + "/console/")
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// newUser creates a user with annPassword through the API and returns their id.
func (in *instance) newUser(id string) string {
	in.t.Helper()
	in.must(201, req{method: "POST", path: "/v1/users", token: testBootstrap,
		body: `{"id": "` + id + `", "email": "` + id + `@example.com", "password": "` + annPassword + `"}`})
	return id + "@example.com"
}

var formControl = regexp.MustCompile(`<(?:input|select)\b[^>]*>`)

// labelled reports whether the page has a form control named name with a label of its own (a
// <label for> its id), and every such control has one.
func labelled(body, name string) bool {
	found := false
	for _, el := range formControl.FindAllString(body, -1) {
		if !strings.Contains(el, ` name="`+name+`"`) || strings.Contains(el, `type="hidden"`) {
			continue
		}
		id := regexp.MustCompile(` id="([^"]+)"`).FindStringSubmatch(el)
		if id == nil || !strings.Contains(body, `<label for="`+id[1]+`"`) && !strings.Contains(body, `for="`+id[1]+`">`) {
			return false
		}
		found = true
	}
	return found
}

// wantSecurityHeaders fails unless an answer carries every header a console answer must.
func wantSecurityHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, part := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, part) {
			t.Errorf("%s: Content-Security-Policy %q lacks %q", what, csp, part)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("%s: Content-Security-Policy %q allows inline code", what, csp)
	}
	if v := h.Get("X-Frame-Options"); v != "DENY" {
		t.Errorf("%s: X-Frame-Options %q, want DENY", what, v)
	}
	if v := h.Get("Referrer-Policy"); v != "no-referrer" {
		t.Errorf("%s: Referrer-Policy %q, want no-referrer", what, v)
	}
}

func wantNoStore(t *testing.T, what string, p webPage) {
	t.Helper()
	wantSecurityHeaders(t, what, p.header)
	if v := p.header.Get("Cache-Control"); v != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", what, v)
	}
	if ct := p.header.Get("Content-Type"); p.status != http.StatusSeeOther && !strings.HasPrefix(ct, "text/html") {
		t.Errorf("%s: Content-Type %q, want HTML", what, ct)
	}
	if p.body == "" {
		t.Errorf("%s: an empty body", what)
	}
}

// TestConsoleHeaders: every console answer — pages, redirects, errors, assets — carries the
// strict policy; pages are no-store; assets are content-hashed and cached for long; no page
// has inline script or style.
func TestConsoleHeaders(t *testing.T) {
	in := start(t, startOpts{})
	email := in.newUser("ann")
	b := newWebClient(t, in)

	login := b.mustGet(200, "/console/login")
	wantNoStore(t, "the sign-in page", login)
	wantNoStore(t, "a redirect to the sign-in page", b.get("/console/"))
	wantNoStore(t, "an unknown page without a session", b.get("/console/nope"))
	b.mustSignIn(email, annPassword)
	for _, path := range []string{"/console/", "/console/resources/organization/nope", "/console/users", "/console/nope"} {
		p := b.get(path)
		wantNoStore(t, path, p)
		if strings.Contains(p.body, "<script>") || strings.Contains(p.body, " style=") || strings.Contains(p.body, "<style") ||
			regexp.MustCompile(`<script(?:[^>](?:[^s]|s[^r]|sr[^c]))*>`).MatchString(p.body) {
			t.Errorf("%s holds inline script or style", path)
		}
	}

	assets := regexp.MustCompile(`(?:href|src)="(/console/static/[^"]+)"`).FindAllStringSubmatch(login.body, -1)
	if len(assets) != 3 {
		t.Fatalf("the sign-in page links %d assets, want the stylesheet, htmx and the console's script", len(assets))
	}
	for _, m := range assets {
		a := b.mustGet(200, m[1])
		wantSecurityHeaders(t, m[1], a.header)
		if v := a.header.Get("Cache-Control"); !strings.Contains(v, "max-age=31536000") {
			t.Errorf("%s: Cache-Control %q, want a year", m[1], v)
		}
		if !regexp.MustCompile(`\.[0-9a-f]{12}\.`).MatchString(m[1]) {
			t.Errorf("%s: the name holds no content hash", m[1])
		}
		ct := a.header.Get("Content-Type")
		if !strings.HasPrefix(ct, "text/css") && !strings.HasPrefix(ct, "text/javascript") {
			t.Errorf("%s: Content-Type %q", m[1], ct)
		}
		if strings.Contains(m[1], "htmx") && !strings.Contains(a.body, `version:"2.0.11"`) {
			t.Errorf("%s is not htmx 2.0.11 (see internal/console/NOTICE)", m[1])
		}
	}
	if p := b.get("/console/static/htmx.000000000000.min.js"); p.status != 404 {
		t.Errorf("an asset name with another hash: %d, want 404", p.status)
	}
}

// TestConsoleRedirects: without a session every page but the sign-in page answers 303 to it,
// and a sign-in goes back to a same-origin console page only.
func TestConsoleRedirects(t *testing.T) {
	in := start(t, startOpts{})
	email := in.newUser("ann")
	b := newWebClient(t, in)
	for path, want := range map[string]string{
		"/console":                              "/console/",
		"/console/":                             "/console/login",
		"/console/users":                        "/console/login?next=%2Fconsole%2Fusers",
		"/console/resources/organization/acme":  "/console/login?next=%2Fconsole%2Fresources%2Forganization%2Facme",
		"/console/nope":                         "/console/login?next=%2Fconsole%2Fnope",
		"/console/resources/organization/a?x=1": "/console/login?next=%2Fconsole%2Fresources%2Forganization%2Fa%3Fx%3D1",
	} {
		p := b.get(path)
		if p.status != http.StatusSeeOther || p.header.Get("Location") != want {
			t.Errorf("GET %s without a session: %d to %q, want 303 to %q", path, p.status, p.header.Get("Location"), want)
		}
	}
	// A form posted without a session asks nothing of the API.
	if p := b.post("/console/keys", url.Values{"name": {"k"}}); p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/login" || p.body == "" {
		t.Errorf("POST /console/keys without a session: %d to %q (body %q)", p.status, p.header.Get("Location"), p.body)
	}
	// htmx follows redirects inside the page: it is told to load the sign-in page whole.
	if p := b.do("POST", "/console/keys/k/revoke", url.Values{}, map[string]string{"HX-Request": "true"}); p.status != http.StatusUnauthorized || p.header.Get("HX-Redirect") != "/console/login" {
		t.Errorf("an htmx post without a session: %d (HX-Redirect %q), want 401 with HX-Redirect to the sign-in page", p.status, p.header.Get("HX-Redirect"))
	}
	if p := b.get("/console/logout"); p.status != http.StatusMethodNotAllowed || p.header.Get("Allow") != "POST" || p.body == "" {
		t.Errorf("GET /console/logout: %d (Allow %q), want 405 with a page", p.status, p.header.Get("Allow"))
	}

	for next, want := range map[string]string{
		"/console/users":                       "/console/users",
		"/console/resources/organization/acme": "/console/resources/organization/acme",
		"//evil.example/console/":              "/console/",
		"https://evil.example/console/":        "/console/",
		"/console/../v1/keys":                  "/console/",
		"/v1/keys":                             "/console/",
		"/console/login":                       "/console/",
		"/console\\@evil.example":              "/console/",
	} {
		b := newWebClient(t, in)
		p := b.signInNext(email, annPassword, next)
		if p.status != http.StatusSeeOther || p.header.Get("Location") != want {
			t.Errorf("sign-in with next=%q: %d to %q, want 303 to %q", next, p.status, p.header.Get("Location"), want)
		}
	}
}

// TestConsoleSignIn: a failure re-renders the form with the error in role="alert" (401, or
// 429 with Retry-After once the account is throttled, as /v1/auth/login is); a success sets
// the session cookie (HttpOnly, SameSite=Lax, Path=/console/, not Secure over plain HTTP)
// and every sign-in makes a new session, ending the one the browser presented.
func TestConsoleSignIn(t *testing.T) {
	in := start(t, startOpts{mutate: func(c *config.Config) { c.Login.MaxFailures = 3 }})
	email := in.newUser("ann")
	in.newUser("bob")
	b := newWebClient(t, in)

	p := b.signIn(email, "not the password at all")
	if p.status != http.StatusUnauthorized || p.alert() == "" || !strings.Contains(p.body, `action="/console/login"`) {
		t.Fatalf("a wrong password: %d, alert %q; want 401 with an alert and the form", p.status, p.alert())
	}
	if !strings.Contains(p.body, `value="`+email+`"`) || strings.Contains(p.body, "not the password at all") {
		t.Errorf("the form shown again should keep the email and never the password")
	}
	if b.cookie(console.SessionCookie) != "" {
		t.Fatalf("a failed sign-in set a session cookie")
	}
	if q := b.signIn("nobody@example.com", annPassword); q.status != http.StatusUnauthorized || q.alert() != p.alert() {
		t.Errorf("an unknown email: %d %q; want what a wrong password gets (401 %q)", q.status, q.alert(), p.alert())
	}
	for range 2 {
		b.signIn(email, "not the password at all")
	}
	p = b.signIn(email, annPassword)
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" || p.alert() == "" {
		t.Fatalf("a throttled account: %d (Retry-After %q, alert %q), want 429 with an alert", p.status, p.header.Get("Retry-After"), p.alert())
	}

	b = newWebClient(t, in)
	p = b.signIn("bob@example.com", annPassword)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/" {
		t.Fatalf("sign-in: %d to %q", p.status, p.header.Get("Location"))
	}
	var sc *http.Cookie
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == console.SessionCookie {
			sc = c
		}
	}
	if sc == nil {
		t.Fatalf("no session cookie in %v", p.header["Set-Cookie"])
	}
	if !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/console/" || sc.Secure || sc.MaxAge != 12*3600 {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/console/, not Secure over HTTP, 12h", sc)
	}
	first := b.cookie(console.SessionCookie)
	b.mustGet(200, "/console/")

	// A new sign-in in the same browser: a new session; the old cookie no longer works.
	b.mustSignIn("bob@example.com", annPassword)
	second := b.cookie(console.SessionCookie)
	if second == "" || second == first {
		t.Fatalf("the session was not rotated at sign-in")
	}
	old := newWebClient(t, in)
	old.jar.SetCookies(mustURL(t, in.base+"/console/"), []*http.Cookie{{Name: console.SessionCookie, Value: first, Path: "/console/"}})
	if p := old.get("/console/"); p.status != http.StatusSeeOther {
		t.Errorf("the session presented at a later sign-in still works: %d", p.status)
	}
	b.mustGet(200, "/console/")
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestConsoleCSRF: a form posted without the right csrf field is refused with 403 and changes
// nothing — the sign-in form included, and another session's field is not the right one.
func TestConsoleCSRF(t *testing.T) {
	in := start(t, startOpts{})
	email := in.newUser("ann")
	b := newWebClient(t, in)

	login := b.mustGet(200, "/console/login")
	for name, csrf := range map[string]string{"none": "", "wrong": "x" + login.csrf(t)} {
		p := b.post("/console/login", url.Values{"csrf": {csrf}, "email": {email}, "password": {annPassword}})
		if p.status != http.StatusForbidden || p.alert() == "" || b.cookie(console.SessionCookie) != "" {
			t.Errorf("sign-in with %s csrf: %d (alert %q), want 403 and no session", name, p.status, p.alert())
		}
	}
	// The sign-in form's field is bound to its cookie: another browser's does not fit.
	other := newWebClient(t, in)
	if p := other.post("/console/login", url.Values{"csrf": {login.csrf(t)}, "email": {email}, "password": {annPassword}}); p.status != http.StatusForbidden {
		t.Errorf("sign-in with another browser's csrf field: %d, want 403", p.status)
	}

	b.mustSignIn(email, annPassword)
	good := b.mustGet(200, "/console/").csrf(t)
	other.mustSignIn(email, annPassword)
	elsewhere := other.mustGet(200, "/console/").csrf(t)
	if good == elsewhere {
		t.Fatalf("two sessions have the same csrf field")
	}
	for name, csrf := range map[string][]string{"none": nil, "empty": {""}, "another session's": {elsewhere}} {
		form := url.Values{"name": {"sneaky"}}
		if csrf != nil {
			form["csrf"] = csrf
		}
		p := b.post("/console/keys", form)
		if p.status != http.StatusForbidden || !strings.Contains(p.body, `role="alert"`) {
			t.Errorf("create a key with %s csrf: %d, want 403 with an alert", name, p.status)
		}
		if p := b.post("/console/logout", url.Values{"csrf": csrf}); p.status != http.StatusForbidden {
			t.Errorf("sign out with %s csrf: %d, want 403", name, p.status)
		}
	}
	keys := in.must(200, req{method: "GET", path: "/v1/keys?owner=user:ann", token: testBootstrap}).json(t)["keys"].([]any)
	if len(keys) != 0 {
		t.Errorf("forms refused for their csrf made keys: %v", keys)
	}
	b.mustGet(200, "/console/") // still signed in

	// The right one works.
	if p := b.post("/console/keys", url.Values{"csrf": {good}, "name": {"fine"}}); p.status != http.StatusCreated {
		t.Errorf("create a key with the right csrf: %d %s", p.status, p.body)
	}
}

// TestConsoleNotACredential: a session never authenticates the native API, and no API
// credential opens the console.
func TestConsoleNotACredential(t *testing.T) {
	in := start(t, startOpts{})
	email := in.newUser("ann")
	b := newWebClient(t, in)
	b.mustSignIn(email, annPassword)
	tok := b.cookie(console.SessionCookie)
	for name, h := range map[string]map[string]string{
		"the cookie":                  {"Cookie": console.SessionCookie + "=" + tok},
		"the session token as Bearer": {"Authorization": "Bearer " + tok},
	} {
		a := in.do(req{method: "GET", path: "/v1/me", headers: h})
		if a.status != http.StatusUnauthorized {
			t.Errorf("GET /v1/me with %s: %d, want 401", name, a.status)
		}
	}

	pat := in.mustLogin(email, annPassword)
	key := in.must(201, req{method: "POST", path: "/v1/keys", token: testBootstrap, body: `{"name": "k", "owner": "user:ann"}`}).json(t)["token"].(string)
	admin := in.must(200, req{method: "POST", path: "/v1/users/ann/admin", token: testBootstrap}).json(t)["token"].(string)
	for name, tok := range map[string]string{"a personal access token": pat, "a key": key, "an admin token": admin, "the bootstrap token": testBootstrap} {
		c := newWebClient(t, in)
		p := c.do("GET", "/console/", nil, map[string]string{"Authorization": "Bearer " + tok})
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/login" {
			t.Errorf("GET /console/ with %s: %d to %q, want 303 to the sign-in page", name, p.status, p.header.Get("Location"))
		}
	}
}

// TestConsoleSignOut: signing out ends the session: its cookie no longer opens anything.
func TestConsoleSignOut(t *testing.T) {
	in := start(t, startOpts{})
	email := in.newUser("ann")
	b := newWebClient(t, in)
	b.mustSignIn(email, annPassword)
	tok := b.cookie(console.SessionCookie)
	p := b.post("/console/logout", url.Values{"csrf": {b.mustGet(200, "/console/").csrf(t)}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/login" {
		t.Fatalf("sign-out: %d to %q", p.status, p.header.Get("Location"))
	}
	if b.cookie(console.SessionCookie) != "" {
		t.Errorf("the session cookie is still set after sign-out")
	}
	replay := newWebClient(t, in)
	replay.jar.SetCookies(mustURL(t, in.base+"/console/"), []*http.Cookie{{Name: console.SessionCookie, Value: tok, Path: "/console/"}})
	if p := replay.get("/console/"); p.status != http.StatusSeeOther {
		t.Errorf("the signed-out session's cookie: %d, want 303 to the sign-in page", p.status)
	}
	evs := in.must(200, req{method: "GET", path: "/v1/audit?actor=user:ann", token: testBootstrap}).json(t)["events"].([]any)
	var acts []string
	for _, e := range evs {
		acts = append(acts, e.(map[string]any)["action"].(string))
	}
	if got := strings.Join(acts, ","); got != "user.login,user.logout" {
		t.Errorf("audit of the session: %s, want user.login,user.logout", got)
	}
}

// TestConsoleUsersPage: /console/users is the API's GET /v1/users: a member's session gets
// its 403, an admin's the users, and the forms act as the API lets an admin.
func TestConsoleUsersPage(t *testing.T) {
	in := start(t, startOpts{})
	email := in.newUser("ann")
	in.newUser("bob")
	b := newWebClient(t, in)
	b.mustSignIn(email, annPassword)
	if p := b.get("/console/users"); p.status != http.StatusForbidden || p.alert() == "" {
		t.Fatalf("a member's /console/users: %d (alert %q), want 403 with the reason", p.status, p.alert())
	}
	if strings.Contains(b.mustGet(200, "/console/").body, `href="/console/users"`) {
		t.Errorf("a member's pages link the users page")
	}

	in.must(200, req{method: "POST", path: "/v1/users/ann/admin", token: testBootstrap})
	p := b.mustGet(200, "/console/users")
	for _, want := range []string{`data-user-id="ann"`, `data-user-id="bob"`, "bob@example.com"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the users page lacks %s", want)
		}
	}
	csrf := p.csrf(t)

	// Generate a key for bob from his row: bob's key, shown once.
	k := b.post("/console/keys", url.Values{"csrf": {csrf}, "next": {"/console/users"}, "owner": {"user:bob"}, "name": {"from the admin"}})
	if k.status != http.StatusCreated {
		t.Fatalf("a key for bob: %d %s", k.status, k.body)
	}
	me := in.must(200, req{method: "GET", path: "/v1/me", token: k.secret(t)}).json(t)
	if me["principal"] != "user:bob" {
		t.Errorf("the key made for bob acts as %v", me["principal"])
	}
	if !strings.Contains(k.body, `href="/console/users"`) {
		t.Errorf("the secret page does not lead back to the users page")
	}

	// Create, promote, demote, delete.
	if p := b.post("/console/users", url.Values{"csrf": {csrf}, "email": {"cy@example.com"}, "id": {"cy"}}); p.status != http.StatusSeeOther {
		t.Fatalf("create a user: %d %s", p.status, p.body)
	}
	if p := b.post("/console/users", url.Values{"csrf": {csrf}, "email": {"cy@example.com"}}); p.status != http.StatusConflict || p.alert() == "" {
		t.Errorf("create a user whose email is taken: %d (alert %q), want 409 with the API's message", p.status, p.alert())
	}
	pr := b.post("/console/users/cy/promote", url.Values{"csrf": {csrf}})
	if pr.status != http.StatusOK {
		t.Fatalf("promote: %d %s", pr.status, pr.body)
	}
	if a := in.must(200, req{method: "GET", path: "/v1/me", token: pr.secret(t)}).json(t); a["admin"] != true {
		t.Errorf("the admin token shown after a promotion: %v", a)
	}
	if p := b.post("/console/users/cy/demote", url.Values{"csrf": {csrf}}); p.status != http.StatusSeeOther {
		t.Errorf("demote: %d %s", p.status, p.body)
	}
	if p := b.post("/console/users/cy/delete", url.Values{"csrf": {csrf}}); p.status != http.StatusSeeOther {
		t.Errorf("delete: %d %s", p.status, p.body)
	}
	in.must(404, req{method: "GET", path: "/v1/users/cy", token: testBootstrap})
}

// TestConsoleSessionEnds: a session ends with its user's deletion, demotion or password
// change; an admin's after 12 hours whatever console.session_ttl says; anyone's at its TTL.
func TestConsoleSessionEnds(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	in := start(t, startOpts{clock: clock, mutate: func(c *config.Config) { c.Console.SessionTTL = 48 * time.Hour }})
	signedIn := func(id string) *webClient {
		b := newWebClient(t, in)
		b.mustSignIn(id+"@example.com", annPassword)
		b.mustGet(200, "/console/")
		return b
	}
	ended := func(what string, b *webClient) {
		t.Helper()
		if p := b.get("/console/"); p.status != http.StatusSeeOther {
			t.Errorf("%s: the session still opens the console (%d)", what, p.status)
		}
	}
	for _, u := range []string{"ann", "bob", "cy", "dee", "eve"} {
		in.newUser(u)
	}

	ann := signedIn("ann")
	in.must(204, req{method: "DELETE", path: "/v1/users/ann", token: testBootstrap})
	ended("the user was deleted", ann)

	in.must(200, req{method: "POST", path: "/v1/users/bob/admin", token: testBootstrap})
	bob := signedIn("bob")
	if !strings.Contains(bob.mustGet(200, "/console/").body, `href="/console/users"`) {
		t.Errorf("an admin's session shows no users page")
	}
	bob.mustGet(200, "/console/users")
	in.must(204, req{method: "DELETE", path: "/v1/users/bob/admin", token: testBootstrap})
	ended("the user was demoted", bob)

	cy := signedIn("cy")
	in.must(200, req{method: "PATCH", path: "/v1/users/cy", token: testBootstrap, body: `{"password": "another long password 4711"}`})
	ended("the password was changed", cy)

	// An admin's session: at most 12 hours, though console.session_ttl is 48.
	in.must(200, req{method: "POST", path: "/v1/users/dee/admin", token: testBootstrap})
	dee := signedIn("dee")
	eve := signedIn("eve")
	clock.Advance(12*time.Hour - time.Second)
	dee.mustGet(200, "/console/users")
	clock.Advance(time.Second)
	ended("an admin's session after 12 hours", dee)
	eve.mustGet(200, "/console/")
	// A member promoted during a long session gets admin power only for the rest of its
	// first 12 hours.
	in.must(200, req{method: "POST", path: "/v1/users/eve/admin", token: testBootstrap})
	ended("a session older than 12 hours whose user became an admin", eve)
	eve = signedIn("eve")
	in.must(204, req{method: "DELETE", path: "/v1/users/eve/admin", token: testBootstrap})
	ended("demoted", eve)
	eve = signedIn("eve")
	clock.Advance(48*time.Hour - time.Second)
	eve.mustGet(200, "/console/")
	clock.Advance(time.Second)
	ended("a session at console.session_ttl", eve)
}

// TestConsoleKeys: the account page's key form and list over plain HTTP (no JavaScript): a
// post with only a name makes a personal key with the user's full power, its secret shown once
// and in no later page; the key works against the API, is listed, and a Revoke post revokes it
// at once.
func TestConsoleKeys(t *testing.T) {
	logs := &syncBuffer{}
	in := start(t, startOpts{logs: logs})
	email := in.newUser("ann")
	b := newWebClient(t, in)
	b.mustSignIn(email, annPassword)
	acct := b.mustGet(200, "/console/")
	csrf := acct.csrf(t)
	for _, field := range []string{"name", "role", "resource", "format", "expires_in"} {
		if !labelled(acct.body, field) {
			t.Errorf("the create form has no labelled %s field", field)
		}
	}

	p := b.post("/console/keys", url.Values{"csrf": {csrf}, "name": {"laptop"}})
	if p.status != http.StatusCreated {
		t.Fatalf("create: %d %s", p.status, p.body)
	}
	wantNoStore(t, "the page with the new secret", p)
	tok := p.secret(t)
	if !strings.Contains(p.body, "no longer be able to see it") {
		t.Errorf("the secret page lacks the warning")
	}
	me := in.must(200, req{method: "GET", path: "/v1/me", token: tok}).json(t)
	if me["principal"] != "user:ann" || me["credential"].(map[string]any)["type"] != "key" {
		t.Errorf("the new key: %v", me)
	}
	k := in.must(200, req{method: "GET", path: "/v1/keys?owner=user:ann", token: testBootstrap}).json(t)["keys"].([]any)[0].(map[string]any)
	if k["owner"] != "user:ann" || k["role"] != nil || k["resource"] != nil || k["format"] != "token" {
		t.Errorf("a key made with only a name: %v; want a personal token with its owner's full power", k)
	}
	id := k["id"].(string)

	acct = b.mustGet(200, "/console/")
	if !strings.Contains(acct.body, `data-key-id="`+id+`"`) || !strings.Contains(acct.body, k["prefix"].(string)) {
		t.Errorf("the account page does not list the key with its prefix")
	}
	if strings.Contains(acct.body, tok) || strings.Contains(acct.body, "data-secret") {
		t.Errorf("the secret is shown again")
	}
	if !regexp.MustCompile(`(?s)data-key-id="` + id + `".*?<form method="post" action="/console/keys/` + id + `/revoke"[^>]*hx-confirm=[^>]*>.*?<button type="submit"[^>]*>Revoke</button>`).MatchString(acct.body) {
		t.Errorf("the key's row has no post form with a Revoke button (confirmed by hx-confirm)")
	}
	if strings.Contains(logs.String(), tok) {
		t.Errorf("the log holds the secret")
	}

	// A key+secret key, confined and capped, expiring.
	in.must(201, req{method: "POST", path: "/v1/resources", token: testBootstrap, body: `{"type": "organization", "id": "acme"}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/organization/acme/grants/user:ann", token: testBootstrap, body: `{"role": "member"}`})
	p = b.post("/console/keys", url.Values{"csrf": {csrf}, "owner": {"user:ann"}, "name": {"reader"}, "role": {"observer"},
		"resource": {"organization/acme"}, "format": {"key_secret"}, "expires_in": {"86400"}})
	if p.status != http.StatusCreated {
		t.Fatalf("create a key+secret key: %d %s", p.status, p.body)
	}
	kid := regexp.MustCompile(`HTTP Basic\): <code>([^<]+)</code>`).FindStringSubmatch(p.body)
	if kid == nil {
		t.Fatalf("the page does not show the key id")
	}
	got := in.must(200, req{method: "GET", path: "/v1/keys/" + kid[1], token: testBootstrap}).json(t)
	if got["owner"] != "user:ann" || got["role"] != "observer" || got["resource"] != "organization/acme" || got["expires_at"] == nil {
		t.Errorf("the key: %v", got)
	}
	basic := base64.StdEncoding.EncodeToString([]byte(kid[1] + ":" + p.secret(t)))
	in.must(200, req{method: "GET", path: "/v1/me", headers: map[string]string{"Authorization": "Basic " + basic}})
	// The API's refusals come back as the page's alert, with the API's status.
	if p := b.post("/console/keys", url.Values{"csrf": {csrf}, "name": {""}}); p.status != http.StatusBadRequest || !strings.Contains(p.alert(), "name is required") {
		t.Errorf("a key without a name: %d %q", p.status, p.alert())
	}
	if p := b.post("/console/keys", url.Values{"csrf": {csrf}, "name": {"x"}, "role": {"member"}, "resource": {"organization/acme"}}); p.status != http.StatusForbidden || p.alert() == "" {
		t.Errorf("a business key made by a member (not a manager): %d %q, want the API's 403", p.status, p.alert())
	}

	// Reissue shows a new secret once; the old one stops working.
	p = b.post("/console/keys/"+id+"/reissue", url.Values{"csrf": {csrf}})
	if p.status != http.StatusOK {
		t.Fatalf("reissue: %d %s", p.status, p.body)
	}
	fresh := p.secret(t)
	in.must(401, req{method: "GET", path: "/v1/me", token: tok})
	in.must(200, req{method: "GET", path: "/v1/me", token: fresh})

	p = b.post("/console/keys/"+id+"/revoke", url.Values{"csrf": {csrf}, "next": {"/console/"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/?done=revoked" {
		t.Fatalf("revoke: %d to %q", p.status, p.header.Get("Location"))
	}
	in.must(401, req{method: "GET", path: "/v1/me", token: fresh})
	if acct := b.mustGet(200, "/console/?done=revoked"); strings.Contains(acct.body, `data-key-id="`+id+`"`) || !strings.Contains(acct.body, `role="status"`) {
		t.Errorf("after revoking: the key is still listed, or no notice says so")
	}
	// Someone else's key: the API's 404, shown as the page's alert.
	other := in.must(201, req{method: "POST", path: "/v1/keys", token: testBootstrap, body: `{"name": "theirs", "owner": "user:` + strings.TrimSuffix(in.newUser("bob"), "@example.com") + `"}`}).json(t)
	if p := b.post("/console/keys/"+other["id"].(string)+"/revoke", url.Values{"csrf": {csrf}}); p.status != http.StatusNotFound || p.alert() == "" {
		t.Errorf("revoking another user's key: %d %q, want 404", p.status, p.alert())
	}
	in.must(200, req{method: "GET", path: "/v1/me", token: other["token"].(string)})
}

// TestConsolePassword: changing one's password through the console needs the current one,
// ends one's other sessions and personal access tokens, and keeps this browser signed in.
func TestConsolePassword(t *testing.T) {
	in := start(t, startOpts{})
	email := in.newUser("ann")
	b := newWebClient(t, in)
	b.mustSignIn(email, annPassword)
	elsewhere := newWebClient(t, in)
	elsewhere.mustSignIn(email, annPassword)
	pat := in.mustLogin(email, annPassword)
	csrf := b.mustGet(200, "/console/").csrf(t)
	const fresh = "a brand new password for ann 2026"

	if p := b.post("/console/password", url.Values{"csrf": {csrf}, "current_password": {"wrong wrong wrong wrong"}, "password": {fresh}}); p.status != http.StatusForbidden || p.alert() == "" {
		t.Fatalf("a wrong current password: %d %q, want 403", p.status, p.alert())
	}
	if p := b.post("/console/password", url.Values{"csrf": {csrf}, "current_password": {annPassword}, "password": {fresh}, "password_confirm": {fresh + "x"}}); p.status != http.StatusBadRequest {
		t.Errorf("a confirmation that differs: %d", p.status)
	}
	p := b.post("/console/password", url.Values{"csrf": {csrf}, "current_password": {annPassword}, "password": {fresh}, "password_confirm": {fresh}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/?done=password" {
		t.Fatalf("change: %d to %q: %s", p.status, p.header.Get("Location"), p.body)
	}
	b.mustGet(200, "/console/?done=password")
	if p := elsewhere.get("/console/"); p.status != http.StatusSeeOther {
		t.Errorf("another session survived the password change: %d", p.status)
	}
	in.must(401, req{method: "GET", path: "/v1/me", token: pat})
	in.mustLogin(email, fresh)
}

// TestConsoleResourcePage: a resource's page shows what the API shows this person: nothing
// of another tenant (404), its children to a reader, its members, business keys and audit log
// to its managers only; the member and business-key forms act through the API.
func TestConsoleResourcePage(t *testing.T) {
	in := start(t, startOpts{})
	for _, r := range []string{`{"type": "organization", "id": "acme", "name": "Acme"}`, `{"type": "organization", "id": "globex"}`,
		`{"type": "project", "id": "rocket", "parent": "organization/acme"}`} {
		in.must(201, req{method: "POST", path: "/v1/resources", token: testBootstrap, body: r})
	}
	ann, bob := in.newUser("ann"), in.newUser("bob")
	in.newUser("cy")
	in.must(200, req{method: "PUT", path: "/v1/resources/organization/acme/grants/user:ann", token: testBootstrap, body: `{"role": "admin"}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/organization/acme/grants/user:bob", token: testBootstrap, body: `{"role": "observer"}`})

	a := newWebClient(t, in)
	a.mustSignIn(ann, annPassword)
	if p := a.get("/console/resources/organization/globex"); p.status != http.StatusNotFound || !strings.Contains(p.body, "<h1>Not found</h1>") {
		t.Errorf("another tenant's resource: %d, want 404", p.status)
	}
	if p := a.get("/console/resources/organization/nothing-here"); p.status != http.StatusNotFound {
		t.Errorf("a resource that does not exist: %d, want 404", p.status)
	}
	if !strings.Contains(a.mustGet(200, "/console/").body, `href="/console/resources/organization/acme"`) {
		t.Errorf("the account page does not link the user's organization")
	}
	page := a.mustGet(200, "/console/resources/organization/acme")
	for _, want := range []string{"project/rocket", `data-principal="user:ann"`, `data-principal="user:bob"`, "resource.create", "Business keys"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the manager's page lacks %s", want)
		}
	}
	csrf := page.csrf(t)
	base := "/console/resources/organization/acme"

	// Members: add by email, change, remove.
	if p := a.post(base+"/members", url.Values{"csrf": {csrf}, "email": {"cy@example.com"}, "role": {"member"}}); p.status != http.StatusSeeOther {
		t.Fatalf("add a member: %d %s", p.status, p.body)
	}
	if p := a.post(base+"/members", url.Values{"csrf": {csrf}, "email": {"nobody@example.com"}, "role": {"member"}}); p.status != http.StatusNotFound || p.alert() == "" {
		t.Errorf("add an unknown email: %d %q, want the API's 404", p.status, p.alert())
	}
	if p := a.post(base+"/members/role", url.Values{"csrf": {csrf}, "principal": {"user:cy"}, "role": {"observer"}}); p.status != http.StatusSeeOther {
		t.Errorf("change a role: %d %s", p.status, p.body)
	}
	grants := in.must(200, req{method: "GET", path: "/v1/resources/organization/acme/grants", token: testBootstrap}).body
	if !strings.Contains(string(grants), `"principal":"user:cy","role":"observer"`) {
		t.Errorf("grants after add and change: %s", grants)
	}
	if p := a.post(base+"/members/remove", url.Values{"csrf": {csrf}, "principal": {"user:cy"}}); p.status != http.StatusSeeOther {
		t.Errorf("remove: %d %s", p.status, p.body)
	}
	in.must(404, req{method: "DELETE", path: "/v1/resources/organization/acme/grants/user:cy", token: testBootstrap})

	// Business keys: create (resource + role, no owner), listed, revoked.
	p := a.post("/console/keys", url.Values{"csrf": {csrf}, "next": {base}, "resource": {"organization/acme"}, "role": {"member"}, "name": {"ci"}})
	if p.status != http.StatusCreated || !strings.Contains(p.body, `href="`+base+`"`) {
		t.Fatalf("a business key: %d %s", p.status, p.body)
	}
	bk := p.secret(t)
	me := in.must(200, req{method: "GET", path: "/v1/me", token: bk}).json(t)
	keyID := strings.TrimPrefix(me["principal"].(string), "key:")
	if !strings.HasPrefix(me["principal"].(string), "key:") {
		t.Fatalf("the business key acts as %v", me["principal"])
	}
	if page := a.mustGet(200, base); !strings.Contains(page.body, `data-key-id="`+keyID+`"`) {
		t.Errorf("the business key is not listed")
	}
	if p := a.post("/console/keys/"+keyID+"/revoke", url.Values{"csrf": {csrf}, "next": {base}}); p.status != http.StatusSeeOther || p.header.Get("Location") != base+"?done=revoked" {
		t.Errorf("revoke the business key: %d to %q", p.status, p.header.Get("Location"))
	}
	in.must(401, req{method: "GET", path: "/v1/me", token: bk})

	// Audit: filters and pages (25 events a page).
	for i := range 30 {
		role := []string{"member", "observer"}[i%2]
		in.must(200, req{method: "PUT", path: "/v1/resources/organization/acme/grants/user:bob", token: testBootstrap, body: `{"role": "` + role + `"}`})
	}
	page = a.mustGet(200, base+"?action=grant.put")
	if n := strings.Count(page.body, `<td data-label="Action">grant.put`); n != 25 {
		t.Errorf("the first page of grant.put events has %d, want 25", n)
	}
	next := regexp.MustCompile(`href="([^"]+cursor=[^"]+)">Next page`).FindStringSubmatch(page.body)
	if next == nil {
		t.Fatalf("no next page link")
	}
	page = a.mustGet(200, strings.ReplaceAll(next[1], "&amp;", "&"))
	if n := strings.Count(page.body, `<td data-label="Action">grant.put`); n == 0 || n > 25 || strings.Contains(page.body, `<td data-label="Action">resource.create`) {
		t.Errorf("the second page: %d grant.put events", n)
	}

	// A reader who does not manage: children yes, members, keys and audit no.
	o := newWebClient(t, in)
	o.mustSignIn(bob, annPassword)
	page = o.mustGet(200, base)
	if !strings.Contains(page.body, "project/rocket") || strings.Contains(page.body, `data-principal=`) || strings.Contains(page.body, `<td data-label="Action">resource.create`) {
		t.Errorf("an observer's page: want the children and no members or audit")
	}
	if !strings.Contains(page.body, "managers see its members.") {
		t.Errorf("an observer's page does not say why members are not shown")
	}
	if p := o.post(base+"/members", url.Values{"csrf": {page.csrf(t)}, "email": {"cy@example.com"}, "role": {"member"}}); p.status != http.StatusForbidden {
		t.Errorf("an observer adding a member: %d, want the API's 403", p.status)
	}
	if p := o.get("/console/resources/project/rocket"); p.status != http.StatusOK {
		t.Errorf("an observer of the parent on a child: %d", p.status)
	}
}

// TestConsoleEnvelope: with api.envelope the console unwraps the API's answers.
func TestConsoleEnvelope(t *testing.T) {
	in := start(t, startOpts{mutate: func(c *config.Config) { c.API.Envelope = true }})
	email := in.newUser("ann")
	b := newWebClient(t, in)
	b.mustSignIn(email, annPassword)
	csrf := b.mustGet(200, "/console/").csrf(t)
	p := b.post("/console/keys", url.Values{"csrf": {csrf}, "name": {"enveloped"}})
	if p.status != http.StatusCreated {
		t.Fatalf("create: %d %s", p.status, p.body)
	}
	in.must(200, req{method: "GET", path: "/v1/me", token: p.secret(t)})
	if !strings.Contains(b.mustGet(200, "/console/").body, "enveloped") {
		t.Errorf("the key is not listed")
	}
	if p := b.get("/console/resources/organization/none"); p.status != 404 || !strings.Contains(p.alert(), "Not found") {
		t.Errorf("an enveloped 404: %d %q", p.status, p.alert())
	}
}

// TestConsoleURLLogged: lanyard serve says where the console is.
func TestConsoleURLLogged(t *testing.T) {
	logs := &syncBuffer{}
	in := start(t, startOpts{logs: logs})
	want := fmt.Sprintf("msg=console url=%s/console/", in.base)
	if !strings.Contains(logs.String(), want) {
		t.Errorf("the start-up log lacks %q:\n%s", want, logs.String())
	}
}

// sessionCookie is the session cookie an answer sets, or nil.
func sessionCookie(h http.Header) *http.Cookie {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == console.SessionCookie {
			return c
		}
	}
	return nil
}

// TestConsoleSecureCookie: the session cookie is Secure when the browser came over TLS —
// to lanyard itself, or to a trusted proxy that says so — and only then.
func TestConsoleSecureCookie(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	in := start(t, startOpts{mutate: func(c *config.Config) {
		c.Server.TLSCert, c.Server.TLSKey = certFile, keyFile
	}})
	in.base = strings.Replace(in.base, "http://", "https://", 1)
	email := in.newUserTLS(pool, "ann")
	b := newWebClient(t, in)
	b.c.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	p := b.signIn(email, annPassword)
	if c := sessionCookie(p.header); p.status != http.StatusSeeOther || c == nil || !c.Secure || !c.HttpOnly {
		t.Errorf("sign-in over TLS: %d, cookie %+v; want a Secure, HttpOnly session cookie", p.status, c)
	}

	behind := start(t, startOpts{mutate: func(c *config.Config) { c.Server.TrustedProxies = []string{"127.0.0.1"} }})
	email = behind.newUser("bob")
	for proto, secure := range map[string]bool{"https": true, "http": false} {
		b := newWebClient(t, behind)
		login := b.mustGet(200, "/console/login")
		p := b.do("POST", "/console/login", url.Values{"csrf": {login.csrf(t)}, "email": {email}, "password": {annPassword}},
			map[string]string{"X-Forwarded-Proto": proto})
		if c := sessionCookie(p.header); c == nil || c.Secure != secure {
			t.Errorf("sign-in through a trusted proxy with X-Forwarded-Proto %s: cookie %+v, want Secure %v", proto, c, secure)
		}
	}
	// From anyone else X-Forwarded-Proto says nothing.
	plain := start(t, startOpts{})
	email = plain.newUser("cy")
	b = newWebClient(t, plain)
	login := b.mustGet(200, "/console/login")
	p = b.do("POST", "/console/login", url.Values{"csrf": {login.csrf(t)}, "email": {email}, "password": {annPassword}},
		map[string]string{"X-Forwarded-Proto": "https"})
	if c := sessionCookie(p.header); c == nil || c.Secure {
		t.Errorf("X-Forwarded-Proto from an untrusted peer made the cookie %+v", c)
	}
}

// newUserTLS is newUser for an instance served over TLS with a certificate pool trusts.
func (in *instance) newUserTLS(pool *x509.CertPool, id string) string {
	in.t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	r, err := http.NewRequest("POST", in.base+"/v1/users", strings.NewReader(`{"id": "`+id+`", "email": "`+id+`@example.com", "password": "`+annPassword+`"}`))
	if err != nil {
		in.t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+testBootstrap)
	resp, err := c.Do(r)
	if err != nil {
		in.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		in.t.Fatalf("creating user %s over TLS: %d", id, resp.StatusCode)
	}
	return id + "@example.com"
}

// TestConsoleCreateResource: the resource forms are the API's POST /v1/resources: an admin's
// session makes a root resource, a manager a child, and anyone else gets the API's refusal.
func TestConsoleCreateResource(t *testing.T) {
	in := start(t, startOpts{})
	admin, member := in.newUser("ann"), in.newUser("bob")
	in.must(200, req{method: "POST", path: "/v1/users/ann/admin", token: testBootstrap})

	a := newWebClient(t, in)
	a.mustSignIn(admin, annPassword)
	acct := a.mustGet(200, "/console/")
	if !strings.Contains(acct.body, `action="/console/resources"`) {
		t.Fatalf("an admin's account page has no form to create a resource")
	}
	p := a.post("/console/resources", url.Values{"csrf": {acct.csrf(t)}, "type": {"organization"}, "id": {"initech"}, "name": {"Initech"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/resources/organization/initech?done=resource" {
		t.Fatalf("create an organization: %d to %q: %s", p.status, p.header.Get("Location"), p.body)
	}
	page := a.mustGet(200, "/console/resources/organization/initech?done=resource")
	if !strings.Contains(page.body, "Initech") || !strings.Contains(page.body, `name="parent" value="organization/initech"`) {
		t.Errorf("the new organization's page lacks its name or the form for what goes inside it")
	}
	p = a.post("/console/resources", url.Values{"csrf": {acct.csrf(t)}, "type": {"project"}, "id": {"tps"}, "parent": {"organization/initech"},
		"next": {"/console/resources/organization/initech"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("create a project inside it: %d %s", p.status, p.body)
	}
	in.must(200, req{method: "GET", path: "/v1/resources/project/tps", token: testBootstrap})
	if p := a.post("/console/resources", url.Values{"csrf": {acct.csrf(t)}, "type": {"organization"}, "id": {"initech"}}); p.status != http.StatusConflict || p.alert() == "" {
		t.Errorf("an id that is taken: %d %q, want the API's 409", p.status, p.alert())
	}

	b := newWebClient(t, in)
	b.mustSignIn(member, annPassword)
	acct = b.mustGet(200, "/console/")
	if strings.Contains(acct.body, `action="/console/resources"`) {
		t.Errorf("a member's account page offers to create a root resource")
	}
	if p := b.post("/console/resources", url.Values{"csrf": {acct.csrf(t)}, "type": {"organization"}, "id": {"mine"}}); p.status != http.StatusForbidden || p.alert() == "" {
		t.Errorf("a member creating a root resource: %d %q, want the API's 403", p.status, p.alert())
	}
	in.must(404, req{method: "GET", path: "/v1/resources/organization/mine", token: testBootstrap})
}
