package config

import "strings"

// Perms is a set of the permissions read, write and manage. A role is one; authz checks a
// caller's Perms on a resource against the Perms a request needs.
type Perms uint8

// The permissions. manage does not imply write, nor write read: a role lists each it gives
// (role-apis' contributor writes without reading).
const (
	PermRead Perms = 1 << iota
	PermWrite
	PermManage

	// PermNone is the empty set: what a route with permission "none" needs.
	PermNone Perms = 0
	// PermAll is read, write and manage: the built-in admin role.
	PermAll = PermRead | PermWrite | PermManage
)

// Permission names, as the config, the API and audit events write them.
const (
	PermissionRead   = "read"
	PermissionWrite  = "write"
	PermissionManage = "manage"
	// PermissionNone is only a route's permission: the route needs a valid credential and no
	// permission on any resource.
	PermissionNone = "none"
)

var permNames = [...]struct {
	p    Perms
	name string
}{{PermRead, PermissionRead}, {PermWrite, PermissionWrite}, {PermManage, PermissionManage}}

// Has reports whether p holds every permission of q. Every set has PermNone.
func (p Perms) Has(q Perms) bool { return p&q == q }

// String writes p as its permission names joined by '+' in the order read, write, manage
// ("read+write"), or "none" for the empty set.
func (p Perms) String() string {
	if p == PermNone {
		return PermissionNone
	}
	var b strings.Builder
	for _, n := range permNames {
		if p&n.p != 0 {
			if b.Len() > 0 {
				b.WriteByte('+')
			}
			b.WriteString(n.name)
		}
	}
	if rest := p &^ PermAll; rest != 0 {
		if b.Len() > 0 {
			b.WriteByte('+')
		}
		b.WriteString("invalid")
	}
	return b.String()
}

// ParsePermission returns the permission a name stands for: "read", "write" or "manage".
// Anything else (including "none" and upper case) is not a permission.
func ParsePermission(name string) (Perms, bool) {
	for _, n := range permNames {
		if n.name == name {
			return n.p, true
		}
	}
	return PermNone, false
}
