package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/authz"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/gateway"
	"github.com/lanyardhq/lanyard/internal/ratelimit"
	"github.com/lanyardhq/lanyard/internal/store"
)

// Error codes of the contract's error body.
const (
	CodeInvalidRequest   = "invalid_request"
	CodeUnauthenticated  = "unauthenticated"
	CodeInvalidToken     = "invalid_token"
	CodeInvalidCreds     = "invalid_credentials"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeConflict         = "conflict"
	CodeTooLarge         = "too_large"
	CodeRateLimited      = "rate_limited"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
)

// Error is an answer that is not a success: a status, a code and a message for a person. Err,
// when set, is the cause; it is logged for 5xx answers and never sent to the client.
type Error struct {
	Status  int
	Code    string
	Message string
	Err     error
	// RetryAfter, when positive, is sent as Retry-After (seconds).
	RetryAfter int
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// badRequest is a 400 invalid_request with a message for the client.
func badRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: fmt.Sprintf(format, args...)}
}

func notFound(what string) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: what + " not found."}
}

func conflict(msg string) *Error {
	return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: msg}
}

func forbidden(msg string) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: msg}
}

// asError maps any error a handler returns to the answer the client gets.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var mal *authn.MalformedError
	var ref *authn.RefusedError
	var fb *authz.Forbidden
	var le *gateway.LimitError
	var down *ratelimit.UnavailableError
	switch {
	case errors.As(err, &le):
		msg := "Too many requests: a rate-limit window of the plan is spent; try again later."
		if le.Decision.Refused == ratelimit.RefusedCredits {
			msg = "The key's credits are spent."
		}
		return &Error{Status: http.StatusTooManyRequests, Code: string(le.Decision.Refused), Message: msg, RetryAfter: int(le.Decision.RetryAfter)}
	case errors.As(err, &down):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "Rate limits cannot be decided right now.", Err: err, RetryAfter: max(1, int(down.RetryAfter))}
	case errors.Is(err, ratelimit.ErrFull):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "The service is busy; try again in a moment.", Err: err, RetryAfter: 1}
	case errors.As(err, &fb):
		return forbidden(fb.Reason)
	case errors.As(err, &mal):
		return badRequest("%s.", upperFirst(mal.Reason))
	case errors.As(err, &ref):
		msg := "The credential is not valid."
		switch {
		case ref.Public != "":
			msg = ref.Public
		case ref.Reason == authn.ReasonExpired:
			msg = "The credential has expired."
		}
		return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Message: msg}
	case errors.Is(err, authn.ErrNoCredential), errors.Is(err, authz.ErrUnauthenticated):
		return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthenticated, Message: "A credential is required."}
	case errors.Is(err, authz.ErrForbidden):
		return forbidden("The credential may not do this.")
	case errors.Is(err, authz.ErrHidden), errors.Is(err, store.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "Not found: it does not exist, or you may not see it."}
	case errors.Is(err, authz.ErrNoOwner), errors.Is(err, authz.ErrBadOwner):
		return badRequest("%s.", upperFirst(err.Error()))
	case errors.Is(err, store.ErrConflict):
		return conflict("The id is already taken.")
	case errors.Is(err, store.ErrInvalid):
		return badRequest("The change is not possible.")
	case errors.Is(err, credential.ErrBusy):
		return &Error{Status: http.StatusTooManyRequests, Code: CodeRateLimited, Message: "Too many password checks are in progress; try again in a moment.", RetryAfter: 1}
	case errors.Is(err, store.ErrUnavailable):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "The service is temporarily unavailable.", Err: err, RetryAfter: 1}
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "Something went wrong on our side.", Err: err}
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// errorBody is the contract's error body.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError is the one error writer: it turns err into the contract's answer, adds the
// headers the status calls for, and logs lanyard's own faults (only those) with their cause.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := asError(err)
	if refusal(e.Status) {
		refuse(r)
	}
	hdr := w.Header()
	switch e.Status {
	case http.StatusUnauthorized:
		if e.Code == CodeUnauthenticated || e.Code == CodeInvalidCreds {
			// A failed login presented no token, so the challenge names none (RFC 6750 §3).
			hdr.Set("WWW-Authenticate", `Bearer realm="lanyard"`)
		} else {
			hdr.Set("WWW-Authenticate", `Bearer realm="lanyard", error="invalid_token"`)
		}
		hdr.Set("Cache-Control", "no-store")
	case http.StatusForbidden:
		hdr.Set("WWW-Authenticate", `Bearer realm="lanyard", error="insufficient_scope"`)
		hdr.Set("Cache-Control", "no-store")
	}
	if e.RetryAfter > 0 {
		hdr.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	// A 500 is lanyard's own failure: an error line each. A 503 is a dependency out (the store,
	// Redis, the hashing queue), which what watches it reports once — the fan-out, the limiter's
	// probe, a node waiting for its store — so each answer adds a debug line only; the access
	// log and /metrics count them all.
	if e.Status >= 500 {
		level := slog.LevelError
		if e.Status == http.StatusServiceUnavailable {
			level = slog.LevelDebug
		}
		h.log.LogAttrs(r.Context(), level, "request failed",
			slog.String("request_id", requestID(r.Context())),
			slog.String("code", e.Code),
			slog.String("error", errString(e.Err)))
	}
	body := errorBody{Error: errorDetail{Code: e.Code, Message: e.Message}}
	if h.envelope && h.native(r) {
		h.writeRaw(w, e.Status, envelope{Success: false, Data: nil, Message: e.Message, Error: &body.Error})
		return
	}
	h.writeRaw(w, e.Status, body)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// native reports whether r is addressed to the native API (under its prefix): only its answers
// are wrapped in the envelope (CONTRACT §11.7).
func (h *Handler) native(r *http.Request) bool {
	p := r.URL.Path
	return p == h.prefix || strings.HasPrefix(p, h.prefix+"/")
}
