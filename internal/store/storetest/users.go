package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

func testUserRoundTrip(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	tests := []store.User{
		{ID: "u1", Email: "Ann@Example.com", EmailNorm: "ann@example.com", Name: "Ann",
			PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g", Admin: true,
			CreatedAt: at(0), UpdatedAt: at(30)},
		{ID: "u2", Email: "bob@example.com", EmailNorm: "bob@example.com", CreatedAt: at(1), UpdatedAt: at(1)},
	}
	for _, u := range tests {
		if err := s.CreateUser(ctx, u, event("user.create", "user:"+u.ID)); err != nil {
			t.Fatalf("CreateUser(%s): %v", u.ID, err)
		}
	}
	for _, u := range tests {
		want := storedUser(u)
		got, err := s.GetUser(ctx, u.ID)
		if err != nil {
			t.Fatalf("GetUser(%s): %v", u.ID, err)
		}
		checkUser(t, got, want)
		got, err = s.GetUserByEmail(ctx, u.EmailNorm)
		if err != nil {
			t.Fatalf("GetUserByEmail(%s): %v", u.EmailNorm, err)
		}
		checkUser(t, got, want)
	}
	_, err := s.GetUser(ctx, "nobody")
	wantErr(t, "GetUser(unknown)", err, store.ErrNotFound)
	_, err = s.GetUserByEmail(ctx, "nobody@example.com")
	wantErr(t, "GetUserByEmail(unknown)", err, store.ErrNotFound)
}

func testUserConflicts(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		u    store.User
	}{
		{"same id", store.User{ID: "u1", Email: "other@example.com", EmailNorm: "other@example.com", CreatedAt: at(1), UpdatedAt: at(1)}},
		{"same email", store.User{ID: "u2", Email: "ann@example.com", EmailNorm: "ann@example.com", CreatedAt: at(1), UpdatedAt: at(1)}},
		{"case variant email", store.User{ID: "u3", Email: " ANN@example.COM", EmailNorm: store.NormalizeEmail(" ANN@example.COM"), CreatedAt: at(1), UpdatedAt: at(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			s := newStore(t)
			orig := store.User{ID: "u1", Email: "Ann@Example.com", EmailNorm: "ann@example.com", Name: "Ann", CreatedAt: at(0), UpdatedAt: at(0)}
			mustCreateUser(t, s, orig)
			err := s.CreateUser(ctx, tt.u, event("user.create", "user:"+tt.u.ID))
			wantErr(t, "CreateUser", err, store.ErrConflict)
			got, err := s.GetUser(ctx, "u1")
			if err != nil {
				t.Fatal(err)
			}
			checkUser(t, got, storedUser(orig))
			if tt.u.ID != "u1" {
				_, err := s.GetUser(ctx, tt.u.ID)
				wantErr(t, "GetUser(refused user)", err, store.ErrNotFound)
			}
			if n := countEvents(t, s); n != 1 {
				t.Errorf("%d events, want 1: a refused create writes no event", n)
			}
		})
	}
}

func testUpdateUser(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	orig := newUser("u1", at(0))
	mustCreateUser(t, s, orig)
	mustCreateUser(t, s, newUser("u2", at(0)))

	got, err := s.UpdateUser(ctx, "u1", func(u *store.User) error {
		checkUser(t, *u, storedUser(orig))
		u.Name = "Renamed"
		u.PasswordHash = "$argon2id$new"
		u.Admin = true
		u.UpdatedAt = at(50)
		// None of these may change.
		u.ID = "u9"
		u.Email = "new@example.com"
		u.EmailNorm = "new@example.com"
		u.CreatedAt = at(99)
		return nil
	}, event("user.update", "user:u1"))
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	want := storedUser(orig)
	want.Name, want.PasswordHash, want.Admin, want.UpdatedAt = "Renamed", "$argon2id$new", true, sec(at(50))
	checkUser(t, got, want)
	stored, err := s.GetUser(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	checkUser(t, stored, want)
	if _, err := s.GetUserByEmail(ctx, "new@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the email changed: GetUserByEmail(new) err = %v", err)
	}
	_, err = s.GetUser(ctx, "u9")
	wantErr(t, "GetUser(u9)", err, store.ErrNotFound)
	other, err := s.GetUser(ctx, "u2")
	if err != nil {
		t.Fatal(err)
	}
	checkUser(t, other, storedUser(newUser("u2", at(0))))

	// An error from fn aborts and comes back unchanged.
	errBoom := fmt.Errorf("boom")
	_, err = s.UpdateUser(ctx, "u1", func(u *store.User) error {
		u.Name = "Never"
		return errBoom
	}, event("user.update", "user:u1"))
	if err != errBoom {
		t.Errorf("UpdateUser with failing fn: err = %v, want fn's error unchanged", err)
	}
	stored, err = s.GetUser(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	checkUser(t, stored, want)

	called := false
	_, err = s.UpdateUser(ctx, "nobody", func(*store.User) error { called = true; return nil }, event("user.update", "user:nobody"))
	wantErr(t, "UpdateUser(unknown)", err, store.ErrNotFound)
	if called {
		t.Error("UpdateUser(unknown) called fn")
	}

	// An empty action writes no event.
	if _, err := s.UpdateUser(ctx, "u1", func(u *store.User) error { u.Name = "Quiet"; return nil }, store.Event{}); err != nil {
		t.Fatal(err)
	}
	if got, want := actions(allEvents(t, s, store.EventFilter{})), []string{"user.create", "user.create", "user.update"}; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}

func testDeleteUser(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	u1, u2 := newUser("u1", at(0)), newUser("u2", at(0))
	mustCreateUser(t, s, u1)
	mustCreateUser(t, s, u2)
	mustTree(t, s, "org/acme", "project/p1 < org/acme")
	k1 := mustCreateKey(t, s, newKey("k1", "u1", at(1)))
	k2key := newKey("k2", "u1", at(2))
	k2key.Format = store.FormatKeySecret
	k2 := mustCreateKey(t, s, k2key)
	k3 := mustCreateKey(t, s, newKey("k3", "u2", at(1)))
	kb := mustCreateKey(t, s, newKey("kb", "", at(1)))
	for _, tok := range []store.Token{
		newToken("p1", store.KindPersonal, "u1", at(1)),
		newToken("p2", store.KindPersonal, "u2", at(1)),
	} {
		mustCreateToken(t, s, tok)
	}
	a1 := newToken("a1", store.KindAdmin, "u1", at(2))
	if _, _, err := s.SetAdmin(ctx, "u1", &a1, event("user.promote", "user:u1")); err != nil {
		t.Fatal(err)
	}
	for _, g := range []store.Grant{
		{Resource: "org/acme", Principal: "user:u1", Role: "admin", CreatedAt: at(3)},
		{Resource: "project/p1", Principal: "user:u1", Role: "member", CreatedAt: at(3)},
		{Resource: "project/p1", Principal: "user:u2", Role: "member", CreatedAt: at(3)},
		// A grant naming one of u1's keys goes with the key.
		{Resource: "org/acme", Principal: "key:k1", Role: "observer", CreatedAt: at(3)},
	} {
		if _, err := s.PutGrant(ctx, g, nil, resEvent("grant.put", g.Resource)); err != nil {
			t.Fatal(err)
		}
	}
	before := countEvents(t, s)

	rev, err := s.DeleteUser(ctx, "u1", event("user.delete", "user:u1"))
	if err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	sameSet(t, "Revoked.UserIDs", rev.UserIDs, []string{"u1"})
	sameSet(t, "Revoked.KeyIDs", rev.KeyIDs, []string{"k1", "k2"})
	sameSet(t, "Revoked.TokenIDs", rev.TokenIDs, []string{"p1", "a1"})

	_, err = s.GetUser(ctx, "u1")
	wantErr(t, "GetUser(deleted)", err, store.ErrNotFound)
	_, err = s.GetUserByEmail(ctx, u1.EmailNorm)
	wantErr(t, "GetUserByEmail(deleted)", err, store.ErrNotFound)
	for _, id := range []string{"k1", "k2"} {
		_, err := s.GetKey(ctx, id)
		wantErr(t, "GetKey("+id+")", err, store.ErrNotFound)
	}
	for name, h := range map[string]store.Hash{"k1": k1.Hash, "k2": k2.Hash, "p1": hash("token:p1"), "a1": a1.Hash} {
		wantUnresolved(t, s, name, h)
	}
	keys, err := s.ListKeys(ctx, store.KeyFilter{Owner: "u1"}, store.Page{})
	if err != nil || len(keys) != 0 {
		t.Errorf("ListKeys(owner u1) = %d keys, %v; want none", len(keys), err)
	}
	for _, p := range []string{"user:u1", "key:k1"} {
		if gs := grantsOf(t, s, p); len(gs) != 0 {
			t.Errorf("%s keeps grants %+v after its user was deleted", p, gs)
		}
	}
	checkGrants(t, "grants on project/p1", grantsOn(t, s, "project/p1"),
		[]store.Grant{{Resource: "project/p1", Principal: "user:u2", Role: "member", CreatedAt: sec(at(3))}})
	if gs := grantsOf(t, s, "key:kb"); len(gs) != 1 {
		t.Errorf("the business key kb has grants %+v, want its own", gs)
	}
	// Nothing of anyone else went.
	if _, err := s.GetUser(ctx, "u2"); err != nil {
		t.Errorf("GetUser(u2): %v", err)
	}
	for name, h := range map[string]store.Hash{"k3": k3.Hash, "kb": kb.Hash, "p2": hash("token:p2")} {
		if _, err := s.Resolve(ctx, h); err != nil {
			t.Errorf("Resolve(%s) after deleting u1: %v", name, err)
		}
	}
	if n := countEvents(t, s); n != before+1 {
		t.Errorf("%d events after DeleteUser, want %d", n, before+1)
	}

	_, err = s.DeleteUser(ctx, "u1", event("user.delete", "user:u1"))
	wantErr(t, "second DeleteUser", err, store.ErrNotFound)
	_, err = s.DeleteUser(ctx, "nobody", event("user.delete", "user:nobody"))
	wantErr(t, "DeleteUser(unknown)", err, store.ErrNotFound)
	if n := countEvents(t, s); n != before+1 {
		t.Errorf("%d events after failed deletes, want %d", n, before+1)
	}

	// The id and the email are free again, and the new user inherits nothing.
	again := newUser("u1", at(10))
	mustCreateUser(t, s, again)
	got, err := s.GetUserByEmail(ctx, again.EmailNorm)
	if err != nil {
		t.Fatal(err)
	}
	checkUser(t, got, storedUser(again))
	keys, err = s.ListKeys(ctx, store.KeyFilter{Owner: "u1"}, store.Page{})
	if err != nil || len(keys) != 0 {
		t.Errorf("recreated user owns %d keys (%v), want none", len(keys), err)
	}
	if gs := grantsOf(t, s, "user:u1"); len(gs) != 0 {
		t.Errorf("recreated user inherits grants %+v", gs)
	}
}

// pagingCase is a record to create for a paging test: ids chosen so that byte order differs
// from case-insensitive and numeric order, several in one second.
type pagingCase struct {
	id      string
	created time.Time
}

var pagingRecords = []pagingCase{
	{"b", at(0)}, {"a", at(0)}, {"C", at(0)},
	{"u-9", at(1)}, {"u-10", at(1)},
	{"x", at(2)},
	{"z", at(-5)},
}

// pagingOrder is pagingRecords' ids in list order.
var pagingOrder = []string{"z", "C", "a", "b", "u-10", "u-9", "x"}

func testListUsers(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	for _, r := range pagingRecords {
		mustCreateUser(t, s, newUser(r.id, r.created))
	}
	var got []string
	page := store.Page{Limit: 3}
	for i := 0; ; i++ {
		users, err := s.ListUsers(ctx, page)
		if err != nil {
			t.Fatalf("ListUsers: %v", err)
		}
		if len(users) > 3 {
			t.Fatalf("page of %d users, limit 3", len(users))
		}
		for _, u := range users {
			got = append(got, u.ID)
			if u.CreatedAt.Location() != time.UTC || u.CreatedAt.Nanosecond() != 0 {
				t.Errorf("user %s CreatedAt %v: want UTC seconds", u.ID, u.CreatedAt)
			}
		}
		if len(users) < 3 || i > 10 {
			break
		}
		last := users[len(users)-1]
		page.AfterCreated, page.AfterID = last.CreatedAt, last.ID
	}
	if !slices.Equal(got, pagingOrder) {
		t.Errorf("paged ids %q, want %q", got, pagingOrder)
	}

	// A position inside a second with several records.
	users, err := s.ListUsers(ctx, store.Page{AfterCreated: at(0), AfterID: "a", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range users {
		ids = append(ids, u.ID)
	}
	if want := []string{"b", "u-10", "u-9"}; !slices.Equal(ids, want) {
		t.Errorf("after (at(0), a): %q, want %q", ids, want)
	}
}

func testListDefaultLimit(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	for i := range 51 {
		mustCreateUser(t, s, newUser(fmt.Sprintf("u%02d", i), at(i)))
	}
	for _, limit := range []int{0, -1} {
		users, err := s.ListUsers(ctx, store.Page{Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(users) != 50 {
			t.Errorf("ListUsers(Limit %d) = %d users, want the default 50", limit, len(users))
		}
	}
}

// testUnicodeEmails: emails are one account after NFKC and full case folding (CONTRACT
// §11.64), whichever form creates the user and whichever form looks it up; the store sets
// EmailNorm itself and keeps Email as given.
func testUnicodeEmails(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	create := func(id, email, emailNorm string) error {
		return s.CreateUser(ctx, store.User{ID: id, Email: email, EmailNorm: emailNorm, CreatedAt: at(0), UpdatedAt: at(0)},
			event("user.create", "user:"+id))
	}
	for _, u := range []struct{ id, email, emailNorm string }{
		{"alice", "\uff21LICE@example.com", ""}, // full-width A; no EmailNorm given
		{"kate", "kate@example.com", "not what the store keeps"},
		{"ivan-dot", "\u0130VAN@example.com", store.NormalizeEmail("\u0130VAN@example.com")},
		{"ivan", "ivan@example.com", store.NormalizeEmail("ivan@example.com")}, // not İVAN's
	} {
		if err := create(u.id, u.email, u.emailNorm); err != nil {
			t.Fatalf("CreateUser(%s, %q): %v", u.id, u.email, err)
		}
	}
	for _, tt := range []struct{ email, id, as string }{
		{"alice@example.com", "alice", "\uff21LICE@example.com"},
		{"  ALICE@Example.COM ", "alice", "\uff21LICE@example.com"},
		{"\uff41lice@\uff45xample.com", "alice", "\uff21LICE@example.com"},
		{"\u212Aate@example.com", "kate", "kate@example.com"}, // Kelvin sign
		{"KATE@example.com", "kate", "kate@example.com"},
		{"\u0130VAN@example.com", "ivan-dot", "\u0130VAN@example.com"},
		{"i\u0307van@example.com", "ivan-dot", "\u0130VAN@example.com"},
		{"ivan@example.com", "ivan", "ivan@example.com"},
		{"IVAN@example.com", "ivan", "ivan@example.com"},
		{store.NormalizeEmail("\uff21LICE@example.com"), "alice", "\uff21LICE@example.com"},
	} {
		u, err := s.GetUserByEmail(ctx, tt.email)
		if err != nil || u.ID != tt.id || u.Email != tt.as || u.EmailNorm != store.NormalizeEmail(tt.as) {
			t.Errorf("GetUserByEmail(%q) = %s %q %q, %v; want %s %q %q", tt.email, u.ID, u.Email, u.EmailNorm, err,
				tt.id, tt.as, store.NormalizeEmail(tt.as))
		}
	}
	if u, err := s.GetUser(ctx, "kate"); err != nil || u.EmailNorm != "kate@example.com" {
		t.Errorf("GetUser(kate) = %+v, %v; want EmailNorm kate@example.com, whatever the caller gave", u, err)
	}
	before := countEvents(t, s)
	for _, tt := range []struct{ id, email string }{
		{"alice2", "alice@example.com"},
		{"alice3", "Alice@EXAMPLE.com"},
		{"kelvin", "\u212Aate@example.com"},
		{"ivan2", "\u0130van@example.com"},
	} {
		err := create(tt.id, tt.email, store.NormalizeEmail(tt.email))
		wantErr(t, "CreateUser("+tt.email+")", err, store.ErrConflict)
		_, err = s.GetUser(ctx, tt.id)
		wantErr(t, "GetUser(refused "+tt.id+")", err, store.ErrNotFound)
	}
	if n := countEvents(t, s); n != before {
		t.Errorf("refused creates wrote %d events", n-before)
	}
}
