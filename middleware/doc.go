// Package middleware puts lanyard in front of the handlers of a Go HTTP service: New returns a
// func(http.Handler) http.Handler that asks a Verifier about every request — is its credential
// valid, and may it do what this route needs on this resource? — and either calls the handler,
// with the caller's identity in the request's context (IdentityFrom), or answers the refusal
// itself, exactly as lanyard's gateway would: the same statuses, lanyard's JSON error body
// {"error": {"code", "message"}}, WWW-Authenticate on 401 and 403, Retry-After on 429 and 503.
//
// Remote is the Verifier for a service that runs beside lanyard: a small client of lanyard's
// POST /v1/verify with a short cache of positive answers, so that a busy service does not ask
// about every request while a revoked key still stops working within a second.
//
// The decision is lanyard's, never the service's: the middleware only says which resource and
// permission a route needs (Options.Resource) and carries lanyard's answer out. When lanyard
// cannot be reached, every request is refused with 503: the middleware fails closed.
//
// The package uses only the standard library, so a service that imports it pulls in no
// database driver or Redis client (a test keeps it so).
package middleware
