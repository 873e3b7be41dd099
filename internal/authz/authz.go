// Package authz decides what a caller may do. It is the one decision point: routes declare a
// Policy in the API's route table, the router asks the Authorizer to evaluate it before the
// handler runs, and decisions that depend on a request body (which owner a new key gets) are
// asked of the Authorizer by name. Handlers never decide access themselves.
//
// Refusals come in two kinds, following the contract: ErrHidden when the caller may not even
// see the thing (answered 404, exactly like a thing that does not exist, so no other tenant's
// ids leak), and ErrForbidden when it may see it but not do this (403).
package authz

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/credential"
	"github.com/lanyardhq/lanyard/internal/store"
)

var (
	// ErrForbidden: the caller may see the target but lacks the permission (403).
	ErrForbidden = errors.New("authz: forbidden")
	// ErrHidden: the caller may not see the target (404, like a missing thing).
	ErrHidden = errors.New("authz: not visible")
	// ErrUnauthenticated: the policy needs a credential and none was presented (401).
	ErrUnauthenticated = errors.New("authz: no credential")
)

// Policy is a route's declared access rule. The set of policies is closed: each is one of the
// constructors below.
type Policy interface {
	// NeedsCredential reports whether the route needs a valid credential at all.
	NeedsCredential() bool
	String() string
}

type public struct{}

func (public) NeedsCredential() bool { return false }
func (public) String() string        { return "public" }

// Public routes need no credential (health checks, login, leaked-token revocation).
var Public Policy = public{}

type authenticated struct{}

func (authenticated) NeedsCredential() bool { return true }
func (authenticated) String() string        { return "authenticated" }

// Authenticated routes need any valid credential and act only on the caller's own things.
var Authenticated Policy = authenticated{}

type admin struct{}

func (admin) NeedsCredential() bool { return true }
func (admin) String() string        { return "admin" }

// Admin routes need an admin or the bootstrap token; anyone else gets 403.
var Admin Policy = admin{}

// UserParam is the rule for /users/{param}: the user themself or an admin. "me" names the
// caller. Anyone else may not see the user (404). With Change, the account is being changed:
// that takes a personal access token, an admin token or the bootstrap token — a key may read
// its owner's account but never change it (403), so a stolen key cannot lock its owner out
// (CONTRACT §11.36).
type UserParam struct {
	Param  string
	Change bool
}

func (UserParam) NeedsCredential() bool { return true }
func (p UserParam) String() string {
	if p.Change {
		return "user{" + p.Param + ",change}"
	}
	return "user{" + p.Param + "}"
}

// KeyParam is the rule for /keys/{param}: the key's owner, the business key itself, a manager
// of a business key's resource, or an admin. Anyone else may not see the key (404).
type KeyParam struct{ Param string }

func (KeyParam) NeedsCredential() bool { return true }
func (p KeyParam) String() string      { return "key{" + p.Param + "}" }

// ResourceParam is the rule for /resources/{type}/{id}…: the caller needs Perm on that
// resource; one that may not read it gets 404, one that may read it but lacks Perm gets 403.
type ResourceParam struct{ Perm config.Perms }

func (ResourceParam) NeedsCredential() bool { return true }
func (p ResourceParam) String() string      { return "resource{" + p.Perm.String() + "}" }

// ResourceOf is the rule for a route whose {id} names a resource of a fixed Type (an exchange
// type's authorize path): the caller needs Perm on Type/{id}, 404 when it may not read it.
type ResourceOf struct {
	Type string
	Perm config.Perms
}

func (ResourceOf) NeedsCredential() bool { return true }
func (p ResourceOf) String() string {
	return "resource{" + p.Type + "/{id}," + p.Perm.String() + "}"
}

// Authorizer evaluates policies and checks permissions on the resource tree.
type Authorizer struct {
	store store.Store
	tree  Tree
	roles map[string]config.Perms
	// KeysPerOwner bounds the keys one user, or one resource's business keys, may hold (0:
	// no bound); NewKey refuses one more with 403.
	KeysPerOwner int
}

// New returns an Authorizer reading records from s and the tree and grants from tree (both
// usually the same cache.Store), with the roles of the config.
func New(s store.Store, tree Tree, roles map[string]config.Role) *Authorizer {
	a := &Authorizer{store: s, tree: tree, roles: make(map[string]config.Perms, len(roles))}
	for name, r := range roles {
		a.roles[name] = r.Perms
	}
	return a
}

// RolePerms returns the permissions of a role and whether it exists.
func (a *Authorizer) RolePerms(role string) (config.Perms, bool) {
	p, ok := a.roles[role]
	return p, ok
}

// Evaluate decides whether the caller (nil when no credential was presented) may call a route
// with policy p for request r.
//
// Every policy but Deferred settles the request's access (see Track); a Deferred route's
// handler settles it by asking its decider.
func (a *Authorizer) Evaluate(ctx context.Context, id *authn.Identity, p Policy, r *http.Request) error {
	if !p.NeedsCredential() {
		settle(ctx)
		return nil
	}
	if id == nil {
		return ErrUnauthenticated
	}
	if _, ok := p.(Deferred); ok {
		return nil
	}
	defer settle(ctx)
	switch p := p.(type) {
	case authenticated:
		return nil
	case admin:
		if id.Admin() {
			return nil
		}
		return ErrForbidden
	case UserParam:
		_, err := a.UserTarget(id, r.PathValue(p.Param))
		if err == nil && p.Change && id.Type == authn.TypeKey {
			return forbid("A key cannot change its owner's account; use a personal access token.")
		}
		return err
	case KeyParam:
		return a.keyAccess(ctx, id, r.PathValue(p.Param))
	case ResourceParam:
		return a.Require(ctx, id, p.Perm, r.PathValue("type")+"/"+r.PathValue("id"))
	case ResourceOf:
		return a.Require(ctx, id, p.Perm, p.Type+"/"+r.PathValue("id"))
	}
	return ErrForbidden // an unknown policy denies
}

// UserTarget resolves a /users/{id} path value ("me" is the caller) and decides whether the
// caller may act on that user: themself, or anyone when the caller is an admin.
func (a *Authorizer) UserTarget(id *authn.Identity, param string) (string, error) {
	if param == "me" {
		if id.UserID == "" {
			return "", ErrHidden // the bootstrap token and business keys are no user
		}
		return id.UserID, nil
	}
	if id.Admin() || (id.UserID != "" && id.UserID == param) {
		return param, nil
	}
	return "", ErrHidden
}

func (a *Authorizer) keyAccess(ctx context.Context, id *authn.Identity, keyID string) error {
	if id.Admin() {
		return nil
	}
	k, err := a.store.GetKey(ctx, keyID)
	if errors.Is(err, store.ErrNotFound) {
		return ErrHidden
	}
	if err != nil {
		return err
	}
	if id.Type == authn.TypeKey && id.ID == k.ID {
		return nil // a key may always see and revoke itself
	}
	if k.Owner != "" && k.Owner == id.UserID && !(id.Type == authn.TypeKey && Limited(id.Key)) {
		// The owner's own keys — but not through a limited key of theirs: the owner's other
		// keys could do what the limited key may not.
		return nil
	}
	if k.Owner == "" && k.Resource != "" {
		// A business key belongs to its resource: its managers may see and revoke it.
		ok, err := a.Can(ctx, id, config.PermManage, k.Resource)
		if err != nil || ok {
			return err
		}
	}
	return ErrHidden
}

// KeyOwner decides who owns a key the caller creates. requested is the body's "owner"
// ("user:<id>" or empty). It returns the owner's user id. Only admin credentials may name
// another user (403 otherwise, whether or not that user exists); a caller that is no user must
// name one (a key belongs to someone), and so must an admin token (CONTRACT §5).
func (a *Authorizer) KeyOwner(id *authn.Identity, requested string) (string, error) {
	if requested == "" {
		if id.UserID == "" || id.Type == authn.TypeAdmin {
			// The bootstrap token is no user, and an admin token is the instance's, not its
			// user's: both name the owner of a key they create.
			return "", ErrNoOwner
		}
		return id.UserID, nil
	}
	return ownerOf(id, requested, ErrForbidden)
}

// Capped reports whether a key's power is less than a whole user's: a role cap or a confining
// resource, or a business key (its power is its resource's grant). A capped key reads no key
// but itself.
func Capped(k *store.Key) bool {
	return k != nil && (k.Owner == "" || k.Role != "" || k.Resource != "")
}

// Limited reports whether a key carries any limit of its own: it is capped, or it works only
// from some networks or only until some time. A limited key changes no key but itself — no
// reissue, no bulk revocation, no lifting of networks or expiry — since what it touched could
// outlive or outreach it.
func Limited(k *store.Key) bool {
	return Capped(k) || (k != nil && (len(k.AllowedCIDRs) > 0 || k.ExpiresAt != nil))
}

// KeySelectionAllowed decides whether a key may list keys (write false) or revoke them in bulk
// (write true) at all: a capped key lists nothing, a limited one revokes nothing in bulk.
func KeySelectionAllowed(id *authn.Identity, write bool) error {
	if id.Type != authn.TypeKey {
		return nil
	}
	if Capped(id.Key) || (write && Limited(id.Key)) {
		return ErrForbidden
	}
	return nil
}

// ownerOf parses owner "user:<id>" and allows it for admins and the user themself; anyone else
// gets refusal.
func ownerOf(id *authn.Identity, owner string, refusal error) (string, error) {
	uid, ok := strings.CutPrefix(owner, "user:")
	if !ok || !credential.ValidID(uid) {
		return "", ErrBadOwner
	}
	if id.Admin() || uid == id.UserID {
		return uid, nil
	}
	return "", refusal
}

// Validation errors the deciders return for a malformed request (400).
var (
	ErrNoOwner  = errors.New("a key must belong to someone: name an owner")
	ErrBadOwner = errors.New(`owner must be written "user:<id>"`)
)

// Network decides whether a key limited to allowed_cidrs may be used from addr, the client
// address (the peer, or the forwarded address from a trusted proxy). Elsewhere it is 403.
func (a *Authorizer) Network(id *authn.Identity, addr netip.Addr) error {
	if id == nil || id.Key == nil || len(id.Key.AllowedCIDRs) == 0 {
		return nil
	}
	if !addr.IsValid() {
		return ErrNetwork
	}
	for _, c := range id.Key.AllowedCIDRs {
		if p, err := netip.ParsePrefix(c); err == nil && p.Contains(addr) {
			return nil
		}
	}
	return ErrNetwork
}

// ErrNetwork: the key may not be used from the client's address (403).
var ErrNetwork error = &Forbidden{Reason: "The key may not be used from this address."}
