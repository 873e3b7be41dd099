package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/gateway"
	"github.com/lanyardhq/lanyard/internal/ratelimit"
)

// Gateway is the gateway part of the API: the config's routes, what a proxied request must not
// carry on, and the proxy (nil when no upstream is set: the routes then serve /v1/authz only).
type Gateway struct {
	Routes gateway.Routes
	// CredentialHeaders are the headers credentials and scoped tokens come in, removed from a
	// proxied request unless its route forwards them.
	CredentialHeaders []string
	// Upstream is where allowed requests go (nil: no proxying); UpstreamTimeout bounds the
	// wait for its response headers.
	Upstream        *url.URL
	UpstreamTimeout time.Duration
	// Next, when set and Upstream is not, serves allowed requests in process (lanyard embedded
	// in a Go service), with the same headers the proxy would send.
	Next http.Handler

	proxy *gateway.Proxy
}

// CredentialHeaders lists the request headers the config's sources and exchange types read.
func CredentialHeaders(cfg *config.Config) []string {
	var out []string
	seen := map[string]bool{}
	add := func(name string) {
		name = http.CanonicalHeaderKey(name)
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	for _, s := range cfg.Sources {
		switch s.Type {
		case config.SourceHeader:
			add(s.Name)
		default:
			add("Authorization")
		}
	}
	for _, typ := range sortedExchange(cfg.Exchange) {
		add(cfg.Exchange[typ].Header)
	}
	return out
}

func sortedExchange(m map[string]config.Exchange) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// routeRequest builds the pipeline's request for a gateway route matched by method on a path
// with the wildcards vals; h and query are the request's headers and query. A resource the
// request should name but does not, or names with an id no resource can have, is a 400.
func (h *Handler) routeRequest(r *http.Request, header http.Header, query string, rt *gateway.Route, vals gateway.Values, method string) (*gateway.Request, error) {
	req := &gateway.Request{}
	if st := stateFrom(r.Context()); st != nil {
		req = &st.gw.req // the request's own storage: no allocation per request
	}
	*req = gateway.Request{
		Identity:   identityStorage(r),
		Header:     header,
		ClientAddr: h.clientAddr(r),
		Permission: rt.RequiredPermission(method),
		Admin:      rt.Admin,
		Tokens:     rt.Tokens,
		Plan:       rt.Plan,
		Cost:       rt.Cost,
	}
	res := rt.Resource
	if res == nil {
		return req, nil
	}
	var id, where string
	switch {
	case res.From != "":
		req.FromCredential = res.Type
		return req, nil
	case res.Param != "":
		id, where = vals.Get(res.Param), "path"
	case res.Header != "":
		vs := header.Values(res.Header)
		if len(vs) > 1 {
			return nil, badRequest("The header %s is given more than once: the request must name one %s.", res.Header, res.Type)
		}
		id, where = header.Get(res.Header), "header "+res.Header
	case res.Query != "":
		q, err := parseQuery(query)
		if err != nil {
			return nil, err
		}
		// The upstream gets the query as sent; were the decision made on one value of a
		// repeated parameter, the upstream could act on another.
		if len(q[res.Query]) > 1 {
			return nil, badRequest("The query parameter %s is given more than once: the request must name one %s.", res.Query, res.Type)
		}
		id, where = q.Get(res.Query), "query parameter "+res.Query
	}
	if id == "" {
		return nil, badRequest("The request names no %s: it belongs in the %s.", res.Type, where)
	}
	if !credential.ValidID(id) {
		return nil, badRequest("The %s id in the %s %s.", res.Type, where, idRule)
	}
	req.Resource = res.Type + "/" + id
	return req, nil
}

// serveGateway answers a request no lanyard endpoint answers: with an upstream, it is matched
// against the routes, decided by the pipeline and, when allowed, proxied.
func (h *Handler) serveGateway(w http.ResponseWriter, r *http.Request) {
	gw := h.gateway
	if gw == nil || (gw.proxy == nil && gw.Next == nil) {
		h.writeError(w, r, notFound("The path was"))
		return
	}
	if err := gateway.CheckPath(r.URL, r.RequestURI); err != nil {
		h.writeError(w, r, badRequest("%s", unsafePathMessage))
		return
	}
	rt, vals := gw.Routes.MatchInto(r.Method, r.URL.Path, wildcardStorage(r))
	if rt == nil {
		h.writeError(w, r, notFound("The path was"))
		return
	}
	st := stateFrom(r.Context())
	if st != nil {
		st.route = "gateway " + rt.Path
	}
	if up := r.Header.Get("Upgrade"); up != "" {
		if strings.EqualFold(strings.TrimSpace(up), "h2c") || !rt.Upgrade {
			h.writeError(w, r, badRequest("This route does not take a protocol upgrade."))
			return
		}
	}
	req, err := h.routeRequest(r, r.Header, r.URL.RawQuery, rt, vals, r.Method)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	res := h.decide(r.Context(), "gateway", req)
	if st != nil && res.Identity != nil {
		st.identity = res.Identity
	}
	h.limitHeaders(w, res)
	if res.Err != nil {
		h.writeError(w, r, pipelineError(res.Err))
		return
	}
	f := forwardOf(r, res)
	if !rt.ForwardCredential {
		f.Strip = gw.CredentialHeaders
	}
	if gw.proxy == nil {
		f.Apply(r.Header)
		gw.Next.ServeHTTP(w, r)
		return
	}
	gw.proxy.ServeHTTP(w, r, f)
}

const unsafePathMessage = "The path holds a '.' or '..' segment, an empty segment, an encoded '/' or '\\', a '\\' or a ';'; send it in its plain form."

// decide runs the pipeline for an entry point (verify, authz, gateway) and times the decision.
func (h *Handler) decide(ctx context.Context, entry string, req *gateway.Request) gateway.Result {
	start := time.Now()
	res := h.checker.Check(ctx, req)
	h.metrics.decided(entry, time.Since(start))
	return res
}

// wildcardStorage is where a route match keeps the wildcards it binds: the request's own state
// when it has one.
func wildcardStorage(r *http.Request) gateway.Values {
	if st := stateFrom(r.Context()); st != nil {
		return st.gw.wildcards[:0]
	}
	return nil
}

// identityStorage is where a gateway decision keeps the caller's identity: the request's own
// state when it has one.
func identityStorage(r *http.Request) *authn.Identity {
	if st := stateFrom(r.Context()); st != nil {
		return &st.gw.ident
	}
	return nil
}

// limitHeaders writes the rate-limit fields of a rate-limited route's answer, allowed or refused
// (CONTRACT §8, §11.30, §11.32).
func (h *Handler) limitHeaders(w http.ResponseWriter, res gateway.Result) {
	if res.Limit != nil {
		ratelimit.WriteHeaders(w.Header(), res.Limit, h.ietf)
	}
}

// forwardOf is the identity an allowed request carries on.
func forwardOf(r *http.Request, res gateway.Result) *gateway.Forward {
	f := &gateway.Forward{}
	if st := stateFrom(r.Context()); st != nil {
		f = &st.gw.forward
	}
	*f = gateway.Forward{Resource: res.Resource, Role: res.Role}
	if id := res.Identity; id != nil {
		f.Principal = id.Principal()
		if id.Type == authn.TypeKey {
			f.KeyID = id.ID
		}
	}
	return f
}

// pipelineError turns the pipeline's refusals that are no authn or authz error into the API's.
func pipelineError(err error) error {
	if br, ok := err.(*gateway.BadRequest); ok {
		return badRequest("%s", br.Msg)
	}
	return err
}

// upstreamError answers a request the upstream failed: 504 when it did not answer in time, else
// 502, with the contract's body.
func (h *Handler) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	e := &Error{Status: http.StatusBadGateway, Code: "bad_gateway", Message: "The upstream API could not be reached.", Err: err}
	if ue, ok := err.(*gateway.UpstreamError); ok && ue.Timeout {
		e = &Error{Status: http.StatusGatewayTimeout, Code: "gateway_timeout", Message: "The upstream API did not answer in time.", Err: err}
	}
	h.writeError(w, r, e)
}

// authRequestHeader, sent by the documented nginx auth_request snippet, asks /v1/authz to
// answer every refusal as 401 or 403 (the only refusals auth_request passes on) and to name the
// real status in X-Lanyard-Status; the snippet then asks again for the real answer.
const authRequestHeader = "X-Lanyard-Auth-Request"

// forwardAuth is GET /v1/authz (nginx auth_request, Traefik forwardAuth: the original method
// and URI come in X-Forwarded-Method/-Uri or X-Original-Method/-URI) and <any method>
// /v1/authz/<original path> (Envoy's ext_authz with path_prefix). It applies the gateway routes
// and answers 200 with the identity headers, or the refusal the gateway would give (CONTRACT
// §5, §11.35, §11.55–57).
func (h *Handler) forwardAuth(w http.ResponseWriter, r *http.Request) error {
	noStore(w)
	var method, target string
	if rest, ok := strings.CutPrefix(r.URL.Path, h.prefix+"/authz/"); ok {
		method, target = r.Method, "/"+rest
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		if esc := r.URL.EscapedPath(); strings.HasPrefix(esc, h.prefix+"/authz/") {
			target = "/" + strings.TrimPrefix(esc, h.prefix+"/authz/")
			if r.URL.RawQuery != "" {
				target += "?" + r.URL.RawQuery
			}
		}
	} else {
		// The method and the URI come from one family of headers, the one whose URI is set: a
		// client's X-Forwarded-Method must not recast a request a proxy names in
		// X-Original-* (nor the other way round), and two families that disagree are refused.
		fwdURI, origURI := r.Header.Get("X-Forwarded-Uri"), r.Header.Get("X-Original-Uri")
		fwdMethod, origMethod := r.Header.Get("X-Forwarded-Method"), r.Header.Get("X-Original-Method")
		switch {
		case fwdURI != "" && origURI != "" && (fwdURI != origURI || fwdMethod != origMethod):
			return h.authRefusal(w, r, badRequest("X-Forwarded-Uri/-Method and X-Original-URI/-Method name different requests."))
		case fwdURI != "":
			method, target = fwdMethod, fwdURI
		default:
			method, target = origMethod, origURI
		}
		if method == "" {
			method = http.MethodGet
		}
	}
	if target == "" {
		return h.authRefusal(w, r, badRequest("Name the original request in X-Forwarded-Uri (or X-Original-URI)."))
	}
	if !isToken(method) {
		return h.authRefusal(w, r, badRequest("The original method is not an HTTP method."))
	}
	u, err := gateway.ParseOriginal(target)
	if err != nil {
		if err == gateway.ErrUnsafePath {
			return h.authRefusal(w, r, badRequest("%s", unsafePathMessage))
		}
		return h.authRefusal(w, r, badRequest("%s.", upperFirst(err.Error())))
	}
	var rt *gateway.Route
	var vals gateway.Values
	if h.gateway != nil {
		rt, vals = h.gateway.Routes.MatchInto(method, u.Path, wildcardStorage(r))
	}
	if rt == nil {
		return h.authRefusal(w, r, notFound("The path was"))
	}
	req, err := h.routeRequest(r, r.Header, u.RawQuery, rt, vals, method)
	if err != nil {
		return h.authRefusal(w, r, err)
	}
	res := h.decide(r.Context(), "authz", req)
	if st := stateFrom(r.Context()); st != nil && res.Identity != nil {
		st.identity = res.Identity
	}
	h.limitHeaders(w, res)
	if res.Err != nil {
		return h.authRefusal(w, r, pipelineError(res.Err))
	}
	f := forwardOf(r, res)
	hdr := w.Header()
	var hv *[4]string
	if st := stateFrom(r.Context()); st != nil {
		hv = &st.gw.headers
	} else {
		hv = new([4]string)
	}
	for i, kv := range [4][2]string{{gateway.HeaderPrincipal, f.Principal}, {gateway.HeaderKeyID, f.KeyID},
		{gateway.HeaderResource, f.Resource}, {gateway.HeaderRole, f.Role}} {
		if kv[1] != "" {
			hv[i] = kv[1]
			hdr[kv[0]] = hv[i : i+1 : i+1]
		}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// authRefusal answers a forward-auth refusal: as itself, or, for nginx's auth_request, as 401 or
// 403 with the real status in X-Lanyard-Status.
func (h *Handler) authRefusal(w http.ResponseWriter, r *http.Request, err error) error {
	if r.Header.Get(authRequestHeader) == "" {
		return err
	}
	e := asError(err)
	if e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden {
		return err
	}
	w.Header().Set("X-Lanyard-Status", itoa(e.Status))
	return &Error{Status: http.StatusForbidden, Code: e.Code, Message: e.Message, RetryAfter: e.RetryAfter, Err: e.Err}
}

func parseQuery(q string) (url.Values, error) {
	v, err := url.ParseQuery(q)
	if err != nil {
		return nil, badRequest("The query string is malformed.")
	}
	return v, nil
}

func itoa(n int) string { return strconv.Itoa(n) }

// isToken reports whether s is an HTTP token (a method name).
func isToken(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
