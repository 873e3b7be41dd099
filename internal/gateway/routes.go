package gateway

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lanyardhq/lanyard/internal/config"
)

// Route is a config route compiled for matching.
type Route struct {
	config.Route
	// Index is the route's position in the config (for logs and metrics).
	Index int
	segs  []segment
}

type segment struct {
	lit   string // a literal segment, when wild and multi and end are unset
	wild  string // {name}: one non-empty segment
	multi bool   // {name...} or a trailing '/': the rest of the path
	end   bool   // {$}: the path ends here, after a '/'
}

// Routes are the compiled routes, in the config's order.
type Routes []Route

// Compile compiles the config's routes; the config has validated their patterns.
func Compile(routes []config.Route) (Routes, error) {
	out := make(Routes, 0, len(routes))
	for i, r := range routes {
		segs, err := parsePattern(r.Path)
		if err != nil {
			return nil, fmt.Errorf("gateway: route %d: %w", i, err)
		}
		out = append(out, Route{Route: r, Index: i, segs: segs})
	}
	return out, nil
}

func parsePattern(p string) ([]segment, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("pattern %q does not start with '/'", p)
	}
	parts := strings.Split(p[1:], "/")
	segs := make([]segment, 0, len(parts))
	for i, part := range parts {
		last := i == len(parts)-1
		switch {
		case part == "" && last:
			segs = append(segs, segment{multi: true}) // a trailing '/': everything below
		case part == "{$}" && last:
			segs = append(segs, segment{end: true})
		case strings.HasPrefix(part, "{") && strings.HasSuffix(part, "...}") && last:
			segs = append(segs, segment{wild: part[1 : len(part)-4], multi: true})
		case strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}"):
			segs = append(segs, segment{wild: part[1 : len(part)-1]})
		case part == "" || strings.ContainsAny(part, "{}"):
			return nil, fmt.Errorf("pattern %q has an empty or malformed segment", p)
		default:
			segs = append(segs, segment{lit: part})
		}
	}
	return segs, nil
}

// Values are the wildcards a match bound, by name.
type Values []struct{ Name, Value string }

// Get returns the value bound to name ("" when none).
func (v Values) Get(name string) string {
	for _, kv := range v {
		if kv.Name == name {
			return kv.Value
		}
	}
	return ""
}

// Match returns the first route matching method and path (a decoded path that CheckPath
// accepted) and the wildcards it bound; nil when none does. A route's methods list nothing (every
// method) or the method; HEAD also matches a route that lists GET.
func (rs Routes) Match(method, path string) (*Route, Values) { return rs.MatchInto(method, path, nil) }

// MatchInto is Match appending the wildcards to dst[:0] (the caller's storage).
func (rs Routes) MatchInto(method, path string, dst Values) (*Route, Values) {
	for i := range rs {
		r := &rs[i]
		if len(r.Methods) > 0 && !slices.Contains(r.Methods, method) && !(method == "HEAD" && slices.Contains(r.Methods, "GET")) {
			continue
		}
		if vals, ok := r.match(path, dst[:0]); ok {
			return r, vals
		}
	}
	return nil, nil
}

func (r *Route) match(path string, vals Values) (Values, bool) {
	if !strings.HasPrefix(path, "/") {
		return nil, false
	}
	rest := path[1:]
	for i, s := range r.segs {
		if s.multi {
			// The rest of the path, from this segment on, whatever it holds.
			if s.wild != "" {
				vals = append(vals, struct{ Name, Value string }{s.wild, rest})
			}
			return vals, true
		}
		if rest == "" && i > 0 && !s.end {
			return nil, false // the path ended before the pattern did
		}
		part, after, more := strings.Cut(rest, "/")
		switch {
		case s.end:
			return vals, part == "" && !more
		case s.wild != "":
			if part == "" {
				return nil, false
			}
			vals = append(vals, struct{ Name, Value string }{s.wild, part})
		case part != s.lit:
			return nil, false
		}
		if i == len(r.segs)-1 {
			return vals, !more
		}
		if !more {
			return nil, false
		}
		rest = after
	}
	return vals, len(r.segs) == 0 && rest == ""
}
