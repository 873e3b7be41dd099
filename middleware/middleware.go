package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"
)

// A Verifier decides about one request, as lanyard's POST /v1/verify does.
type Verifier interface {
	// Verify answers whether r's credential is valid and may do what r asks. A refusal is a
	// Result with Valid false and its Code; an error means there is no decision (lanyard could
	// not be asked, or did not answer), and the request is refused with 503.
	Verify(ctx context.Context, r Request) (Result, error)
}

// VerifierFunc lets a function be a Verifier.
type VerifierFunc func(ctx context.Context, r Request) (Result, error)

// Verify calls f.
func (f VerifierFunc) Verify(ctx context.Context, r Request) (Result, error) { return f(ctx, r) }

// Request is what a Verifier decides on.
type Request struct {
	// Header holds the incoming request's credential headers (Options.CredentialHeaders), one
	// value each; nothing else of the request.
	Header http.Header
	// ClientIP is the end client's address, which a key's allowed_cidrs is checked against.
	ClientIP string
	// Resource is the "type/id" the request acts on, or "" when the route needs only a valid
	// credential; Permission is what it needs there ("read", "write" or "manage"), set whenever
	// Resource is.
	Resource   string
	Permission string
}

// Result is a Verifier's decision, in the shape of /v1/verify's answer (CONTRACT §5, §11.28).
type Result struct {
	// Valid reports whether the request is allowed.
	Valid bool
	// Code says why not: one of /v1/verify's codes — invalid_token, expired, revoked,
	// forbidden, rate_limited, credits_exhausted — or not_found (a forbidden resource the
	// credential may not even read: answered 404, so that its existence is not revealed) or
	// invalid_request (lanyard found the credential or the resource malformed). Any other code
	// is answered 403.
	Code string
	// Message, when set, is lanyard's sentence for an invalid_request.
	Message string
	// Principal ("user:<id>" or "key:<id>"), KeyID, Resource and Role name the credential and
	// the grant that allowed the request; each "" when it does not apply.
	Principal, KeyID, Resource, Role string
	// RetryAfter, for rate_limited and credits_exhausted, is how long the client should wait
	// (0: not known).
	RetryAfter time.Duration
}

// Identity is the caller of an allowed request, as the handler finds it in the request's
// context.
type Identity struct {
	// Principal is "user:<id>" or "key:<id>" ("" for lanyard's bootstrap token).
	Principal string
	// KeyID is the id of the key the request came with ("" for another credential).
	KeyID string
	// Resource is the resource the request was allowed on, Role the role of the grant that
	// allowed it ("" when the route named no resource).
	Resource, Role string
}

type identityKey struct{}

// NewContext returns ctx carrying id, as New gives it to the handler.
func NewContext(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity New put in ctx, and whether there is one.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// Options say what each request needs and where its credential and client address are.
type Options struct {
	// Resource names the resource a request acts on ("type/id", e.g. "organization/acme") and
	// the permission it needs there ("read", "write", "manage"; "" for read on GET, HEAD and
	// OPTIONS and write otherwise, as lanyard's gateway routes do). A resource of "" asks only
	// for a valid credential. Nil: every request asks only for a valid credential.
	//
	// With http.ServeMux, wrap each route's handler rather than the mux, so that
	// r.PathValue is set when Resource runs (see the package example).
	Resource func(r *http.Request) (resource, permission string)
	// CredentialHeaders are the request headers lanyard's configured sources and scoped tokens
	// read (nil: Authorization). Only these are sent to the Verifier.
	CredentialHeaders []string
	// ClientIP returns the end client's address (nil: the host of r.RemoteAddr). Behind a
	// proxy, return the address the proxy vouches for, never a header the client could set.
	ClientIP func(r *http.Request) string
	// Logger receives a line when the Verifier fails (nil: nothing is logged). It never
	// receives a credential.
	Logger *slog.Logger
}

// New returns middleware that asks v about every request and lets it through to the next
// handler only when v allows it, with the caller's Identity in the request's context.
// Refusals are answered as lanyard answers them: 400, 401, 403, 404, 429, and 503 when v
// cannot decide.
func New(v Verifier, opts Options) func(http.Handler) http.Handler {
	headers := opts.CredentialHeaders
	if len(headers) == 0 {
		headers = []string{"Authorization"}
	}
	canon := make([]string, len(headers))
	for i, h := range headers {
		canon[i] = http.CanonicalHeaderKey(h)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			req := Request{Header: make(http.Header, len(canon))}
			for _, name := range canon {
				switch vs := r.Header.Values(name); len(vs) {
				case 0:
				case 1:
					req.Header[name] = []string{vs[0]}
				default:
					writeError(w, http.StatusBadRequest, "invalid_request", "Send each credential header once.", 0)
					return
				}
			}
			if !anyNonEmpty(req.Header) {
				writeError(w, http.StatusUnauthorized, "unauthenticated", "A credential is required.", 0)
				return
			}
			if opts.ClientIP != nil {
				req.ClientIP = opts.ClientIP(r)
			} else {
				req.ClientIP = peerIP(r)
			}
			if opts.Resource != nil {
				req.Resource, req.Permission = opts.Resource(r)
				if req.Resource == "" {
					req.Permission = ""
				} else if req.Permission == "" {
					req.Permission = "write"
					if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions {
						req.Permission = "read"
					}
				}
			}
			res, err := v.Verify(r.Context(), req)
			if err != nil {
				if opts.Logger != nil {
					opts.Logger.LogAttrs(r.Context(), slog.LevelError, "lanyard could not decide",
						slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("error", err.Error()))
				}
				writeError(w, http.StatusServiceUnavailable, "unavailable", "The service is temporarily unavailable.", time.Second)
				return
			}
			if !res.Valid {
				refuse(w, res)
				return
			}
			id := Identity{Principal: res.Principal, KeyID: res.KeyID, Resource: res.Resource, Role: res.Role}
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), id)))
		})
	}
}

func anyNonEmpty(h http.Header) bool {
	for _, vs := range h {
		for _, v := range vs {
			if v != "" {
				return true
			}
		}
	}
	return false
}

func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// refuse answers a refusal the way lanyard answers it (CONTRACT §3, §11.1, §11.8).
func refuse(w http.ResponseWriter, res Result) {
	switch res.Code {
	case "invalid_token", "revoked":
		writeError(w, http.StatusUnauthorized, "invalid_token", "The credential is not valid.", 0)
	case "expired":
		writeError(w, http.StatusUnauthorized, "invalid_token", "The credential has expired.", 0)
	case "not_found":
		writeError(w, http.StatusNotFound, "not_found", "Not found: it does not exist, or you may not see it.", 0)
	case "rate_limited":
		writeError(w, http.StatusTooManyRequests, "rate_limited", "Too many requests; try again later.", res.RetryAfter)
	case "credits_exhausted":
		writeError(w, http.StatusTooManyRequests, "credits_exhausted", "The credential has no credits left.", res.RetryAfter)
	case "invalid_request":
		msg := res.Message
		if msg == "" {
			msg = "The request is malformed."
		}
		writeError(w, http.StatusBadRequest, "invalid_request", msg, 0)
	default:
		writeError(w, http.StatusForbidden, "forbidden", "The credential may not do this.", 0)
	}
}

// writeError writes lanyard's error answer: its body, and the headers its status calls for.
func writeError(w http.ResponseWriter, status int, code, message string, retryAfter time.Duration) {
	h := w.Header()
	switch status {
	case http.StatusUnauthorized:
		if code == "unauthenticated" {
			h.Set("WWW-Authenticate", `Bearer realm="lanyard"`)
		} else {
			h.Set("WWW-Authenticate", `Bearer realm="lanyard", error="invalid_token"`)
		}
		h.Set("Cache-Control", "no-store")
	case http.StatusForbidden:
		h.Set("WWW-Authenticate", `Bearer realm="lanyard", error="insufficient_scope"`)
		h.Set("Cache-Control", "no-store")
	}
	if retryAfter > 0 {
		secs := int64((retryAfter + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	body, _ := json.Marshal(errorBody{Error: errorDetail{Code: code, Message: message}})
	w.Write(append(body, '\n'))
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ErrUnavailable is wrapped by the errors a Verifier returns when lanyard could not be asked or
// did not answer.
var ErrUnavailable = errors.New("lanyard is unavailable")
