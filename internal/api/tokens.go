package api

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/authz"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store"
)

// Audit actions of token revocation.
const (
	actionRevokePersonal = "token.revoke_personal"
	actionRevokeLeaked   = "token.revoke_leaked"
)

// maxRevokeTokens bounds the tokens one revocation request may name (a secret scanner may
// report several matches at once).
const maxRevokeTokens = 100

// revokePersonal revokes the personal access token the call is made with (seed 001's "revoke
// the current personal access token"). Any other credential gets 400: the call names no token
// then; keys are revoked with DELETE /keys/{id}.
func (h *Handler) revokePersonal(w http.ResponseWriter, r *http.Request) error {
	id := authn.FromContext(r.Context())
	if id.Type != authn.TypePersonal {
		return badRequest("This call revokes the personal access token it is made with, and this credential is not one (it is a %s credential).", id.Type)
	}
	f := store.TokenFilter{ID: id.ID, UserID: id.UserID, Kind: store.KindPersonal}
	if _, err := h.store.DeleteTokens(r.Context(), f, h.event(r, actionRevokePersonal, "personal:"+id.ID, "")); err != nil {
		return err
	}
	h.writeJSON(w, http.StatusNoContent, nil, "")
	return nil
}

// revokeAllPersonal revokes every personal access token of the caller's user, the one used for
// the call included. Any credential with its user's full power may ask (a personal token, an
// admin token, a personal key without limits of its own); a limited key gets 403, and a
// credential that acts for no user (a business key, the bootstrap token) gets 400.
func (h *Handler) revokeAllPersonal(w http.ResponseWriter, r *http.Request) error {
	id := authn.FromContext(r.Context())
	if id.UserID == "" {
		return badRequest("This credential acts for no user, so it has no personal access tokens.")
	}
	if err := authz.EndsAllSessions(id); err != nil {
		return err
	}
	f := store.TokenFilter{UserID: id.UserID, Kind: store.KindPersonal}
	if _, err := h.store.DeleteTokens(r.Context(), f, h.event(r, actionRevokePersonal, "user:"+id.UserID, "")); err != nil {
		return err
	}
	h.writeJSON(w, http.StatusNoContent, nil, "")
	return nil
}

// revokeLeaked is the RFC 7009-style revocation endpoint for leaked tokens: whoever holds a
// token may revoke it, no credential needed (a secret scanner, a user who pasted it in public).
// The answer is 200 {} whether or not anything was revoked, so it tells nobody whether a
// string is a live token; only a malformed body gets 400.
//
// What a token names is revoked whole: a key's token or secret revokes the key, a personal or
// admin token that token, the bootstrap token the bootstrap token (recover with `lanyard
// bootstrap reset`). A secret that no longer works by itself — an old secret whose reissue
// grace has ended, an expired personal token — revokes nothing, so an old leak cannot take
// down the key's current secret. Only real tokens cause a store write, each with its audit event.
func (h *Handler) revokeLeaked(w http.ResponseWriter, r *http.Request) error {
	data, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	tokens, err := parseRevokeBody(data)
	if err != nil {
		return err
	}
	for _, tok := range tokens {
		if err := h.revokeToken(r, tok); err != nil {
			return err
		}
	}
	h.writeJSON(w, http.StatusOK, struct{}{}, "Revocation request received")
	return nil
}

// revokeToken revokes what tok names, if it names anything live.
func (h *Handler) revokeToken(r *http.Request, tok string) error {
	ctx := r.Context()
	if h.exchange != nil {
		if prefix, ok := credential.Parse(tok); ok && prefix == h.prefixes.Scoped {
			ev := h.event(r, actionRevokeLeaked, "", "")
			ev.Actor, ev.Credential = "", ""
			_, err := h.exchange.RevokeLeaked(ctx, tok, ev)
			return err
		}
	}
	// The one resolver decides what the token names: no lookup for a token lanyard does not
	// issue or with a bad checksum, nothing for a secret that works no more by itself.
	res, err := h.resolver.Named(ctx, tok)
	var refused *authn.RefusedError
	if errors.As(err, &refused) {
		return nil
	}
	if err != nil {
		return err // the store cannot answer: 503, so a scanner tries again
	}
	s := res.Secret
	ev := h.event(r, actionRevokeLeaked, "", "")
	ev.Actor, ev.Credential = "", "" // anonymous: whoever holds the token
	switch s.Kind {
	case store.KindKeyToken, store.KindKeySecret:
		ev.Target = "key:" + s.ID
		if res.Key != nil {
			ev.Resource = res.Key.Resource
		}
		_, err = h.store.DeleteKey(ctx, s.ID, ev)
	case store.KindPersonal, store.KindAdmin, store.KindBootstrap:
		ev.Target = s.Kind + ":" + s.ID
		if s.Kind == store.KindBootstrap {
			ev.Target = "bootstrap"
		}
		_, err = h.store.DeleteTokens(ctx, store.TokenFilter{ID: s.ID, Kind: s.Kind}, ev)
	default:
		return nil
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil // revoked meanwhile
	}
	return err
}

// revokeItem is one token in a JSON revocation body. token_type_hint (RFC 7009) and the other
// fields of GitHub's secret-scanning alerts (type, url, source) are accepted and ignored.
type revokeItem struct {
	Token *string `json:"token"`
}

// parseRevokeBody reads the tokens a revocation request names. The body is JSON when its first
// non-space byte is '{' or '[', whatever the Content-Type (a client that sends JSON with curl -d
// says form): an object {"token": "…"} or, as GitHub's secret scanning sends, an array of such
// objects. Anything else is an application/x-www-form-urlencoded form with one token=… .
// Unknown fields and parameters are ignored (RFC 6749 §3.2: unrecognised parameters are
// ignored). A body that names no token, or is neither valid JSON nor a valid form, is a 400.
func parseRevokeBody(data []byte) ([]string, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, badRequest("token is required.")
	}
	switch trimmed[0] {
	case '{':
		var item revokeItem
		if err := decodeLenient(trimmed, &item); err != nil {
			return nil, err
		}
		if item.Token == nil || *item.Token == "" {
			return nil, badRequest("token is required.")
		}
		return []string{*item.Token}, nil
	case '[':
		var items []revokeItem
		if err := decodeLenient(trimmed, &items); err != nil {
			return nil, err
		}
		if len(items) == 0 {
			return nil, badRequest("The list names no token.")
		}
		if len(items) > maxRevokeTokens {
			return nil, badRequest("A request may name at most %d tokens.", maxRevokeTokens)
		}
		out := make([]string, 0, len(items))
		for _, it := range items {
			if it.Token == nil || *it.Token == "" {
				return nil, badRequest("Every item needs a token.")
			}
			out = append(out, *it.Token)
		}
		return out, nil
	}
	form, err := url.ParseQuery(string(trimmed))
	if err != nil {
		return nil, badRequest("The request body must be JSON or a form (token=…).")
	}
	switch v := form["token"]; {
	case len(v) == 0 || v[0] == "":
		return nil, badRequest("token is required.")
	case len(v) > 1:
		return nil, badRequest("token must be given once.")
	default:
		return []string{v[0]}, nil
	}
}

// decodeLenient decodes exactly one JSON value, ignoring unknown fields.
func decodeLenient(data []byte, dst any) error { return decodeOne(data, dst, false) }
