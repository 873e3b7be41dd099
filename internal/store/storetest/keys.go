package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

func testKeyRoundTrip(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	mustCreateUser(t, s, newUser("u1", at(0)))
	mustTree(t, s, "org/acme")

	tests := []struct {
		name   string
		key    store.Key
		secret store.Secret
		want   store.Key // as stored; zero: storedKey(key)
	}{
		{
			name: "personal key with every field",
			key: store.Key{ID: "k1", Name: "deploy", Format: store.FormatToken, Prefix: "ignored", Owner: "u1",
				Resource: "org/acme", Role: "observer", Plan: "pro",
				Metadata: map[string]any{"team": "infra", "n": 3.5, "on": true, "none": nil,
					"tags": []any{"a", "b"}, "nested": map[string]any{"x": 1.0}},
				AllowedCIDRs: []string{"203.0.113.0/24", "2001:db8::/32"},
				Credits:      &store.Credits{Remaining: 1000, Refill: &store.Refill{Amount: 500, Interval: "month"}},
				ExpiresAt:    ptr(at(3600)),
				LastUsedAt:   ptr(at(10)),
				CreatedAt:    at(0),
				CreatedBy:    "user:u1"},
			secret: store.Secret{Hash: hash("s1"), Kind: store.KindKeyToken, ID: "k1", CreatedAt: at(0), Prefix: "lk_AbC123"},
		},
		{
			name: "business key with nothing optional",
			key: store.Key{ID: "kb", Format: store.FormatToken, Prefix: "lk_Biz000", Resource: "org/acme", Role: "member",
				CreatedAt: at(1)},
			secret: store.Secret{Hash: hash("s2"), Kind: store.KindKeyToken, ID: "kb", CreatedAt: at(1)},
		},
		{
			name: "key_secret key with credits but no refill",
			key: store.Key{ID: "ks", Name: "pair", Format: store.FormatKeySecret, Owner: "u1",
				Credits: &store.Credits{Remaining: 7}, CreatedAt: at(2), CreatedBy: "admin:a1"},
			secret: store.Secret{Hash: hash("s3"), Kind: store.KindKeySecret, ID: "ks", CreatedAt: at(2), Prefix: "ls_Sec456"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.CreateKey(ctx, tt.key, tt.secret, nil, event("key.create", "key:"+tt.key.ID)); err != nil {
				t.Fatalf("CreateKey: %v", err)
			}
			want := storedKey(tt.key)
			if tt.secret.Prefix != "" {
				want.Prefix = tt.secret.Prefix // CreateKey stores the secret's prefix
			}
			got, err := s.GetKey(ctx, tt.key.ID)
			if err != nil {
				t.Fatalf("GetKey: %v", err)
			}
			checkKey(t, got, want)

			res := mustResolve(t, s, tt.secret.Hash)
			checkSecret(t, res.Secret, store.Secret{Hash: tt.secret.Hash, Kind: tt.secret.Kind, ID: tt.key.ID, CreatedAt: sec(tt.secret.CreatedAt)})
			if res.Key == nil {
				t.Fatal("Resolve: no key")
			}
			checkKey(t, *res.Key, want)
		})
	}

	t.Run("empty metadata and CIDRs", func(t *testing.T) {
		k := newKey("ke", "u1", at(5))
		k.Metadata, k.AllowedCIDRs = map[string]any{}, []string{}
		mustCreateKey(t, s, k)
		got, err := s.GetKey(ctx, "ke")
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Metadata) != 0 || len(got.AllowedCIDRs) != 0 {
			t.Errorf("Metadata %v, AllowedCIDRs %v: want empty (or nil)", got.Metadata, got.AllowedCIDRs)
		}
	})

	_, err := s.GetKey(ctx, "nope")
	wantErr(t, "GetKey(unknown)", err, store.ErrNotFound)
	wantUnresolved(t, s, "unknown hash", hash("never stored"))
}

func testKeyConflicts(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	mustCreateUser(t, s, newUser("u1", at(0)))
	mustTree(t, s, "org/acme")
	orig := newKey("k1", "u1", at(0))
	origSecret := mustCreateKey(t, s, orig)
	before := countEvents(t, s)

	// A taken id, with a new secret.
	dup := newKey("k1", "u1", at(1))
	dup.Name = "impostor"
	err := s.CreateKey(ctx, dup, keySecret(dup, "other secret"), nil, event("key.create", "key:k1"))
	wantErr(t, "CreateKey(taken id)", err, store.ErrConflict)
	wantUnresolved(t, s, "refused key's secret", hash("other secret"))
	got, err := s.GetKey(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	checkKey(t, got, storedKey(orig))

	// A new id whose secret hash collides with a stored one.
	k2 := newKey("k2", "u1", at(1))
	err = s.CreateKey(ctx, k2, keySecret(k2, "secret:k1"), nil, event("key.create", "key:k2"))
	wantErr(t, "CreateKey(taken hash)", err, store.ErrConflict)
	_, err = s.GetKey(ctx, "k2")
	wantErr(t, "GetKey(k2) after a refused create", err, store.ErrNotFound)

	// An owner that does not exist.
	k3 := newKey("k3", "ghost", at(1))
	err = s.CreateKey(ctx, k3, keySecret(k3, "secret:k3"), nil, event("key.create", "key:k3"))
	wantErr(t, "CreateKey(unknown owner)", err, store.ErrNotFound)
	_, err = s.GetKey(ctx, "k3")
	wantErr(t, "GetKey(k3) after a refused create", err, store.ErrNotFound)

	// A resource that does not exist, for a business key and for a personal one.
	for _, owner := range []string{"", "u1"} {
		k4 := newKey("k4", owner, at(1))
		k4.Resource, k4.Role = "org/ghost", "member"
		err = s.CreateKey(ctx, k4, keySecret(k4, "secret:k4"), nil, event("key.create", "key:k4"))
		wantErr(t, "CreateKey(unknown resource, owner "+owner+")", err, store.ErrNotFound)
		_, err = s.GetKey(ctx, "k4")
		wantErr(t, "GetKey(k4) after a refused create", err, store.ErrNotFound)
		wantUnresolved(t, s, "refused key's secret", hash("secret:k4"))
		if gs := grantsOf(t, s, "key:k4"); len(gs) != 0 {
			t.Errorf("a refused business key left grants %+v", gs)
		}
	}

	if n := countEvents(t, s); n != before {
		t.Errorf("%d events after refused creates, want %d", n, before)
	}

	// After a delete the id is free again; the old secret stays dead.
	if _, err := s.DeleteKey(ctx, "k1", event("key.revoke", "key:k1")); err != nil {
		t.Fatal(err)
	}
	again := newKey("k1", "", at(2))
	if err := s.CreateKey(ctx, again, keySecret(again, "fresh"), nil, event("key.create", "key:k1")); err != nil {
		t.Fatalf("CreateKey(reused id): %v", err)
	}
	got, err = s.GetKey(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	checkKey(t, got, storedKey(again))
	wantUnresolved(t, s, "deleted key's old secret", origSecret.Hash)
	mustResolve(t, s, hash("fresh"))
}

func testUpdateKey(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	mustCreateUser(t, s, newUser("u1", at(0)))
	mustTree(t, s, "org/acme")
	orig := newKey("k1", "u1", at(0))
	orig.Resource, orig.Role, orig.Plan = "org/acme", "member", "free"
	orig.Metadata = map[string]any{"a": "b"}
	orig.LastUsedAt = ptr(at(20))
	mustCreateKey(t, s, orig)

	got, err := s.UpdateKey(ctx, "k1", func(k *store.Key) error {
		checkKey(t, *k, storedKey(orig))
		k.Name = "renamed"
		k.Metadata = map[string]any{"env": "prod", "count": 2.0}
		k.ExpiresAt = ptr(at(7200))
		k.Plan = "pro"
		k.Credits = &store.Credits{Remaining: 9, Refill: &store.Refill{Amount: 10, Interval: "day"}}
		k.AllowedCIDRs = []string{"10.0.0.0/8"}
		// None of these may change.
		k.ID, k.Format, k.Prefix, k.Owner = "k9", store.FormatKeySecret, "lk_Other0", ""
		k.Resource, k.Role, k.CreatedBy = "org/evil", "admin", "user:evil"
		k.LastUsedAt, k.CreatedAt = ptr(at(999)), at(999)
		return nil
	}, event("key.update", "key:k1"))
	if err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	want := storedKey(orig)
	want.Name, want.Plan = "renamed", "pro"
	want.Metadata = map[string]any{"env": "prod", "count": 2.0}
	want.ExpiresAt = ptr(sec(at(7200)))
	want.Credits = &store.Credits{Remaining: 9, Refill: &store.Refill{Amount: 10, Interval: "day"}}
	want.AllowedCIDRs = []string{"10.0.0.0/8"}
	checkKey(t, got, want)
	stored, err := s.GetKey(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	checkKey(t, stored, want)

	// Clearing the optional fields stores nil.
	got, err = s.UpdateKey(ctx, "k1", func(k *store.Key) error {
		k.Metadata, k.ExpiresAt, k.Credits, k.AllowedCIDRs = nil, nil, nil, nil
		return nil
	}, event("key.update", "key:k1"))
	if err != nil {
		t.Fatal(err)
	}
	want.Metadata, want.ExpiresAt, want.Credits, want.AllowedCIDRs = nil, nil, nil, nil
	checkKey(t, got, want)

	errBoom := errors.New("boom")
	_, err = s.UpdateKey(ctx, "k1", func(k *store.Key) error { k.Name = "never"; return errBoom }, event("key.update", "key:k1"))
	if err != errBoom {
		t.Errorf("UpdateKey with failing fn: err = %v, want fn's error unchanged", err)
	}
	stored, err = s.GetKey(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	checkKey(t, stored, want)

	called := false
	_, err = s.UpdateKey(ctx, "nope", func(*store.Key) error { called = true; return nil }, event("key.update", "key:nope"))
	wantErr(t, "UpdateKey(unknown)", err, store.ErrNotFound)
	if called {
		t.Error("UpdateKey(unknown) called fn")
	}
	if got, want := actions(allEvents(t, s, store.EventFilter{Action: "key.update"})), []string{"key.update", "key.update"}; !slices.Equal(got, want) {
		t.Errorf("key.update events %q, want %q", got, want)
	}
}

func testDeleteKey(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	mustCreateUser(t, s, newUser("u1", at(0)))
	s1 := mustCreateKey(t, s, newKey("k1", "u1", at(0)))
	s2 := mustCreateKey(t, s, newKey("k2", "u1", at(0)))
	// A reissue in grace: the key has two live secrets, and both must go.
	grace := store.Secret{Hash: hash("k1 second"), Kind: store.KindKeyToken, ID: "k1", CreatedAt: at(1)}
	if _, _, err := s.ReissueKey(ctx, "k1", grace, at(3600), event("key.reissue", "key:k1")); err != nil {
		t.Fatal(err)
	}
	before := countEvents(t, s)

	rev, err := s.DeleteKey(ctx, "k1", event("key.revoke", "key:k1"))
	if err != nil {
		t.Fatalf("DeleteKey: %v", err)
	}
	sameSet(t, "Revoked.KeyIDs", rev.KeyIDs, []string{"k1"})
	_, err = s.GetKey(ctx, "k1")
	wantErr(t, "GetKey(deleted)", err, store.ErrNotFound)
	wantUnresolved(t, s, "k1 first secret", s1.Hash)
	wantUnresolved(t, s, "k1 second secret", grace.Hash)
	mustResolve(t, s, s2.Hash)

	_, err = s.DeleteKey(ctx, "k1", event("key.revoke", "key:k1"))
	wantErr(t, "second DeleteKey", err, store.ErrNotFound)
	_, err = s.DeleteKey(ctx, "nope", event("key.revoke", "key:nope"))
	wantErr(t, "DeleteKey(unknown)", err, store.ErrNotFound)
	if got := allEvents(t, s, store.EventFilter{}); len(got) != before+1 || got[len(got)-1].Action != "key.revoke" {
		t.Errorf("events after DeleteKey: %q, want one key.revoke more than %d", actions(got), before)
	}
}

func testDeleteKeys(t *testing.T, newStore func(t *testing.T) store.Store) {
	// setup: u1 owns k1 (on org/a) and k2; u2 owns k3 (on org/a) and k4 (on team/x, a child
	// of org/a); b1 (org/a), b2 (org/b) and b3 (team/x) are business keys.
	setup := func(t *testing.T) (store.Store, map[string]store.Key) {
		s := newStore(t)
		mustCreateUser(t, s, newUser("u1", at(0)))
		mustCreateUser(t, s, newUser("u2", at(0)))
		mustTree(t, s, "org/a", "org/b", "team/x < org/a")
		keys := map[string]store.Key{}
		for _, k := range []store.Key{
			{ID: "k1", Format: store.FormatToken, Owner: "u1", Resource: "org/a", CreatedAt: at(1)},
			{ID: "k2", Format: store.FormatToken, Owner: "u1", CreatedAt: at(2)},
			{ID: "k3", Format: store.FormatToken, Owner: "u2", Resource: "org/a", CreatedAt: at(3)},
			{ID: "b1", Format: store.FormatToken, Resource: "org/a", Role: "member", CreatedAt: at(4)},
			{ID: "b2", Format: store.FormatKeySecret, Resource: "org/b", Role: "member", CreatedAt: at(5)},
			{ID: "b3", Format: store.FormatToken, Resource: "team/x", Role: "member", CreatedAt: at(6)},
			{ID: "k4", Format: store.FormatToken, Owner: "u2", Resource: "team/x", CreatedAt: at(7)},
		} {
			mustCreateKey(t, s, k)
			keys[k.ID] = k
		}
		return s, keys
	}
	tests := []struct {
		name string
		f    store.KeyFilter
		want []string
	}{
		{"owner", store.KeyFilter{Owner: "u1"}, []string{"k1", "k2"}},
		{"resource", store.KeyFilter{Resource: "org/a"}, []string{"k1", "k3", "b1"}},
		{"business keys of a resource", store.KeyFilter{Resource: "org/a", Business: true}, []string{"b1"}},
		{"owner and resource", store.KeyFilter{Owner: "u2", Resource: "org/a"}, []string{"k3"}},
		{"no match", store.KeyFilter{Resource: "org/none"}, nil},
		{"unknown owner", store.KeyFilter{Owner: "ghost"}, nil},
		{"within", store.KeyFilter{Within: []string{"org/a"}}, []string{"k1", "k3", "b1", "b3", "k4"}},
		{"within a child", store.KeyFilter{Within: []string{"team/x"}}, []string{"b3", "k4"}},
		{"within two", store.KeyFilter{Within: []string{"team/x", "org/b"}}, []string{"b2", "b3", "k4"}},
		{"business keys within", store.KeyFilter{Within: []string{"org/a"}, Business: true}, []string{"b1", "b3"}},
		{"owner within", store.KeyFilter{Owner: "u2", Within: []string{"org/a"}}, []string{"k3", "k4"}},
		{"resource within", store.KeyFilter{Resource: "org/a", Within: []string{"team/x"}}, nil},
		{"within nothing", store.KeyFilter{Within: []string{}}, nil},
		{"within an unknown resource", store.KeyFilter{Within: []string{"org/none"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			s, keys := setup(t)
			before := countEvents(t, s)
			tmpl := event("key.revoke_all", "")
			if tt.name == "owner" {
				tmpl.Resource = "user-wide" // a template's resource is kept
			}
			rev, err := s.DeleteKeys(ctx, tt.f, tmpl)
			if err != nil {
				t.Fatalf("DeleteKeys: %v", err)
			}
			sameSet(t, "Revoked.KeyIDs", rev.KeyIDs, tt.want)
			if len(rev.TokenIDs)+len(rev.UserIDs) != 0 {
				t.Errorf("Revoked %+v: want only key ids", rev)
			}
			for id, k := range keys {
				_, err := s.GetKey(ctx, id)
				_, rerr := s.Resolve(ctx, hash("secret:"+id))
				grants := grantsOf(t, s, "key:"+id)
				if slices.Contains(tt.want, id) {
					wantErr(t, "GetKey("+id+")", err, store.ErrNotFound)
					wantErr(t, "Resolve("+id+")", rerr, store.ErrNotFound)
					if len(grants) != 0 {
						t.Errorf("deleted key %s keeps grants %+v", id, grants)
					}
				} else if err != nil || rerr != nil {
					t.Errorf("key %s (%+v) should survive: GetKey %v, Resolve %v", id, k, err, rerr)
				} else if k.Owner == "" && len(grants) != 1 {
					t.Errorf("surviving business key %s has grants %+v, want its own", id, grants)
				}
			}
			evs := allEvents(t, s, store.EventFilter{})[before:]
			var targets []string
			for _, e := range evs {
				targets = append(targets, e.Target)
				id := e.Target[len("key:"):]
				want := tmpl.Resource
				if want == "" {
					want = keys[id].Resource
				}
				if e.Action != "key.revoke_all" || e.Actor != tmpl.Actor || e.Resource != want {
					t.Errorf("event %+v: want the template with Target key:<id> and Resource %q", e, want)
				}
			}
			var wantTargets []string
			for _, id := range tt.want {
				wantTargets = append(wantTargets, "key:"+id)
			}
			sameSet(t, "event targets", targets, wantTargets)
		})
	}

	t.Run("every business key", func(t *testing.T) {
		s, _ := setup(t)
		all, err := s.ListKeys(t.Context(), store.KeyFilter{}, store.Page{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.DeleteKeys(t.Context(), store.KeyFilter{Business: true}, event("key.revoke_all", "")); err != nil {
			t.Fatalf("DeleteKeys(Business): %v", err)
		}
		for _, k := range all {
			_, err := s.GetKey(t.Context(), k.ID)
			if gone := errors.Is(err, store.ErrNotFound); gone != (k.Owner == "") {
				t.Errorf("key %s (owner %q) after DeleteKeys(Business): err %v", k.ID, k.Owner, err)
			}
		}
	})

	t.Run("needs an owner, a resource, Within or Business", func(t *testing.T) {
		s, keys := setup(t)
		before := countEvents(t, s)
		for _, f := range []store.KeyFilter{{}} {
			_, err := s.DeleteKeys(t.Context(), f, event("key.revoke_all", ""))
			wantErr(t, fmt.Sprintf("DeleteKeys(%+v)", f), err, store.ErrInvalid)
		}
		for id := range keys {
			if _, err := s.GetKey(t.Context(), id); err != nil {
				t.Errorf("GetKey(%s) after a refused DeleteKeys: %v", id, err)
			}
		}
		if n := countEvents(t, s); n != before {
			t.Errorf("%d events, want %d", n, before)
		}
	})
}

func testListKeys(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	mustCreateUser(t, s, newUser("u1", at(0)))
	mustCreateUser(t, s, newUser("u2", at(0)))
	mustTree(t, s, "org/a")
	for i, r := range pagingRecords {
		k := newKey(r.id, "u1", r.created)
		if i%2 == 1 {
			k.Owner, k.Resource, k.Role = "", "org/a", "member"
		}
		mustCreateKey(t, s, k)
	}
	mustCreateKey(t, s, newKey("other", "u2", at(0)))

	list := func(f store.KeyFilter, page store.Page) []string {
		t.Helper()
		keys, err := s.ListKeys(ctx, f, page)
		if err != nil {
			t.Fatalf("ListKeys(%+v): %v", f, err)
		}
		var ids []string
		for _, k := range keys {
			ids = append(ids, k.ID)
		}
		return ids
	}
	// Page through u1's keys and the business keys of org/a: every record of pagingRecords.
	var got []string
	for _, f := range []store.KeyFilter{{Owner: "u1"}, {Resource: "org/a"}} {
		page := store.Page{Limit: 3}
		for i := 0; i < 10; i++ {
			keys, err := s.ListKeys(ctx, f, page)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				got = append(got, k.ID)
			}
			if len(keys) < 3 {
				break
			}
			page.AfterCreated, page.AfterID = keys[len(keys)-1].CreatedAt, keys[len(keys)-1].ID
		}
	}
	var want []string
	for _, business := range []bool{false, true} {
		for _, id := range pagingOrder {
			i := slices.IndexFunc(pagingRecords, func(r pagingCase) bool { return r.id == id })
			if (i%2 == 1) == business {
				want = append(want, id)
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged keys %q, want %q", got, want)
	}

	tests := []struct {
		name string
		f    store.KeyFilter
		want []string
	}{
		{"no filter", store.KeyFilter{}, []string{"z", "C", "a", "b", "other", "u-10", "u-9", "x"}},
		{"owner", store.KeyFilter{Owner: "u2"}, []string{"other"}},
		{"business", store.KeyFilter{Business: true}, []string{"a", "u-9", "x"}},
		{"resource", store.KeyFilter{Resource: "org/a"}, []string{"a", "u-9", "x"}},
		{"owner and business", store.KeyFilter{Owner: "u1", Business: true}, nil},
		{"unknown resource", store.KeyFilter{Resource: "org/b"}, nil},
	}
	for _, tt := range tests {
		if got := list(tt.f, store.Page{}); !slices.Equal(got, tt.want) {
			t.Errorf("%s: ListKeys(%+v) = %q, want %q", tt.name, tt.f, got, tt.want)
		}
	}

	// Within: keys on a subtree. team/t is below org/a, team/u below team/t.
	mustTree(t, s, "team/t < org/a", "team/u < team/t", "org/b")
	for _, k := range []store.Key{
		{ID: "in-t", Format: store.FormatToken, Owner: "u2", Resource: "team/t", CreatedAt: at(9)},
		{ID: "in-u", Format: store.FormatToken, Resource: "team/u", Role: "member", CreatedAt: at(8)},
		{ID: "in-b", Format: store.FormatToken, Resource: "org/b", Role: "member", CreatedAt: at(8)},
	} {
		mustCreateKey(t, s, k)
	}
	tests = []struct {
		name string
		f    store.KeyFilter
		want []string
	}{
		{"within a root", store.KeyFilter{Within: []string{"org/a"}}, []string{"a", "u-9", "x", "in-u", "in-t"}},
		{"within a child", store.KeyFilter{Within: []string{"team/t"}}, []string{"in-u", "in-t"}},
		{"within a leaf", store.KeyFilter{Within: []string{"team/u"}}, []string{"in-u"}},
		{"within overlapping", store.KeyFilter{Within: []string{"team/u", "org/a", "team/t"}}, []string{"a", "u-9", "x", "in-u", "in-t"}},
		{"within two trees", store.KeyFilter{Within: []string{"team/u", "org/b"}}, []string{"in-b", "in-u"}},
		{"owner within", store.KeyFilter{Owner: "u2", Within: []string{"org/a"}}, []string{"in-t"}},
		{"business within", store.KeyFilter{Business: true, Within: []string{"org/a"}}, []string{"a", "u-9", "x", "in-u"}},
		{"resource within", store.KeyFilter{Resource: "team/u", Within: []string{"org/a"}}, []string{"in-u"}},
		{"within nothing", store.KeyFilter{Within: []string{}}, nil},
		{"within an unknown resource", store.KeyFilter{Within: []string{"org/ghost"}}, nil},
	}
	for _, tt := range tests {
		if got := list(tt.f, store.Page{}); !slices.Equal(got, tt.want) {
			t.Errorf("%s: ListKeys(%+v) = %q, want %q", tt.name, tt.f, got, tt.want)
		}
	}
	// Paging within a subtree.
	var paged []string
	page := store.Page{Limit: 2}
	for range 10 {
		keys, err := s.ListKeys(ctx, store.KeyFilter{Within: []string{"org/a"}}, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			paged = append(paged, k.ID)
		}
		if len(keys) < 2 {
			break
		}
		page.AfterCreated, page.AfterID = keys[len(keys)-1].CreatedAt, keys[len(keys)-1].ID
	}
	if want := []string{"a", "u-9", "x", "in-u", "in-t"}; !slices.Equal(paged, want) {
		t.Errorf("paged within org/a: %q, want %q", paged, want)
	}
}

// liveHashes returns the secret rows of those of hs that resolve.
func liveHashes(t *testing.T, s store.Store, hs ...store.Hash) map[store.Hash]store.Secret {
	t.Helper()
	out := map[store.Hash]store.Secret{}
	for _, h := range hs {
		r, err := s.Resolve(t.Context(), h)
		switch {
		case err == nil:
			out[h] = r.Secret
		case !errors.Is(err, store.ErrNotFound):
			t.Fatalf("Resolve: %v", err)
		}
	}
	return out
}

func testReissueKey(t *testing.T, newStore func(t *testing.T) store.Store) {
	secretN := func(n int) store.Secret {
		return store.Secret{Hash: hash(fmt.Sprintf("reissued %d", n)), Kind: store.KindKeyToken,
			ID: "k1", CreatedAt: at(10 * n), Prefix: fmt.Sprintf("lk_New%03d", n)}
	}
	t.Run("without grace", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		mustCreateUser(t, s, newUser("u1", at(0)))
		orig := newKey("k1", "u1", at(0))
		s0 := mustCreateKey(t, s, orig)
		s1 := secretN(1)
		k, rev, err := s.ReissueKey(ctx, "k1", s1, time.Time{}, event("key.reissue", "key:k1"))
		if err != nil {
			t.Fatalf("ReissueKey: %v", err)
		}
		sameHashes(t, "Revoked.Hashes", rev.Hashes, []store.Hash{s0.Hash})
		want := storedKey(orig)
		want.Prefix = s1.Prefix
		checkKey(t, k, want)
		got, err := s.GetKey(ctx, "k1")
		if err != nil {
			t.Fatal(err)
		}
		checkKey(t, got, want)
		wantUnresolved(t, s, "old secret", s0.Hash)
		res := mustResolve(t, s, s1.Hash)
		checkSecret(t, res.Secret, store.Secret{Hash: s1.Hash, Kind: store.KindKeyToken, ID: "k1", CreatedAt: sec(s1.CreatedAt)})
		if res.Key == nil || res.Key.Prefix != s1.Prefix {
			t.Errorf("Resolve(new).Key = %+v, want the key with prefix %s", res.Key, s1.Prefix)
		}
		if got := actions(allEvents(t, s, store.EventFilter{Action: "key.reissue"})); len(got) != 1 {
			t.Errorf("%d key.reissue events, want 1", len(got))
		}
	})

	t.Run("with grace", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t)
		mustCreateUser(t, s, newUser("u1", at(0)))
		s0 := mustCreateKey(t, s, newKey("k1", "u1", at(0)))
		s1, s2, s3 := secretN(1), secretN(2), secretN(3)

		// First reissue: the old secret keeps working until the grace ends.
		_, rev, err := s.ReissueKey(ctx, "k1", s1, at(100), event("key.reissue", "key:k1"))
		if err != nil {
			t.Fatal(err)
		}
		sameHashes(t, "first Revoked.Hashes", rev.Hashes, []store.Hash{s0.Hash})
		live := liveHashes(t, s, s0.Hash, s1.Hash)
		if len(live) != 2 {
			t.Fatalf("%d live secrets after a reissue with grace, want 2", len(live))
		}
		checkTimePtr(t, "old secret's ExpiresAt", live[s0.Hash].ExpiresAt, ptr(sec(at(100))))
		checkTimePtr(t, "new secret's ExpiresAt", live[s1.Hash].ExpiresAt, nil)

		// Second reissue: the first grace ends at once; the second old secret gets the grace.
		_, rev, err = s.ReissueKey(ctx, "k1", s2, at(200), event("key.reissue", "key:k1"))
		if err != nil {
			t.Fatal(err)
		}
		sameHashes(t, "second Revoked.Hashes", rev.Hashes, []store.Hash{s0.Hash, s1.Hash})
		live = liveHashes(t, s, s0.Hash, s1.Hash, s2.Hash)
		if _, ok := live[s0.Hash]; ok || len(live) != 2 {
			t.Fatalf("live secrets %v: want exactly the last two (at most two are ever live)", live)
		}
		checkTimePtr(t, "second old secret's ExpiresAt", live[s1.Hash].ExpiresAt, ptr(sec(at(200))))
		checkTimePtr(t, "newest secret's ExpiresAt", live[s2.Hash].ExpiresAt, nil)

		// A reissue without grace ends everything old.
		k, rev, err := s.ReissueKey(ctx, "k1", s3, time.Time{}, event("key.reissue", "key:k1"))
		if err != nil {
			t.Fatal(err)
		}
		sameHashes(t, "third Revoked.Hashes", rev.Hashes, []store.Hash{s1.Hash, s2.Hash})
		live = liveHashes(t, s, s0.Hash, s1.Hash, s2.Hash, s3.Hash)
		if _, ok := live[s3.Hash]; !ok || len(live) != 1 {
			t.Fatalf("live secrets %v: want only the newest", live)
		}
		if k.Prefix != s3.Prefix {
			t.Errorf("Prefix %q, want %q", k.Prefix, s3.Prefix)
		}
	})

	t.Run("key_secret keeps its kind", func(t *testing.T) {
		s := newStore(t)
		mustCreateUser(t, s, newUser("u1", at(0)))
		k := newKey("k1", "u1", at(0))
		k.Format = store.FormatKeySecret
		mustCreateKey(t, s, k)
		n := store.Secret{Hash: hash("new pair secret"), Kind: store.KindKeySecret, ID: "k1", CreatedAt: at(5)}
		if _, _, err := s.ReissueKey(t.Context(), "k1", n, time.Time{}, event("key.reissue", "key:k1")); err != nil {
			t.Fatal(err)
		}
		res := mustResolve(t, s, n.Hash)
		if res.Secret.Kind != store.KindKeySecret || res.Key == nil || res.Key.Format != store.FormatKeySecret {
			t.Errorf("Resolve = %+v, key %+v: want a key_secret", res.Secret, res.Key)
		}
	})
}

func testReissueKeyErrors(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	mustCreateUser(t, s, newUser("u1", at(0)))
	orig := newKey("k1", "u1", at(0))
	s1 := mustCreateKey(t, s, orig)
	s2 := mustCreateKey(t, s, newKey("k2", "u1", at(0)))
	before := countEvents(t, s)

	n := store.Secret{Hash: hash("for nobody"), Kind: store.KindKeyToken, ID: "nope", CreatedAt: at(1), Prefix: "lk_Nobody"}
	_, _, err := s.ReissueKey(ctx, "nope", n, time.Time{}, event("key.reissue", "key:nope"))
	wantErr(t, "ReissueKey(unknown)", err, store.ErrNotFound)
	wantUnresolved(t, s, "secret of an unknown key", n.Hash)

	// The new hash is taken by another key: nothing changes.
	taken := store.Secret{Hash: s2.Hash, Kind: store.KindKeyToken, ID: "k1", CreatedAt: at(1), Prefix: "lk_Taken0"}
	_, _, err = s.ReissueKey(ctx, "k1", taken, at(100), event("key.reissue", "key:k1"))
	wantErr(t, "ReissueKey(taken hash)", err, store.ErrConflict)
	res := mustResolve(t, s, s1.Hash)
	if res.Secret.ExpiresAt != nil {
		t.Errorf("old secret expires at %v after a failed reissue, want never", res.Secret.ExpiresAt)
	}
	got, err := s.GetKey(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	checkKey(t, got, storedKey(orig))
	if res := mustResolve(t, s, s2.Hash); res.Secret.ID != "k2" {
		t.Errorf("k2's secret now names %s", res.Secret.ID)
	}
	if n := countEvents(t, s); n != before {
		t.Errorf("%d events, want %d", n, before)
	}
}

func testTouchKeys(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	mustCreateUser(t, s, newUser("u1", at(0)))
	k1 := newKey("k1", "u1", at(0))
	k2 := newKey("k2", "u1", at(0))
	k2.LastUsedAt = ptr(at(100))
	k3 := newKey("k3", "u1", at(0))
	for _, k := range []store.Key{k1, k2, k3} {
		mustCreateKey(t, s, k)
	}
	before := countEvents(t, s)
	lastUsed := func(id string) *time.Time {
		t.Helper()
		k, err := s.GetKey(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return k.LastUsedAt
	}

	if err := s.TouchKeys(ctx, map[string]time.Time{"k1": at(50), "k2": at(40), "ghost": at(10)}); err != nil {
		t.Fatalf("TouchKeys: %v", err)
	}
	checkTimePtr(t, "k1 LastUsedAt", lastUsed("k1"), ptr(sec(at(50))))
	checkTimePtr(t, "k2 LastUsedAt (an earlier time is ignored)", lastUsed("k2"), ptr(sec(at(100))))
	checkTimePtr(t, "k3 LastUsedAt (not touched)", lastUsed("k3"), nil)

	if err := s.TouchKeys(ctx, map[string]time.Time{"k2": at(200)}); err != nil {
		t.Fatal(err)
	}
	checkTimePtr(t, "k2 LastUsedAt", lastUsed("k2"), ptr(sec(at(200))))
	if err := s.TouchKeys(ctx, nil); err != nil {
		t.Errorf("TouchKeys(nil): %v", err)
	}
	if n := countEvents(t, s); n != before {
		t.Errorf("TouchKeys wrote %d events, want none", n-before)
	}
}
