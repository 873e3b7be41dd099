package api

import (
	"errors"
	"net/http"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store"
)

// promote makes a user an admin and returns a new admin token — the only way admin power is
// handed out. Promoting an admin again adds one more token.
func (h *Handler) promote(w http.ResponseWriter, r *http.Request) error {
	uid, err := h.authz.UserTarget(authn.FromContext(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	tok, err := credential.Generate(h.prefixes.Admin)
	if err != nil {
		return err
	}
	t := store.Token{ID: credential.NewID(), Kind: store.KindAdmin, UserID: uid, Hash: credential.Hash(tok), CreatedAt: h.clock()}
	if _, _, err := h.store.SetAdmin(r.Context(), uid, &t, h.event(r, "user.promote", "user:"+uid, "")); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("The user was")
		}
		return err
	}
	noStore(w)
	h.writeJSON(w, http.StatusOK, map[string]string{"token": tok}, "User promoted")
	return nil
}

// demote ends a user's admin power: every admin token of the user is rescinded at once.
func (h *Handler) demote(w http.ResponseWriter, r *http.Request) error {
	uid, err := h.authz.UserTarget(authn.FromContext(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	if _, _, err := h.store.SetAdmin(r.Context(), uid, nil, h.event(r, "user.demote", "user:"+uid, "")); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("The user was")
		}
		return err
	}
	h.writeJSON(w, http.StatusNoContent, nil, "")
	return nil
}
