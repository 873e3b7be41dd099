package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/lanyardhq/lanyard/internal/store"
)

func testResourceRoundTrip(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	tests := []store.Resource{
		{Type: "organization", ID: "acme", Name: "Acme Inc.", Plan: "pro", CreatedAt: at(0)},
		{Type: "project", ID: "p1", Name: "Website", Parent: "organization/acme", Plan: "free", CreatedAt: at(1)},
		// Nothing optional, and every character an id may have.
		{Type: "environment", ID: "Prod.eu-1_~x", Parent: "project/p1", CreatedAt: at(2)},
		{Type: "organization", ID: "bare", CreatedAt: at(3)},
	}
	for _, r := range tests {
		if err := s.CreateResource(ctx, r, resEvent("resource.create", r.Ref())); err != nil {
			t.Fatalf("CreateResource(%s): %v", r.Ref(), err)
		}
	}
	for _, r := range tests {
		got, err := s.GetResource(ctx, r.Ref())
		if err != nil {
			t.Fatalf("GetResource(%s): %v", r.Ref(), err)
		}
		checkResource(t, got, storedResource(r))
	}
	for _, ref := range []string{"organization/nope", "project/acme", "organization", "acme", "", "organization/", "/acme", "Organization/acme"} {
		_, err := s.GetResource(ctx, ref)
		wantErr(t, fmt.Sprintf("GetResource(%q)", ref), err, store.ErrNotFound)
	}
	evs := allEvents(t, s, store.EventFilter{})
	if got, want := actions(evs), []string{"resource.create", "resource.create", "resource.create", "resource.create"}; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	if len(evs) == 4 && (evs[1].Resource != "project/p1" || evs[1].Target != "project/p1") {
		t.Errorf("event %+v: want the one given", evs[1])
	}
}

func testResourceConflicts(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	orig := newResource("organization/acme", "", at(0))
	orig.Plan = "pro"
	mustCreateResource(t, s, orig)
	mustTree(t, s, "organization/other")
	before := countEvents(t, s)

	dup := newResource("organization/acme", "organization/other", at(5))
	dup.Name, dup.Plan = "impostor", "free"
	err := s.CreateResource(ctx, dup, resEvent("resource.create", dup.Ref()))
	wantErr(t, "CreateResource(taken type/id)", err, store.ErrConflict)
	got, err := s.GetResource(ctx, "organization/acme")
	if err != nil {
		t.Fatal(err)
	}
	checkResource(t, got, storedResource(orig))

	for _, parent := range []string{"organization/ghost", "project/acme", "ghost", "organization/"} {
		r := newResource("project/p2", parent, at(1))
		err := s.CreateResource(ctx, r, resEvent("resource.create", r.Ref()))
		wantErr(t, "CreateResource(parent "+parent+")", err, store.ErrNotFound)
		_, err = s.GetResource(ctx, "project/p2")
		wantErr(t, "GetResource after a refused create", err, store.ErrNotFound)
	}
	if n := countEvents(t, s); n != before {
		t.Errorf("%d events after refused creates, want %d", n, before)
	}

	// Ids are unique per type: the same id with another type is another resource.
	mustCreateResource(t, s, newResource("project/acme", "organization/acme", at(1)))
	got, err = s.GetResource(ctx, "project/acme")
	if err != nil || got.Parent != "organization/acme" {
		t.Errorf("GetResource(project/acme) = %+v, %v", got, err)
	}
}

// listTree builds the tree testListResources lists, in list order by (CreatedAt, ID, Type):
//
//	organization/acme (0)       project/acme (0)       organization/other (0)
//	├── project/p1 (1)                                 └── project/p3 (1)
//	│   ├── env/e1 (2)
//	│   └── env/e2 (2)
//	└── project/p2 (1)
var listTree = []store.Resource{
	newResource("organization/acme", "", at(0)),
	newResource("project/acme", "", at(0)),
	newResource("organization/other", "", at(0)),
	newResource("project/p1", "organization/acme", at(1)),
	newResource("project/p2", "organization/acme", at(1)),
	newResource("project/p3", "organization/other", at(1)),
	newResource("env/e1", "project/p1", at(2)),
	newResource("env/e2", "project/p1", at(2)),
}

func testListResources(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	// Created in an order other than the list order.
	for _, i := range []int{2, 0, 3, 5, 1, 4, 7, 6} {
		mustCreateResource(t, s, listTree[i])
	}
	list := func(f store.ResourceFilter, page store.Page) []store.Resource {
		t.Helper()
		rs, err := s.ListResources(ctx, f, page)
		if err != nil {
			t.Fatalf("ListResources(%+v, %+v): %v", f, page, err)
		}
		return rs
	}
	all := list(store.ResourceFilter{}, store.Page{})
	if len(all) != len(listTree) {
		t.Fatalf("ListResources = %q, want %q", refs(all), refs(listTree))
	}
	for i := range all {
		checkResource(t, all[i], storedResource(listTree[i]))
	}

	// Paging, also inside a second with several resources and through ties of id.
	for _, limit := range []int{1, 2, 3} {
		var got []store.Resource
		page := store.Page{Limit: limit}
		for range 20 {
			rs := list(store.ResourceFilter{}, page)
			if len(rs) > limit {
				t.Fatalf("page of %d, limit %d", len(rs), limit)
			}
			got = append(got, rs...)
			if len(rs) < limit {
				break
			}
			page.AfterCreated, page.AfterID = rs[len(rs)-1].CreatedAt, rs[len(rs)-1].Ref()
		}
		if !slices.Equal(refs(got), refs(listTree)) {
			t.Errorf("paged by %d: %q, want %q", limit, refs(got), refs(listTree))
		}
	}
	rs := list(store.ResourceFilter{}, store.Page{AfterCreated: at(0), AfterID: "organization/acme", Limit: 2})
	if got, want := refs(rs), []string{"project/acme", "organization/other"}; !slices.Equal(got, want) {
		t.Errorf("after (at(0), organization/acme): %q, want %q", got, want)
	}

	tests := []struct {
		name string
		f    store.ResourceFilter
		want []string
	}{
		{"type", store.ResourceFilter{Type: "project"}, []string{"project/acme", "project/p1", "project/p2", "project/p3"}},
		{"unknown type", store.ResourceFilter{Type: "team"}, nil},
		{"parent", store.ResourceFilter{Parent: "organization/acme"}, []string{"project/p1", "project/p2"}},
		{"parent below", store.ResourceFilter{Parent: "project/p1"}, []string{"env/e1", "env/e2"}},
		{"leaf parent", store.ResourceFilter{Parent: "env/e1"}, nil},
		{"unknown parent", store.ResourceFilter{Parent: "organization/ghost"}, nil},
		{"within", store.ResourceFilter{Within: []string{"organization/acme"}},
			[]string{"organization/acme", "project/p1", "project/p2", "env/e1", "env/e2"}},
		{"within two", store.ResourceFilter{Within: []string{"project/p1", "organization/other"}},
			[]string{"organization/other", "project/p1", "project/p3", "env/e1", "env/e2"}},
		{"within overlapping", store.ResourceFilter{Within: []string{"env/e1", "project/p1", "env/e1"}},
			[]string{"project/p1", "env/e1", "env/e2"}},
		{"within a leaf", store.ResourceFilter{Within: []string{"env/e2"}}, []string{"env/e2"}},
		{"within nothing", store.ResourceFilter{Within: []string{}}, nil},
		{"within an unknown resource", store.ResourceFilter{Within: []string{"organization/ghost"}}, nil},
		{"type within", store.ResourceFilter{Type: "env", Within: []string{"organization/acme"}}, []string{"env/e1", "env/e2"}},
		{"type within, none", store.ResourceFilter{Type: "env", Within: []string{"organization/other"}}, nil},
		{"parent within", store.ResourceFilter{Parent: "organization/acme", Within: []string{"project/p1"}}, []string{"project/p1"}},
		{"type and parent", store.ResourceFilter{Type: "project", Parent: "organization/other"}, []string{"project/p3"}},
		{"within nothing and a type", store.ResourceFilter{Type: "project", Within: []string{}}, nil},
	}
	for _, tt := range tests {
		if got := refs(list(tt.f, store.Page{})); !slices.Equal(got, tt.want) {
			t.Errorf("%s: ListResources(%+v) = %q, want %q", tt.name, tt.f, got, tt.want)
		}
	}

	// Paging with a filter.
	var got []string
	page := store.Page{Limit: 2}
	for range 10 {
		rs := list(store.ResourceFilter{Within: []string{"organization/acme"}}, page)
		got = append(got, refs(rs)...)
		if len(rs) < 2 {
			break
		}
		page.AfterCreated, page.AfterID = rs[len(rs)-1].CreatedAt, rs[len(rs)-1].Ref()
	}
	if want := []string{"organization/acme", "project/p1", "project/p2", "env/e1", "env/e2"}; !slices.Equal(got, want) {
		t.Errorf("paged within organization/acme: %q, want %q", got, want)
	}
}

func testUpdateResource(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	mustTree(t, s, "organization/acme", "organization/other", "project/p1 < organization/acme", "env/e1 < project/p1")
	p1 := newResource("project/p1", "organization/acme", at(0))
	before := countEvents(t, s)
	update := func(ref string, fn func(*store.Resource)) (store.Resource, error) {
		return s.UpdateResource(ctx, ref, func(r *store.Resource) error { fn(r); return nil }, nil, resEvent("resource.update", ref))
	}
	within := func(ref string) []string {
		t.Helper()
		rs, err := s.ListResources(ctx, store.ResourceFilter{Within: []string{ref}}, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		return refs(rs)
	}
	check := func(what string, got store.Resource, want store.Resource) {
		t.Helper()
		checkResource(t, got, want)
		stored, err := s.GetResource(ctx, want.Ref())
		if err != nil {
			t.Fatalf("%s: GetResource: %v", what, err)
		}
		checkResource(t, stored, want)
	}

	// Name and plan; type, id and creation time never change.
	got, err := s.UpdateResource(ctx, "project/p1", func(r *store.Resource) error {
		checkResource(t, *r, storedResource(p1))
		r.Name, r.Plan = "Renamed", "pro"
		r.Type, r.ID, r.CreatedAt = "team", "t9", at(99)
		return nil
	}, nil,

		resEvent("resource.update", "project/p1"))

	if err != nil {
		t.Fatalf("UpdateResource: %v", err)
	}
	want := storedResource(p1)
	want.Name, want.Plan = "Renamed", "pro"
	check("rename", got, want)
	_, err = s.GetResource(ctx, "team/t9")
	wantErr(t, "GetResource(team/t9)", err, store.ErrNotFound)

	// Clearing them.
	got, err = update("project/p1", func(r *store.Resource) { r.Name, r.Plan = "", "" })
	if err != nil {
		t.Fatal(err)
	}
	want.Name, want.Plan = "", ""
	check("clear", got, want)

	// A move takes the subtree along.
	got, err = update("project/p1", func(r *store.Resource) { r.Parent = "organization/other" })
	if err != nil {
		t.Fatalf("move: %v", err)
	}
	want.Parent = "organization/other"
	check("move", got, want)
	sameSet(t, "after the move, within organization/other", within("organization/other"), []string{"organization/other", "project/p1", "env/e1"})
	sameSet(t, "after the move, within organization/acme", within("organization/acme"), []string{"organization/acme"})
	if e1, err := s.GetResource(ctx, "env/e1"); err != nil || e1.Parent != "project/p1" {
		t.Errorf("env/e1 = %+v, %v; want it still below project/p1", e1, err)
	}

	// To the root and back.
	got, err = update("project/p1", func(r *store.Resource) { r.Parent = "" })
	if err != nil {
		t.Fatal(err)
	}
	want.Parent = ""
	check("to the root", got, want)
	got, err = update("project/p1", func(r *store.Resource) { r.Parent = "organization/acme" })
	if err != nil {
		t.Fatal(err)
	}
	want.Parent = "organization/acme"
	check("back", got, want)
	changes := 5

	// Cycles and missing parents change nothing.
	for _, tt := range []struct {
		ref, parent string
		want        error
	}{
		{"organization/acme", "organization/acme", store.ErrInvalid},
		{"organization/acme", "project/p1", store.ErrInvalid},
		{"organization/acme", "env/e1", store.ErrInvalid},
		{"project/p1", "project/p1", store.ErrInvalid},
		{"project/p1", "env/e1", store.ErrInvalid},
		{"project/p1", "organization/ghost", store.ErrNotFound},
		{"project/p1", "env/e1/x", store.ErrNotFound},
		{"project/p1", "ghost", store.ErrNotFound},
		{"organization/acme", "organization/ghost", store.ErrNotFound},
	} {
		_, err := update(tt.ref, func(r *store.Resource) { r.Parent, r.Name = tt.parent, "never" })
		wantErr(t, fmt.Sprintf("moving %s below %s", tt.ref, tt.parent), err, tt.want)
	}
	check("after refused moves", want, want)
	sameSet(t, "after refused moves, within organization/acme", within("organization/acme"), []string{"organization/acme", "project/p1", "env/e1"})
	acme, err := s.GetResource(ctx, "organization/acme")
	if err != nil || acme.Parent != "" || acme.Name != "Resource organization/acme" {
		t.Errorf("organization/acme = %+v, %v: a refused move changed it", acme, err)
	}

	// A move below a sibling's descendant is fine.
	mustTree(t, s, "project/p2 < organization/acme")
	if _, err := update("project/p2", func(r *store.Resource) { r.Parent = "env/e1" }); err != nil {
		t.Errorf("moving project/p2 below env/e1: %v", err)
	}
	changes += 2 // the create and the move

	errBoom := errors.New("boom")
	_, err = s.UpdateResource(ctx, "project/p1", func(r *store.Resource) error { r.Name = "never"; return errBoom }, nil, resEvent("resource.update", "project/p1"))
	if err != errBoom {
		t.Errorf("UpdateResource with failing fn: err = %v, want fn's error unchanged", err)
	}
	called := false
	_, err = s.UpdateResource(ctx, "project/ghost", func(*store.Resource) error { called = true; return nil }, nil, resEvent("resource.update", "project/ghost"))
	wantErr(t, "UpdateResource(unknown)", err, store.ErrNotFound)
	if called {
		t.Error("UpdateResource(unknown) called fn")
	}
	check("after failed updates", want, want)
	if n := countEvents(t, s); n != before+changes {
		t.Errorf("%d events, want %d: only the changes that succeeded write one", n, before+changes)
	}
}

func testDeleteResource(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	mustCreateUser(t, s, newUser("u1", at(0)))
	mustCreateUser(t, s, newUser("u2", at(0)))
	// organization/acme ─┬─ project/p1 ─┬─ env/e1 ── team/t1
	//                    │              └─ env/e2
	//                    └─ project/p2
	// organization/other ── project/p3
	mustTree(t, s, "organization/acme", "project/p1 < organization/acme", "env/e1 < project/p1",
		"team/t1 < env/e1", "env/e2 < project/p1", "project/p2 < organization/acme",
		"organization/other", "project/p3 < organization/other")
	keys := []store.Key{
		{ID: "b1", Format: store.FormatToken, Resource: "project/p1", Role: "member", CreatedAt: at(1)},
		{ID: "b2", Format: store.FormatKeySecret, Resource: "team/t1", Role: "admin", CreatedAt: at(2)},
		{ID: "k1", Format: store.FormatToken, Owner: "u1", Resource: "env/e2", Role: "observer", CreatedAt: at(3)},
		{ID: "k2", Format: store.FormatToken, Owner: "u1", CreatedAt: at(4)},
		{ID: "b3", Format: store.FormatToken, Resource: "project/p2", Role: "member", CreatedAt: at(5)},
		{ID: "k3", Format: store.FormatToken, Owner: "u2", Resource: "organization/other", CreatedAt: at(6)},
	}
	for _, k := range keys {
		mustCreateKey(t, s, k)
	}
	// A reissue in grace: b1 has two live secrets, and both must go.
	b1New := store.Secret{Hash: hash("b1 second"), Kind: store.KindKeyToken, ID: "b1", CreatedAt: at(7)}
	if _, _, err := s.ReissueKey(ctx, "b1", b1New, at(3600), event("key.reissue", "key:b1")); err != nil {
		t.Fatal(err)
	}
	for _, g := range []store.Grant{
		{Resource: "organization/acme", Principal: "user:u1", Role: "admin"},
		{Resource: "project/p1", Principal: "user:u2", Role: "member"},
		{Resource: "team/t1", Principal: "user:u2", Role: "observer"},
		{Resource: "organization/other", Principal: "user:u2", Role: "member"},
		// A grant naming a key inside the subtree on a resource outside it.
		{Resource: "organization/other", Principal: "key:b1", Role: "observer"},
	} {
		g.CreatedAt = at(8)
		if _, err := s.PutGrant(ctx, g, nil, resEvent("grant.put", g.Resource)); err != nil {
			t.Fatal(err)
		}
	}
	before := countEvents(t, s)

	rev, err := s.DeleteResource(ctx, "project/p1", nil, resEvent("resource.delete", "project/p1"))
	if err != nil {
		t.Fatalf("DeleteResource: %v", err)
	}
	sameSet(t, "Revoked.Resources", rev.Resources, []string{"project/p1", "env/e1", "env/e2", "team/t1"})
	sameSet(t, "Revoked.KeyIDs", rev.KeyIDs, []string{"b1", "b2", "k1"})
	if len(rev.TokenIDs)+len(rev.UserIDs) != 0 {
		t.Errorf("Revoked %+v: want only resources and keys", rev)
	}
	for _, ref := range rev.Resources {
		_, err := s.GetResource(ctx, ref)
		wantErr(t, "GetResource("+ref+")", err, store.ErrNotFound)
		if gs := grantsOn(t, s, ref); len(gs) != 0 {
			t.Errorf("deleted %s keeps grants %+v", ref, gs)
		}
	}
	for _, id := range []string{"b1", "b2", "k1"} {
		_, err := s.GetKey(ctx, id)
		wantErr(t, "GetKey("+id+")", err, store.ErrNotFound)
		wantUnresolved(t, s, id, hash("secret:"+id))
		if gs := grantsOf(t, s, "key:"+id); len(gs) != 0 {
			t.Errorf("deleted key %s keeps grants %+v", id, gs)
		}
	}
	wantUnresolved(t, s, "b1 second", b1New.Hash)
	// Everything outside the subtree stays.
	for _, ref := range []string{"organization/acme", "project/p2", "organization/other", "project/p3"} {
		if _, err := s.GetResource(ctx, ref); err != nil {
			t.Errorf("GetResource(%s): %v", ref, err)
		}
	}
	for _, id := range []string{"k2", "b3", "k3"} {
		if _, err := s.GetKey(ctx, id); err != nil {
			t.Errorf("GetKey(%s): %v", id, err)
		}
		mustResolve(t, s, hash("secret:"+id))
	}
	checkGrants(t, "grants of user:u1", grantsOf(t, s, "user:u1"),
		[]store.Grant{{Resource: "organization/acme", Principal: "user:u1", Role: "admin", CreatedAt: sec(at(8))}})
	checkGrants(t, "grants of user:u2", grantsOf(t, s, "user:u2"),
		[]store.Grant{{Resource: "organization/other", Principal: "user:u2", Role: "member", CreatedAt: sec(at(8))}})
	checkGrants(t, "grants of key:b3", grantsOf(t, s, "key:b3"),
		[]store.Grant{{Resource: "project/p2", Principal: "key:b3", Role: "member", CreatedAt: sec(at(5))}})
	rs, err := s.ListResources(ctx, store.ResourceFilter{Within: []string{"organization/acme"}}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := refs(rs), []string{"organization/acme", "project/p2"}; !slices.Equal(got, want) {
		t.Errorf("within organization/acme: %q, want %q", got, want)
	}
	if got := allEvents(t, s, store.EventFilter{}); len(got) != before+1 || got[len(got)-1].Action != "resource.delete" {
		t.Errorf("events after DeleteResource: %q, want one resource.delete more than %d", actions(got), before)
	}

	_, err = s.DeleteResource(ctx, "project/p1", nil, resEvent("resource.delete", "project/p1"))
	wantErr(t, "second DeleteResource", err, store.ErrNotFound)
	_, err = s.DeleteResource(ctx, "team/t1", nil, resEvent("resource.delete", "team/t1"))
	wantErr(t, "DeleteResource(deleted descendant)", err, store.ErrNotFound)
	_, err = s.DeleteResource(ctx, "organization", nil, resEvent("resource.delete", "organization"))
	wantErr(t, "DeleteResource(no type/id)", err, store.ErrNotFound)

	// A root, with its remaining subtree.
	rev, err = s.DeleteResource(ctx, "organization/acme", nil, resEvent("resource.delete", "organization/acme"))
	if err != nil {
		t.Fatal(err)
	}
	sameSet(t, "Revoked.Resources", rev.Resources, []string{"organization/acme", "project/p2"})
	sameSet(t, "Revoked.KeyIDs", rev.KeyIDs, []string{"b3"})
	// A leaf without keys.
	rev, err = s.DeleteResource(ctx, "project/p3", nil, resEvent("resource.delete", "project/p3"))
	if err != nil {
		t.Fatal(err)
	}
	sameSet(t, "Revoked.Resources", rev.Resources, []string{"project/p3"})
	sameSet(t, "Revoked.KeyIDs", rev.KeyIDs, nil)
	if n := countEvents(t, s); n != before+3 {
		t.Errorf("%d events, want %d", n, before+3)
	}
	mustResolve(t, s, hash("secret:k2"))
	mustResolve(t, s, hash("secret:k3"))
}

func testGrants(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	mustTree(t, s, "organization/acme", "project/p1 < organization/acme", "organization/other")
	mustUsers(t, s, "u1", "u2", "u10")
	upper := newUser("U1", at(0)) // ids are case-sensitive; its email must differ from u1's
	upper.Email, upper.EmailNorm = "upper@example.com", "upper@example.com"
	if err := s.CreateUser(ctx, upper, store.Event{}); err != nil {
		t.Fatal(err)
	}
	k0 := newKey("k0", "u1", at(0))
	if err := s.CreateKey(ctx, k0, keySecret(k0, "k0 secret"), nil, store.Event{}); err != nil {
		t.Fatal(err)
	}
	put := func(g store.Grant) store.Grant {
		t.Helper()
		got, err := s.PutGrant(ctx, g, nil, resEvent("grant.put", g.Resource))
		if err != nil {
			t.Fatalf("PutGrant(%+v): %v", g, err)
		}
		return got
	}
	g := func(resource, principal, role string, created int) store.Grant {
		return store.Grant{Resource: resource, Principal: principal, Role: role, CreatedAt: at(created)}
	}
	stored := func(gs ...store.Grant) []store.Grant {
		for i := range gs {
			gs[i].CreatedAt = sec(gs[i].CreatedAt)
		}
		return gs
	}
	before := countEvents(t, s)

	got := put(g("organization/acme", "user:u2", "member", 5))
	checkGrants(t, "PutGrant", []store.Grant{got}, stored(g("organization/acme", "user:u2", "member", 5)))
	put(g("organization/acme", "user:u10", "admin", 5))
	put(g("organization/acme", "key:k0", "observer", 3))
	put(g("organization/acme", "user:U1", "observer", 5))
	put(g("project/p1", "user:u2", "observer", 1))
	put(g("organization/other", "user:u2", "admin", 9))

	// A replaced grant keeps its CreatedAt.
	got = put(g("organization/acme", "user:u2", "admin", 7))
	checkGrants(t, "PutGrant(replace)", []store.Grant{got}, stored(g("organization/acme", "user:u2", "admin", 5)))

	// Ordered by (CreatedAt, Principal in byte order), on the resource alone; grantsOn pages by 2.
	checkGrants(t, "grants on organization/acme", grantsOn(t, s, "organization/acme"), stored(
		g("organization/acme", "key:k0", "observer", 3),
		g("organization/acme", "user:U1", "observer", 5),
		g("organization/acme", "user:u10", "admin", 5),
		g("organization/acme", "user:u2", "admin", 5),
	))
	checkGrants(t, "grants on project/p1", grantsOn(t, s, "project/p1"), stored(g("project/p1", "user:u2", "observer", 1)))
	gs, err := s.ListGrants(ctx, "organization/acme", store.Page{AfterCreated: at(5), AfterID: "user:u10", Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	checkGrants(t, "grants after (at(5), user:u10)", gs, stored(g("organization/acme", "user:u2", "admin", 5)))
	gs, err = s.ListGrants(ctx, "organization/ghost", store.Page{})
	if err != nil || len(gs) != 0 {
		t.Errorf("ListGrants(unknown) = %+v, %v; want none", gs, err)
	}
	checkGrants(t, "grants of user:u2", grantsOf(t, s, "user:u2"), stored(
		g("organization/acme", "user:u2", "admin", 5),
		g("organization/other", "user:u2", "admin", 9),
		g("project/p1", "user:u2", "observer", 1),
	))
	if gs := grantsOf(t, s, "user:nobody"); len(gs) != 0 {
		t.Errorf("GrantsOf(nobody) = %+v", gs)
	}

	// A resource that does not exist.
	_, err = s.PutGrant(ctx, g("organization/ghost", "user:u2", "admin", 9), nil, resEvent("grant.put", "organization/ghost"))
	wantErr(t, "PutGrant(unknown resource)", err, store.ErrNotFound)
	if n := len(grantsOf(t, s, "user:u2")); n != 3 {
		t.Errorf("user:u2 has %d grants after a refused PutGrant, want 3", n)
	}

	if err := s.DeleteGrant(ctx, "organization/acme", "user:u2", nil, resEvent("grant.delete", "organization/acme")); err != nil {
		t.Fatalf("DeleteGrant: %v", err)
	}
	checkGrants(t, "grants of user:u2 after a delete", grantsOf(t, s, "user:u2"), stored(
		g("organization/other", "user:u2", "admin", 9),
		g("project/p1", "user:u2", "observer", 1),
	))
	for _, tt := range [][2]string{{"organization/acme", "user:u2"}, {"project/p1", "user:U1"}, {"organization/ghost", "user:u2"}} {
		err := s.DeleteGrant(ctx, tt[0], tt[1], nil, resEvent("grant.delete", tt[0]))
		wantErr(t, fmt.Sprintf("DeleteGrant(%s, %s)", tt[0], tt[1]), err, store.ErrNotFound)
	}
	// After a delete, a new grant is new.
	got = put(g("organization/acme", "user:u2", "member", 20))
	checkGrants(t, "PutGrant after a delete", []store.Grant{got}, stored(g("organization/acme", "user:u2", "member", 20)))

	if got, want := actions(allEvents(t, s, store.EventFilter{})[before:]), []string{
		"grant.put", "grant.put", "grant.put", "grant.put", "grant.put", "grant.put", "grant.put", "grant.delete", "grant.put",
	}; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}

func testBusinessKeyGrant(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	mustCreateUser(t, s, newUser("u1", at(0)))
	mustTree(t, s, "organization/acme", "project/p1 < organization/acme")
	kb := store.Key{ID: "kb", Format: store.FormatToken, Resource: "project/p1", Role: "member", CreatedAt: at(3)}
	ks := store.Key{ID: "ks", Format: store.FormatKeySecret, Resource: "organization/acme", Role: "admin", CreatedAt: at(4)}
	kp := store.Key{ID: "kp", Format: store.FormatToken, Owner: "u1", Resource: "project/p1", Role: "observer", CreatedAt: at(5)}
	ko := store.Key{ID: "ko", Format: store.FormatToken, Owner: "u1", CreatedAt: at(5)}
	for _, k := range []store.Key{kb, ks, kp, ko} {
		mustCreateKey(t, s, k)
	}
	checkGrants(t, "grants of key:kb", grantsOf(t, s, "key:kb"),
		[]store.Grant{{Resource: "project/p1", Principal: "key:kb", Role: "member", CreatedAt: sec(at(3))}})
	checkGrants(t, "grants on project/p1", grantsOn(t, s, "project/p1"),
		[]store.Grant{{Resource: "project/p1", Principal: "key:kb", Role: "member", CreatedAt: sec(at(3))}})
	checkGrants(t, "grants of key:ks", grantsOf(t, s, "key:ks"),
		[]store.Grant{{Resource: "organization/acme", Principal: "key:ks", Role: "admin", CreatedAt: sec(at(4))}})
	// Personal keys act as their owner: no grant of their own.
	for _, id := range []string{"kp", "ko"} {
		if gs := grantsOf(t, s, "key:"+id); len(gs) != 0 {
			t.Errorf("personal key %s has grants %+v", id, gs)
		}
	}

	if _, err := s.DeleteKey(ctx, "kb", event("key.revoke", "key:kb")); err != nil {
		t.Fatal(err)
	}
	if gs := grantsOf(t, s, "key:kb"); len(gs) != 0 {
		t.Errorf("deleted key kb keeps grants %+v", gs)
	}
	if gs := grantsOn(t, s, "project/p1"); len(gs) != 0 {
		t.Errorf("grants on project/p1 = %+v, want none", gs)
	}
	if _, err := s.DeleteKeys(ctx, store.KeyFilter{Resource: "organization/acme", Business: true}, event("key.revoke_all", "")); err != nil {
		t.Fatal(err)
	}
	if gs := grantsOf(t, s, "key:ks"); len(gs) != 0 {
		t.Errorf("deleted key ks keeps grants %+v", gs)
	}
}

// testReusedIDsInheritNothing deletes a user, a key and a resource that grants name, and
// checks that new records with the same ids start with nothing.
func testReusedIDsInheritNothing(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	mustCreateUser(t, s, newUser("u1", at(0)))
	mustCreateUser(t, s, newUser("u2", at(0)))
	mustTree(t, s, "organization/acme", "project/p1 < organization/acme", "env/e1 < project/p1")
	mustCreateKey(t, s, store.Key{ID: "kb", Format: store.FormatToken, Resource: "project/p1", Role: "member", CreatedAt: at(1)})
	mustCreateKey(t, s, store.Key{ID: "kp", Format: store.FormatToken, Owner: "u2", Resource: "project/p1", CreatedAt: at(1)})
	mustCreateKey(t, s, store.Key{ID: "kx", Format: store.FormatToken, Resource: "organization/acme", Role: "member", CreatedAt: at(1)})
	for _, g := range []store.Grant{
		{Resource: "organization/acme", Principal: "user:u1", Role: "admin"},
		{Resource: "project/p1", Principal: "user:u1", Role: "member"},
		{Resource: "project/p1", Principal: "user:u2", Role: "member"},
		{Resource: "organization/acme", Principal: "key:kx", Role: "observer"}, // replaces kx's own
		{Resource: "env/e1", Principal: "key:kx", Role: "admin"},
	} {
		g.CreatedAt = at(2)
		if _, err := s.PutGrant(ctx, g, nil, resEvent("grant.put", g.Resource)); err != nil {
			t.Fatal(err)
		}
	}

	// A user.
	if _, err := s.DeleteUser(ctx, "u1", event("user.delete", "user:u1")); err != nil {
		t.Fatal(err)
	}
	mustCreateUser(t, s, newUser("u1", at(3)))
	if gs := grantsOf(t, s, "user:u1"); len(gs) != 0 {
		t.Errorf("recreated user u1 inherits grants %+v", gs)
	}
	if gs := grantsOf(t, s, "user:u2"); len(gs) != 1 {
		t.Errorf("user u2 has grants %+v, want 1", gs)
	}

	// A key, reused as a business key elsewhere and as a personal key.
	if _, err := s.DeleteKey(ctx, "kx", event("key.revoke", "key:kx")); err != nil {
		t.Fatal(err)
	}
	mustCreateKey(t, s, store.Key{ID: "kx", Format: store.FormatToken, Resource: "project/p1", Role: "observer", CreatedAt: at(3)})
	checkGrants(t, "grants of the new key kx", grantsOf(t, s, "key:kx"),
		[]store.Grant{{Resource: "project/p1", Principal: "key:kx", Role: "observer", CreatedAt: sec(at(3))}})
	if _, err := s.DeleteKeys(ctx, store.KeyFilter{Resource: "project/p1", Business: true}, event("key.revoke_all", "")); err != nil {
		t.Fatal(err)
	}
	mustCreateKey(t, s, newKey("kx", "u2", at(4)))
	mustCreateKey(t, s, newKey("kb", "u2", at(4)))
	for _, id := range []string{"kx", "kb"} {
		if gs := grantsOf(t, s, "key:"+id); len(gs) != 0 {
			t.Errorf("recreated key %s inherits grants %+v", id, gs)
		}
	}

	// A resource.
	if _, err := s.DeleteResource(ctx, "project/p1", nil, resEvent("resource.delete", "project/p1")); err != nil {
		t.Fatal(err)
	}
	mustCreateResource(t, s, newResource("project/p1", "organization/acme", at(5)))
	if gs := grantsOn(t, s, "project/p1"); len(gs) != 0 {
		t.Errorf("recreated project/p1 inherits grants %+v", gs)
	}
	rs, err := s.ListResources(ctx, store.ResourceFilter{Parent: "project/p1"}, store.Page{})
	if err != nil || len(rs) != 0 {
		t.Errorf("recreated project/p1 has children %q (%v)", refs(rs), err)
	}
	keys, err := s.ListKeys(ctx, store.KeyFilter{Within: []string{"project/p1"}}, store.Page{})
	if err != nil || len(keys) != 0 {
		t.Errorf("recreated project/p1 has %d keys (%v), want none", len(keys), err)
	}
	mustCreateResource(t, s, newResource("env/e1", "project/p1", at(5)))
	if gs := grantsOn(t, s, "env/e1"); len(gs) != 0 {
		t.Errorf("recreated env/e1 inherits grants %+v", gs)
	}
	if gs := grantsOf(t, s, "user:u2"); len(gs) != 0 {
		t.Errorf("user u2 keeps grants %+v on deleted resources", gs)
	}
}

// testResourceEvents checks EventFilter.Resource: the events of a resource and of everything
// that was below it when they were written.
func testResourceEvents(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	// Each event's Target is a label that names it.
	ev := func(label, action, resource string) store.Event {
		e := event(action, label)
		e.Resource = resource
		return e
	}
	create := func(label, ref, parent string) {
		t.Helper()
		if err := s.CreateResource(ctx, newResource(ref, parent, at(0)), ev(label, "resource.create", ref)); err != nil {
			t.Fatalf("CreateResource(%s): %v", ref, err)
		}
	}
	create("c-a", "org/a", "")
	create("c-ab", "org/ab", "") // a prefix of its name is another resource
	create("c-b", "org/b", "")
	create("c-p", "project/p", "org/a")
	create("c-e", "env/e", "project/p")
	mustUsers(t, s, "u1")
	if _, err := s.PutGrant(ctx, store.Grant{Resource: "env/e", Principal: "user:u1", Role: "admin", CreatedAt: at(1)}, nil,
		ev("g-e", "grant.put", "env/e")); err != nil {
		t.Fatal(err)
	}
	refused := ev("r-e", "credential.refused", "env/e")
	refused.Result = "refused"
	unrelated := ev("r-none", "credential.refused", "")
	if err := s.AppendEvents(ctx, []store.Event{refused, unrelated}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteResource(ctx, "env/e", nil, ev("d-e", "resource.delete", "env/e")); err != nil {
		t.Fatal(err)
	}
	// Events of env/e now that it is gone, and of a new env/e elsewhere.
	if err := s.AppendEvents(ctx, []store.Event{ev("r-e2", "credential.refused", "env/e")}); err != nil {
		t.Fatal(err)
	}
	create("c-e2", "env/e", "org/b")
	// project/p moves to org/b (quietly: where a move's own event belongs is the backend's
	// choice); what happens to it afterwards belongs to org/b.
	if _, err := s.UpdateResource(ctx, "project/p", func(r *store.Resource) error { r.Parent = "org/b"; return nil }, nil, store.Event{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutGrant(ctx, store.Grant{Resource: "project/p", Principal: "user:u1", Role: "admin", CreatedAt: at(1)}, nil,
		ev("g-p", "grant.put", "project/p")); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		f    store.EventFilter
		want []string
	}{
		{store.EventFilter{Resource: "org/a"}, []string{"c-a", "c-p", "c-e", "g-e", "r-e", "d-e"}},
		{store.EventFilter{Resource: "org/ab"}, []string{"c-ab"}},
		{store.EventFilter{Resource: "project/p"}, []string{"c-p", "c-e", "g-e", "r-e", "d-e", "g-p"}},
		{store.EventFilter{Resource: "env/e"}, []string{"c-e", "g-e", "r-e", "d-e", "r-e2", "c-e2"}},
		{store.EventFilter{Resource: "org/b"}, []string{"c-b", "c-e2", "g-p"}},
		{store.EventFilter{Resource: "org"}, nil},
		{store.EventFilter{Resource: "org/a|project/p"}, nil},
		{store.EventFilter{Resource: "org/a", Action: "grant.put"}, []string{"g-e"}},
		{store.EventFilter{Resource: "org/a", Action: "credential.refused"}, []string{"r-e"}},
		{store.EventFilter{}, []string{"c-a", "c-ab", "c-b", "c-p", "c-e", "g-e", "r-e", "r-none", "d-e", "r-e2", "c-e2", "g-p"}},
	}
	for _, tt := range tests {
		var got []string
		for _, e := range allEvents(t, s, tt.f) {
			got = append(got, e.Target)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("ListEvents(%+v) = %q, want %q", tt.f, got, tt.want)
		}
	}
	// The event keeps the resource it was given.
	evs := allEvents(t, s, store.EventFilter{Resource: "org/a", Action: "resource.delete"})
	if len(evs) != 1 || evs[0].Resource != "env/e" {
		t.Errorf("resource.delete events under org/a: %+v, want one of env/e", evs)
	}
}
