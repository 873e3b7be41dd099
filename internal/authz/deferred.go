package authz

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/store"
)

// Deferred routes need a valid credential, and what they may do depends on the request's
// query or body: the router checks the credential, the handler parses the request and asks the
// Authorizer method named by Decider, which settles the request's access. A handler that
// answers without asking cannot send a success (see Track), and routes_test.go checks that
// every Decider names a method of *Authorizer.
type Deferred struct{ Decider string }

func (Deferred) NeedsCredential() bool { return true }
func (d Deferred) String() string      { return "deferred{" + d.Decider + "}" }

// SelectKeys decides which keys a list (write false) or a bulk revoke (write true) covers, for
// GET and DELETE /keys (CONTRACT §11.37). owner is "" or "user:<id>"; resource is "" or a
// checked "type/id". The rule is the one of a single key (KeyParam): a resource's managers
// reach its business keys and those of its descendants, a personal key is reached only by its
// owner and admins. Naming a user one may not act for is 403 whether or not that user exists.
func (a *Authorizer) SelectKeys(ctx context.Context, id *authn.Identity, owner, resource string, write bool) (store.KeyFilter, error) {
	defer settle(ctx)
	var f store.KeyFilter
	if err := KeySelectionAllowed(id, write); err != nil {
		return f, err
	}
	if owner != "" {
		uid, err := ownerOf(id, owner, ErrForbidden)
		if err != nil {
			return f, err
		}
		f.Owner = uid
	}
	if resource == "" {
		if f.Owner != "" || id.Admin() {
			return f, nil // one owner's keys, or (for an admin) every key
		}
		if id.UserID == "" {
			return f, ErrForbidden
		}
		f.Owner = id.UserID
		return f, nil
	}
	if err := a.Require(ctx, id, config.PermManage, resource); err != nil {
		return f, err
	}
	f.Within = []string{resource}
	if f.Owner == "" && !id.Admin() {
		// The resource's business keys, and of its personal keys only the caller's own.
		f.Business, f.AlsoOwner = true, id.UserID
	}
	return f, nil
}

// SelectBusinessKeys decides which business keys /tokens/business lists (write false) or
// revokes (write true): those of the resources the caller manages and their descendants,
// narrowed to one subtree by resource ("" or a checked "type/id"). all reports that the
// caller reaches every business key of the instance (an admin naming no resource).
func (a *Authorizer) SelectBusinessKeys(ctx context.Context, id *authn.Identity, resource string, write bool) (f store.KeyFilter, all bool, err error) {
	defer settle(ctx)
	f.Business = true
	if err := KeySelectionAllowed(id, write); err != nil {
		return f, false, err
	}
	if resource != "" {
		if err := a.Require(ctx, id, config.PermManage, resource); err != nil {
			return f, false, err
		}
		f.Within = []string{resource}
		return f, false, nil
	}
	roots, all, err := a.Roots(ctx, id, config.PermManage)
	if err != nil {
		return f, false, err
	}
	if !all {
		f.Within = append([]string{}, roots...)
	}
	return f, all, nil
}

// ReadableRoots decides what GET /resources may list: the subtrees the caller may read (all
// for admins). A caller that may read nothing gets an empty list, not a refusal.
func (a *Authorizer) ReadableRoots(ctx context.Context, id *authn.Identity) (roots []string, all bool, err error) {
	defer settle(ctx)
	return a.Roots(ctx, id, config.PermRead)
}

// SelectEvents decides whether the caller may read the audit trail of resource (a checked
// "type/id": manage on it) or, with resource "", the whole trail (admins only).
func (a *Authorizer) SelectEvents(ctx context.Context, id *authn.Identity, resource string) error {
	defer settle(ctx)
	if resource == "" {
		return ReadsWholeAudit(id)
	}
	return a.Require(ctx, id, config.PermManage, resource)
}

// NewResource decides whether the caller may create a resource under parent (a checked
// "type/id": manage on it) or, with parent "", a root resource (admins only); spends reports
// that the request sets a plan (admins only).
func (a *Authorizer) NewResource(ctx context.Context, id *authn.Identity, parent string, spends bool) error {
	defer settle(ctx)
	if spends {
		if err := SetsSpending(id); err != nil {
			return err
		}
	}
	if parent == "" {
		return CreatesRoot(id)
	}
	return a.Require(ctx, id, config.PermManage, parent)
}

// CheckAbout decides whether the caller may ask /v1/check about principal on ref: about
// itself always; about anyone else it needs manage on ref. hidden reports a resource the
// caller may not even read: the answer is then a plain "not allowed", never a refusal that
// would tell the resource exists.
func (a *Authorizer) CheckAbout(ctx context.Context, caller *authn.Identity, principal, ref string) (hidden bool, err error) {
	defer settle(ctx)
	if principal == "" || principal == caller.Principal() {
		return false, nil
	}
	canRead, err := a.Can(ctx, caller, config.PermRead, ref)
	if err != nil || !canRead {
		return !canRead, err
	}
	return false, a.Require(ctx, caller, config.PermManage, ref)
}

// NewKey decides a key the caller creates (POST /v1/keys), CONTRACT §5 and §11.13. k holds the
// requested resource and role; owner is the requested "user:<id>" or "". A business key is
// one with resource and role and no owner. NewKey sets k.Owner for a personal key and gives a
// key created by a key its creator's networks and expiry when it names none. It returns the
// guard that CreateKey runs in its transaction: the checks that read grants and the tree
// (manage on a business key's resource, a role no stronger than the caller's, a confining
// resource the caller can see, a key-made key within its creator) are made on the state the
// key is written to. spends reports that the request sets a plan or credits (admins only).
func (a *Authorizer) NewKey(ctx context.Context, id *authn.Identity, k *store.Key, owner string, spends bool) (store.Guard, error) {
	defer settle(ctx)
	if spends {
		if err := SetsSpending(id); err != nil {
			return nil, err
		}
	}
	business := k.Resource != "" && k.Role != "" && owner == ""
	if !business {
		uid, err := a.KeyOwner(id, owner)
		if err != nil {
			return nil, err
		}
		k.Owner = uid
	}
	inheritLimits(id, k)
	want := *k
	return func(ctx context.Context, v store.View) error {
		if err := a.In(v).checkNewKey(ctx, id, want, business); err != nil {
			return err
		}
		return a.withinKeyCap(ctx, v, want)
	}, nil
}

// withinKeyCap refuses a key past KeysPerOwner: a user's keys, or a resource's business keys,
// counted in the transaction that adds one (CONTRACT §11.63).
func (a *Authorizer) withinKeyCap(ctx context.Context, v store.View, k store.Key) error {
	if a.KeysPerOwner <= 0 {
		return nil
	}
	resource := ""
	if k.Owner == "" {
		resource = k.Resource
	}
	n, err := v.CountKeys(ctx, k.Owner, resource, k.CreatedAt)
	if err != nil {
		return err
	}
	if n >= a.KeysPerOwner {
		return forbid(fmt.Sprintf("This owner already holds %d keys, the most this server allows; delete one first.", a.KeysPerOwner))
	}
	return nil
}

func (a *Authorizer) checkNewKey(ctx context.Context, id *authn.Identity, k store.Key, business bool) error {
	var rolePerms config.Perms
	if k.Role != "" {
		rolePerms = a.roles[k.Role]
	}
	if business {
		if err := a.Require(ctx, id, config.PermManage, k.Resource); err != nil {
			return err
		}
		if err := a.NotStronger(ctx, id, k.Resource, rolePerms); err != nil {
			return err
		}
	} else if k.Resource != "" {
		// Confining a key to a resource the caller cannot see would tell that it exists.
		ok, err := a.Can(ctx, id, config.PermRead, k.Resource)
		if err != nil {
			return err
		}
		if !ok {
			return ErrHidden
		}
	}
	return a.newKeyWithin(ctx, id, k, rolePerms)
}

// NotStronger refuses a role (its permissions want) that could do more on ref than the caller
// can: nobody hands out more than they hold.
func (a *Authorizer) NotStronger(ctx context.Context, id *authn.Identity, ref string, want config.Perms) error {
	for _, p := range []config.Perms{config.PermRead, config.PermWrite, config.PermManage} {
		if !want.Has(p) {
			continue
		}
		ok, err := a.Can(ctx, id, p, ref)
		if err != nil {
			return err
		}
		if !ok {
			return forbid("You cannot give or take a role that can do more than you can (" + p.String() + ").")
		}
	}
	return nil
}

// GrantGuard is the check PUT …/grants/{principal} runs in the transaction that gives the
// grant: a caller that may give grants at all, with manage on ref, giving a role (its
// permissions perms) no stronger than its own there.
func (a *Authorizer) GrantGuard(id *authn.Identity, ref string, perms config.Perms) store.Guard {
	return func(ctx context.Context, v store.View) error {
		return a.In(v).givesGrant(ctx, id, ref, perms)
	}
}

func (a *Authorizer) givesGrant(ctx context.Context, id *authn.Identity, ref string, perms config.Perms) error {
	if err := GivesGrants(id); err != nil {
		return err
	}
	if err := a.Require(ctx, id, config.PermManage, ref); err != nil {
		return err
	}
	return a.NotStronger(ctx, id, ref, perms)
}

// RevokeGrantGuard is the check DELETE …/grants/{principal} runs in the transaction that
// takes the grant away (CONTRACT §11.38): taking a grant needs what giving it needs, judged
// on the role the grant holds at that moment.
func (a *Authorizer) RevokeGrantGuard(id *authn.Identity, ref, principal string) store.Guard {
	return func(ctx context.Context, v store.View) error {
		gs, err := v.GrantsOf(ctx, principal)
		if err != nil {
			return err
		}
		var perms config.Perms
		for _, g := range gs {
			if g.Resource == ref {
				perms = a.roles[g.Role]
			}
		}
		return a.In(v).givesGrant(ctx, id, ref, perms)
	}
}

// ManageGuard is the check DELETE /resources/{ref} runs in the transaction that deletes ref:
// the caller may still manage it, judged on the grants and the tree as they are then.
func (a *Authorizer) ManageGuard(id *authn.Identity, ref string) store.Guard {
	return func(ctx context.Context, v store.View) error {
		return a.In(v).Require(ctx, id, config.PermManage, ref)
	}
}

// MoveGuard is the check PATCH /resources/{ref} runs, in the transaction that moves ref under
// newParent ("" for a root): a move takes the resource away from its current parent, so it
// needs manage there as well as on the new one — or a manager of only the resource could
// carry it (and its history) into another tenant — and moving a root, or making one, needs an
// admin. Naming the current parent moves nothing and needs nothing more.
func (a *Authorizer) MoveGuard(id *authn.Identity, ref, newParent string) store.Guard {
	return func(ctx context.Context, v store.View) error {
		b := a.In(v)
		cur, err := v.GetResource(ctx, ref)
		if err != nil {
			return err
		}
		if cur.Parent == newParent {
			return nil
		}
		if cur.Parent == "" {
			if err := CreatesRoot(id); err != nil {
				return err
			}
		} else if err := b.Require(ctx, id, config.PermManage, cur.Parent); err != nil {
			if errors.Is(err, ErrHidden) {
				return forbid("Moving a resource needs manage on its current parent.")
			}
			return err
		}
		if newParent == "" {
			return CreatesRoot(id)
		}
		return b.Require(ctx, id, config.PermManage, newParent)
	}
}

// HasDecider reports whether name is a method of *Authorizer, as a Deferred route's Decider
// must be.
func HasDecider(name string) bool {
	_, ok := reflect.TypeFor[*Authorizer]().MethodByName(name)
	return ok
}
