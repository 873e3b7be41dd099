package server

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/lanyardhq/lanyard/internal/config"
)

// rawDo sends a request with header names exactly as given (no canonicalisation), as a client
// that writes "x-bbk-auth-token" in lower case does.
func (in *instance) rawDo(method, path string, headers map[string]string) answer {
	in.t.Helper()
	return in.do(req{method: method, path: path, headers: headers, rawHeaders: true})
}

// TestCredentialSources: every source form of CONTRACT §4, configured through the config, finds
// the credential; conflicts, unconfigured forms and oversized values get clean answers.
func TestCredentialSources(t *testing.T) {
	in := start(t, startOpts{mutate: func(c *config.Config) {
		c.Sources = []config.Source{
			{Type: config.SourceScheme, Scheme: "APIKEY:ORGANIZATION"},
			{Type: config.SourceHeader, Name: "X-Bbk-Auth-Token"},
			{Type: config.SourceBasic},
			{Type: config.SourceBearer},
		}
	}})
	boot := testBootstrap
	in.must(201, req{method: "POST", path: "/v1/users", token: boot, body: `{"id": "ann", "email": "ann@example.com"}`})
	key := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "k", "owner": "user:ann", "id": "k1"}`}).json(t)["token"].(string)
	other := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "k", "owner": "user:ann", "id": "k2"}`}).json(t)["token"].(string)
	pair := in.must(201, req{method: "POST", path: "/v1/keys", token: boot, body: `{"name": "p", "owner": "user:ann", "id": "p1", "format": "key_secret"}`}).json(t)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("p1:"+pair["secret"].(string)))

	good := []struct {
		name    string
		headers map[string]string
		keyID   string
	}{
		{"scheme", map[string]string{"Authorization": "APIKEY:ORGANIZATION " + key}, "k1"},
		{"scheme in another case", map[string]string{"Authorization": "apikey:organization " + key}, "k1"},
		{"header", map[string]string{"X-Bbk-Auth-Token": key}, "k1"},
		{"header in lower case", map[string]string{"x-bbk-auth-token": key}, "k1"},
		{"header in upper case", map[string]string{"X-BBK-AUTH-TOKEN": key}, "k1"},
		{"basic", map[string]string{"Authorization": basic}, "p1"},
		{"bearer", map[string]string{"Authorization": "Bearer " + key}, "k1"},
		{"bearer in another case", map[string]string{"Authorization": "bearer " + key}, "k1"},
		{"the same credential twice", map[string]string{"Authorization": "Bearer " + key, "x-bbk-auth-token": key}, "k1"},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			a := in.rawDo("GET", "/v1/me", tt.headers)
			if a.status != 200 {
				t.Fatalf("status %d: %s", a.status, a.body)
			}
			if id := a.json(t)["credential"].(map[string]any)["id"]; id != tt.keyID {
				t.Fatalf("credential id %v, want %s", id, tt.keyID)
			}
		})
	}
	// URL userinfo reaches lanyard as Basic.
	hr, _ := http.NewRequest("GET", strings.Replace(in.base, "http://", "http://p1:"+pair["secret"].(string)+"@", 1)+"/v1/me", nil)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("URL userinfo: %d", resp.StatusCode)
	}

	big := strings.Repeat("A", 8<<10)
	bad := []struct {
		name    string
		headers map[string]string
		status  int
		code    string
	}{
		{"two different credentials", map[string]string{"Authorization": "Bearer " + key, "x-bbk-auth-token": other}, 400, "invalid_request"},
		{"scheme and header disagree", map[string]string{"Authorization": "APIKEY:ORGANIZATION " + key, "x-bbk-auth-token": other}, 400, "invalid_request"},
		{"unconfigured scheme", map[string]string{"Authorization": "Token " + key}, 401, "unauthenticated"},
		{"a longer scheme name", map[string]string{"Authorization": "APIKEY:ORGANIZATIONS " + key}, 401, "unauthenticated"},
		{"empty header", map[string]string{"x-bbk-auth-token": " "}, 400, "invalid_request"},
		{"two words in the header", map[string]string{"x-bbk-auth-token": key + " " + key}, 400, "invalid_request"},
		{"empty scheme credential", map[string]string{"Authorization": "APIKEY:ORGANIZATION "}, 400, "invalid_request"},
		{"8 KB bearer", map[string]string{"Authorization": "Bearer " + big}, 401, "invalid_token"},
		{"8 KB scheme", map[string]string{"Authorization": "APIKEY:ORGANIZATION " + big}, 401, "invalid_token"},
		{"8 KB header", map[string]string{"x-bbk-auth-token": big}, 401, "invalid_token"},
		{"8 KB basic", map[string]string{"Authorization": "Basic " + big}, 400, "invalid_request"},
		{"8 KB unconfigured scheme", map[string]string{"Authorization": "Digest " + big}, 401, "unauthenticated"},
		{"8 KB header name and value", map[string]string{"X-" + strings.Repeat("a", 8<<10): big}, 401, "unauthenticated"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			a := in.rawDo("GET", "/v1/me", tt.headers)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.body)
			}
			if code := a.errCode(t); code != tt.code {
				t.Fatalf("code %q, want %q", code, tt.code)
			}
			if tt.status == 401 && a.header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
}

// TestDefaultSourcesIgnoreOtherForms: with the default config (Bearer and Basic), a configured
// header or scheme of another preset is no credential at all.
func TestDefaultSourcesIgnoreOtherForms(t *testing.T) {
	in := start(t, startOpts{})
	in.must(201, req{method: "POST", path: "/v1/users", token: testBootstrap, body: `{"id": "ann", "email": "ann@example.com"}`})
	key := in.must(201, req{method: "POST", path: "/v1/keys", token: testBootstrap, body: `{"name": "k", "owner": "user:ann"}`}).json(t)["token"].(string)
	for _, h := range []map[string]string{
		{"x-bbk-auth-token": key},
		{"Authorization": "APIKEY:ORGANIZATION " + key},
	} {
		a := in.rawDo("GET", "/v1/me", h)
		if a.status != 401 || a.errCode(t) != "unauthenticated" || a.header.Get("WWW-Authenticate") != `Bearer realm="lanyard"` {
			t.Fatalf("%v: %d %s %q", h, a.status, a.body, a.header.Get("WWW-Authenticate"))
		}
	}
}

// TestAllowedCIDRsBehindTrustedProxy: a key's allowed_cidrs are checked against the address a
// trusted proxy forwards, and X-Forwarded-For from anyone else is ignored.
func TestAllowedCIDRsBehindTrustedProxy(t *testing.T) {
	setup := func(in *instance) (office, loopback string) {
		in.must(201, req{method: "POST", path: "/v1/users", token: testBootstrap, body: `{"id": "ann", "email": "ann@example.com"}`})
		office = in.must(201, req{method: "POST", path: "/v1/keys", token: testBootstrap,
			body: `{"name": "office", "owner": "user:ann", "allowed_cidrs": ["203.0.113.0/24"]}`}).json(t)["token"].(string)
		loopback = in.must(201, req{method: "POST", path: "/v1/keys", token: testBootstrap,
			body: `{"name": "local", "owner": "user:ann", "allowed_cidrs": ["127.0.0.1"]}`}).json(t)["token"].(string)
		return office, loopback
	}
	xff := func(v string) map[string]string { return map[string]string{"X-Forwarded-For": v} }

	behind := start(t, startOpts{mutate: func(c *config.Config) { c.Server.TrustedProxies = []string{"127.0.0.0/8"} }})
	office, loopback := setup(behind)
	for _, tt := range []struct {
		name   string
		token  string
		fwd    string
		status int
	}{
		{"forwarded from inside the CIDR", office, "203.0.113.9", 200},
		{"forwarded chain, right-most untrusted inside", office, "198.51.100.1, 203.0.113.9, 127.0.0.2", 200},
		{"forwarded from outside", office, "198.51.100.1", 403},
		{"spoofed left of the real client", office, "203.0.113.9, 198.51.100.1", 403},
		{"no forwarding: the proxy itself", office, "", 403},
		{"garbled chain: the peer counts", office, "203.0.113.9, not-an-ip", 403},
		{"the proxy's own key from outside", loopback, "198.51.100.1", 403},
	} {
		t.Run("trusted/"+tt.name, func(t *testing.T) {
			r := req{method: "GET", path: "/v1/me", token: tt.token}
			if tt.fwd != "" {
				r.headers = xff(tt.fwd)
			}
			a := behind.do(r)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.body)
			}
			if tt.status == 403 && a.errCode(t) != "forbidden" {
				t.Fatalf("code %q", a.errCode(t))
			}
		})
	}

	direct := start(t, startOpts{})
	office, loopback = setup(direct)
	direct.must(403, req{method: "GET", path: "/v1/me", token: office, headers: xff("203.0.113.9")})
	direct.must(200, req{method: "GET", path: "/v1/me", token: loopback, headers: xff("198.51.100.1")})
}

// TestAPIPrefix: the native API answers under a configured prefix, and /v1 is then unknown.
func TestAPIPrefix(t *testing.T) {
	in := start(t, startOpts{mutate: func(c *config.Config) { c.API.Prefix = "/api/v2" }})
	in.must(200, req{method: "GET", path: "/api/v2/me", token: testBootstrap})
	a := in.must(404, req{method: "GET", path: "/v1/me", token: testBootstrap})
	if a.errCode(t) != "not_found" {
		t.Fatalf("code %q", a.errCode(t))
	}
	in.must(201, req{method: "POST", path: "/api/v2/users", token: testBootstrap,
		body: `{"id": "ann", "email": "ann@example.com", "password": "` + annPassword + `"}`})
	in.must(404, req{method: "POST", path: "/v1/auth/login", body: `{"email": "ann@example.com", "password": "` + annPassword + `"}`})
	tok := in.must(200, req{method: "POST", path: "/api/v2/auth/login", body: `{"email": "ann@example.com", "password": "` + annPassword + `"}`}).json(t)["access_token"].(string)
	in.must(200, req{method: "GET", path: "/api/v2/me", token: tok})
	in.must(204, req{method: "DELETE", path: "/api/v2/tokens/personal", token: tok})
	in.must(200, req{method: "POST", path: "/api/v2/tokens/revoke", body: `{"token": "` + tok + `"}`})
	in.must(200, req{method: "GET", path: "/healthz"})
}
