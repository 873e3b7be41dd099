package api

import (
	"errors"
	"net/http"
	"net/url"
	"sort"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/authz"
	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/exchange"
	"github.com/lanyardhq/lanyard/internal/store"
)

// exchangeRoutes are the authorize paths of the config's exchangeable types (CONTRACT §6),
// served at the root, outside the API prefix: GET <path> with the credential (and the parent
// type's token) answers a scoped token.
func (h *Handler) exchangeRoutes() []Route {
	if h.exchange == nil {
		return nil
	}
	types := h.exchange.Types()
	names := make([]string, 0, len(types))
	for typ := range types {
		names = append(names, typ)
	}
	sort.Strings(names)
	out := make([]Route, 0, len(names))
	for _, typ := range names {
		out = append(out, Route{Method: http.MethodGet, Path: types[typ].Path, Root: true,
			Policy: authz.ResourceOf{Type: typ, Perm: config.PermRead}, Handle: h.authorizeScoped(typ),
			Doc: &operation{summary: "Exchange the credential (and the " + types[typ].Requires + " token) for a scoped token of " + typ + " {id}.",
				status: 200, response: "ScopedToken"}})
	}
	return out
}

type scopedAnswer struct {
	Token     string `json:"token"`
	ExpiresIn int64  `json:"expires_in"`
	Resource  string `json:"resource"`
}

// authorizeScoped answers an authorize path: a scoped token of typ for the resource {id}.
func (h *Handler) authorizeScoped(typ string) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := authn.FromContext(r.Context())
		ev := h.event(r, "token.exchange", "", "")
		iss, err := h.exchange.Issue(r.Context(), id, typ, r.PathValue("id"), r.Header, ev)
		if err != nil {
			return err
		}
		noStore(w)
		h.writeRaw(w, http.StatusOK, scopedAnswer{Token: iss.Token, ExpiresIn: int64(iss.TTL.Seconds()), Resource: iss.Resource})
		return nil
	}
}

// revokeScoped is DELETE /v1/tokens/scoped: the holder of a scoped token (the credential that
// obtained it) revokes it, with its subtree; the token comes in its own header.
func (h *Handler) revokeScoped(w http.ResponseWriter, r *http.Request) error {
	if h.exchange == nil {
		return badRequest("This server has no scoped tokens.")
	}
	id := authn.FromContext(r.Context())
	var tok string
	for _, name := range h.exchange.Headers() {
		if v := r.Header.Get(name); v != "" {
			if tok != "" && tok != v {
				return badRequest("Name one scoped token to revoke, in its header.")
			}
			tok = v
		}
	}
	if tok == "" {
		return badRequest("Send the scoped token to revoke in its header.")
	}
	if err := h.exchange.Revoke(r.Context(), id, tok, h.event(r, "token.revoke_scoped", "", "")); err != nil {
		return err
	}
	h.writeJSON(w, http.StatusNoContent, nil, "")
	return nil
}

// RFC 8693 token exchange.
const (
	grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAccess    = "urn:ietf:params:oauth:token-type:access_token"
)

// oauthError is an RFC 6749 §5.2 error: 400 with {"error", "error_description"} (CONTRACT
// §11.48), written as it is, not as the contract's §3 body.
type oauthError struct {
	Code, Description string
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

type exchangeAnswer struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
}

// tokenExchange is POST /v1/tokens/exchange (RFC 8693): subject_token is the credential,
// actor_token the parent scoped token when the type needs one, resource the "type/id" a scoped
// token is asked for. It issues the same tokens as the authorize paths. Parameters it does not
// know are ignored (RFC 6749 §3.2).
func (h *Handler) tokenExchange(w http.ResponseWriter, r *http.Request) error {
	noStore(w)
	err := h.exchangeToken(w, r)
	var oe *oauthError
	if errors.As(err, &oe) {
		h.writeRaw(w, http.StatusBadRequest, map[string]string{"error": oe.Code, "error_description": oe.Description})
		return nil
	}
	return err
}

func (h *Handler) exchangeToken(w http.ResponseWriter, r *http.Request) error {
	data, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	form, err := url.ParseQuery(string(data))
	if err != nil {
		return &oauthError{"invalid_request", "The body must be a form (application/x-www-form-urlencoded)."}
	}
	one := func(name string) (string, error) {
		v := form[name]
		if len(v) > 1 {
			return "", &oauthError{"invalid_request", "The parameter " + name + " is given twice."}
		}
		if len(v) == 0 {
			return "", nil
		}
		return v[0], nil
	}
	grant, err := one("grant_type")
	if err != nil {
		return err
	}
	if grant != grantTokenExchange {
		return &oauthError{"unsupported_grant_type", "grant_type must be " + grantTokenExchange + "."}
	}
	for _, p := range []string{"subject_token_type", "actor_token_type", "requested_token_type"} {
		v, err := one(p)
		if err != nil {
			return err
		}
		if v != "" && v != tokenTypeAccess {
			return &oauthError{"invalid_request", p + " must be " + tokenTypeAccess + "."}
		}
	}
	subject, err := one("subject_token")
	if err != nil {
		return err
	}
	actor, err := one("actor_token")
	if err != nil {
		return err
	}
	resource, err := one("resource")
	if err != nil {
		return err
	}
	if subject == "" {
		return &oauthError{"invalid_request", "subject_token is required: the credential to exchange."}
	}
	typ, rid, ok := authz.ParseRef(resource)
	if !ok || !credential.ValidID(rid) {
		return &oauthError{"invalid_request", `resource must be written "type/id".`}
	}
	if h.exchange == nil {
		return &oauthError{"invalid_target", "No resource type of this server is exchangeable."}
	}
	x, ok := h.exchange.Types()[typ]
	if !ok {
		return &oauthError{"invalid_target", typ + " is not an exchangeable type."}
	}
	id := &authn.Identity{}
	if _, err := h.checker.Identify(r.Context(), nil, subject, h.clientAddr(r), id); err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			return err
		}
		return &oauthError{"invalid_request", "subject_token is not a valid credential."}
	}
	if st := stateFrom(r.Context()); st != nil {
		st.identity = id
	}
	hdr := http.Header{}
	if actor != "" {
		if x.Requires != "" {
			hdr.Set(h.exchange.Types()[x.Requires].Header, actor)
		}
	}
	ev := h.event(r, "token.exchange", "", "")
	ev.Actor, ev.Credential = id.Principal(), id.CredentialName()
	iss, err := h.exchange.Issue(r.Context(), id, typ, rid, hdr, ev)
	switch {
	case err == nil:
	case errors.Is(err, authz.ErrHidden), errors.Is(err, authz.ErrForbidden) && !errors.Is(err, exchange.ErrWrongFor):
		refuse(r) // answered 400 as RFC 6749 says, a refusal all the same
		return &oauthError{"invalid_target", "The subject may not read " + resource + "."}
	case exchange.IsMissing(err):
		refuse(r)
		return &oauthError{"invalid_request", "actor_token is required: the " + x.Requires + " token the " + typ + " token is obtained with."}
	case errors.Is(err, exchange.ErrWrongFor), isRefused(err):
		refuse(r)
		return &oauthError{"invalid_request", "actor_token is not a valid " + x.Requires + " token of this subject for " + resource + "'s parent."}
	default:
		return err
	}
	h.writeRaw(w, http.StatusOK, exchangeAnswer{AccessToken: iss.Token, IssuedTokenType: tokenTypeAccess, TokenType: "N_A", ExpiresIn: int64(iss.TTL.Seconds())})
	return nil
}

func isRefused(err error) bool {
	var ref *authn.RefusedError
	return errors.As(err, &ref)
}
