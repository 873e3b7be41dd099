package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestAPIBase(t *testing.T) {
	tests := []struct {
		addr     string
		insecure bool
		want     string // "" when refused
	}{
		{"", false, "http://127.0.0.1:8080/v1"},
		{"127.0.0.1:8080", false, "http://127.0.0.1:8080/v1"},
		{"127.1.2.3:8080", false, "http://127.1.2.3:8080/v1"},
		{"127.255.255.255:8080", false, "http://127.255.255.255:8080/v1"},
		{"localhost:8080", false, "http://localhost:8080/v1"},
		{"LocalHost:8080", false, "http://LocalHost:8080/v1"},
		{"[::1]:8080", false, "http://[::1]:8080/v1"},
		{"http://[::ffff:127.0.0.1]:8080", false, "http://[::ffff:127.0.0.1]:8080/v1"},
		{"http://127.0.0.1:8080/", false, "http://127.0.0.1:8080/v1"},
		{"http://localhost:8080/lanyard/v1", false, "http://localhost:8080/lanyard/v1"},
		{"HTTP://127.0.0.1:8080", false, "http://127.0.0.1:8080/v1"},
		{"https://lanyard.example.com", false, "https://lanyard.example.com/v1"},
		{"https://203.0.113.7:8443/v1", false, "https://203.0.113.7:8443/v1"},

		// Plain HTTP to anything but loopback needs --insecure.
		{"lanyard.example.com:8080", false, ""},
		{"lanyard.example.com:8080", true, "http://lanyard.example.com:8080/v1"},
		{"http://203.0.113.7:8080", false, ""},
		{"http://203.0.113.7:8080", true, "http://203.0.113.7:8080/v1"},
		{"http://10.0.0.5", false, ""},
		{"http://128.0.0.1:8080", false, ""},
		{"http://0.0.0.0:8080", false, ""},
		{"http://[::]:8080", false, ""},
		{"http://[::2]:8080", false, ""},
		{"http://[2001:db8::1]:8080", false, ""},
		{"http://localhost.example.com:8080", false, ""},
		{"http://127.0.0.1.example.com:8080", false, ""},
		{"http://localhost.:8080", false, ""},
		{"http://user:pw@lanyard.example.com", false, ""},

		// Neither HOST:PORT nor an http(s) URL, insecure or not.
		{"ftp://127.0.0.1", true, ""},
		{"http://", true, ""},
		{"http://[::1", true, ""},
	}
	for _, tt := range tests {
		got, err := apiBase(tt.addr, tt.insecure)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("apiBase(%q, insecure=%v) = %q, want a refusal", tt.addr, tt.insecure, got)
		case tt.want != "" && err != nil:
			t.Errorf("apiBase(%q, insecure=%v): %v", tt.addr, tt.insecure, err)
		case got != tt.want:
			t.Errorf("apiBase(%q, insecure=%v) = %q, want %q", tt.addr, tt.insecure, got, tt.want)
		}
	}
}

// TestCLIRefusesPlainHTTPToAnotherHost: with LANYARD_ADDR on plain http:// to an address that is
// not loopback, the CLI exits 1 with the reason on stderr and sends nothing; --insecure sends.
// 0.0.0.0 is not loopback, yet Go dials it on this machine (net.Dial), so the server can
// tell whether the token reached it.
func TestCLIRefusesPlainHTTPToAnotherHost(t *testing.T) {
	const boot = "cli-insecure-bootstrap-token-0123456789abcdef"
	addr, stderr := serve(t, map[string]string{"LANYARD_BOOTSTRAP_TOKEN": boot, "LANYARD_DATA": t.TempDir()},
		"--addr", "127.0.0.1:0", "--config", cheapConfig(t))
	port := addr[strings.LastIndex(addr, ":"):]
	requests := func() int { return strings.Count(stderr.String(), "msg=request") }
	vars := map[string]string{"LANYARD_ADDR": "http://0.0.0.0" + port, "LANYARD_TOKEN": boot}

	before := requests()
	for _, args := range [][]string{{"users", "list"}, {"keys", "list"}, {"keys", "get", "k1"}} {
		code, out, errs := cli(t, vars, "", args...)
		if code != 1 || out != "" || !strings.Contains(errs, "--insecure") || !strings.Contains(errs, "http://") {
			t.Errorf("%v over plain http to 0.0.0.0: %d %q %q", args, code, out, errs)
		}
		if strings.Contains(errs, boot) {
			t.Errorf("the refusal shows the token: %q", errs)
		}
	}
	if n := requests() - before; n != 0 {
		t.Fatalf("the refused calls still reached the server (%d requests)", n)
	}

	code, out, errs := cli(t, vars, "", "users", "list", "--insecure")
	if code != 0 || !strings.Contains(out, `"users"`) {
		t.Fatalf("users list --insecure: %d %q %q", code, out, errs)
	}
}

// TestCLIRefusesARedirectToPlainHTTP: a redirect is held to the same rule as LANYARD_ADDR: the
// client does not follow one to plain http:// on a host that is not loopback.
func TestCLIRefusesARedirectToPlainHTTP(t *testing.T) {
	var reached atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Store(true)
	}))
	defer target.Close()
	port := target.URL[strings.LastIndex(target.URL, ":"):]
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://0.0.0.0"+port+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()

	code, _, errs := cli(t, map[string]string{"LANYARD_ADDR": redirect.URL, "LANYARD_TOKEN": "some-token-0123456789abcdef0123456789"}, "", "users", "list")
	if code != 1 || !strings.Contains(errs, "--insecure") {
		t.Fatalf("users list redirected to plain http: %d %q", code, errs)
	}
	if reached.Load() {
		t.Fatal("the client followed the redirect")
	}
}
