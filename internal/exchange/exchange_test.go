package exchange

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/authn"
	"github.com/lanyardhq/lanyard/internal/authz"
	"github.com/lanyardhq/lanyard/internal/cache"
	"github.com/lanyardhq/lanyard/internal/config"
	"github.com/lanyardhq/lanyard/internal/store"
	"github.com/lanyardhq/lanyard/internal/store/sqlite"
)

func TestIssueAndCheck(t *testing.T) {
	ctx := t.Context()
	db, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st := cache.New(db, cache.Options{})
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, r := range []store.Resource{{Type: "event", ID: "e1"}, {Type: "event", ID: "e2"},
		{Type: "collaborator", ID: "c1", Parent: "event/e1"}, {Type: "collaborator", ID: "c2", Parent: "event/e2"}} {
		if err := st.CreateResource(ctx, r, store.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CreateUser(ctx, store.User{ID: "u", Email: "u@example.com"}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"event/e1", "event/e2"} {
		if _, err := st.PutGrant(ctx, store.Grant{Resource: ref, Principal: "user:u", Role: "observer"}, nil, store.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	az := authz.New(st, st, config.BuiltinRoles())
	s := New(st, az, map[string]config.Exchange{
		"event":        {Path: "/Events/{id}/authorize", Header: "x-Event-Token", TTL: time.Hour},
		"collaborator": {Path: "/Collaborators/{id}/authorize", Header: "x-Collaborator-Token", Requires: "event", TTL: time.Hour},
	}, "lt", func() time.Time { return now })
	key := &authn.Identity{Type: authn.TypeKey, ID: "k1", UserID: "u"}
	other := &authn.Identity{Type: authn.TypeKey, ID: "k2", UserID: "u"}
	issue := func(id *authn.Identity, typ, rid string, h http.Header) (Issued, error) {
		return s.Issue(ctx, id, typ, rid, h, store.Event{})
	}
	ev, err := issue(key, "event", "e1", nil)
	if err != nil {
		t.Fatal(err)
	}
	ev2, err := issue(key, "event", "e2", nil)
	if err != nil {
		t.Fatal(err)
	}
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	co, err := issue(key, "collaborator", "c1", hdr("x-Event-Token", ev.Token))
	if err != nil {
		t.Fatal(err)
	}
	// A second token for the same event and credential: a valid parent, but not co's.
	evAgain, err := issue(key, "event", "e1", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Issuing refusals.
	for _, tt := range []struct {
		name     string
		id       *authn.Identity
		typ, id2 string
		h        http.Header
		want     error
	}{
		{"no parent token", key, "collaborator", "c1", nil, nil},
		{"the parent of another event", key, "collaborator", "c1", hdr("x-Event-Token", ev2.Token), ErrWrongFor},
		{"a parent of another credential", other, "collaborator", "c1", hdr("x-Event-Token", ev.Token), ErrWrongFor},
		{"not an exchange type", key, "area", "a1", nil, ErrNoType},
	} {
		_, err := issue(tt.id, tt.typ, tt.id2, tt.h)
		if tt.want == nil {
			if !IsMissing(err) {
				t.Errorf("%s: %v, want the missing-token refusal", tt.name, err)
			}
			continue
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	// Checking what a route needs: each refusal is the one that says why.
	both := []string{"event", "collaborator"}
	for _, tt := range []struct {
		name     string
		id       *authn.Identity
		h        http.Header
		types    []string
		resource string
		want     error // nil: allowed
	}{
		{"the event token for its event", key, hdr("x-Event-Token", ev.Token), []string{"event"}, "event/e1", nil},
		{"the event token below its event", key, hdr("x-Event-Token", ev.Token), []string{"event"}, "collaborator/c1", nil},
		{"the event token for another event", key, hdr("x-Event-Token", ev.Token), []string{"event"}, "event/e2", ErrWrongFor},
		{"the chain for its collaborator", key, hdr("x-Event-Token", ev.Token, "x-Collaborator-Token", co.Token), both, "collaborator/c1", nil},
		{"the chain with another event's token", key, hdr("x-Event-Token", ev2.Token, "x-Collaborator-Token", co.Token), both, "collaborator/c1", ErrWrongFor},
		{"the chain with a sibling of its event token", key, hdr("x-Event-Token", evAgain.Token, "x-Collaborator-Token", co.Token), both, "collaborator/c1", ErrWrongFor},
		{"the chain with another credential", other, hdr("x-Event-Token", ev.Token, "x-Collaborator-Token", co.Token), both, "collaborator/c1", ErrWrongFor},
		{"a token in the wrong header", key, hdr("x-Event-Token", co.Token), []string{"event"}, "event/e1", ErrWrongFor},
		{"a missing token", key, hdr("x-Event-Token", ev.Token), both, "collaborator/c1", ErrMissing},
	} {
		err := s.Check(ctx, tt.id, tt.h, tt.types, tt.resource)
		if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: %v (%T), want %v", tt.name, err, err, tt.want)
		}
	}
	// Revoking the event token ends the collaborator token below it; another credential may not.
	if err := s.Revoke(ctx, other, ev.Token, store.Event{}); !errors.Is(err, ErrWrongFor) {
		t.Errorf("revoke by another credential: %v", err)
	}
	if err := s.Revoke(ctx, key, ev.Token, store.Event{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx, key, hdr("x-Event-Token", ev.Token, "x-Collaborator-Token", co.Token), both, "collaborator/c1"); err == nil {
		t.Error("the chain works after its event token was revoked")
	}
	// Expiry.
	now = now.Add(time.Hour)
	if err := s.Check(ctx, key, hdr("x-Event-Token", ev2.Token), []string{"event"}, "event/e2"); !errors.Is(err, ErrExpired) {
		t.Errorf("an hour later: %v, want ErrExpired", err)
	}
}
