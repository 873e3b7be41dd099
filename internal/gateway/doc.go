// Package gateway puts lanyard in front of and beside an API: it matches a request against the
// config's gateway routes (first match wins), takes the route's resource from the path, a
// header, the query or the credential, and runs the one request pipeline — credential, client
// network, scoped tokens, grant, plan — that also answers /v1/verify and /v1/authz; a request
// it allows is proxied to the upstream with the caller's identity in X-Lanyard-* headers.
//
// Path safety: a route and its resource are decided on exactly the path that is forwarded. A
// path holding "." or ".." segments, an empty segment, an encoded '/' or '\', a '\' or a ';'
// parameter is refused with 400 before any route is matched (Envoy CVE-2019-9901 and
// CVE-2021-29492, Traefik CVE-2024-45410: a proxy that decides on one path and forwards
// another moves a request onto a resource its caller may not reach). Every other path is
// decided and forwarded in its decoded form, re-encoded the one way Go encodes it.
//
// Route patterns are Go 1.22 net/http path patterns (CONTRACT §11.55): a literal segment,
// {name} for one non-empty segment, {name...} for the rest of the path, {$} for the end of a
// path ending in '/', and a trailing '/' for everything below it. Unlike http.ServeMux, the
// first route that matches wins, in the config's order, and nothing is ever redirected.
package gateway
