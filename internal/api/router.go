package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/lanyardhq/lanyard/internal/audit"
	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/authz"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/gateway"
	"github.com/lanyardhq/lanyard/internal/throttle"
)

// Route is one entry of the route table: every endpoint lanyard serves is declared here with
// the policy that guards it, so access is decided before any handler runs and a test can walk
// the table to prove default deny.
type Route struct {
	// Method is the HTTP method the route answers, or AnyMethod.
	Method string
	// Path is a net/http pattern path, relative to the API prefix unless Root is set.
	Path string
	// Root mounts the route at the server root (/healthz), not under the API prefix.
	Root bool
	// Policy guards the route; a route without one is refused at start.
	Policy authz.Policy
	// MaxBody bounds the request body (defaultMaxBody when 0; never more than the server's
	// max_body_bytes): 413 past it, before anything is decoded (CONTRACT §11.60).
	MaxBody int64
	// Quota, when set, is spent before the handler runs (see spendQuota).
	Quota *throttle.Rate
	// Doc describes the route for the OpenAPI document when the route is made from the config
	// (an authorize path); the fixed routes are described in operations.
	Doc *operation
	// Message is the envelope's message for a success.
	Message string
	// Revokes marks a route that revokes credentials or access: with ?wait=propagated its
	// success answer waits until every live node refuses what it revoked (CONTRACT §11.33;
	// awaitRevocation). LaggingStatus is the answer's status when the staleness bound passes
	// first (202 when 0).
	Revokes       bool
	LaggingStatus int
	Handle        func(w http.ResponseWriter, r *http.Request) error
}

// AnyMethod is the Method of a route that answers every method (Envoy's ext_authz forwards the
// original request's).
const AnyMethod = "*"

// FullPath is the route's path as served.
func (rt Route) FullPath(prefix string) string {
	if rt.Root {
		return rt.Path
	}
	return prefix + rt.Path
}

// buildMux registers the table: one mux entry per path, dispatching on the method so that a
// known path with another method answers 405 with Allow, and unknown paths answer 404, both
// with the contract's body.
func (h *Handler) buildMux(routes []Route) (*http.ServeMux, error) {
	byPath := map[string][]Route{}
	var order []string
	for _, rt := range routes {
		if rt.Policy == nil {
			return nil, fmt.Errorf("api: route %s %s declares no policy", rt.Method, rt.Path)
		}
		if rt.Handle == nil {
			return nil, fmt.Errorf("api: route %s %s has no handler", rt.Method, rt.Path)
		}
		p := rt.FullPath(h.prefix)
		if _, ok := byPath[p]; !ok {
			order = append(order, p)
		}
		for _, o := range byPath[p] {
			if o.Method == rt.Method {
				return nil, fmt.Errorf("api: route %s %s declared twice", rt.Method, p)
			}
		}
		byPath[p] = append(byPath[p], rt)
	}
	mux := http.NewServeMux()
	for _, p := range order {
		group := byPath[p]
		methods := make([]string, 0, len(group)+1)
		for _, rt := range group {
			methods = append(methods, rt.Method)
			if rt.Method == http.MethodGet {
				methods = append(methods, http.MethodHead)
			}
		}
		slices.Sort(methods)
		allow := strings.Join(slices.Compact(methods), ", ")
		mux.Handle(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			method := r.Method
			if method == http.MethodHead {
				method = http.MethodGet
			}
			for i := range group {
				if group[i].Method == method || group[i].Method == AnyMethod {
					h.serveRoute(w, r, &group[i])
					return
				}
			}
			w.Header().Set("Allow", allow)
			h.writeError(w, r, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
				Message: "This path does not answer " + r.Method + "; it answers " + allow + "."})
		}))
	}
	mux.Handle("/", http.HandlerFunc(h.serveGateway))
	return mux, nil
}

// serveRoute runs the pipeline for a matched route: find and resolve the credential, evaluate
// the route's policy, then call the handler.
func (h *Handler) serveRoute(w http.ResponseWriter, r *http.Request, rt *Route) {
	st := stateFrom(r.Context())
	if st != nil {
		st.route = rt.Method + " " + rt.FullPath(h.prefix)
		st.maxBody = rt.MaxBody
		if st.maxBody <= 0 {
			st.maxBody = defaultMaxBody
		}
	}
	for _, name := range []string{"id", "type"} {
		if v := r.PathValue(name); v != "" && !credential.ValidID(v) {
			h.writeError(w, r, badRequest("The %s in the path %s.", name, idRule))
			return
		}
	}
	ctx, scope := authz.Track(r.Context())
	if ctx != r.Context() {
		r = r.WithContext(ctx) // served outside ServeHTTP: the scope is new
	}
	if st != nil {
		st.decision = scope
	}
	var id *authn.Identity
	if st != nil && st.preset != nil {
		// ServeAs: the identity was established by the console's session, not by a credential.
		id = st.preset
		st.identity = id
		scope.Identity = id
	} else if rt.Policy.NeedsCredential() {
		ident := &authn.Identity{}
		if st != nil {
			ident = &st.ident
		}
		if layer, err := h.checker.Identify(ctx, r.Header, "", h.clientAddr(r), ident); err != nil {
			if st != nil && layer != gateway.LayerCredential {
				st.identity = ident // resolved, then refused for its network
			}
			h.writeError(w, r, err)
			return
		}
		id = ident
		if st != nil {
			st.identity = id
		}
		scope.Identity = id
	}
	if err := h.authz.Evaluate(ctx, id, rt.Policy, r); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.spendQuota(r, rt, id); err != nil {
		h.writeError(w, r, err)
		return
	}
	if rt.Revokes {
		aw, err := h.awaitRevocation(w, r, rt)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		w = aw
	}
	if err := rt.Handle(w, r); err != nil {
		h.writeError(w, r, err)
	}
}

// recordRefusal counts a refused credential and records it in the audit trail (aggregated,
// asynchronously): by the token's fingerprint, or by the credential's name when it was valid
// but refused later (its client network).
func (h *Handler) recordRefusal(ip, token, credName, reason, detail string) {
	h.metrics.refusedCredential(reason)
	if h.refusals == nil {
		return
	}
	if token != "" {
		h.refusals.Record(ip, token, detail)
		return
	}
	h.refusals.RecordEvent(audit.ActionRefused, ip, credName, detail)
}

// refuse marks the request as refused by lanyard — a grant, a plan's window, credits, a network,
// a scoped token, a quota — rather than failed or malformed. The error writer marks every
// answer that says so (refusal); the entry points whose refusals are answered otherwise mark
// theirs: verify's valid: false, token exchange's RFC 6749 errors.
func refuse(r *http.Request) {
	if st := stateFrom(r.Context()); st != nil {
		st.refused = true
	}
}

// refusal reports whether an error's status says lanyard refused the request: 401, 403, 404 or
// 429.
func refusal(status int) bool {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests:
		return true
	}
	return false
}

// requestState is what the access log needs to know about a request once it is answered.
type requestState struct {
	id string
	// idHeader holds id as the X-Request-Id header's value slice, so setting the header
	// allocates nothing.
	idHeader [1]string
	route    string
	identity *authn.Identity
	// decision records whether the route's access was decided (nil before a route matched).
	decision *authn.Scope
	// maxBody is the matched route's body limit (0 before a route matched).
	maxBody int64
	// ident is the storage of the caller's identity (identity points to it once resolved).
	ident authn.Identity
	// preset is the identity ServeAs serves the request as (nil: the request's credential).
	preset *authn.Identity
	// refused reports that lanyard refused the request (refuse): with the identity it was
	// refused to, it counts as a refusal in that key's usage.
	refused bool
	// sw is the request's response writer, kept here so a request allocates one state.
	sw statusWriter
	// gw is the storage of a gateway or forward-auth decision.
	gw struct {
		req       gateway.Request
		ident     authn.Identity
		forward   gateway.Forward
		headers   [4]string
		wildcards [4]struct{ Name, Value string }
	}
}

// stateFrom returns the request's state, kept in its authn.Scope (one context value for the
// whole pipeline).
func stateFrom(ctx context.Context) *requestState {
	if s := authn.ScopeFrom(ctx); s != nil {
		st, _ := s.State.(*requestState)
		return st
	}
	return nil
}

func requestID(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		return st.id
	}
	return ""
}

// statusWriter records the status and size of an answer for the access log, and keeps default
// deny when a handler forgets it: a route whose access was never decided (a Deferred route
// whose handler did not ask its decider) cannot answer below 400 — the answer becomes a 500
// and the handler's own body is dropped.
type statusWriter struct {
	http.ResponseWriter
	h       *Handler
	r       *http.Request
	st      *requestState
	status  int
	bytes   int64
	blocked bool
}

func (s *statusWriter) WriteHeader(code int) {
	if s.blocked {
		return
	}
	if s.status == 0 && code < 400 && s.st.decision != nil && !s.st.decision.Decided {
		s.blocked, s.status = true, http.StatusInternalServerError
		s.h.writeError(s.ResponseWriter, s.r, fmt.Errorf("api: %s answered %d without deciding access", s.st.route, code))
		return
	}
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.WriteHeader(http.StatusOK)
	}
	if s.blocked {
		return len(b), nil
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// ServeHTTP serves every request: it gives it a request id, recovers from panics (a 500, never
// a dropped connection), and writes one access-log line with the principal — never a
// credential, never the query string.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.serve(w, r, nil) }

// ServeAs serves r through the same routes, policies and deciders as ServeHTTP, as the identity
// id instead of a credential the request presents: how the console acts for the person signed
// in, so that it shows and does exactly what the native API would for them.
func (h *Handler) ServeAs(w http.ResponseWriter, r *http.Request, id *authn.Identity) {
	h.serve(w, r, id)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, preset *authn.Identity) {
	start := time.Now()
	st := &requestState{id: h.incomingRequestID(r.Header.Get("X-Request-Id")), preset: preset}
	st.idHeader[0] = st.id
	w.Header()["X-Request-Id"] = st.idHeader[:]
	sw := &st.sw
	*sw = statusWriter{ResponseWriter: w, h: h, st: st}
	ctx, scope := authn.NewScope(r.Context())
	scope.State = st
	r = r.WithContext(ctx)
	sw.r = r
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.log.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
				slog.String("request_id", st.id), slog.String("panic", fmt.Sprint(v)))
			if sw.status == 0 {
				h.writeError(sw, r, errors.New("panic"))
			}
		}
		d := time.Since(start)
		h.accessLog(r, sw, st, d)
		if st.refused {
			// Here, once per request whatever its entry point: the native API, a gateway
			// route, /v1/authz, /v1/verify. The request itself was counted when its
			// credential resolved.
			h.resolver.CountRefusal(st.identity)
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		h.metrics.observe(st.route, status, d)
	}()
	if r.TransferEncoding != nil {
		// A chunked body: if it also came with a Content-Length (net/http drops it, as RFC
		// 9112 §6.3 says), the two framings may disagree on where the next request starts;
		// closing the connection after the answer means no such request is ever read.
		w.Header().Set("Connection", "close")
	}
	if err := checkTarget(r); err != nil {
		h.writeError(sw, r, err)
		return
	}
	h.mux.ServeHTTP(sw, r)
}

// checkTarget refuses request targets no route can take, with the contract's body rather than
// the bare answers net/http would give (CONTRACT §11.41): "*" with any method but OPTIONS
// (net/http answers OPTIONS * itself), a query string that does not parse, and the paths
// checkPath refuses.
func checkTarget(r *http.Request) error {
	if r.RequestURI == "*" {
		return badRequest("The request target * is only for OPTIONS.")
	}
	if r.URL.RawQuery != "" {
		if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
			return badRequest("The query string is malformed.")
		}
	}
	return checkPath(r.URL.Path)
}

// checkPath answers the paths the mux would otherwise redirect: a "." or ".." segment is a bad
// id (400, CONTRACT §11.2), an empty segment names nothing (404) — both with the contract's
// body rather than a redirect.
func checkPath(p string) error {
	if p == "/" || p == "" {
		return nil
	}
	rest := strings.TrimPrefix(p, "/")
	for {
		seg, after, more := strings.Cut(rest, "/")
		switch {
		case seg == "." || seg == "..":
			return badRequest("%q is not a valid id.", seg)
		case seg == "" && more:
			return notFound("The path was")
		}
		if !more {
			return nil
		}
		rest = after
	}
}

func (h *Handler) accessLog(r *http.Request, sw *statusWriter, st *requestState, d time.Duration) {
	if !h.log.Enabled(r.Context(), slog.LevelInfo) {
		return
	}
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	attrs := []slog.Attr{
		slog.String("request_id", st.id),
		slog.String("method", r.Method),
		slog.String("path", logPath(r.URL.Path)),
		slog.Int("status", status),
		slog.Int64("bytes", sw.bytes),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.Any("ip", h.clientAddr(r)), // formatted only if the line is written
	}
	if st.route != "" {
		attrs = append(attrs, slog.String("route", st.route))
	}
	if id := st.identity; id != nil {
		p := id.Principal()
		if p == "" {
			p = id.Type // the bootstrap token acts as no principal
		}
		attrs = append(attrs, slog.String("principal", p), slog.String("credential", id.CredentialName()))
	}
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}

// logPath is the path as the access log writes it: anything in it shaped like a lanyard token
// (a client that pasted a secret into a URL, on its own or inside a longer segment) is written
// as [token], so the log never holds one (CONTRACT §11.40). The query is never logged.
func logPath(p string) string {
	if !strings.Contains(p, "_") {
		return p
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(p); i++ {
		if p[i] != '_' {
			continue
		}
		start := i
		for start > last && isAlnum(p[start-1]) {
			start--
		}
		end := i + 1
		for end < len(p) && isAlnum(p[end]) {
			end++
		}
		// A long enough run of base62 after '_' is a token body even when the prefix before
		// it was taken by the token just before (two pasted back to back).
		if end-i-1 < credential.RandomLen+credential.ChecksumLen {
			continue
		}
		b.WriteString(p[last:start])
		b.WriteString("[token]")
		last, i = end, end-1
	}
	if last == 0 {
		return p
	}
	b.WriteString(p[last:])
	return b.String()
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// incomingRequestID keeps a client's X-Request-Id when it is short and plain, else makes one.
func (h *Handler) incomingRequestID(v string) string {
	// A value shaped like a token is never echoed or logged: a client pasted a secret.
	if v != "" && len(v) <= 64 && !authn.LooksFormatted(v) {
		ok := true
		for i := 0; i < len(v); i++ {
			c := v[i]
			if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-' || c == '_' || c == '.') {
				ok = false
				break
			}
		}
		if ok {
			return v
		}
	}
	return h.ids.next()
}

// requestIDs makes request ids: 16 random base62 characters each (95 bits), so that an id
// tells a client nothing about how many requests the server answered (CONTRACT §11.60). They
// come from math/rand/v2's generator (ChaCha8, seeded from the OS): an id must not be
// guessable from the ones before it, but it is no secret, and crypto/rand per request costs
// more than the rest of the id.
type requestIDs struct{}

func newRequestIDs() *requestIDs { return &requestIDs{} }

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func (*requestIDs) next() string {
	var b [16]byte
	for i := 0; i < len(b); i += 8 {
		x := rand.Uint64()
		for j := i; j < i+8; j++ {
			b[j] = base62[x%62]
			x /= 62
		}
	}
	return string(b[:])
}
