package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/lanyardhq/lanyard/internal/store"
)

func testCreateToken(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	mustCreateUser(t, s, newUser("u1", at(0)))
	p1 := newToken("p1", store.KindPersonal, "u1", at(1))
	p1.ExpiresAt = ptr(at(86400))
	a1 := newToken("a1", store.KindAdmin, "u1", at(2))
	b1 := newToken("bootstrap", store.KindBootstrap, "", at(3))
	for _, tok := range []store.Token{p1, a1, b1} {
		mustCreateToken(t, s, tok)
		res := mustResolve(t, s, tok.Hash)
		checkSecret(t, res.Secret, store.Secret{Hash: tok.Hash, Kind: tok.Kind, ID: tok.ID, UserID: tok.UserID,
			ExpiresAt: secPtr(tok.ExpiresAt), CreatedAt: sec(tok.CreatedAt)})
		if res.Key != nil {
			t.Errorf("Resolve(%s).Key = %+v, want nil for a token", tok.ID, res.Key)
		}
	}

	// An expired token still resolves: the caller tells expired from unknown.
	old := newToken("p-old", store.KindPersonal, "u1", at(-100))
	old.ExpiresAt = ptr(at(-50))
	mustCreateToken(t, s, old)
	if res := mustResolve(t, s, old.Hash); res.Secret.ExpiresAt == nil {
		t.Error("expired token resolved without its expiry")
	}

	before := countEvents(t, s)
	sameHash := newToken("p2", store.KindPersonal, "u1", at(4))
	sameHash.Hash = p1.Hash
	sameID := newToken("p1", store.KindPersonal, "u1", at(4))
	sameID.Hash = hash("another p1")
	ghost := newToken("p3", store.KindPersonal, "ghost", at(4))
	tests := []struct {
		name string
		tok  store.Token
		want error // nil: any error that is no sentinel
	}{
		{"taken hash", sameHash, store.ErrConflict},
		{"taken id", sameID, store.ErrConflict},
		{"unknown user", ghost, store.ErrNotFound},
		{"a key's kind", newToken("p4", store.KindKeyToken, "u1", at(4)), nil},
	}
	for _, tt := range tests {
		err := s.CreateToken(ctx, tt.tok, event("token.create", "token:"+tt.tok.ID))
		if tt.want != nil {
			wantErr(t, "CreateToken("+tt.name+")", err, tt.want)
		} else {
			wantPlainErr(t, "CreateToken("+tt.name+")", err)
		}
		if tt.name != "taken hash" {
			wantUnresolved(t, s, tt.name, tt.tok.Hash)
		}
	}
	if res := mustResolve(t, s, p1.Hash); res.Secret.ID != "p1" {
		t.Errorf("p1's hash now names %q", res.Secret.ID)
	}
	if n := countEvents(t, s); n != before {
		t.Errorf("%d events after refused creates, want %d", n, before)
	}
}

func testDeleteTokens(t *testing.T, newStore func(t *testing.T) store.Store) {
	all := []string{"p1", "p2", "p3", "a1", "bootstrap"}
	setup := func(t *testing.T) store.Store {
		s := newStore(t)
		mustCreateUser(t, s, newUser("u1", at(0)))
		mustCreateUser(t, s, newUser("u2", at(0)))
		for _, tok := range []store.Token{
			newToken("p1", store.KindPersonal, "u1", at(1)),
			newToken("p2", store.KindPersonal, "u1", at(2)),
			newToken("p3", store.KindPersonal, "u2", at(1)),
			newToken("a1", store.KindAdmin, "u1", at(1)),
			newToken("bootstrap", store.KindBootstrap, "", at(0)),
		} {
			mustCreateToken(t, s, tok)
		}
		// A key whose id looks like a token id: DeleteTokens never touches keys' secrets.
		mustCreateKey(t, s, newKey("p1", "u1", at(0)))
		return s
	}
	tests := []struct {
		name string
		f    store.TokenFilter
		want []string
	}{
		{"personal tokens of a user but one", store.TokenFilter{UserID: "u1", Kind: store.KindPersonal, ExceptID: "p1"}, []string{"p2"}},
		{"every token of a user", store.TokenFilter{UserID: "u1"}, []string{"p1", "p2", "a1"}},
		{"every token of a user but one", store.TokenFilter{UserID: "u1", ExceptID: "a1"}, []string{"p1", "p2"}},
		{"one token", store.TokenFilter{ID: "p3"}, []string{"p3"}},
		{"id and another user", store.TokenFilter{ID: "p3", UserID: "u1"}, nil},
		{"a kind", store.TokenFilter{Kind: store.KindAdmin}, []string{"a1"}},
		{"bootstrap", store.TokenFilter{Kind: store.KindBootstrap}, []string{"bootstrap"}},
		{"a key's kind", store.TokenFilter{Kind: store.KindKeyToken}, nil},
		{"an unknown user", store.TokenFilter{UserID: "ghost"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			s := setup(t)
			before := countEvents(t, s)
			rev, err := s.DeleteTokens(ctx, tt.f, event("token.revoke", "user:u1"))
			if err != nil {
				t.Fatalf("DeleteTokens(%+v): %v", tt.f, err)
			}
			sameSet(t, "Revoked.TokenIDs", rev.TokenIDs, tt.want)
			for _, id := range all {
				_, err := s.Resolve(ctx, hash("token:"+id))
				if slices.Contains(tt.want, id) {
					wantErr(t, "Resolve("+id+")", err, store.ErrNotFound)
				} else if err != nil {
					t.Errorf("token %s should survive: %v", id, err)
				}
			}
			if _, err := s.Resolve(ctx, hash("secret:p1")); err != nil {
				t.Errorf("the key p1 lost its secret: %v", err)
			}
			if n := countEvents(t, s); n != before+1 {
				t.Errorf("%d events written, want 1", n-before)
			}
		})
	}

	t.Run("needs a filter", func(t *testing.T) {
		s := setup(t)
		before := countEvents(t, s)
		for _, f := range []store.TokenFilter{{}, {ExceptID: "p1"}} {
			_, err := s.DeleteTokens(t.Context(), f, event("token.revoke", ""))
			wantErr(t, fmt.Sprintf("DeleteTokens(%+v)", f), err, store.ErrInvalid)
		}
		for _, id := range all {
			if _, err := s.Resolve(t.Context(), hash("token:"+id)); err != nil {
				t.Errorf("token %s should survive: %v", id, err)
			}
		}
		if n := countEvents(t, s); n != before {
			t.Errorf("%d events, want %d", n, before)
		}
	})
}

func testSetAdmin(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	orig := newUser("u1", at(0))
	mustCreateUser(t, s, orig)
	mustCreateToken(t, s, newToken("p1", store.KindPersonal, "u1", at(1)))

	a1 := newToken("a1", store.KindAdmin, "u1", at(2))
	u, rev, err := s.SetAdmin(ctx, "u1", &a1, event("user.promote", "user:u1"))
	if err != nil {
		t.Fatalf("SetAdmin(promote): %v", err)
	}
	want := storedUser(orig)
	want.Admin = true
	checkUser(t, u, want)
	if !rev.Empty() {
		t.Errorf("promotion revoked %+v", rev)
	}
	got, err := s.GetUser(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	checkUser(t, got, want)
	res := mustResolve(t, s, a1.Hash)
	checkSecret(t, res.Secret, store.Secret{Hash: a1.Hash, Kind: store.KindAdmin, ID: "a1", UserID: "u1", CreatedAt: sec(a1.CreatedAt)})

	// Promoting an admin adds one more admin token.
	a2 := newToken("a2", store.KindAdmin, "u1", at(3))
	if _, _, err := s.SetAdmin(ctx, "u1", &a2, event("user.promote", "user:u1")); err != nil {
		t.Fatal(err)
	}
	mustResolve(t, s, a1.Hash)
	mustResolve(t, s, a2.Hash)

	u, rev, err = s.SetAdmin(ctx, "u1", nil, event("user.demote", "user:u1"))
	if err != nil {
		t.Fatalf("SetAdmin(demote): %v", err)
	}
	want.Admin = false
	checkUser(t, u, want)
	sameSet(t, "demotion Revoked.TokenIDs", rev.TokenIDs, []string{"a1", "a2"})
	wantUnresolved(t, s, "a1", a1.Hash)
	wantUnresolved(t, s, "a2", a2.Hash)
	mustResolve(t, s, hash("token:p1")) // personal tokens stay
	got, err = s.GetUser(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	checkUser(t, got, want)

	_, rev, err = s.SetAdmin(ctx, "u1", nil, event("user.demote", "user:u1"))
	if err != nil || len(rev.TokenIDs) != 0 {
		t.Errorf("second demotion: %+v, %v; want nothing revoked", rev, err)
	}

	before := countEvents(t, s)
	ghost := newToken("a3", store.KindAdmin, "ghost", at(4))
	_, _, err = s.SetAdmin(ctx, "ghost", &ghost, event("user.promote", "user:ghost"))
	wantErr(t, "SetAdmin(unknown, promote)", err, store.ErrNotFound)
	wantUnresolved(t, s, "unknown user's admin token", ghost.Hash)
	_, _, err = s.SetAdmin(ctx, "ghost", nil, event("user.demote", "user:ghost"))
	wantErr(t, "SetAdmin(unknown, demote)", err, store.ErrNotFound)
	if n := countEvents(t, s); n != before {
		t.Errorf("%d events after refused SetAdmin, want %d", n, before)
	}
	if got := actions(allEvents(t, s, store.EventFilter{Actor: "user:root"})); !slices.Equal(got,
		[]string{"user.create", "token.create", "user.promote", "user.promote", "user.demote", "user.demote"}) {
		t.Errorf("events %q", got)
	}
}

func testBootstrap(t *testing.T, newStore func(t *testing.T) store.Store) {
	boot := func(seed string, created int) store.Token {
		return store.Token{ID: "bootstrap", Kind: store.KindBootstrap, Hash: hash(seed), CreatedAt: at(created)}
	}
	t.Run("init once", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		t1, t2 := boot("first", 0), boot("second", 10)
		ok, err := s.InitBootstrap(ctx, t1, event("bootstrap.create", "bootstrap"))
		if err != nil || !ok {
			t.Fatalf("first InitBootstrap = %v, %v; want true", ok, err)
		}
		res := mustResolve(t, s, t1.Hash)
		checkSecret(t, res.Secret, store.Secret{Hash: t1.Hash, Kind: store.KindBootstrap, ID: "bootstrap", CreatedAt: sec(t1.CreatedAt)})

		ok, err = s.InitBootstrap(ctx, t2, event("bootstrap.create", "bootstrap"))
		if err != nil || ok {
			t.Fatalf("second InitBootstrap = %v, %v; want false", ok, err)
		}
		mustResolve(t, s, t1.Hash)
		wantUnresolved(t, s, "second bootstrap token", t2.Hash)
		if n := len(allEvents(t, s, store.EventFilter{Action: "bootstrap.create"})); n != 1 {
			t.Errorf("%d bootstrap.create events, want 1", n)
		}

		// A store whose bootstrap token was revoked was still bootstrapped.
		if _, err := s.DeleteTokens(ctx, store.TokenFilter{Kind: store.KindBootstrap}, event("token.revoke", "bootstrap")); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.InitBootstrap(ctx, t2, event("bootstrap.create", "bootstrap")); err != nil || ok {
			t.Errorf("InitBootstrap after revoking = %v, %v; want false", ok, err)
		}
		wantUnresolved(t, s, "second bootstrap token", t2.Hash)
	})

	t.Run("reset", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		t1, t2, t3 := boot("first", 0), boot("second", 10), boot("third", 20)
		if _, err := s.InitBootstrap(ctx, t1, event("bootstrap.create", "bootstrap")); err != nil {
			t.Fatal(err)
		}
		rev, err := s.ResetBootstrap(ctx, t2, event("bootstrap.reset", "bootstrap"))
		if err != nil {
			t.Fatalf("ResetBootstrap: %v", err)
		}
		sameSet(t, "Revoked.TokenIDs", rev.TokenIDs, []string{"bootstrap"})
		wantUnresolved(t, s, "old bootstrap token", t1.Hash)
		res := mustResolve(t, s, t2.Hash)
		checkSecret(t, res.Secret, store.Secret{Hash: t2.Hash, Kind: store.KindBootstrap, ID: "bootstrap", CreatedAt: sec(t2.CreatedAt)})
		if ok, err := s.InitBootstrap(ctx, t3, event("bootstrap.create", "bootstrap")); err != nil || ok {
			t.Errorf("InitBootstrap after reset = %v, %v; want false", ok, err)
		}
		mustResolve(t, s, t2.Hash)
		if n := len(allEvents(t, s, store.EventFilter{Action: "bootstrap.reset"})); n != 1 {
			t.Errorf("%d bootstrap.reset events, want 1", n)
		}
	})

	t.Run("replace", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		t1, t2, t3 := boot("first", 0), boot("second", 10), boot("third", 20)
		replaced := func() int { return len(allEvents(t, s, store.EventFilter{Action: "bootstrap.replace"})) }

		// A store never bootstrapped is left for InitBootstrap.
		rev, err := s.ReplaceBootstrap(ctx, t1, event("bootstrap.replace", "bootstrap"))
		if err != nil || !rev.Empty() {
			t.Fatalf("ReplaceBootstrap on an empty store = %+v, %v; want nothing", rev, err)
		}
		wantUnresolved(t, s, "bootstrap token of a store never bootstrapped", t1.Hash)
		if ok, err := s.InitBootstrap(ctx, t1, event("bootstrap.create", "bootstrap")); err != nil || !ok {
			t.Fatalf("InitBootstrap after ReplaceBootstrap = %v, %v; want true", ok, err)
		}

		// The same token again changes nothing.
		rev, err = s.ReplaceBootstrap(ctx, t1, event("bootstrap.replace", "bootstrap"))
		if err != nil || !rev.Empty() {
			t.Fatalf("ReplaceBootstrap with the stored token = %+v, %v; want nothing", rev, err)
		}
		mustResolve(t, s, t1.Hash)
		if n := replaced(); n != 0 {
			t.Errorf("%d bootstrap.replace events after replacing a token with itself, want 0", n)
		}

		// Another token takes its place.
		rev, err = s.ReplaceBootstrap(ctx, t2, event("bootstrap.replace", "bootstrap"))
		if err != nil {
			t.Fatalf("ReplaceBootstrap: %v", err)
		}
		sameSet(t, "Revoked.TokenIDs", rev.TokenIDs, []string{"bootstrap"})
		wantUnresolved(t, s, "replaced bootstrap token", t1.Hash)
		res := mustResolve(t, s, t2.Hash)
		checkSecret(t, res.Secret, store.Secret{Hash: t2.Hash, Kind: store.KindBootstrap, ID: "bootstrap", CreatedAt: sec(t2.CreatedAt)})
		if n := replaced(); n != 1 {
			t.Errorf("%d bootstrap.replace events, want 1", n)
		}
		if ok, err := s.InitBootstrap(ctx, t3, event("bootstrap.create", "bootstrap")); err != nil || ok {
			t.Errorf("InitBootstrap after a replacement = %v, %v; want false", ok, err)
		}

		// A hash that is another secret's is a conflict, and nothing changes.
		mustCreateUser(t, s, newUser("u1", at(0)))
		p1 := newToken("p1", store.KindPersonal, "u1", at(30))
		mustCreateToken(t, s, p1)
		clash := boot("clash", 30)
		clash.Hash = p1.Hash
		_, err = s.ReplaceBootstrap(ctx, clash, event("bootstrap.replace", "bootstrap"))
		wantErr(t, "ReplaceBootstrap(a personal token's hash)", err, store.ErrConflict)
		if res := mustResolve(t, s, t2.Hash); res.Secret.Kind != store.KindBootstrap {
			t.Errorf("the bootstrap token after a refused replacement resolves as %q", res.Secret.Kind)
		}
		if res := mustResolve(t, s, p1.Hash); res.Secret.Kind != store.KindPersonal {
			t.Errorf("the personal token after a refused replacement resolves as %q", res.Secret.Kind)
		}
		if n := replaced(); n != 1 {
			t.Errorf("%d bootstrap.replace events after a refused replacement, want 1", n)
		}

		// A revoked bootstrap token is not replaced: nothing comes back.
		if _, err := s.DeleteTokens(ctx, store.TokenFilter{Kind: store.KindBootstrap}, event("token.revoke", "bootstrap")); err != nil {
			t.Fatal(err)
		}
		rev, err = s.ReplaceBootstrap(ctx, t3, event("bootstrap.replace", "bootstrap"))
		if err != nil || !rev.Empty() {
			t.Fatalf("ReplaceBootstrap after revoking = %+v, %v; want nothing", rev, err)
		}
		wantUnresolved(t, s, "bootstrap token after revoking", t3.Hash)
		if n := replaced(); n != 1 {
			t.Errorf("%d bootstrap.replace events after revoking, want 1", n)
		}
	})

	t.Run("reset a store never bootstrapped", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		t1, t2 := boot("first", 0), boot("second", 10)
		rev, err := s.ResetBootstrap(ctx, t1, event("bootstrap.reset", "bootstrap"))
		if err != nil || len(rev.TokenIDs) != 0 {
			t.Fatalf("ResetBootstrap = %+v, %v; want nothing revoked", rev, err)
		}
		mustResolve(t, s, t1.Hash)
		if ok, err := s.InitBootstrap(ctx, t2, event("bootstrap.create", "bootstrap")); err != nil || ok {
			t.Errorf("InitBootstrap after reset = %v, %v; want false", ok, err)
		}
	})
}
