package api

import (
	"errors"
	"net/http"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/store"
)

// businessSelection reads ?resource= and asks authz.SelectBusinessKeys which business keys
// /tokens/business covers.
func (h *Handler) businessSelection(r *http.Request, write bool) (store.KeyFilter, bool, error) {
	res := r.URL.Query().Get("resource")
	if res != "" {
		var err error
		if res, err = h.parseRef("resource", res); err != nil {
			return store.KeyFilter{}, false, err
		}
	}
	return h.authz.SelectBusinessKeys(r.Context(), authn.FromContext(r.Context()), res, write)
}

func (h *Handler) listBusinessKeys(w http.ResponseWriter, r *http.Request) error {
	f, _, err := h.businessSelection(r, false)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	page, fp, err := pageFrom(q, "resource="+q.Get("resource"))
	if err != nil {
		return err
	}
	return h.writeKeys(w, r, f, page, fp)
}

// deleteBusinessKeys revokes every business key the selection covers — for an admin without
// ?resource=, every business key of the instance (CONTRACT §5: "revokes all of them").
func (h *Handler) deleteBusinessKeys(w http.ResponseWriter, r *http.Request) error {
	f, all, err := h.businessSelection(r, true)
	if err != nil {
		return err
	}
	if all || len(f.Within) > 0 {
		if _, err := h.store.DeleteKeys(r.Context(), f, h.event(r, "key.revoke", "", "")); err != nil {
			return err
		}
	}
	h.writeJSON(w, http.StatusNoContent, nil, "")
	return nil
}

// deleteBusinessKey revokes one business key (its resource's managers may).
func (h *Handler) deleteBusinessKey(w http.ResponseWriter, r *http.Request) error {
	keyID := r.PathValue("id")
	k, err := h.store.GetKey(r.Context(), keyID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("The key was")
		}
		return err
	}
	if k.Owner != "" {
		return notFound("The business key was")
	}
	return h.deleteKey(w, r)
}
