package authz

import (
	"context"
	"net/netip"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/store"
)

// Forbidden is a 403 with a reason the caller can act on. errors.Is(err, ErrForbidden) holds
// for it.
type Forbidden struct{ Reason string }

func (f *Forbidden) Error() string        { return "authz: forbidden: " + f.Reason }
func (f *Forbidden) Is(target error) bool { return target == ErrForbidden }

func forbid(reason string) error { return &Forbidden{Reason: reason} }

// The deciders below answer the questions handlers meet once they know what a request asks:
// each returns nil or a *Forbidden. Handlers call them; they never test credentials themselves.

// SetsSpending decides whether the caller may set a plan or credits: they decide what a key or a
// resource may spend, so only admins do.
func SetsSpending(id *authn.Identity) error {
	if id.Admin() {
		return nil
	}
	return forbid("Only an admin sets a plan or credits: they decide what may be spent.")
}

// CreatesRoot decides whether the caller may create a root resource, make a resource a root,
// or move a root resource: admins only.
func CreatesRoot(id *authn.Identity) error {
	if id.Admin() {
		return nil
	}
	return forbid("Only an admin creates, makes or moves root resources.")
}

// ReadsWholeAudit decides whether the caller may read the audit trail without naming a
// resource: admins only.
func ReadsWholeAudit(id *authn.Identity) error {
	if id.Admin() {
		return nil
	}
	return forbid("Only admins read the whole audit trail; name a resource you manage with ?resource=.")
}

// GivesGrants decides whether the caller may give or take grants at all: a key that works only
// from some networks or only for some time does not, since a grant would outlive or outreach it.
func GivesGrants(id *authn.Identity) error {
	if id.Type == authn.TypeKey && id.Key != nil && (len(id.Key.AllowedCIDRs) > 0 || id.Key.ExpiresAt != nil) {
		return forbid("A key limited to some networks or to some time gives no grants.")
	}
	return nil
}

// ChangesKeyLimits decides whether the caller may change a key's networks or expiry: a limited
// key may not, for any key.
func ChangesKeyLimits(id *authn.Identity) error {
	if id.Type == authn.TypeKey && Limited(id.Key) {
		return forbid("A limited key cannot change any key's networks or expiry; use a personal access token.")
	}
	return nil
}

// Reissues decides whether the caller may reissue key keyID (beyond the route's KeyParam
// policy): a limited key reissues only itself, since another key's new secret would carry none
// of its limits.
func Reissues(id *authn.Identity, keyID string) error {
	if id.Type == authn.TypeKey && Limited(id.Key) && id.ID != keyID {
		return forbid("A limited key reissues no key but itself.")
	}
	return nil
}

// EndsAllSessions decides whether the caller may revoke every personal access token of its
// user: any credential with the user's full power may, a limited key may not.
func EndsAllSessions(id *authn.Identity) error {
	if id.Type == authn.TypeKey && Limited(id.Key) {
		return forbid("A limited key does not end its owner's sessions; use a personal access token.")
	}
	return nil
}

// inheritLimits gives a key that a key creates the creator's networks and expiry when it names
// none of its own (k is updated); newKeyWithin then checks the rest.
func inheritLimits(id *authn.Identity, k *store.Key) {
	if id.Type != authn.TypeKey || id.Key == nil {
		return
	}
	parent := id.Key
	if len(parent.AllowedCIDRs) > 0 && len(k.AllowedCIDRs) == 0 {
		k.AllowedCIDRs = append([]string(nil), parent.AllowedCIDRs...)
	}
	if parent.ExpiresAt != nil && k.ExpiresAt == nil {
		at := *parent.ExpiresAt
		k.ExpiresAt = &at
	}
}

// newKeyWithin keeps a key that a key creates within the creator's own limits: inside its
// confining resource, within its role cap, working from networks inside its own, and expiring
// no later. rolePerms are the permissions of k.Role.
func (a *Authorizer) newKeyWithin(ctx context.Context, id *authn.Identity, k store.Key, rolePerms config.Perms) error {
	if id.Type != authn.TypeKey || id.Key == nil {
		return nil
	}
	parent := id.Key
	if parent.Owner != "" {
		if lim := parent.Resource; lim != "" {
			inside := false
			if k.Resource != "" {
				var err error
				if inside, err = a.Within(ctx, k.Resource, lim); err != nil {
					return err
				}
			}
			if !inside {
				return forbid("This key is confined to " + lim + "; a key it creates must be too.")
			}
		}
		if lim := parent.Role; lim != "" {
			limPerms, _ := a.RolePerms(lim)
			if k.Role == "" || !limPerms.Has(rolePerms) {
				return forbid("This key is capped to the role " + lim + "; a key it creates must be too.")
			}
		}
	}
	if len(parent.AllowedCIDRs) > 0 && !cidrsWithin(k.AllowedCIDRs, parent.AllowedCIDRs) {
		return forbid("A key created by this key must work only from networks inside this key's allowed_cidrs.")
	}
	if parent.ExpiresAt != nil && (k.ExpiresAt == nil || k.ExpiresAt.After(*parent.ExpiresAt)) {
		return forbid("A key created by this key must expire no later than this key.")
	}
	return nil
}

// cidrsWithin reports whether every prefix of inner lies inside some prefix of outer.
func cidrsWithin(inner, outer []string) bool {
	for _, c := range inner {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return false
		}
		inside := false
		for _, o := range outer {
			op, err := netip.ParsePrefix(o)
			if err == nil && op.Bits() <= p.Bits() && op.Contains(p.Addr()) {
				inside = true
				break
			}
		}
		if !inside {
			return false
		}
	}
	return true
}

// ExplainFor shapes the explanation of a check about subject for the caller who asked. About
// oneself, or for an admin, it is the whole explanation. About someone else it is told only in
// terms the caller may see: a refusal never says where the principal's grants or limits lie,
// and an allowing grant above what the caller may read is not named.
func (a *Authorizer) ExplainFor(ctx context.Context, caller, subject *authn.Identity, principal string, perm config.Perms, ref string, allowed bool, b *Because) (*Because, error) {
	if subject == caller || caller.Admin() {
		return b, nil
	}
	if !allowed {
		return &Because{Reason: NotAllowedReason(principal, perm, ref)}, nil
	}
	if b != nil && b.Grant != nil {
		visible, err := a.Can(ctx, caller, config.PermRead, b.Grant.Resource)
		if err != nil {
			return nil, err
		}
		if !visible {
			return &Because{Reason: "A grant on " + ref + " or above it gives " + principal + " " + perm.String() + "."}, nil
		}
	}
	return b, nil
}

// NotAllowedReason is the explanation of a refusal that names nothing but the principal, the
// permission and the resource.
func NotAllowedReason(principal string, perm config.Perms, ref string) string {
	return "Nothing gives " + principal + " " + perm.String() + " on " + ref + "."
}
