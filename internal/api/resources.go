package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/authz"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store"
)

// resourceJSON is a resource as the API shows it.
type resourceJSON struct {
	Type      string    `json:"type"`
	ID        string    `json:"id"`
	Name      *string   `json:"name"`
	Parent    *string   `json:"parent"`
	Plan      *string   `json:"plan"`
	CreatedAt time.Time `json:"created_at"`
}

func toResourceJSON(r store.Resource) resourceJSON {
	return resourceJSON{
		Type:      r.Type,
		ID:        r.ID,
		Name:      nullable(r.Name),
		Parent:    nullable(r.Parent),
		Plan:      nullable(r.Plan),
		CreatedAt: r.CreatedAt.UTC(),
	}
}

const idRule = "must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_', '~' and '-', and not '.' or '..'"

// chosenID is the id a caller chose for a new thing, or a generated one when it chose none. An
// id given but empty, or outside the contract's alphabet, is a 400.
func chosenID(id *string) (string, error) {
	if id == nil {
		return credential.NewID(), nil
	}
	if !credential.ValidID(*id) {
		return "", badRequest("id %s.", idRule)
	}
	return *id, nil
}

// parseRef checks a "type/id" the request names: a known type and a valid id.
func (h *Handler) parseRef(field, ref string) (string, error) {
	typ, id, ok := authz.ParseRef(ref)
	if !ok {
		return "", badRequest("%s must be written \"type/id\".", field)
	}
	if !h.schema.Has(typ) {
		return "", badRequest("%s: %q is not a resource type of this server.", field, typ)
	}
	if !credential.ValidID(id) {
		return "", badRequest("%s: the id %s.", field, idRule)
	}
	return ref, nil
}

// pathRef is the resource a /resources/{type}/{id} path names.
func pathRef(r *http.Request) string { return r.PathValue("type") + "/" + r.PathValue("id") }

type createResourceRequest struct {
	Type   string  `json:"type"`
	ID     *string `json:"id"`
	Name   *string `json:"name"`
	Parent string  `json:"parent"`
	Plan   *string `json:"plan"`
}

// createResource adds a resource under a parent the caller manages, or a root resource for an
// admin.
func (h *Handler) createResource(w http.ResponseWriter, r *http.Request) error {
	caller := authn.FromContext(r.Context())
	var req createResourceRequest
	if err := h.decode(w, r, &req); err != nil {
		return err
	}
	if req.Type == "" {
		return badRequest("type is required.")
	}
	if !h.schema.Has(req.Type) {
		return badRequest("type %q is not a resource type of this server.", req.Type)
	}
	res := store.Resource{Type: req.Type, CreatedAt: h.clock()}
	var err error
	if res.ID, err = chosenID(req.ID); err != nil {
		return err
	}
	if res.Name, err = validName(req.Name); err != nil {
		return err
	}
	if req.Plan != nil {
		if res.Plan, err = h.validPlan(*req.Plan); err != nil {
			return err
		}
	}
	ctx := r.Context()
	if req.Parent == "" {
		if !h.schema.IsRoot(req.Type) {
			return badRequest("A %s needs a parent.", req.Type)
		}
	} else {
		if res.Parent, err = h.parseRef("parent", req.Parent); err != nil {
			return err
		}
		ptype, _, _ := authz.ParseRef(res.Parent)
		if !h.schema.AllowedParent(req.Type, ptype) {
			return badRequest("A %s cannot be the parent of a %s.", ptype, req.Type)
		}
	}
	if err := h.authz.NewResource(ctx, caller, res.Parent, req.Plan != nil); err != nil {
		return err
	}
	err = h.store.CreateResource(ctx, res, h.event(r, "resource.create", res.Ref(), res.Ref()))
	switch {
	case errors.Is(err, store.ErrConflict):
		return conflict("A " + res.Type + " with this id already exists.")
	case errors.Is(err, store.ErrNotFound):
		return notFound("The parent was")
	case err != nil:
		return err
	}
	h.writeJSON(w, http.StatusCreated, toResourceJSON(res), "Resource created")
	return nil
}

// listResources lists what the caller may read, filtered by type and parent.
func (h *Handler) listResources(w http.ResponseWriter, r *http.Request) error {
	caller := authn.FromContext(r.Context())
	q := r.URL.Query()
	f := store.ResourceFilter{Type: q.Get("type")}
	if f.Type != "" && !h.schema.Has(f.Type) {
		return badRequest("type %q is not a resource type of this server.", f.Type)
	}
	if p := q.Get("parent"); p != "" {
		var err error
		if f.Parent, err = h.parseRef("parent", p); err != nil {
			return err
		}
	}
	page, fp, err := pageFrom(q, "type="+f.Type, "parent="+f.Parent)
	if err != nil {
		return err
	}
	if page.AfterID != "" {
		if _, _, ok := authz.ParseRef(page.AfterID); !ok {
			return badRequest("The cursor is not valid.")
		}
	}
	roots, all, err := h.authz.ReadableRoots(r.Context(), caller)
	if err != nil {
		return err
	}
	if !all {
		f.Within = append([]string{}, roots...)
	}
	return writePage(h, w, "resources", page, fp, func(p store.Page) ([]store.Resource, error) { return h.store.ListResources(r.Context(), f, p) },
		func(x store.Resource) (time.Time, string) { return x.CreatedAt, x.Ref() }, toResourceJSON)
}

func (h *Handler) getResource(w http.ResponseWriter, r *http.Request) error {
	res, err := h.store.GetResource(r.Context(), pathRef(r))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("The resource was")
		}
		return err
	}
	h.writeJSON(w, http.StatusOK, toResourceJSON(res), "")
	return nil
}

type patchResourceRequest struct {
	Name   optional[string] `json:"name"`
	Plan   optional[string] `json:"plan"`
	Parent optional[string] `json:"parent"`
}

// patchResource renames a resource, changes its plan, or moves it under another parent the
// caller manages (a move takes effect for authorization at the very next request).
func (h *Handler) patchResource(w http.ResponseWriter, r *http.Request) error {
	caller := authn.FromContext(r.Context())
	var req patchResourceRequest
	if err := h.decode(w, r, &req); err != nil {
		return err
	}
	ref := pathRef(r)
	typ, _, _ := authz.ParseRef(ref)
	ctx := r.Context()
	var name, plan, parent string
	var err error
	if req.Name.Set && !req.Name.Null {
		if name, err = validName(&req.Name.V); err != nil {
			return err
		}
	}
	if req.Plan.Set {
		if err := authz.SetsSpending(caller); err != nil {
			return err
		}
	}
	if req.Plan.Set && !req.Plan.Null {
		if plan, err = h.validPlan(req.Plan.V); err != nil {
			return err
		}
	}
	var guard store.Guard
	if req.Parent.Set {
		if !req.Parent.Null {
			parent = req.Parent.V
		}
		if err := h.checkParent(typ, parent); err != nil {
			return err
		}
		guard = h.authz.MoveGuard(caller, ref, parent)
	}
	res, err := h.store.UpdateResource(ctx, ref, func(x *store.Resource) error {
		if req.Name.Set {
			x.Name = name
		}
		if req.Plan.Set {
			x.Plan = plan
		}
		if req.Parent.Set {
			x.Parent = parent
		}
		return nil
	}, guard, h.event(r, "resource.update", ref, ref))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("The resource or its new parent was")
	case errors.Is(err, store.ErrInvalid):
		return badRequest("A resource cannot be moved under itself or one of its descendants.")
	case err != nil:
		return err
	}
	h.writeJSON(w, http.StatusOK, toResourceJSON(res), "Resource updated")
	return nil
}

// checkParent checks that a resource of type typ may sit under parent ("" for a root) as the
// schema says. Who may move it there is authz.MoveGuard's to decide.
func (h *Handler) checkParent(typ, parent string) error {
	if parent == "" {
		if !h.schema.IsRoot(typ) {
			return badRequest("A %s needs a parent.", typ)
		}
		return nil
	}
	if _, err := h.parseRef("parent", parent); err != nil {
		return err
	}
	ptype, _, _ := authz.ParseRef(parent)
	if !h.schema.AllowedParent(typ, ptype) {
		return badRequest("A %s cannot be the parent of a %s.", ptype, typ)
	}
	return nil
}

// deleteResource removes a resource with its descendants, their grants and every key scoped to
// them, in one transaction — which checks again, on what it deletes, that the caller may
// manage the resource (a grant taken away meanwhile stops it).
func (h *Handler) deleteResource(w http.ResponseWriter, r *http.Request) error {
	ref := pathRef(r)
	guard := h.authz.ManageGuard(authn.FromContext(r.Context()), ref)
	if _, err := h.store.DeleteResource(r.Context(), ref, guard, h.event(r, "resource.delete", ref, ref)); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("The resource was")
		}
		return err
	}
	h.writeJSON(w, http.StatusNoContent, nil, "")
	return nil
}
