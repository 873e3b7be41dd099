package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/lanyardhq/lanyard/internal/testenv"
)

// The console in a real browser: Debian's Chromium, headless, driven by chromedp, against the
// same lanyard the test talks HTTP to. They run when LANYARD_TEST_CHROMIUM names the binary
// (scripts/test-services.sh prints it) and skip otherwise, or fail under LANYARD_TEST_REQUIRE=1.
// Each page is saved as a screenshot in the test's artifact directory: run with
// `go test -artifacts -outputdir DIR` to keep them (the README's come from there).

// chrome is one headless Chromium with a fresh profile, ended when the test ends.
type chrome struct {
	t   *testing.T
	ctx context.Context
	in  *instance
}

// stepTimeout bounds one step in the browser: generous, since the machine is shared.
const stepTimeout = 60 * time.Second

func newChrome(t *testing.T, in *instance) *chrome {
	t.Helper()
	bin := testenv.Chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// The network is closed: nothing may try to reach a vendor's servers.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	// The browser ends before the server and the profile directory go (cleanups run last
	// registered first).
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first action starts the browser; it must run without a deadline of its own.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	c := &chrome{t: t, ctx: ctx, in: in}
	c.watchConsole()
	return c
}

// watchConsole fails the test, when it ends, for every uncaught script error and every
// Content-Security-Policy violation the pages reported: the policy forbids inline script and
// style, and neither htmx nor the console's own script may need them.
func (c *chrome) watchConsole() {
	var (
		mu  sync.Mutex
		bad []string
	)
	messages := chromedp.Console(c.ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Source == "security" || strings.Contains(m.Text, "Content Security Policy") {
				mu.Lock()
				bad = append(bad, m.String()+" ("+m.URL+")")
				mu.Unlock()
			}
		}
	}()
	// Registered after the browser's cleanup, so it runs before the browser ends.
	c.t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range bad {
			c.t.Errorf("the browser reported: %s", m)
		}
	})
}

// do runs steps in the browser and fails the test when one fails.
func (c *chrome) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
}

// value runs an action that reads something.
func value[T any](c *chrome, what string, a chromedp.Action[T]) T {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// open navigates to a console path and returns the answer's status.
func (c *chrome) open(path string, steps ...chromedp.Action[chromedp.Void]) int {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(c.in.base + path)}, steps...)...)
	if err != nil {
		c.t.Fatalf("open %s: %v", path, err)
	}
	return int(resp.Status)
}

// path is the path of the page the browser shows.
func (c *chrome) path() string {
	c.t.Helper()
	loc := value(c, "location", chromedp.Location())
	return strings.TrimPrefix(loc, c.in.base)
}

// html is the page's markup as the browser holds it now.
func (c *chrome) html() string {
	c.t.Helper()
	return value(c, "read the page", chromedp.OuterHTML(chromedp.CSS("html")))
}

// shot saves a screenshot of the whole page as <name>.png in the test's artifact directory.
func (c *chrome) shot(name string) {
	c.t.Helper()
	png := value(c, "screenshot "+name, chromedp.FullScreenshot(100))
	p := filepath.Join(c.t.ArtifactDir(), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// acceptDialogs answers every confirm() of the page with OK, as a person who means it.
func (c *chrome) acceptDialogs() {
	dialogs := chromedp.Events(c.ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(c.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
}

// signIn fills in and posts the sign-in form the browser shows.
func (c *chrome) signIn(email, password string) {
	c.t.Helper()
	c.do("sign in as "+email,
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/console/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("keys-h")),
	)
}

// createKey posts the create-key form of the page the browser shows with only a name, and
// returns the secret the answer shows once.
func (c *chrome) createKey(name string) string {
	c.t.Helper()
	c.do("create the key "+name,
		chromedp.SendKeys(chromedp.ID("key-name"), name),
		chromedp.Click(chromedp.CSS(`form[action="/console/keys"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-secret]`)),
	)
	return strings.TrimSpace(value(c, "the secret", chromedp.Text(chromedp.CSS(`[data-secret]`))))
}

// scriptOff turns JavaScript off in the browser, for the pages it opens from now on.
func (c *chrome) scriptOff() {
	c.t.Helper()
	c.do("turn JavaScript off", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
}

// keyID is the id of the user's one key named name, as the API lists it.
func (in *instance) keyID(owner, name string) string {
	in.t.Helper()
	for _, k := range in.must(200, req{method: "GET", path: "/v1/keys?owner=user:" + owner, token: testBootstrap}).json(in.t)["keys"].([]any) {
		if k := k.(map[string]any); k["name"] == name {
			return k["id"].(string)
		}
	}
	in.t.Fatalf("user %s has no key named %q", owner, name)
	return ""
}

// TestConsoleBrowser walks the console as a person would, with JavaScript on: a wrong
// password, a sign-in, a key created and used, the page reloaded without the secret, the key
// revoked (confirmed) and refused, a resource's page, another tenant's (404), the users page of
// a member (403) and of an admin, and sign-out.
func TestConsoleBrowser(t *testing.T) {
	in := start(t, startOpts{})
	email := in.newUser("ann")
	in.newUser("bob")
	in.newUser("cy")
	for _, r := range []string{`{"type": "organization", "id": "acme", "name": "Acme"}`, `{"type": "organization", "id": "globex", "name": "Globex"}`,
		`{"type": "project", "id": "rocket", "name": "Rocket", "parent": "organization/acme"}`} {
		in.must(201, req{method: "POST", path: "/v1/resources", token: testBootstrap, body: r})
	}
	for who, role := range map[string]string{"ann": "admin", "bob": "member", "cy": "observer"} {
		in.must(200, req{method: "PUT", path: "/v1/resources/organization/acme/grants/user:" + who, token: testBootstrap, body: `{"role": "` + role + `"}`})
	}
	in.must(201, req{method: "POST", path: "/v1/keys", token: testBootstrap, body: `{"name": "ci", "resource": "organization/acme", "role": "member"}`})
	c := newChrome(t, in)
	c.acceptDialogs()

	// Without a session the console is the sign-in page; a wrong password shows the alert.
	c.open("/console/", chromedp.WaitVisible(chromedp.ID("email")))
	if p := c.path(); p != "/console/login" {
		t.Fatalf("the console without a session shows %s, want /console/login", p)
	}
	c.shot("login")
	c.do("a wrong password",
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), "this is not the password"),
		chromedp.Click(chromedp.CSS(`form[action="/console/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)),
	)
	if msg := value(c, "the alert", chromedp.Text(chromedp.CSS(`[role="alert"]`))); !strings.Contains(msg, "not right") {
		t.Errorf("the alert says %q", msg)
	}
	c.shot("login-failed")
	c.do("sign in",
		chromedp.SendKeys(chromedp.ID("password"), annPassword),
		chromedp.Click(chromedp.CSS(`form[action="/console/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("keys-h")),
	)
	if p := c.path(); p != "/console/" {
		t.Fatalf("after signing in the browser shows %s", p)
	}
	c.shot("account")

	// Create a key: the secret is shown once, with a copy button, in the page (htmx: the
	// address stays /console/).
	c.do("create a key",
		chromedp.SendKeys(chromedp.ID("key-name"), "ci deploys"),
		chromedp.Click(chromedp.CSS(`form[action="/console/keys"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-secret]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[data-copy]`)),
	)
	tok := strings.TrimSpace(value(c, "the secret", chromedp.Text(chromedp.CSS(`[data-secret]`))))
	if !strings.HasPrefix(tok, "lk_") {
		t.Fatalf("the secret shown is %q", tok)
	}
	if !strings.Contains(c.html(), "no longer be able to see it") {
		t.Errorf("the page with the secret lacks the warning")
	}
	c.shot("key-created")
	c.do("copy it", chromedp.Click(chromedp.CSS(`button[data-copy]`)), chromedp.WaitVisible(chromedp.CSS(`[data-copied]`)))
	if a := in.do(req{method: "GET", path: "/v1/me", token: tok}); a.status != http.StatusOK {
		t.Fatalf("GET /v1/me with the new key: %d %s", a.status, a.body)
	}
	id := in.keyID("ann", "ci deploys")

	// Reload: the key is listed, the secret is gone.
	c.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`tr[data-key-id="`+id+`"]`)))
	if html := c.html(); strings.Contains(html, tok) || strings.Contains(html, "data-secret") {
		t.Errorf("the secret is still in the page after a reload")
	}
	c.shot("account-with-key")

	// Revoke it: confirmed in a dialog; the key is refused at once.
	revoke := chromedp.CSS(`tr[data-key-id="` + id + `"] form[action$="/revoke"] button[type="submit"]`)
	if label := value(c, "the revoke button", chromedp.Text(revoke)); label != "Revoke" {
		t.Errorf("the revoke button says %q", label)
	}
	c.do("revoke", chromedp.Click(revoke),
		chromedp.WaitVisible(chromedp.CSS(`[role="status"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`tr[data-key-id="`+id+`"]`)))
	if a := in.do(req{method: "GET", path: "/v1/me", token: tok}); a.status != http.StatusUnauthorized {
		t.Errorf("GET /v1/me with the revoked key: %d, want 401", a.status)
	}
	c.shot("key-revoked")

	// A resource she manages; at phone width too.
	if s := c.open("/console/resources/organization/acme", chromedp.WaitVisible(chromedp.ID("members-h"))); s != http.StatusOK {
		t.Fatalf("the resource page: %d", s)
	}
	for _, want := range []string{`data-principal="user:bob"`, "project/rocket", "resource.create"} {
		if !strings.Contains(c.html(), want) {
			t.Errorf("the resource page lacks %s", want)
		}
	}
	c.shot("resource")
	c.do("phone width", chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("members-h")))
	c.shot("resource-phone")
	c.do("desktop width", chromedp.EmulateViewport(1280, 900))

	// Add a member by email, through the form.
	c.do("add a member",
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.ID("member-email")),
		chromedp.SendKeys(chromedp.ID("member-email"), "cy@example.com"),
		chromedp.SetValue(chromedp.ID("member-role"), "member"),
		chromedp.Click(chromedp.CSS(`form[action$="/members"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[role="status"]`)),
	)
	if g := in.must(200, req{method: "GET", path: "/v1/resources/organization/acme/grants", token: testBootstrap}).body; !strings.Contains(string(g), `"principal":"user:cy","role":"member"`) {
		t.Errorf("the member added in the browser: %s", g)
	}

	// Another tenant's resource: 404, as the API answers.
	if s := c.open("/console/resources/organization/globex", chromedp.WaitVisible(chromedp.CSS(`h1`))); s != http.StatusNotFound {
		t.Errorf("another tenant's resource page: %d, want 404", s)
	}
	if strings.Contains(c.html(), "Globex") {
		t.Errorf("the 404 page names the other tenant's resource")
	}
	c.shot("not-found")

	// The users page is for admins.
	if s := c.open("/console/users", chromedp.WaitVisible(chromedp.CSS(`h1`))); s != http.StatusForbidden {
		t.Errorf("a member's users page: %d, want 403", s)
	}

	// Sign out ends the session.
	c.open("/console/", chromedp.WaitVisible(chromedp.ID("keys-h")))
	c.do("sign out", chromedp.Click(chromedp.CSS(`form.signout button[type="submit"]`)), chromedp.WaitVisible(chromedp.ID("email")))
	if p := c.path(); p != "/console/login" {
		t.Errorf("after signing out the browser shows %s", p)
	}
	c.open("/console/", chromedp.WaitVisible(chromedp.ID("email")))
	if p := c.path(); p != "/console/login" {
		t.Errorf("after signing out /console/ shows %s, want the sign-in page", p)
	}

	// An admin's users page.
	in.must(200, req{method: "POST", path: "/v1/users/ann/admin", token: testBootstrap})
	c.signIn(email, annPassword)
	if s := c.open("/console/users", chromedp.WaitVisible(chromedp.CSS(`tr[data-user-id="bob"]`))); s != http.StatusOK {
		t.Errorf("an admin's users page: %d", s)
	}
	c.shot("users")
}

// TestConsoleBrowserNoScript: with JavaScript off, every form still works: sign in, create a
// key (its secret plain, selectable text; no copy button), revoke it with the row's button.
func TestConsoleBrowserNoScript(t *testing.T) {
	in := start(t, startOpts{})
	email := in.newUser("ann")
	c := newChrome(t, in)
	c.scriptOff()

	c.open("/console/login")
	c.signIn(email, annPassword)
	tok := c.createKey("no script")
	if p := c.path(); p != "/console/keys" {
		t.Errorf("a plain form post shows %s, want /console/keys", p)
	}
	html := c.html()
	if !strings.Contains(html, `<button type="button" data-copy="" hidden="">`) {
		t.Errorf("the copy button shows without JavaScript")
	}
	if a := in.do(req{method: "GET", path: "/v1/me", token: tok}); a.status != http.StatusOK {
		t.Fatalf("GET /v1/me with the key made without JavaScript: %d", a.status)
	}
	c.shot("key-created-noscript")
	id := in.keyID("ann", "no script")

	c.open("/console/", chromedp.WaitVisible(chromedp.CSS(`tr[data-key-id="`+id+`"]`)))
	if strings.Contains(c.html(), tok) {
		t.Errorf("the secret is shown again")
	}
	c.do("revoke",
		chromedp.Click(chromedp.CSS(`tr[data-key-id="`+id+`"] form[action$="/revoke"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[role="status"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`tr[data-key-id="`+id+`"]`)),
	)
	if p := c.path(); p != "/console/?done=revoked" {
		t.Errorf("after revoking without JavaScript the browser shows %s", p)
	}
	if a := in.do(req{method: "GET", path: "/v1/me", token: tok}); a.status != http.StatusUnauthorized {
		t.Errorf("GET /v1/me with the key revoked without JavaScript: %d, want 401", a.status)
	}
	c.shot("key-revoked-noscript")
}

// barTitles are the titles of the usage chart's bars in a page's markup, in order.
var barTitles = regexp.MustCompile(`<g class="bar">\s*<title>([^<]*)</title>`)

// TestConsoleBrowserKeyUsage: a key made in the console and used over HTTP, some requests
// refused, shows its use on its page as a chart the server drew: a bar per hour with requests,
// whose title gives the hour's requests and refusals; with JavaScript off too.
func TestConsoleBrowserKeyUsage(t *testing.T) {
	clock := &fakeClock{t: time.Date(2030, 5, 26, 8, 20, 0, 0, time.UTC)}
	in := start(t, startOpts{clock: clock})
	email := in.newUser("ann")
	in.must(201, req{method: "POST", path: "/v1/resources", token: testBootstrap, body: `{"type": "organization", "id": "acme", "name": "Acme"}`})
	in.must(200, req{method: "PUT", path: "/v1/resources/organization/acme/grants/user:ann", token: testBootstrap, body: `{"role": "admin"}`})
	in.must(201, req{method: "POST", path: "/v1/keys", token: testBootstrap, body: `{"name": "ci", "id": "acme-ci", "resource": "organization/acme", "role": "member"}`})
	// A week of a deployment pipeline's key (the README's picture): busy in working hours,
	// now and then refused.
	ci := in.must(201, req{method: "POST", path: "/v1/keys", token: testBootstrap, body: `{"name": "ci deploys", "id": "ann-ci", "owner": "user:ann"}`}).json(t)["token"].(string)
	busy := 0
	for h := range 6 * 24 {
		hod := clock.Now().Hour()
		n := 0
		if hod >= 8 && hod < 19 {
			n = 1 + (h*7)%5
		}
		for i := range n {
			if i == 0 && h%7 == 0 {
				in.must(403, req{method: "GET", path: "/v1/users", token: ci})
			} else {
				in.must(200, req{method: "GET", path: "/v1/me", token: ci})
			}
		}
		if n > 0 {
			busy++
		}
		clock.Advance(time.Hour)
	}
	c := newChrome(t, in)
	c.open("/console/login")
	c.signIn(email, annPassword)
	tok := c.createKey("reports")
	id := in.keyID("ann", "reports")

	// Hour after hour, some requests it may make and some it may not (only admins list the
	// users: 403); the clock stays within the console session's 12 hours.
	hours := []struct{ allowed, refused int }{{3, 1}, {5, 0}, {8, 2}, {2, 0}, {0, 0}, {6, 3}, {4, 1}}
	var want []string
	total, refused := 0, 0
	for _, h := range hours {
		total, refused = total+h.allowed+h.refused, refused+h.refused
		for range h.allowed {
			in.must(200, req{method: "GET", path: "/v1/me", token: tok})
		}
		for range h.refused {
			in.must(403, req{method: "GET", path: "/v1/users", token: tok})
		}
		if n := h.allowed + h.refused; n > 0 {
			at := clock.Now().Truncate(time.Hour)
			want = append(want, fmt.Sprintf("%s–%s UTC: %d requests, %d refused", at.Format("Jan 2, 15:04"), at.Add(time.Hour).Format("15:04"), n, h.refused))
		}
		clock.Advance(time.Hour)
	}
	if err := in.flushUsage(t.Context()); err != nil {
		t.Fatal(err)
	}

	// From the list of my keys to the key's page.
	c.open("/console/", chromedp.WaitVisible(chromedp.CSS(`tr[data-key-id="`+id+`"]`)))
	c.do("open its usage",
		chromedp.Click(chromedp.CSS(`tr[data-key-id="`+id+`"] a[href$="#usage"]`)),
		chromedp.WaitVisible(chromedp.CSS(`svg.usage-chart`)),
	)
	if p := c.path(); p != "/console/keys/"+id+"#usage" {
		t.Errorf("the usage link leads to %s", p)
	}
	checkBars := func(what string) {
		t.Helper()
		html := c.html()
		var got []string
		for _, m := range barTitles.FindAllStringSubmatch(html, -1) {
			got = append(got, m[1])
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: the chart's bars say\n%q\nwant\n%q", what, got, want)
		}
		for _, s := range []string{fmt.Sprintf("%d requests in the last 7 days", total), fmt.Sprintf("%d of them refused", refused),
			`role="img"`, `aria-labelledby="usage-title usage-summary"`} {
			if !strings.Contains(html, s) {
				t.Errorf("%s: the page lacks %q", what, s)
			}
		}
		if strings.Contains(html, "style=") {
			t.Errorf("%s: the page has a style attribute, which the policy forbids", what)
		}
	}
	checkBars("the key's page")
	c.shot("key-usage-new")

	// The week of the pipeline's key: a bar for every hour it was used.
	c.open("/console/keys/ann-ci", chromedp.WaitVisible(chromedp.CSS(`svg.usage-chart`)))
	if n := len(barTitles.FindAllStringSubmatch(c.html(), -1)); n != busy {
		t.Errorf("the pipeline key's chart has %d bars, want %d", n, busy)
	}
	c.shot("key-usage")
	c.do("phone width", chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`svg.usage-chart`)))
	c.shot("key-usage-phone")
	c.do("desktop width", chromedp.EmulateViewport(1280, 900))

	// The business key's row on its resource's page leads to its page too.
	c.open("/console/resources/organization/acme", chromedp.WaitVisible(chromedp.CSS(`tr[data-key-id="acme-ci"]`)))
	c.do("open the business key's usage",
		chromedp.Click(chromedp.CSS(`tr[data-key-id="acme-ci"] a[href$="#usage"]`)),
		chromedp.WaitVisible(chromedp.CSS(`svg.usage-chart`)),
	)
	if html := c.html(); !strings.Contains(html, "No requests in the last 7 days.") || !strings.Contains(html, `href="/console/resources/organization/acme#keys"`) {
		t.Errorf("the business key's page lacks its empty chart or the way back to its resource")
	}

	// Drawn by the server: with JavaScript off the chart is the same.
	c.scriptOff()
	c.open("/console/keys/"+id, chromedp.WaitVisible(chromedp.CSS(`svg.usage-chart`)))
	checkBars("the key's page without JavaScript")

	// Another person's key has no page for her: 404, as the API answers.
	in.newUser("bob")
	bobKey := in.must(201, req{method: "POST", path: "/v1/keys", token: testBootstrap, body: `{"name": "bob's", "owner": "user:bob"}`}).json(t)["id"].(string)
	if s := c.open("/console/keys/"+bobKey, chromedp.WaitVisible(chromedp.CSS(`h1`))); s != http.StatusNotFound {
		t.Errorf("another person's key page: %d, want 404", s)
	}
}
