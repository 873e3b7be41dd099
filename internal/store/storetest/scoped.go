package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/lanyardhq/lanyard/internal/store"
)

func newScoped(id, typ, resource, parent string, expires int) store.ScopedToken {
	return store.ScopedToken{ID: id, Hash: hash("scoped:" + id), Type: typ, Resource: resource, Credential: "key:k1",
		Parent: parent, ExpiresAt: at(expires), CreatedAt: at(0)}
}

// testScopedTokens: scoped tokens round-trip, need their parent to exist, and go with their
// whole subtree.
func testScopedTokens(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	create := func(tok store.ScopedToken) {
		t.Helper()
		if err := s.CreateScopedToken(ctx, tok, event("token.exchange", "scoped:"+tok.ID)); err != nil {
			t.Fatalf("CreateScopedToken(%s): %v", tok.ID, err)
		}
	}
	ev := newScoped("ev", "event", "event/e1", "", 3600)
	create(ev)
	create(newScoped("co", "collaborator", "collaborator/c1", "ev", 3600))
	create(newScoped("ar", "area", "area/a1", "ev", 3600))
	create(newScoped("other", "event", "event/e2", "", 3600))
	got, err := s.ResolveScoped(ctx, hash("scoped:co"))
	if err != nil {
		t.Fatal(err)
	}
	want := newScoped("co", "collaborator", "collaborator/c1", "ev", 3600)
	want.ExpiresAt, want.CreatedAt = sec(want.ExpiresAt), sec(want.CreatedAt)
	if got != want {
		t.Errorf("ResolveScoped = %+v, want %+v", got, want)
	}
	if _, err := s.ResolveScoped(ctx, hash("nothing")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ResolveScoped(unknown) = %v, want ErrNotFound", err)
	}
	before := countEvents(t, s)
	err = s.CreateScopedToken(ctx, newScoped("orphan", "area", "area/a2", "gone", 3600), event("token.exchange", "scoped:orphan"))
	wantErr(t, "CreateScopedToken(a parent that is gone)", err, store.ErrNotFound)
	err = s.CreateScopedToken(ctx, newScoped("ev", "event", "event/e3", "", 3600), event("token.exchange", "scoped:ev"))
	wantErr(t, "CreateScopedToken(a taken id)", err, store.ErrConflict)
	if n := countEvents(t, s); n != before {
		t.Errorf("refused creations wrote %d events", n-before)
	}

	rev, err := s.DeleteScopedToken(ctx, "ev", event("token.revoke", "scoped:ev"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(rev.ScopedIDs)
	if !slices.Equal(rev.ScopedIDs, []string{"ar", "co", "ev"}) {
		t.Errorf("DeleteScopedToken(ev) revoked %v, want its subtree [ar co ev]", rev.ScopedIDs)
	}
	for _, id := range []string{"ev", "co", "ar"} {
		if _, err := s.ResolveScoped(ctx, hash("scoped:"+id)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s after its tree was revoked: %v", id, err)
		}
	}
	if _, err := s.ResolveScoped(ctx, hash("scoped:other")); err != nil {
		t.Errorf("another tree was touched: %v", err)
	}
	if _, err := s.DeleteScopedToken(ctx, "ev", event("token.revoke", "scoped:ev")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a second DeleteScopedToken = %v, want ErrNotFound", err)
	}

	// Expired scoped tokens are purged.
	create(newScoped("old", "event", "event/e4", "", -10))
	if _, err := s.PurgeExpired(ctx, at(0)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResolveScoped(ctx, hash("scoped:old")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an expired scoped token after a purge: %v", err)
	}
	if _, err := s.ResolveScoped(ctx, hash("scoped:other")); err != nil {
		t.Errorf("a live scoped token was purged: %v", err)
	}
}
