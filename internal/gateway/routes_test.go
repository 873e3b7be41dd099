package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lanyardhq/lanyard/internal/config"
)

// TestMatchAgreesWithServeMux: a route matches exactly the paths net/http's ServeMux would
// serve with the same pattern (without its redirects), and binds the same wildcards.
func TestMatchAgreesWithServeMux(t *testing.T) {
	patterns := []string{"/", "/a", "/a/", "/a/{x}", "/a/{x...}", "/a/{$}", "/{$}", "/a/{x}/b", "/a/{x}/{y...}",
		"/coordinator/{$}", "/v1/objects/{rest...}", "/Events/{id}/authorize", "/a/b/c"}
	paths := []string{"/", "/a", "/a/", "/a/b", "/a/b/", "/a/b/c", "/a/b/b", "/b", "/b/a", "/coordinator/",
		"/coordinator", "/coordinator/x", "/v1/objects/events", "/v1/objects/", "/v1/objects", "/Events/e1/authorize",
		"/Events//authorize", "/a/x/b/c", "/aa", "/a/b/c/"}
	for _, pat := range patterns {
		rs, err := Compile([]config.Route{{Path: pat}})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		var got map[string]string
		mux.HandleFunc(pat, func(w http.ResponseWriter, r *http.Request) {
			got = map[string]string{}
			for _, name := range []string{"x", "y", "rest", "id"} {
				got[name] = r.PathValue(name)
			}
		})
		for _, p := range paths {
			if strings.Contains(p, "//") {
				continue // refused before matching (CheckPath)
			}
			got = nil
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
			muxMatched := rec.Code == http.StatusOK && got != nil
			r, vals := rs.Match("GET", p)
			if (r != nil) != muxMatched {
				t.Errorf("pattern %q, path %q: matched %v, ServeMux %v (%d)", pat, p, r != nil, muxMatched, rec.Code)
				continue
			}
			for name, want := range got {
				if v := vals.Get(name); v != want {
					t.Errorf("pattern %q, path %q: %s = %q, ServeMux %q", pat, p, name, v, want)
				}
			}
		}
	}
}

func TestFirstMatchWinsAndMethods(t *testing.T) {
	rs, err := Compile([]config.Route{
		{Path: "/coordinator/{$}", Methods: []string{"GET"}, Permission: "none"},
		{Path: "/coordinator/{rest...}", Admin: true},
		{Path: "/items/{id}", Methods: []string{"POST"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, path string
		want         int // route index, -1 for none
	}{
		{"GET", "/coordinator/", 0},
		{"HEAD", "/coordinator/", 0},
		{"POST", "/coordinator/", 1}, // the first route lists GET only
		{"GET", "/coordinator/users", 1},
		{"POST", "/items/1", 2},
		{"GET", "/items/1", -1},
		{"GET", "/elsewhere", -1},
	}
	for _, tt := range tests {
		r, _ := rs.Match(tt.method, tt.path)
		got := -1
		if r != nil {
			got = r.Index
		}
		if got != tt.want {
			t.Errorf("%s %s matched route %d, want %d", tt.method, tt.path, got, tt.want)
		}
	}
}

// FuzzMatch: any path against any route either matches or not, never a panic.
func FuzzMatch(f *testing.F) {
	rs, err := Compile([]config.Route{{Path: "/a/{x}/b"}, {Path: "/a/{x}/{y...}"}, {Path: "/c/{$}"}, {Path: "/d/"}, {Path: "/e"}})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"/", "/a/b/b", "/c/", "/d/x/y", "/e", "", "a", "/a//b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		r, vals := rs.Match("GET", p)
		if r == nil && len(vals) > 0 {
			t.Fatalf("no route but values %v", vals)
		}
	})
}
