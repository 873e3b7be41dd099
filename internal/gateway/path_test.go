package gateway

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
)

// TestCheckPath: one row per trick that moves a proxied request onto another resource.
func TestCheckPath(t *testing.T) {
	tests := []struct {
		target string
		ok     bool
	}{
		{"/organizations/acme", true},
		{"/organizations/acme/projects?x=1", true},
		{"/organizations/ac%20me", true},
		{"/organizations/acme/", true},
		{"/organizations/acme/../globex", false},
		{"/organizations/acme/%2e%2e/globex", false},
		{"/organizations/acme/%2E%2E/globex", false},
		{"/organizations/acme/./x", false},
		{"/organizations/acme/%2e/x", false},
		{"/organizations/acme%2Fglobex", false},
		{"/organizations/acme%2fglobex", false},
		{"/organizations/acme%5Cglobex", false},
		{"/organizations/acme\\globex", false},
		{"/organizations//acme", false},
		{"//organizations/acme", false},
		{"/organizations/acme;x=globex", false},
		{"/organizations/acme%3Bx", false},
		{"/organizations/acme%00", false},
		{"/organizations/acme%0a", false},
		{"/organizations/acme#/../globex", false},
		{"/..", false},
	}
	for _, tt := range tests {
		r, err := http.ReadRequest(bufioReader("GET " + tt.target + " HTTP/1.1\r\nHost: x\r\n\r\n"))
		if err != nil {
			if tt.ok {
				t.Errorf("%q: Go refused to parse it: %v", tt.target, err)
			}
			continue
		}
		err = CheckPath(r.URL, r.RequestURI)
		if (err == nil) != tt.ok {
			t.Errorf("CheckPath(%q) = %v, want ok=%v", tt.target, err, tt.ok)
		}
		_, err = ParseOriginal(tt.target)
		if (err == nil) != tt.ok {
			t.Errorf("ParseOriginal(%q) = %v, want ok=%v", tt.target, err, tt.ok)
		}
	}
	for _, bad := range []string{"", "x", "http://host/a", "//host/a", "/a%zz", "/a?%zz", "*"} {
		if _, err := ParseOriginal(bad); err == nil {
			t.Errorf("ParseOriginal(%q) accepted it", bad)
		}
	}
}

// FuzzParseOriginal: any original URI is refused or accepted as a safe path, never a panic,
// and what is accepted passes CheckPath.
func FuzzParseOriginal(f *testing.F) {
	for _, s := range []string{"/", "/a/b?c=d", "/a/../b", "/a%2Fb", "//x", "/a;b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseOriginal(s)
		if err != nil {
			return
		}
		if err := CheckPath(u, s); err != nil {
			t.Fatalf("ParseOriginal accepted %q, which CheckPath refuses", s)
		}
	})
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }
