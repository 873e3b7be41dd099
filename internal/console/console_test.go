package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/store"
)

// The console's own logic, without an API: the end-to-end tests (internal/server,
// console_*_test.go) cover the pages against the real one.

func TestSafeNext(t *testing.T) {
	for next, want := range map[string]string{
		"":                                "",
		"/console/":                       "/console/",
		"/console/users":                  "/console/users",
		"/console/users?cursor=abc":       "/console/users?cursor=abc",
		"/console/resources/org/a#audit":  "/console/resources/org/a",
		"/console/login":                  "",
		"/console/login?next=/console/":   "",
		"/console/static/x.css":           "",
		"/console/../v1/keys":             "",
		"/console/a/..":                   "",
		"/console":                        "",
		"//evil.example/console/":         "",
		"https://evil.example/console/":   "",
		"/console/\\evil":                 "",
		"/console/x\r\nSet-Cookie: a=b":   "",
		"javascript:alert(1)//console/":   "",
		"/v1/keys":                        "",
		"/consoles/":                      "",
		"/console/%2e%2e/v1/keys":         "",
		"/console/users?next=//evil.test": "/console/users?next=//evil.test",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

func TestURL(t *testing.T) {
	for _, tc := range []struct {
		addr string
		tls  bool
		want string
	}{
		{"127.0.0.1:8080", false, "http://127.0.0.1:8080/console/"},
		{"0.0.0.0:8080", true, "https://127.0.0.1:8080/console/"},
		{"[::]:9000", false, "http://[::1]:9000/console/"},
		{"lanyard.internal:443", true, "https://lanyard.internal:443/console/"},
	} {
		if got := URL(tc.addr, tc.tls); got != tc.want {
			t.Errorf("URL(%q, %v) = %q, want %q", tc.addr, tc.tls, got, tc.want)
		}
	}
	for path, want := range map[string]bool{"/console": true, "/console/": true, "/console/users": true, "/consoles": false, "/v1/console/": false, "/": false} {
		if Handles(path) != want {
			t.Errorf("Handles(%q) = %v", path, !want)
		}
	}
}

// noAPI answers nothing: these tests never get as far as the API.
type noAPI struct{ t *testing.T }

func (a noAPI) ServeAs(http.ResponseWriter, *http.Request, *authn.Identity) {
	a.t.Errorf("the console asked the API something")
}

func (a noAPI) CheckPassword(*http.Request, string, string) (store.User, error) {
	a.t.Errorf("the console checked a password")
	return store.User{}, nil
}

func (noAPI) Prefix() string                      { return "/v1" }
func (noAPI) ClientAddr(*http.Request) netip.Addr { return netip.Addr{} }
func (noAPI) TrustedPeer(*http.Request) bool      { return false }
func (a noAPI) SpendLoginQuota(*http.Request) error {
	a.t.Errorf("the console spent a sign-in")
	return nil
}

// noSessions holds no session.
type noSessions struct{ store.Sessions }

func (noSessions) ResolveSession(ctx context.Context, h store.Hash) (store.Session, error) {
	return store.Session{}, store.ErrNotFound
}

func newTestConsole(t *testing.T) *Console {
	t.Helper()
	c, err := New(Options{Config: config.Default(), API: noAPI{t}, Sessions: noSessions{}, Key: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNew(t *testing.T) {
	if _, err := New(Options{Config: config.Default(), API: noAPI{t}, Sessions: noSessions{}, Key: make([]byte, 16)}); err == nil {
		t.Errorf("New took a short key")
	}
	if _, err := New(Options{API: noAPI{t}, Sessions: noSessions{}, Key: make([]byte, 32)}); err == nil {
		t.Errorf("New took no config")
	}
	c := newTestConsole(t)
	for _, name := range []string{"account", "error", "login", "resource", "secret", "users"} {
		if c.pages[name] == nil {
			t.Errorf("no template for the page %s", name)
		}
	}
}

// TestAssets: each embedded file is served under a name that holds its hash, for a year, and
// every answer — a garbled session cookie's too — carries the security headers without asking
// the API or the store anything.
func TestAssets(t *testing.T) {
	c := newTestConsole(t)
	for _, u := range []string{c.assets.CSS, c.assets.JS, c.assets.HTMX} {
		if !strings.HasPrefix(u, "/console/static/") {
			t.Fatalf("asset URL %q", u)
		}
		w := httptest.NewRecorder()
		c.ServeHTTP(w, httptest.NewRequest("GET", u, nil))
		if w.Code != 200 || !strings.Contains(w.Header().Get("Cache-Control"), "immutable") || w.Body.Len() == 0 {
			t.Errorf("GET %s: %d %q", u, w.Code, w.Header().Get("Cache-Control"))
		}
	}
	r := httptest.NewRequest("GET", "/console/", nil)
	r.AddCookie(&http.Cookie{Name: SessionCookie, Value: "lcs_not-a-token"})
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	if w.Code != http.StatusSeeOther || w.Header().Get("X-Frame-Options") != "DENY" || w.Header().Get("Content-Security-Policy") == "" {
		t.Errorf("a garbled session cookie: %d %v", w.Code, w.Header())
	}
}

// TestCSRFMac: the csrf field depends on the key, the purpose and the value.
func TestCSRFMac(t *testing.T) {
	c := newTestConsole(t)
	d := newTestConsole(t)
	d.key = append([]byte{1}, make([]byte, 31)...)
	a := c.mac("session", "lcs_x")
	for name, b := range map[string]string{"another value": c.mac("session", "lcs_y"), "another purpose": c.mac("login", "lcs_x"), "another key": d.mac("session", "lcs_x")} {
		if a == b {
			t.Errorf("%s: the same csrf field", name)
		}
	}
	if a != c.mac("session", "lcs_x") {
		t.Errorf("the csrf field is not stable")
	}
}
