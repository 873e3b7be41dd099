package authz

import (
	"errors"
	"testing"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/cache"
	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/store"
	"github.com/lanyardhq/lanyard/internal/store/sqlite"
)

// TestManageGuardDecidesOnTheTransaction: deleting a resource checks manage again on what the
// deleting transaction sees. A grant taken away behind the cache's back (as by another node
// just before) still allows the request's early check, which reads the cache, but not the
// deletion: the resource stays.
func TestManageGuardDecidesOnTheTransaction(t *testing.T) {
	ctx := t.Context()
	db, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st := cache.New(db, cache.Options{Size: 1 << 20})
	a := New(st, st, config.BuiltinRoles())
	if err := st.CreateUser(ctx, store.User{ID: "ann", Email: "ann@example.com"}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"organization/acme", "organization/beta"} {
		typ, id, _ := ParseRef(ref)
		if err := st.CreateResource(ctx, store.Resource{Type: typ, ID: id}, store.Event{}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.PutGrant(ctx, store.Grant{Resource: ref, Principal: "user:ann", Role: "admin"}, nil, store.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	ann := &authn.Identity{Type: authn.TypePersonal, ID: "t", UserID: "ann"}
	if err := a.Require(ctx, ann, config.PermManage, "organization/acme"); err != nil {
		t.Fatalf("ann may not manage acme to begin with: %v", err)
	}
	// Taken away in the store itself: the cache still holds the grant.
	if err := db.DeleteGrant(ctx, "organization/acme", "user:ann", nil, store.Event{}); err != nil {
		t.Fatal(err)
	}
	if err := a.Require(ctx, ann, config.PermManage, "organization/acme"); err != nil {
		t.Fatalf("the cached check already refuses (%v): the test shows nothing", err)
	}
	_, err = st.DeleteResource(ctx, "organization/acme", a.ManageGuard(ann, "organization/acme"), store.Event{})
	if !errors.Is(err, ErrHidden) && !errors.Is(err, ErrForbidden) {
		t.Fatalf("deleting acme after the grant went: %v, want refused", err)
	}
	if _, err := db.GetResource(ctx, "organization/acme"); err != nil {
		t.Fatalf("acme after a refused deletion: %v", err)
	}
	// Where the grant holds, the deletion goes through.
	if _, err := st.DeleteResource(ctx, "organization/beta", a.ManageGuard(ann, "organization/beta"), store.Event{}); err != nil {
		t.Fatalf("deleting beta, which ann manages: %v", err)
	}
}
