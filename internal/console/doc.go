// Package console serves lanyard's web console at /console/: the pages people expect next to
// an API's keys (CONTRACT §9, §11.34, §11.50, §11.51) — sign in with email and password; my
// account (password, my API keys: create with the secret shown once, list, reissue, revoke); a
// key's page (what it can do, its use per hour over the last week as a chart); a resource's
// settings (children, members and their roles, business keys, the audit log); and, for admins,
// the users.
//
// The usage chart is an inline SVG drawn on the server from GET /v1/keys/{id}/usage: bars
// placed by usage.go, coloured by classes of the one stylesheet (the policy allows no style
// attribute), each with a <title> giving its hour's figures, and the same figures in words and
// in a table beside it.
//
// The console decides nothing itself. Every page and every form is one or more internal
// requests to the native API, served by api.Handler.ServeAs as the signed-in person (an
// authn.Identity of type session), and the console renders the JSON answer — or the error's
// status and message — as HTML. A person therefore sees in the console exactly what the API
// would show them, and can do exactly what the API would let them do: the routes, policies and
// deciders are the API's own. The console reads the store for one thing only, its sessions.
//
// Sign-in goes through api.Handler.CheckPassword, the check (and the throttling) of
// /v1/auth/login. A session is a row of the store holding the SHA-256 of a random token that
// lives only in an HttpOnly, SameSite=Lax cookie scoped to /console/ (Secure under TLS); it is
// not a credential of the native API, and no API credential opens the console. The user is read
// again (GET /v1/users/me) on every request, so a deleted user is signed out and a demoted one
// loses admin power at once; an admin's session ends after 12 hours whatever
// console.session_ttl says.
//
// Every form carries a csrf field, the sign-in form included: an HMAC, under the instance key,
// of the session token (or, before sign-in, of a random cookie), so a page of another site can
// neither read nor forge it. A post without the right one is refused with 403 before anything
// is asked of the API.
//
// Pages are rendered with html/template, styled by one small CSS file and progressively
// enhanced by htmx (embedded: see NOTICE) and a few lines of script for the copy button; every
// form works with JavaScript off. Assets are served under content-hashed names with a long
// cache lifetime; every answer carries a strict Content-Security-Policy (no inline script or
// style), X-Frame-Options: DENY and Referrer-Policy: no-referrer, and every page is
// Cache-Control: no-store, so a secret shown once never comes back from a cache or the
// history.
package console
