package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

func testEventsWithChanges(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	full := store.Event{ID: "chosen-by-caller", At: at(0), Actor: "user:root", Credential: "admin:a0",
		Action: "user.create", Target: "user:u1", Resource: "org/acme", Result: "success", IP: "2001:db8::1",
		Count: 1, Detail: "a note"}
	if err := s.CreateUser(ctx, newUser("u1", at(0)), full); err != nil {
		t.Fatal(err)
	}
	k := newKey("k1", "u1", at(1))
	steps := []struct {
		action string
		do     func(ev store.Event) error
	}{
		{"resource.create", func(ev store.Event) error { return s.CreateResource(ctx, newResource("org/acme", "", at(1)), ev) }},
		{"resource.update", func(ev store.Event) error {
			_, err := s.UpdateResource(ctx, "org/acme", func(r *store.Resource) error { r.Plan = "pro"; return nil }, nil, ev)
			return err
		}},
		{"grant.put", func(ev store.Event) error {
			_, err := s.PutGrant(ctx, store.Grant{Resource: "org/acme", Principal: "user:u1", Role: "admin", CreatedAt: at(1)}, nil, ev)
			return err
		}},
		{"grant.delete", func(ev store.Event) error { return s.DeleteGrant(ctx, "org/acme", "user:u1", nil, ev) }},
		{"key.create", func(ev store.Event) error { return s.CreateKey(ctx, k, keySecret(k, "k1 secret"), nil, ev) }},
		{"key.update", func(ev store.Event) error {
			_, err := s.UpdateKey(ctx, "k1", func(k *store.Key) error { k.Name = "x"; return nil }, ev)
			return err
		}},
		{"key.reissue", func(ev store.Event) error {
			_, _, err := s.ReissueKey(ctx, "k1", keySecret(k, "k1 new"), time.Time{}, ev)
			return err
		}},
		{"token.create", func(ev store.Event) error {
			return s.CreateToken(ctx, newToken("p1", store.KindPersonal, "u1", at(2)), ev)
		}},
		{"token.revoke", func(ev store.Event) error {
			_, err := s.DeleteTokens(ctx, store.TokenFilter{ID: "p1"}, ev)
			return err
		}},
		{"user.promote", func(ev store.Event) error {
			a := newToken("a1", store.KindAdmin, "u1", at(3))
			_, _, err := s.SetAdmin(ctx, "u1", &a, ev)
			return err
		}},
		{"user.update", func(ev store.Event) error {
			_, err := s.UpdateUser(ctx, "u1", func(u *store.User) error { u.Name = "y"; return nil }, ev)
			return err
		}},
		{"bootstrap.create", func(ev store.Event) error {
			_, err := s.InitBootstrap(ctx, newToken("bootstrap", store.KindBootstrap, "", at(0)), ev)
			return err
		}},
		{"bootstrap.reset", func(ev store.Event) error {
			_, err := s.ResetBootstrap(ctx, store.Token{ID: "bootstrap", Kind: store.KindBootstrap, Hash: hash("b2"), CreatedAt: at(4)}, ev)
			return err
		}},
		{"key.revoke", func(ev store.Event) error {
			_, err := s.DeleteKey(ctx, "k1", ev)
			return err
		}},
		{"user.delete", func(ev store.Event) error {
			_, err := s.DeleteUser(ctx, "u1", ev)
			return err
		}},
		{"resource.delete", func(ev store.Event) error {
			_, err := s.DeleteResource(ctx, "org/acme", nil, ev)
			return err
		}},
	}
	for _, st := range steps {
		// A change with an empty action writes no event; a change with one writes it.
		if err := st.do(event(st.action, "t")); err != nil {
			t.Fatalf("%s: %v", st.action, err)
		}
	}
	// Changes whose event has no action write none.
	quiet := store.Event{At: at(9), Actor: "user:root"}
	u2, k2 := newUser("u2", at(9)), newKey("k2", "u2", at(9))
	if err := s.CreateUser(ctx, u2, quiet); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateKey(ctx, k2, keySecret(k2, "k2 secret"), nil, quiet); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateToken(ctx, newToken("p2", store.KindPersonal, "u2", at(9)), quiet); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteKeys(ctx, store.KeyFilter{Owner: "u2"}, quiet); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteTokens(ctx, store.TokenFilter{UserID: "u2"}, quiet); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteUser(ctx, "u2", quiet); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResetBootstrap(ctx, store.Token{ID: "bootstrap", Kind: store.KindBootstrap, Hash: hash("b3"), CreatedAt: at(5)}, quiet); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateResource(ctx, newResource("org/quiet", "", at(9)), quiet); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateResource(ctx, newResource("org/other", "", at(9)), quiet); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateResource(ctx, "org/quiet", func(r *store.Resource) error { r.Parent = "org/other"; return nil }, nil, quiet); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, newUser("u2", at(9)), quiet); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutGrant(ctx, store.Grant{Resource: "org/quiet", Principal: "user:u2", Role: "member", CreatedAt: at(9)}, nil, quiet); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGrant(ctx, "org/quiet", "user:u2", nil, quiet); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteResource(ctx, "org/other", nil, quiet); err != nil {
		t.Fatal(err)
	}

	evs := allEvents(t, s, store.EventFilter{})
	want := []string{"user.create"}
	for _, st := range steps {
		want = append(want, st.action)
	}
	if got := actions(evs); !slices.Equal(got, want) {
		t.Fatalf("events %q,\nwant %q", got, want)
	}
	first := evs[0]
	if first.ID == "" || first.ID == full.ID {
		t.Errorf("event ID %q: want one the store assigned", first.ID)
	}
	checkTime(t, "event At", first.At, sec(full.At))
	first.ID, first.At, full.ID, full.At = "", time.Time{}, "", time.Time{}
	if first != full {
		t.Errorf("event:\n got %+v\nwant %+v", first, full)
	}
	seen := map[string]bool{}
	for _, e := range evs {
		if seen[e.ID] {
			t.Errorf("event ID %s twice", e.ID)
		}
		seen[e.ID] = true
	}
}

// testFailedChangesWriteNoEvent runs changes that fail and checks that none left an event.
func testFailedChangesWriteNoEvent(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	mustCreateUser(t, s, newUser("u1", at(0)))
	k := newKey("k1", "u1", at(0))
	mustCreateKey(t, s, k)
	mustCreateToken(t, s, newToken("p1", store.KindPersonal, "u1", at(0)))
	mustTree(t, s, "org/acme", "project/p1 < org/acme")
	before := countEvents(t, s)
	errBoom := errors.New("boom")
	admin := newToken("a1", store.KindAdmin, "ghost", at(1))
	move := func(ref, parent string, ev store.Event) error {
		_, err := s.UpdateResource(ctx, ref, func(r *store.Resource) error { r.Parent = parent; return nil }, nil, ev)
		return err
	}

	tests := []struct {
		name string
		do   func(ev store.Event) error
	}{
		{"CreateUser conflict", func(ev store.Event) error { return s.CreateUser(ctx, newUser("u1", at(1)), ev) }},
		{"UpdateUser unknown", func(ev store.Event) error {
			_, err := s.UpdateUser(ctx, "ghost", func(*store.User) error { return nil }, ev)
			return err
		}},
		{"UpdateUser fn error", func(ev store.Event) error {
			_, err := s.UpdateUser(ctx, "u1", func(*store.User) error { return errBoom }, ev)
			return err
		}},
		{"DeleteUser unknown", func(ev store.Event) error { _, err := s.DeleteUser(ctx, "ghost", ev); return err }},
		{"SetAdmin unknown", func(ev store.Event) error { _, _, err := s.SetAdmin(ctx, "ghost", &admin, ev); return err }},
		{"CreateKey conflict", func(ev store.Event) error { return s.CreateKey(ctx, k, keySecret(k, "other"), nil, ev) }},
		{"UpdateKey fn error", func(ev store.Event) error {
			_, err := s.UpdateKey(ctx, "k1", func(*store.Key) error { return errBoom }, ev)
			return err
		}},
		{"DeleteKey unknown", func(ev store.Event) error { _, err := s.DeleteKey(ctx, "ghost", ev); return err }},
		{"DeleteKeys without filter", func(ev store.Event) error { _, err := s.DeleteKeys(ctx, store.KeyFilter{}, ev); return err }},
		{"ReissueKey unknown", func(ev store.Event) error {
			_, _, err := s.ReissueKey(ctx, "ghost", keySecret(k, "new"), time.Time{}, ev)
			return err
		}},
		{"CreateToken conflict", func(ev store.Event) error {
			return s.CreateToken(ctx, newToken("p1", store.KindPersonal, "u1", at(1)), ev)
		}},
		{"DeleteTokens without filter", func(ev store.Event) error {
			_, err := s.DeleteTokens(ctx, store.TokenFilter{}, ev)
			return err
		}},
		{"CreateKey unknown resource", func(ev store.Event) error {
			kb := newKey("kb", "", at(1))
			kb.Resource = "org/ghost"
			return s.CreateKey(ctx, kb, keySecret(kb, "kb"), nil, ev)
		}},
		{"CreateResource conflict", func(ev store.Event) error {
			return s.CreateResource(ctx, newResource("org/acme", "", at(1)), ev)
		}},
		{"CreateResource unknown parent", func(ev store.Event) error {
			return s.CreateResource(ctx, newResource("project/p2", "org/ghost", at(1)), ev)
		}},
		{"UpdateResource unknown", func(ev store.Event) error { return move("org/ghost", "", ev) }},
		{"UpdateResource fn error", func(ev store.Event) error {
			_, err := s.UpdateResource(ctx, "org/acme", func(*store.Resource) error { return errBoom }, nil, ev)
			return err
		}},
		{"UpdateResource cycle", func(ev store.Event) error { return move("org/acme", "project/p1", ev) }},
		{"UpdateResource unknown parent", func(ev store.Event) error { return move("project/p1", "org/ghost", ev) }},
		{"DeleteResource unknown", func(ev store.Event) error { _, err := s.DeleteResource(ctx, "org/ghost", nil, ev); return err }},
		{"PutGrant unknown resource", func(ev store.Event) error {
			_, err := s.PutGrant(ctx, store.Grant{Resource: "org/ghost", Principal: "user:u1", Role: "admin", CreatedAt: at(1)}, nil, ev)
			return err
		}},
		{"DeleteGrant unknown", func(ev store.Event) error { return s.DeleteGrant(ctx, "org/acme", "user:u1", nil, ev) }},
	}
	for _, tt := range tests {
		if err := tt.do(event("failing."+tt.name, "x")); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	if evs := allEvents(t, s, store.EventFilter{}); len(evs) != before {
		t.Errorf("failed changes wrote events: %q", actions(evs[before:]))
	}
}

func testListEvents(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	if err := s.AppendEvents(ctx, nil); err != nil {
		t.Errorf("AppendEvents(nil): %v", err)
	}
	var evs []store.Event
	for i := range 9 {
		evs = append(evs, store.Event{
			ID:       "ignored",
			At:       at(i),
			Actor:    []string{"user:u1", "key:k1", ""}[i%3],
			Action:   []string{"credential.refused", "key.create"}[i%2],
			Target:   fmt.Sprintf("t%d", i),
			Resource: []string{"org/a", "org/ab", "org/a/b", ""}[i%4],
			Result:   "refused",
			Count:    i + 1,
		})
	}
	if err := s.AppendEvents(ctx, evs); err != nil {
		t.Fatalf("AppendEvents: %v", err)
	}
	targets := func(evs []store.Event) []string {
		var out []string
		for _, e := range evs {
			out = append(out, e.Target)
		}
		return out
	}
	all := allEvents(t, s, store.EventFilter{})
	if got, want := targets(all), []string{"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8"}; !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	for i, e := range all {
		checkTime(t, "At", e.At, sec(evs[i].At))
		if e.Count != i+1 || e.ID == "ignored" || e.Actor != evs[i].Actor || e.Resource != evs[i].Resource {
			t.Errorf("event %d = %+v, want %+v with a store-assigned ID", i, e, evs[i])
		}
	}

	tests := []struct {
		f    store.EventFilter
		want []string
	}{
		{store.EventFilter{Resource: "org/a"}, []string{"t0", "t4", "t8"}},
		{store.EventFilter{Actor: "key:k1"}, []string{"t1", "t4", "t7"}},
		{store.EventFilter{Action: "key.create"}, []string{"t1", "t3", "t5", "t7"}},
		{store.EventFilter{Actor: "user:u1", Action: "credential.refused"}, []string{"t0", "t6"}},
		{store.EventFilter{Resource: "org/a", Actor: "key:k1", Action: "credential.refused"}, []string{"t4"}},
		{store.EventFilter{Resource: "org"}, nil},
		{store.EventFilter{Target: "t5"}, []string{"t5"}},
		{store.EventFilter{Target: "t5", Action: "credential.refused"}, nil},
	}
	for _, tt := range tests {
		if got := targets(allEvents(t, s, tt.f)); !slices.Equal(got, tt.want) {
			t.Errorf("ListEvents(%+v) = %q, want %q", tt.f, got, tt.want)
		}
	}

	// Paging: limit 2, from the ID of the last event seen.
	var got []string
	page := store.Page{Limit: 2}
	for i := 0; i < 10; i++ {
		p, err := s.ListEvents(ctx, store.EventFilter{Action: "key.create"}, page)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) > 2 {
			t.Fatalf("page of %d, limit 2", len(p))
		}
		got = append(got, targets(p)...)
		if len(p) < 2 {
			break
		}
		page.AfterCreated, page.AfterID = p[len(p)-1].At, p[len(p)-1].ID
	}
	if want := []string{"t1", "t3", "t5", "t7"}; !slices.Equal(got, want) {
		t.Errorf("paged %q, want %q", got, want)
	}

	// Events are listed by (At, ID): one appended later with an earlier time comes first, and
	// FromID keeps what was written from an event on.
	late := []store.Event{{At: at(50), Action: "late", Target: "l1", Count: 1}, {At: at(40), Action: "late", Target: "l2", Count: 1}}
	if err := s.AppendEvents(ctx, late); err != nil {
		t.Fatal(err)
	}
	lates := allEvents(t, s, store.EventFilter{Action: "late"})
	if got := targets(lates); !slices.Equal(got, []string{"l2", "l1"}) {
		t.Errorf("events by (At, ID) = %q, want [l2 l1]", got)
	}
	if len(lates) == 2 {
		from := lates[1].ID // l1, written first
		if got := targets(allEvents(t, s, store.EventFilter{Action: "late", FromID: lates[0].ID})); !slices.Equal(got, []string{"l2"}) {
			t.Errorf("FromID l2 = %q, want [l2]", got)
		}
		if got := targets(allEvents(t, s, store.EventFilter{Action: "late", FromID: from})); !slices.Equal(got, []string{"l2", "l1"}) {
			t.Errorf("FromID l1 = %q, want [l2 l1]", got)
		}
		if lates[1].ID >= lates[0].ID {
			t.Errorf("IDs %q, %q: a later write must have a greater ID in byte order", lates[1].ID, lates[0].ID)
		}
	}

	// The default limit is 50.
	more := make([]store.Event, 60)
	for i := range more {
		more[i] = store.Event{At: at(100 + i), Action: "bulk", Count: 1}
	}
	if err := s.AppendEvents(ctx, more); err != nil {
		t.Fatal(err)
	}
	p, err := s.ListEvents(ctx, store.EventFilter{Action: "bulk"}, store.Page{})
	if err != nil || len(p) != 50 {
		t.Errorf("ListEvents(Limit 0) = %d events, %v; want 50", len(p), err)
	}
}

func testConcurrentWriters(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	mustCreateUser(t, s, newUser("u1", at(0)))
	mustTree(t, s, "org/acme")
	counter := newKey("counter", "", at(0))
	counter.Credits = &store.Credits{}
	mustCreateKey(t, s, counter)
	// Each writer creates keys and, in between, adds one credit to a shared key: a
	// read-modify-write that must neither fail (SQLITE_BUSY on a lock upgrade) nor lose an
	// update.
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers*each+writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				k := newKey(fmt.Sprintf("w%d-%02d", w, i), "u1", at(i))
				if err := s.CreateKey(ctx, k, keySecret(k, k.ID), nil, event("key.create", "key:"+k.ID)); err != nil {
					errs <- fmt.Errorf("CreateKey(%s): %w", k.ID, err)
				}
				_, err := s.UpdateKey(ctx, "counter", func(k *store.Key) error {
					k.Credits.Remaining++
					return nil
				}, store.Event{})
				if err != nil {
					errs <- fmt.Errorf("UpdateKey: %w", err)
				}
			}
		})
	}
	// A reader alongside the writers.
	wg.Go(func() {
		for range 20 {
			if _, err := s.ListKeys(ctx, store.KeyFilter{Owner: "u1"}, store.Page{Limit: 10}); err != nil {
				errs <- fmt.Errorf("ListKeys: %w", err)
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	keys, err := s.ListKeys(ctx, store.KeyFilter{Owner: "u1"}, store.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != writers*each {
		t.Errorf("%d keys, want %d", len(keys), writers*each)
	}
	if k, err := s.GetKey(ctx, "counter"); err != nil || k.Credits == nil || k.Credits.Remaining != writers*each {
		t.Errorf("counter = %+v, %v; want %d credits: an update was lost", k.Credits, err, writers*each)
	}
	if n := len(allEvents(t, s, store.EventFilter{Action: "key.create"})); n != writers*each+1 {
		t.Errorf("%d key.create events, want %d", n, writers*each+1)
	}
}

func testCancelledContext(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	mustCreateUser(t, s, newUser("u1", at(0)))
	k := newKey("k1", "u1", at(0))
	mustCreateKey(t, s, k)
	mustTree(t, s, "org/acme")
	if _, err := s.PutGrant(t.Context(), store.Grant{Resource: "org/acme", Principal: "user:u1", Role: "admin", CreatedAt: at(0)}, nil, store.Event{}); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := []struct {
		name string
		do   func() error
	}{
		{"Ping", func() error { return s.Ping(ctx) }},
		{"GetUser", func() error { _, err := s.GetUser(ctx, "u1"); return err }},
		{"ListUsers", func() error { _, err := s.ListUsers(ctx, store.Page{}); return err }},
		{"CreateUser", func() error { return s.CreateUser(ctx, newUser("u2", at(0)), event("user.create", "user:u2")) }},
		{"UpdateUser", func() error {
			_, err := s.UpdateUser(ctx, "u1", func(*store.User) error { return nil }, event("user.update", "user:u1"))
			return err
		}},
		{"GetKey", func() error { _, err := s.GetKey(ctx, "k1"); return err }},
		{"ListKeys", func() error { _, err := s.ListKeys(ctx, store.KeyFilter{}, store.Page{}); return err }},
		{"CreateKey", func() error {
			k2 := newKey("k2", "u1", at(0))
			return s.CreateKey(ctx, k2, keySecret(k2, "k2"), nil, event("key.create", "key:k2"))
		}},
		{"DeleteKey", func() error { _, err := s.DeleteKey(ctx, "k1", event("key.revoke", "key:k1")); return err }},
		{"TouchKeys", func() error { return s.TouchKeys(ctx, map[string]time.Time{"k1": at(9)}) }},
		{"Resolve", func() error { _, err := s.Resolve(ctx, hash("secret:k1")); return err }},
		{"AppendEvents", func() error { return s.AppendEvents(ctx, []store.Event{event("x", "y")}) }},
		{"ListEvents", func() error { _, err := s.ListEvents(ctx, store.EventFilter{}, store.Page{}); return err }},
		{"CreateResource", func() error {
			return s.CreateResource(ctx, newResource("org/new", "", at(0)), resEvent("resource.create", "org/new"))
		}},
		{"GetResource", func() error { _, err := s.GetResource(ctx, "org/acme"); return err }},
		{"ListResources", func() error {
			_, err := s.ListResources(ctx, store.ResourceFilter{Within: []string{"org/acme"}}, store.Page{})
			return err
		}},
		{"UpdateResource", func() error {
			_, err := s.UpdateResource(ctx, "org/acme", func(*store.Resource) error { return nil }, nil, resEvent("resource.update", "org/acme"))
			return err
		}},
		{"DeleteResource", func() error {
			_, err := s.DeleteResource(ctx, "org/acme", nil, resEvent("resource.delete", "org/acme"))
			return err
		}},
		{"PutGrant", func() error {
			_, err := s.PutGrant(ctx, store.Grant{Resource: "org/acme", Principal: "user:u2", Role: "member", CreatedAt: at(0)}, nil, event("grant.put", "x"))
			return err
		}},
		{"DeleteGrant", func() error { return s.DeleteGrant(ctx, "org/acme", "user:u1", nil, event("grant.delete", "x")) }},
		{"ListGrants", func() error { _, err := s.ListGrants(ctx, "org/acme", store.Page{}); return err }},
		{"GrantsOf", func() error { _, err := s.GrantsOf(ctx, "user:u1"); return err }},
		{"PurgeExpired", func() error { _, err := s.PurgeExpired(ctx, at(0)); return err }},
		{"InstanceKey", func() error { _, err := s.InstanceKey(ctx); return err }},
	}
	for _, c := range calls {
		done := make(chan error, 1)
		go func() { done <- c.do() }()
		timer := time.NewTimer(10 * time.Second)
		select {
		case err := <-done:
			timer.Stop()
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a cancelled context: err = %v, want one wrapping context.Canceled", c.name, err)
			}
		case <-timer.C:
			t.Fatalf("%s with a cancelled context hangs", c.name)
		}
	}
	// Nothing changed.
	if _, err := s.GetUser(t.Context(), "u2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUser(u2) = %v: a cancelled CreateUser stored it", err)
	}
	if _, err := s.GetKey(t.Context(), "k1"); err != nil {
		t.Errorf("GetKey(k1) = %v: a cancelled DeleteKey deleted it", err)
	}
	if _, err := s.GetResource(t.Context(), "org/acme"); err != nil {
		t.Errorf("GetResource(org/acme) = %v: a cancelled DeleteResource deleted it", err)
	}
	if gs := grantsOf(t, s, "user:u1"); len(gs) != 1 {
		t.Errorf("grants of user:u1 = %+v: a cancelled change touched them", gs)
	}
}
