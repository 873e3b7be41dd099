package gateway

import (
	"errors"
	"net/url"
	"strings"
)

// ErrUnsafePath is a request path that could be decided on one resource and forwarded as
// another; it is answered 400.
var ErrUnsafePath = errors.New("the request path holds a '.' or '..' segment, an empty segment, an encoded '/' or '\\', a '\\' or a ';'")

// CheckPath accepts a request path only when deciding on it and forwarding it cannot differ:
// u is the request's URL (its Path decoded, its escaped form as sent) and requestURI the
// request target as sent. See the package doc.
func CheckPath(u *url.URL, requestURI string) error {
	p := u.Path
	if p == "" || p[0] != '/' || strings.Contains(requestURI, "#") {
		return ErrUnsafePath
	}
	esc := u.EscapedPath()
	if containsFold(esc, "%2f") || containsFold(esc, "%5c") {
		return ErrUnsafePath
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\' || c == ';' || c < 0x20 || c == 0x7f:
			return ErrUnsafePath
		case c == '/' && i+1 < len(p) && p[i+1] == '/':
			return ErrUnsafePath
		}
	}
	for rest := p[1:]; ; {
		seg, after, more := strings.Cut(rest, "/")
		if seg == "." || seg == ".." {
			return ErrUnsafePath
		}
		if !more {
			return nil
		}
		rest = after
	}
}

// containsFold reports whether s contains sub, ASCII case-insensitively.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// ParseOriginal parses the original request target a proxy hands to forward auth
// (X-Forwarded-Uri, X-Original-URI): an origin-form path with an optional query, well escaped,
// and safe by CheckPath.
func ParseOriginal(target string) (*url.URL, error) {
	if target == "" || target[0] != '/' || strings.HasPrefix(target, "//") {
		return nil, errors.New("the original URI must be a path starting with '/'")
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, errors.New("the original URI is malformed")
	}
	if u.RawQuery != "" {
		if _, err := url.ParseQuery(u.RawQuery); err != nil {
			return nil, errors.New("the original URI's query is malformed")
		}
	}
	if err := CheckPath(u, target); err != nil {
		return nil, err
	}
	return u, nil
}
