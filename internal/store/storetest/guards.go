package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

// errRefused is what the guards below return to refuse a change.
var errRefused = errors.New("storetest: refused by the guard")

// testGuards: a change's guard runs inside its transaction, sees the state the change applies
// to (including what an earlier change committed), and a refusal aborts the change — nothing
// written, no event — and comes back unchanged.
func testGuards(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	mustTree(t, s, "org/acme", "project/p1 < org/acme", "org/beta")
	mustCreateUser(t, s, newUser("u1", at(0)))
	if _, err := s.PutGrant(ctx, store.Grant{Resource: "org/acme", Principal: "user:u1", Role: "admin", CreatedAt: at(1)}, nil,
		resEvent("grant.put", "org/acme")); err != nil {
		t.Fatal(err)
	}

	// What a guard sees: the resource tree and the grants, as committed.
	var seen []string
	look := func(ctx context.Context, v store.View) error {
		seen = seen[:0]
		r, err := v.GetResource(ctx, "project/p1")
		if err != nil {
			return err
		}
		seen = append(seen, r.Ref()+"<"+r.Parent)
		gs, err := v.GrantsOf(ctx, "user:u1")
		if err != nil {
			return err
		}
		for _, g := range gs {
			seen = append(seen, g.Principal+"@"+g.Resource+"="+g.Role)
		}
		if _, err := v.GetResource(ctx, "org/none"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("GetResource(org/none) = %v, want ErrNotFound", err)
		}
		return nil
	}
	want := []string{"project/p1<org/acme", "user:u1@org/acme=admin"}
	if _, err := s.PutGrant(ctx, store.Grant{Resource: "org/beta", Principal: "user:u1", Role: "member", CreatedAt: at(2)}, look,
		resEvent("grant.put", "org/beta")); err != nil {
		t.Fatalf("PutGrant with a looking guard: %v", err)
	}
	if !slices.Equal(seen, want) {
		t.Errorf("the guard saw %q, want %q (the state before the change)", seen, want)
	}

	refuse := func(context.Context, store.View) error { return errRefused }
	before := countEvents(t, s)
	changes := []struct {
		name string
		do   func() error
	}{
		{"PutGrant", func() error {
			_, err := s.PutGrant(ctx, store.Grant{Resource: "project/p1", Principal: "user:u1", Role: "observer", CreatedAt: at(3)}, refuse,
				resEvent("grant.put", "project/p1"))
			return err
		}},
		{"DeleteGrant", func() error {
			return s.DeleteGrant(ctx, "org/acme", "user:u1", refuse, resEvent("grant.delete", "org/acme"))
		}},
		{"CreateKey", func() error {
			k := newKey("k-refused", "u1", at(3))
			return s.CreateKey(ctx, k, keySecret(k, "secret:k-refused"), refuse, event("key.create", "key:k-refused"))
		}},
		{"UpdateResource", func() error {
			_, err := s.UpdateResource(ctx, "project/p1", func(r *store.Resource) error { r.Parent = "org/beta"; return nil }, refuse,
				resEvent("resource.update", "project/p1"))
			return err
		}},
		{"DeleteResource", func() error {
			_, err := s.DeleteResource(ctx, "org/acme", refuse, resEvent("resource.delete", "org/acme"))
			return err
		}},
	}
	for _, c := range changes {
		if err := c.do(); !errors.Is(err, errRefused) {
			t.Errorf("%s with a refusing guard: err = %v, want the guard's error", c.name, err)
		}
	}
	if n := countEvents(t, s); n != before {
		t.Errorf("refused changes wrote %d events", n-before)
	}
	checkGrants(t, "grants of u1 after refusals", grantsOf(t, s, "user:u1"), []store.Grant{
		{Resource: "org/acme", Principal: "user:u1", Role: "admin", CreatedAt: sec(at(1))},
		{Resource: "org/beta", Principal: "user:u1", Role: "member", CreatedAt: sec(at(2))},
	})
	if _, err := s.GetKey(ctx, "k-refused"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetKey(k-refused) after a refused CreateKey: %v, want ErrNotFound", err)
	}
	wantUnresolved(t, s, "a refused key's secret", hash("secret:k-refused"))
	if r, err := s.GetResource(ctx, "project/p1"); err != nil || r.Parent != "org/acme" {
		t.Errorf("project/p1 after a refused move and a refused deletion of org/acme: %+v, %v; want it still under org/acme", r, err)
	}

	// DeleteGrant of a grant that does not exist is ErrNotFound and never asks the guard.
	called := false
	err := s.DeleteGrant(ctx, "org/beta", "user:nobody", func(context.Context, store.View) error { called = true; return nil },
		resEvent("grant.delete", "org/beta"))
	wantErr(t, "DeleteGrant(no such grant)", err, store.ErrNotFound)
	if called {
		t.Error("DeleteGrant asked the guard about a grant that does not exist")
	}
	_, err = s.DeleteResource(ctx, "org/ghost", func(context.Context, store.View) error { called = true; return nil },
		resEvent("resource.delete", "org/ghost"))
	wantErr(t, "DeleteResource(no such resource)", err, store.ErrNotFound)
	if called {
		t.Error("DeleteResource asked the guard about a resource that does not exist")
	}

	// UpdateResource runs the guard after fn: the guard sees the resource as it was (the
	// change is not written yet), while fn's captured values tell it what is asked.
	var asked string
	if _, err := s.UpdateResource(ctx, "project/p1", func(r *store.Resource) error { r.Parent = "org/beta"; asked = r.Parent; return nil },
		func(ctx context.Context, v store.View) error {
			r, err := v.GetResource(ctx, "project/p1")
			if err != nil {
				return err
			}
			if r.Parent != "org/acme" || asked != "org/beta" {
				return fmt.Errorf("guard saw parent %q and asked %q", r.Parent, asked)
			}
			return nil
		}, resEvent("resource.update", "project/p1")); err != nil {
		t.Fatalf("UpdateResource with a passing guard: %v", err)
	}
}

// testChangePassword: a new password and the end of the user's other personal tokens are one
// step, and a login that checked the old password issues no token afterwards.
func testChangePassword(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	u := newUser("u1", at(0))
	mustCreateUser(t, s, u)
	mustCreateUser(t, s, newUser("u2", at(0)))
	for _, tok := range []store.Token{
		newToken("p1", store.KindPersonal, "u1", at(1)),
		newToken("p2", store.KindPersonal, "u1", at(2)),
		newToken("a1", store.KindAdmin, "u1", at(3)),
		newToken("q1", store.KindPersonal, "u2", at(4)),
	} {
		mustCreateToken(t, s, tok)
	}

	const fresh = "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$bmV3"
	before := countEvents(t, s)
	_, _, err := s.ChangePassword(ctx, "u1", "not the stored hash", fresh, "", at(5), event("user.update", "user:u1"))
	wantErr(t, "ChangePassword(stale expect)", err, store.ErrChanged)
	mustResolve(t, s, hash("token:p1"))
	if n := countEvents(t, s); n != before {
		t.Errorf("a refused ChangePassword wrote %d events", n-before)
	}
	_, _, err = s.ChangePassword(ctx, "ghost", "", fresh, "", at(5), event("user.update", "user:ghost"))
	wantErr(t, "ChangePassword(no such user)", err, store.ErrNotFound)

	got, rev, err := s.ChangePassword(ctx, "u1", u.PasswordHash, fresh, "p2", at(6), event("user.update", "user:u1"))
	if err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	if got.PasswordHash != fresh || !got.UpdatedAt.Equal(sec(at(6))) {
		t.Errorf("ChangePassword returned %+v, want the new hash and UpdatedAt", got)
	}
	if !slices.Equal(rev.TokenIDs, []string{"p1"}) {
		t.Errorf("ChangePassword revoked %v, want [p1] (p2 kept, admin tokens and other users untouched)", rev.TokenIDs)
	}
	wantUnresolved(t, s, "p1 after the change", hash("token:p1"))
	for _, id := range []string{"p2", "a1", "q1"} {
		mustResolve(t, s, hash("token:"+id))
	}
	if n := countEvents(t, s); n != before+1 {
		t.Errorf("ChangePassword wrote %d events, want 1", n-before)
	}

	// A login that checked the old password issues nothing once it changed; one that checked
	// the current password does.
	late := newToken("p-late", store.KindPersonal, "u1", at(7))
	late.IssuedAgainst = u.PasswordHash
	err = s.CreateToken(ctx, late, event("auth.login", "personal:p-late"))
	wantErr(t, "CreateToken(issued against the old password)", err, store.ErrChanged)
	wantUnresolved(t, s, "a token issued against the old password", late.Hash)
	ok := newToken("p-ok", store.KindPersonal, "u1", at(7))
	ok.IssuedAgainst = fresh
	mustCreateToken(t, s, ok)
}

// testCountKeys: a guard counts an owner's keys as its transaction sees them — a user's keys,
// or a resource's business keys — leaving out those expired at the given time.
func testCountKeys(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	mustTree(t, s, "org/acme", "org/beta")
	mustCreateUser(t, s, newUser("u1", at(0)))
	mustCreateUser(t, s, newUser("u2", at(0)))
	mustCreateKey(t, s, newKey("p1", "u1", at(1)))
	mustCreateKey(t, s, newKey("p2", "u1", at(2)))
	old := newKey("p3", "u1", at(3))
	old.ExpiresAt = ptr(at(100))
	mustCreateKey(t, s, old)
	mustCreateKey(t, s, newKey("q1", "u2", at(1)))
	mustCreateKey(t, s, newKey("b1", "", at(1))) // a business key of org/acme
	confined := newKey("p4", "u1", at(4))
	confined.Resource = "org/acme"
	mustCreateKey(t, s, confined)

	tests := []struct {
		owner, resource string
		at              int
		want            int
	}{
		{"u1", "", 50, 4},
		{"u1", "", 100, 3}, // p3 expired at 100
		{"u2", "", 50, 1},
		{"", "org/acme", 50, 1}, // the business key only, not u1's confined key
		{"", "org/beta", 50, 0},
		{"ghost", "", 50, 0},
	}
	for _, tt := range tests {
		var got int
		k := newKey(fmt.Sprintf("probe-%s-%s-%d", tt.owner, tt.resource, tt.at), "u1", at(5))
		err := s.CreateKey(ctx, k, keySecret(k, "probe:"+k.ID), func(ctx context.Context, v store.View) error {
			var err error
			got, err = v.CountKeys(ctx, tt.owner, tt.resource, at(tt.at))
			if err != nil {
				return err
			}
			return errRefused // count only: write nothing
		}, event("key.create", "key:"+k.ID))
		if !errors.Is(err, errRefused) {
			t.Fatalf("CreateKey with a counting guard: %v", err)
		}
		if got != tt.want {
			t.Errorf("CountKeys(%q, %q, at(%d)) = %d, want %d", tt.owner, tt.resource, tt.at, got, tt.want)
		}
	}
}

// testDeleteResourceDetail: the event of a resource's deletion says what went with it.
func testDeleteResourceDetail(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	mustTree(t, s, "org/acme", "project/p1 < org/acme", "project/p2 < org/acme")
	mustCreateUser(t, s, newUser("u1", at(0)))
	for _, ref := range []string{"org/acme", "project/p1"} {
		if _, err := s.PutGrant(ctx, store.Grant{Resource: ref, Principal: "user:u1", Role: "admin", CreatedAt: at(1)}, nil, resEvent("grant.put", ref)); err != nil {
			t.Fatal(err)
		}
	}
	mustCreateKey(t, s, newKey("b1", "", at(2))) // a business key of org/acme
	if _, err := s.DeleteResource(ctx, "org/acme", nil, resEvent("resource.delete", "org/acme")); err != nil {
		t.Fatal(err)
	}
	evs := allEvents(t, s, store.EventFilter{Action: "resource.delete"})
	if len(evs) != 1 {
		t.Fatalf("%d resource.delete events", len(evs))
	}
	want := "deleted 3 resources (itself and 2 below it), 3 grants on them, 1 keys confined to them"
	if evs[0].Detail != want {
		t.Errorf("detail %q, want %q", evs[0].Detail, want)
	}
}

// testRevoked: a secret deleted while it worked resolves as ErrRevoked (which is also
// ErrNotFound); one that never existed, or that stopped working by itself before it was
// purged, is only ErrNotFound. A hash that works again is not revoked.
func testRevoked(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	mustCreateUser(t, s, newUser("u1", at(0)))
	sec := mustCreateKey(t, s, newKey("k1", "u1", at(1)))
	if _, err := s.DeleteKey(ctx, "k1", event("key.revoke", "key:k1")); err != nil {
		t.Fatal(err)
	}
	_, err := s.Resolve(ctx, sec.Hash)
	if !errors.Is(err, store.ErrRevoked) || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Resolve(a deleted key's secret) = %v, want ErrRevoked (and ErrNotFound)", err)
	}
	tok := newToken("p1", store.KindPersonal, "u1", at(2))
	mustCreateToken(t, s, tok)
	if _, err := s.DeleteTokens(ctx, store.TokenFilter{ID: "p1", Kind: store.KindPersonal}, event("token.revoke", "personal:p1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(ctx, tok.Hash); !errors.Is(err, store.ErrRevoked) {
		t.Errorf("Resolve(a revoked personal token) = %v, want ErrRevoked", err)
	}
	if _, err := s.Resolve(ctx, hash("never issued")); !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrRevoked) {
		t.Errorf("Resolve(an unknown hash) = %v, want ErrNotFound alone", err)
	}
	// A revocation is remembered for store.RevokedRetention, then forgotten: unknown, not
	// revoked (the trigger dates it by the database's clock, so the purge is asked from now).
	if _, err := s.PurgeExpired(ctx, time.Now().Add(store.RevokedRetention-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(ctx, sec.Hash); !errors.Is(err, store.ErrRevoked) {
		t.Errorf("Resolve(a key revoked within the retention) = %v, want ErrRevoked", err)
	}
	if _, err := s.PurgeExpired(ctx, time.Now().Add(store.RevokedRetention+time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(ctx, sec.Hash); !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrRevoked) {
		t.Errorf("Resolve(a key revoked longer than the retention ago) = %v, want ErrNotFound alone", err)
	}
	// An expired token purged afterwards was not revoked: it stopped working by itself.
	old := newToken("p-old", store.KindPersonal, "u1", at(-100))
	old.ExpiresAt = ptr(at(-50))
	mustCreateToken(t, s, old)
	if _, err := s.PurgeExpired(ctx, at(0)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(ctx, old.Hash); !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrRevoked) {
		t.Errorf("Resolve(a purged expired token) = %v, want ErrNotFound alone", err)
	}
	// The same hash issued again works and is no longer revoked.
	again := newToken("p1-again", store.KindPersonal, "u1", at(3))
	again.Hash = tok.Hash
	mustCreateToken(t, s, again)
	if _, err := s.Resolve(ctx, tok.Hash); err != nil {
		t.Errorf("Resolve(a hash issued again) = %v", err)
	}
}

// testWriteCredits: a live balance is written back only over the setting it belongs to.
func testWriteCredits(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	mustCreateUser(t, s, newUser("u1", at(0)))
	setAt := base.Add(1500 * time.Millisecond).UTC() // to the nanosecond: the generation
	k := newKey("k1", "u1", at(1))
	k.Credits = &store.Credits{Remaining: 100, Refill: &store.Refill{Amount: 100, Interval: "day"}, SetAt: setAt}
	mustCreateKey(t, s, k)
	mustCreateKey(t, s, newKey("k2", "u1", at(1))) // unlimited: no credits
	refilled := sec(at(86400))
	err := s.WriteCredits(ctx, []store.CreditBalance{
		{KeyID: "k1", SetAt: setAt, Remaining: 42, RefilledAt: &refilled},
		{KeyID: "k2", SetAt: setAt, Remaining: 7}, // unlimited: skipped
		{KeyID: "ghost", SetAt: setAt, Remaining: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetKey(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if c := got.Credits; c == nil || c.Remaining != 42 || c.RefilledAt == nil || !c.RefilledAt.Equal(refilled) || !c.SetAt.Equal(setAt) || c.Refill == nil || c.Refill.Amount != 100 {
		t.Fatalf("credits after a write-back: %+v", c)
	}
	if got, _ := s.GetKey(ctx, "k2"); got.Credits != nil {
		t.Errorf("an unlimited key got credits: %+v", got.Credits)
	}
	// A newer setting wins over a balance of the older one.
	newer := setAt.Add(time.Nanosecond)
	if _, err := s.UpdateKey(ctx, "k1", func(k *store.Key) error {
		k.Credits = &store.Credits{Remaining: 500, SetAt: newer}
		return nil
	}, event("key.update", "key:k1")); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteCredits(ctx, []store.CreditBalance{{KeyID: "k1", SetAt: setAt, Remaining: 1}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetKey(ctx, "k1"); got.Credits == nil || got.Credits.Remaining != 500 || !got.Credits.SetAt.Equal(newer) {
		t.Fatalf("a stale balance overwrote a newer setting: %+v", got.Credits)
	}
}
