package authz

import (
	"context"
	"errors"
	"strings"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/store"
)

// Tree is the resource tree and the grants as Check reads them. cache.Store serves both from
// memory and forgets them the moment a resource or grant changes, so a removed grant or a moved
// resource is refused at the very next request.
type Tree interface {
	// Resource returns the resource "type/id", or store.ErrNotFound.
	Resource(ctx context.Context, ref string) (store.Resource, error)
	// Grants returns a principal's grants as resource ref → role.
	Grants(ctx context.Context, principal string) (map[string]string, error)
	// Ancestry returns ref and its ancestors, nearest first: [ref, parent, …, root]; or
	// store.ErrNotFound when ref does not exist. The slice is shared: do not modify it.
	Ancestry(ctx context.Context, ref string) ([]string, error)
}

// Because explains a decision: the grant that allowed it and the path from the checked
// resource up to that grant, or, when nothing allowed it, why.
type Because struct {
	Reason string       `json:"reason"`
	Grant  *GrantJSON   `json:"grant"`
	Path   []string     `json:"path"`
	Denied DeniedReason `json:"-"`
}

// GrantJSON is a grant as explanations show it.
type GrantJSON struct {
	Principal string `json:"principal"`
	Role      string `json:"role"`
	Resource  string `json:"resource"`
}

// DeniedReason classifies a refusal.
type DeniedReason int

// Reasons a check is refused.
const (
	NotDenied            DeniedReason = iota
	DeniedNoGrant                     // no grant on the resource or an ancestor gives the permission
	DeniedKeyScope                    // the key is confined to another part of the tree
	DeniedKeyRole                     // the key's role caps the permission away
	DeniedNoSuchResource              // the resource does not exist
	DeniedNoPrincipal                 // the principal does not exist
)

// subject is who a check is about: a principal whose grants count, narrowed by a personal
// key's own limits.
type subject struct {
	principal string
	admin     bool
	// capResource confines a personal key to a subtree ("" for none).
	capResource string
	// capRole caps a personal key's permissions ("" for none).
	capRole string
}

// subjectOf is the subject an identity acts as.
func subjectOf(id *authn.Identity) subject {
	s := subject{principal: id.Principal(), admin: id.Admin()}
	if id.Type == authn.TypeKey && id.Key != nil && id.Key.Owner != "" {
		s.capResource, s.capRole = id.Key.Resource, id.Key.Role
	}
	return s
}

// Can reports whether the caller may do perm on the resource ref. A resource that does not
// exist is simply not allowed.
func (a *Authorizer) Can(ctx context.Context, id *authn.Identity, perm config.Perms, ref string) (bool, error) {
	ok, _, _, err := a.decide(ctx, subjectOf(id), perm, ref, false)
	return ok, err
}

// Require decides access to the resource ref for an action needing perm, the contract's way: a
// caller that may not even read it gets ErrHidden (404), one that may read it but lacks perm
// gets ErrForbidden (403).
func (a *Authorizer) Require(ctx context.Context, id *authn.Identity, perm config.Perms, ref string) error {
	s := subjectOf(id)
	ok, _, _, err := a.decide(ctx, s, perm, ref, false)
	if err != nil || ok {
		return err
	}
	if perm != config.PermRead {
		canRead, _, _, err := a.decide(ctx, s, config.PermRead, ref, false)
		if err != nil {
			return err
		}
		if canRead {
			return ErrForbidden
		}
	}
	return ErrHidden
}

// Explain decides like Can and says why.
func (a *Authorizer) Explain(ctx context.Context, id *authn.Identity, perm config.Perms, ref string) (bool, *Because, error) {
	ok, _, b, err := a.decide(ctx, subjectOf(id), perm, ref, true)
	return ok, b, err
}

// Allows is Require that also names the role of the grant that allowed the request ("" for an
// admin credential, which needs none): what a gateway forwards as X-Lanyard-Role.
func (a *Authorizer) Allows(ctx context.Context, id *authn.Identity, perm config.Perms, ref string) (role string, err error) {
	s := subjectOf(id)
	ok, role, _, err := a.decide(ctx, s, perm, ref, false)
	if err != nil || ok {
		return role, err
	}
	if perm != config.PermRead {
		canRead, _, _, err := a.decide(ctx, s, config.PermRead, ref, false)
		if err != nil {
			return "", err
		}
		if canRead {
			return "", ErrForbidden
		}
	}
	return "", ErrHidden
}

// decide is the one tree walk: from ref up to its root, looking for the nearest grant of the
// subject whose role includes perm, and checking a personal key's own limits on the way.
func (a *Authorizer) decide(ctx context.Context, s subject, perm config.Perms, ref string, explain bool) (bool, string, *Because, error) {
	// deny builds the explanation only when one was asked for: a refusal on the hot path
	// allocates nothing.
	deny := func(r DeniedReason, reason func() string) (bool, string, *Because, error) {
		if !explain {
			return false, "", nil, nil
		}
		return false, "", &Because{Reason: reason(), Denied: r}, nil
	}
	if s.admin {
		if _, err := a.tree.Resource(ctx, ref); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return deny(DeniedNoSuchResource, func() string { return "The resource does not exist." })
			}
			return false, "", nil, err
		}
		if !explain {
			return true, "", nil, nil
		}
		return true, "", &Because{Reason: "The credential is an admin credential: it may do everything."}, nil
	}
	if s.principal == "" {
		return deny(DeniedNoPrincipal, func() string { return "The credential acts as no principal." })
	}
	grants, err := a.tree.Grants(ctx, s.principal)
	if err != nil {
		return false, "", nil, err
	}
	chain, err := a.tree.Ancestry(ctx, ref)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return deny(DeniedNoSuchResource, func() string { return "The resource does not exist." })
		}
		return false, "", nil, err
	}
	var foundRole, foundRes string
	found := false
	foundDepth := -1
	inScope := s.capResource == ""
	for depth, cur := range chain {
		if !found {
			if role, ok := grants[cur]; ok {
				if p, ok := a.roles[role]; ok && p.Has(perm) {
					found, foundRole, foundRes, foundDepth = true, role, cur, depth
				}
			}
		}
		if cur == s.capResource {
			inScope = true
		}
		if found && inScope {
			break
		}
	}
	if !found {
		return deny(DeniedNoGrant, func() string {
			return s.principal + " has no grant on " + ref + " or above it whose role includes " + perm.String() + "."
		})
	}
	if !inScope {
		return deny(DeniedKeyScope, func() string {
			return "The key is confined to " + s.capResource + ", and " + ref + " is not in it."
		})
	}
	if s.capRole != "" {
		if p, ok := a.roles[s.capRole]; !ok || !p.Has(perm) {
			return deny(DeniedKeyRole, func() string {
				return "The key's role " + s.capRole + " does not include " + perm.String() + "."
			})
		}
	}
	if !explain {
		return true, foundRole, nil, nil
	}
	reason := s.principal + " has the role " + foundRole + " on " + foundRes
	if foundDepth > 0 {
		reason += ", inherited by " + ref
	}
	g := &GrantJSON{Principal: s.principal, Role: foundRole, Resource: foundRes}
	path := append([]string(nil), chain[:foundDepth+1]...)
	return true, foundRole, &Because{Reason: reason + ".", Grant: g, Path: path}, nil
}

// Resource returns the resource ref as authorization sees it (from the tree cache).
func (a *Authorizer) Resource(ctx context.Context, ref string) (store.Resource, error) {
	return a.tree.Resource(ctx, ref)
}

// Within reports whether ref is root or one of its descendants.
func (a *Authorizer) Within(ctx context.Context, ref, root string) (bool, error) {
	chain, err := a.tree.Ancestry(ctx, ref)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	for _, cur := range chain {
		if cur == root {
			return true, nil
		}
	}
	return false, nil
}

// ParseRef splits "type/id".
func ParseRef(ref string) (typ, id string, ok bool) {
	typ, id, ok = strings.Cut(ref, "/")
	return typ, id, ok && typ != "" && id != "" && !strings.Contains(id, "/")
}

// Roots returns the tops of the subtrees on which the caller holds perm: every resource there
// and below it is within reach. all is true for admin credentials (everything). A personal key's
// own limits narrow the answer: a role without perm leaves nothing, and a confining resource
// clips every subtree to the part inside it.
func (a *Authorizer) Roots(ctx context.Context, id *authn.Identity, perm config.Perms) (roots []string, all bool, err error) {
	s := subjectOf(id)
	if s.admin {
		return nil, true, nil
	}
	if s.principal == "" {
		return nil, false, nil
	}
	if s.capRole != "" {
		if p, ok := a.roles[s.capRole]; !ok || !p.Has(perm) {
			return nil, false, nil
		}
	}
	grants, err := a.tree.Grants(ctx, s.principal)
	if err != nil {
		return nil, false, err
	}
	seen := map[string]bool{}
	for ref, role := range grants {
		if p, ok := a.roles[role]; !ok || !p.Has(perm) {
			continue
		}
		top := ref
		if s.capResource != "" {
			inside, err := a.Within(ctx, ref, s.capResource)
			if err != nil {
				return nil, false, err
			}
			if !inside {
				above, err := a.Within(ctx, s.capResource, ref)
				if err != nil {
					return nil, false, err
				}
				if !above {
					continue // this grant lies outside the key's subtree
				}
				top = s.capResource
			}
		}
		if !seen[top] {
			seen[top] = true
			roots = append(roots, top)
		}
	}
	return roots, false, nil
}

// Errors of CredentialResource.
var (
	// ErrNoResource: the credential stands for no resource of the type (403).
	ErrNoResource error = &Forbidden{Reason: "The credential stands for no resource this route serves."}
	// ErrSeveralResources: the credential is granted several resources of the type and the
	// request names none (400).
	ErrSeveralResources = errors.New("the credential is granted several resources of this type; name one")
)

// CredentialResource is the resource of type typ that a credential stands for, for a gateway
// route whose resource comes from the credential (CONTRACT §11.26): a business key's resource;
// for a personal credential, the one resource of that type its user is granted (a personal key
// confined to a resource of that type stands for that one).
func (a *Authorizer) CredentialResource(ctx context.Context, id *authn.Identity, typ string) (string, error) {
	if k := id.Key; k != nil && k.Resource != "" {
		if t, _, _ := ParseRef(k.Resource); t == typ {
			return k.Resource, nil
		}
		if k.Owner == "" {
			return "", ErrNoResource // a business key stands for its own resource only
		}
	}
	p := id.Principal()
	if p == "" {
		return "", ErrNoResource
	}
	grants, err := a.tree.Grants(ctx, p)
	if err != nil {
		return "", err
	}
	found := ""
	for ref := range grants {
		if t, _, _ := ParseRef(ref); t != typ {
			continue
		}
		if found != "" {
			return "", ErrSeveralResources
		}
		found = ref
	}
	if found == "" {
		return "", ErrNoResource
	}
	return found, nil
}
