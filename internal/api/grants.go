package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store"
)

type grantJSON struct {
	Resource  string    `json:"resource"`
	Principal string    `json:"principal"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

func toGrantJSON(g store.Grant) grantJSON {
	return grantJSON{Resource: g.Resource, Principal: g.Principal, Role: g.Role, CreatedAt: g.CreatedAt.UTC()}
}

// grantee resolves the {principal} of a grant path: "user:<id>" or "email:<address>" (an
// existing user, named user:<id> from then on). Keys get their grant with the key itself.
func (h *Handler) grantee(ctx context.Context, p string) (string, error) {
	switch {
	case strings.HasPrefix(p, "user:"):
		uid := strings.TrimPrefix(p, "user:")
		if !credential.ValidID(uid) {
			return "", badRequest("The user id %s.", idRule)
		}
		if _, err := h.store.GetUser(ctx, uid); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return "", notFound("The user was")
			}
			return "", err
		}
		return p, nil
	case strings.HasPrefix(p, "email:"):
		u, err := h.store.GetUserByEmail(ctx, store.NormalizeEmail(strings.TrimPrefix(p, "email:")))
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return "", notFound("No user has this email; the user was")
			}
			return "", err
		}
		return "user:" + u.ID, nil
	case strings.HasPrefix(p, "key:"):
		return "", badRequest("A business key's grant is given when the key is created; create a key with resource and role instead.")
	}
	return "", badRequest(`The principal must be written "user:<id>" or "email:<address>".`)
}

type putGrantRequest struct {
	Role string `json:"role"`
}

func (h *Handler) putGrant(w http.ResponseWriter, r *http.Request) error {
	caller := authn.FromContext(r.Context())
	var req putGrantRequest
	if err := h.decode(w, r, &req); err != nil {
		return err
	}
	perms, ok := h.authz.RolePerms(req.Role)
	if !ok {
		return badRequest("role %q is not a role of this server.", req.Role)
	}
	ctx := r.Context()
	ref := pathRef(r)
	principal, err := h.grantee(ctx, r.PathValue("principal"))
	if err != nil {
		return err
	}
	g, err := h.store.PutGrant(ctx, store.Grant{Resource: ref, Principal: principal, Role: req.Role, CreatedAt: h.clock()},
		h.authz.GrantGuard(caller, ref, perms), h.event(r, "grant.put", principal, ref))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("The resource was")
		}
		return err
	}
	h.writeJSON(w, http.StatusOK, map[string]string{"resource": g.Resource, "principal": g.Principal, "role": g.Role}, "Grant saved")
	return nil
}

func (h *Handler) deleteGrant(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	ref := pathRef(r)
	principal, err := h.grantee(ctx, r.PathValue("principal"))
	if err != nil {
		return err
	}
	guard := h.authz.RevokeGrantGuard(authn.FromContext(ctx), ref, principal)
	if err := h.store.DeleteGrant(ctx, ref, principal, guard, h.event(r, "grant.delete", principal, ref)); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("The grant was")
		}
		return err
	}
	h.writeJSON(w, http.StatusNoContent, nil, "")
	return nil
}

func (h *Handler) listGrants(w http.ResponseWriter, r *http.Request) error {
	ref := pathRef(r)
	page, fp, err := pageFrom(r.URL.Query(), "resource="+ref)
	if err != nil {
		return err
	}
	return writePage(h, w, "grants", page, fp, func(p store.Page) ([]store.Grant, error) { return h.store.ListGrants(r.Context(), ref, p) },
		func(g store.Grant) (time.Time, string) { return g.CreatedAt, g.Principal }, toGrantJSON)
}
