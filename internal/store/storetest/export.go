package storetest

import (
	"errors"
	"iter"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

// exportAll is every record s.Export yields, in order.
func exportAll(t *testing.T, s store.Store) []store.Record {
	t.Helper()
	var out []store.Record
	if err := s.Export(t.Context(), func(r store.Record) error { out = append(out, r); return nil }); err != nil {
		t.Fatalf("Export: %v", err)
	}
	return out
}

// records yields recs, then err when it is not nil.
func records(recs []store.Record, err error) iter.Seq2[store.Record, error] {
	return func(yield func(store.Record, error) bool) {
		for _, r := range recs {
			if !yield(r, nil) {
				return
			}
		}
		if err != nil {
			yield(store.Record{}, err)
		}
	}
}

// kindOf names the one field a record sets.
func kindOf(r store.Record) string {
	switch {
	case r.Meta != nil:
		return "meta"
	case r.User != nil:
		return "user"
	case r.Resource != nil:
		return "resource"
	case r.Key != nil:
		return "key"
	case r.Secret != nil:
		return "secret"
	case r.Revoked != nil:
		return "revoked"
	case r.Scoped != nil:
		return "scoped"
	case r.Grant != nil:
		return "grant"
	case r.Usage != nil:
		return "usage"
	case r.Event != nil:
		return "event"
	}
	return "empty"
}

// testExportImport: what Export reads, Import writes into another store as it was — ids,
// times, hashes, event IDs and ancestries — so that the second store exports the same records
// and answers as the first; Import refuses a store that is not empty and writes nothing when
// it fails.
func testExportImport(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	mustCreateUser(t, s, newUser("u1", at(0)))
	mustCreateUser(t, s, newUser("u2", at(1)))
	admin := newToken("a1", store.KindAdmin, "u1", at(2))
	if _, _, err := s.SetAdmin(ctx, "u1", &admin, event("user.promote", "user:u1")); err != nil {
		t.Fatal(err)
	}
	personal := newToken("p1", store.KindPersonal, "u2", at(2))
	personal.ExpiresAt = ptr(at(3600))
	mustCreateToken(t, s, personal)
	if _, err := s.InitBootstrap(ctx, newToken("bootstrap", store.KindBootstrap, "", at(0)), event("bootstrap.create", "bootstrap")); err != nil {
		t.Fatal(err)
	}
	// A child created before its parent moved under it: parents still come first.
	mustTree(t, s, "org/acme", "org/beta", "project/p1 < org/acme", "team/t1 < project/p1", "project/gone < org/acme")
	if _, err := s.UpdateResource(ctx, "org/beta", func(r *store.Resource) error { r.Parent = "team/t1"; return nil }, nil,
		resEvent("resource.update", "org/beta")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutGrant(ctx, store.Grant{Resource: "project/p1", Principal: "user:u2", Role: "member", CreatedAt: at(3)}, nil,
		resEvent("grant.put", "project/p1")); err != nil {
		t.Fatal(err)
	}
	full := store.Key{ID: "k1", Name: "deploy", Format: store.FormatToken, Owner: "u1", Resource: "org/acme", Role: "observer",
		Plan: "pro", Metadata: map[string]any{"team": "infra", "n": 3.5, "tags": []any{"a"}}, AllowedCIDRs: []string{"203.0.113.0/24"},
		Credits: &store.Credits{Remaining: 10, Refill: &store.Refill{Amount: 10, Interval: "day"}}, ExpiresAt: ptr(at(7200)),
		CreatedAt: at(4), CreatedBy: "user:u1"}
	mustCreateKey(t, s, full)
	mustCreateKey(t, s, newKey("b1", "", at(5))) // a business key of org/acme, with its grant
	pair := newKey("ks", "u2", at(6))
	pair.Format = store.FormatKeySecret
	mustCreateKey(t, s, pair)
	if _, _, err := s.ReissueKey(ctx, "ks", keySecret(pair, "ks new"), at(600), event("key.reissue", "key:ks")); err != nil {
		t.Fatal(err) // two live secrets, one expiring
	}
	if err := s.TouchKeys(ctx, map[string]time.Time{"k1": at(9)}); err != nil {
		t.Fatal(err)
	}
	mustCreateKey(t, s, newKey("kgone", "u1", at(7)))
	// Usage hours of keys that stay, and of one that goes (its hours go with it).
	if err := s.AddUsage(ctx, []store.UsageHour{use("k1", hourAt(1), 4, 1), use("k1", hourAt(0), 2, 0), use("b1", at(0), 1, 1),
		use("kgone", at(0), 7, 0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteKey(ctx, "kgone", event("key.revoke", "key:kgone")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteResource(ctx, "project/gone", nil, resEvent("resource.delete", "project/gone")); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvents(ctx, []store.Event{{At: at(8), Action: "credential.refused", Result: "refused", IP: "192.0.2.9", Count: 3,
		Resource: "team/t1", Detail: "unknown"}}); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []store.ScopedToken{newScoped("ev", "event", "event/e1", "", 3600), newScoped("co", "collaborator", "collaborator/c1", "ev", 3600)} {
		if err := s.CreateScopedToken(ctx, tok, event("token.exchange", "scoped:"+tok.ID)); err != nil {
			t.Fatal(err)
		}
	}

	recs := exportAll(t, s)
	order := []string{"meta", "user", "resource", "key", "secret", "revoked", "scoped", "grant", "usage", "event"}
	counts := map[string]int{}
	last := 0
	for _, r := range recs {
		k := kindOf(r)
		i := slices.Index(order, k)
		if i < last {
			t.Fatalf("Export yielded a %s after a %s", k, order[last])
		}
		last = i
		counts[k]++
	}
	want := map[string]int{"meta": 2, "user": 2, "resource": 4, "key": 3, "secret": 7, "revoked": 1, "scoped": 2, "grant": 2, "usage": 3,
		"event": len(allEvents(t, s, store.EventFilter{}))}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("Export yielded %v, want %v", counts, want)
	}
	var refs []string
	for _, r := range recs {
		if r.Resource != nil {
			refs = append(refs, r.Resource.Ref())
		}
	}
	if want := []string{"org/acme", "project/p1", "team/t1", "org/beta"}; !slices.Equal(refs, want) {
		t.Errorf("resources exported as %q, want parents first: %q", refs, want)
	}

	// Export's fn stops it with its error.
	errStop := errors.New("stop")
	n := 0
	if err := s.Export(ctx, func(store.Record) error { n++; return errStop }); !errors.Is(err, errStop) || n != 1 {
		t.Errorf("Export with a failing fn: %v after %d records", err, n)
	}

	d := newStore(t)
	if err := d.Import(ctx, records(recs, nil)); err != nil {
		t.Fatalf("Import: %v", err)
	}
	if got := exportAll(t, d); !reflect.DeepEqual(got, recs) {
		for i := range min(len(got), len(recs)) {
			if !reflect.DeepEqual(got[i], recs[i]) {
				t.Fatalf("the imported store exports other records: record %d is %s, want %s", i, show(got[i]), show(recs[i]))
			}
		}
		t.Fatalf("the imported store exports %d records, want %d", len(got), len(recs))
	}
	if a, b := instanceKey(t, s), instanceKey(t, d); !slices.Equal(a, b) {
		t.Error("the imported store has another instance key")
	}
	for _, h := range []store.Hash{hash("secret:k1"), hash("ks new"), hash("token:p1"), hash("token:a1")} {
		a, b := mustResolve(t, s, h), mustResolve(t, d, h)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("Resolve(%x…) = %+v, want %+v", h[:4], b, a)
		}
	}
	if _, err := d.Resolve(ctx, hash("secret:kgone")); !errors.Is(err, store.ErrRevoked) {
		t.Errorf("Resolve(a revoked key's secret) on the imported store = %v, want ErrRevoked", err)
	}
	if a, err := s.ResolveScoped(ctx, hash("scoped:co")); err != nil {
		t.Error(err)
	} else if b, err := d.ResolveScoped(ctx, hash("scoped:co")); err != nil || b != a {
		t.Errorf("ResolveScoped on the imported store = %+v, %v; want %+v", b, err, a)
	}
	for _, f := range []store.EventFilter{{Resource: "org/acme"}, {Resource: "team/t1"}, {Resource: "project/gone"}, {Actor: "user:root"}} {
		if a, b := allEvents(t, s, f), allEvents(t, d, f); !reflect.DeepEqual(a, b) {
			t.Errorf("ListEvents(%+v) on the imported store = %d events, want %d", f, len(b), len(a))
		}
	}
	checkUsage(t, "UsageOf(k1) on the imported store", usageOf(t, d, "k1", hourAt(-1), hourAt(2)), usageOf(t, s, "k1", hourAt(-1), hourAt(2)))
	if u, err := d.GetUserByEmail(ctx, "U1@example.com"); err != nil || u.ID != "u1" {
		t.Errorf("GetUserByEmail on the imported store = %+v, %v", u, err)
	}
	if ok, err := d.InitBootstrap(ctx, newToken("b2", store.KindBootstrap, "", at(9)), event("bootstrap.create", "bootstrap")); err != nil || ok {
		t.Errorf("InitBootstrap on the imported store = %v, %v; want false: it was bootstrapped", ok, err)
	}
	imported := allEvents(t, d, store.EventFilter{})
	if err := d.AppendEvents(ctx, []store.Event{{At: at(0), Action: "after.import", Count: 1}}); err != nil {
		t.Fatal(err)
	}
	after := allEvents(t, d, store.EventFilter{Action: "after.import"})
	if len(after) != 1 || after[0].ID <= imported[len(imported)-1].ID {
		t.Errorf("an event appended after Import has ID %v; want one after every imported ID (last %s)", after, imported[len(imported)-1].ID)
	}

	// A store that is not empty is refused, and left alone.
	before := exportAll(t, d)
	err := d.Import(ctx, records(recs, nil))
	wantErr(t, "Import into a store that is not empty", err, store.ErrConflict)
	if !reflect.DeepEqual(exportAll(t, d), before) {
		t.Error("a refused Import changed the store")
	}

	// A failing Import writes nothing: an error from the records, or a record that names what
	// comes nowhere before it.
	e := newStore(t)
	empty := exportAll(t, e)
	errRead := errors.New("reading the records failed")
	if err := e.Import(ctx, records(recs[:len(recs)-3], errRead)); !errors.Is(err, errRead) {
		t.Errorf("Import with a failing reader: %v, want its error", err)
	}
	var orphan []store.Record
	for _, r := range recs {
		if r.User == nil {
			orphan = append(orphan, r) // keys and secrets of users that do not exist
		}
	}
	if err := e.Import(ctx, records(orphan, nil)); err == nil {
		t.Error("Import of keys without their owners: no error")
	}
	// A setting that would leave a store no node can open, or one lanyard does not keep.
	for _, m := range []store.Meta{
		{Name: store.MetaInstanceKey, Value: "x"},
		{Name: store.MetaInstanceKey, Value: strings.Repeat("ab", 31)},
		{Name: store.MetaBootstrapped, Value: "yesterday"},
		{Name: "anything", Value: "1"},
	} {
		bad := append(slices.Clone(recs), store.Record{Meta: &m})
		if err := e.Import(ctx, records(bad, nil)); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Import with meta %s=%q: %v, want ErrInvalid", m.Name, m.Value, err)
		}
	}
	if _, err := e.InstanceKey(ctx); err != nil {
		t.Errorf("InstanceKey after refused imports: %v", err)
	}
	if !reflect.DeepEqual(exportAll(t, e), empty) {
		t.Error("a failed Import left records behind")
	}
}

// show is a record, for messages.
func show(r store.Record) string {
	switch {
	case r.Meta != nil:
		return "meta " + r.Meta.Name
	case r.User != nil:
		return "user " + r.User.ID
	case r.Resource != nil:
		return "resource " + r.Resource.Ref()
	case r.Key != nil:
		return "key " + r.Key.ID
	case r.Secret != nil:
		return "secret " + r.Secret.Kind + " " + r.Secret.ID
	case r.Revoked != nil:
		return "revoked hash"
	case r.Scoped != nil:
		return "scoped token " + r.Scoped.ID
	case r.Grant != nil:
		return "grant " + r.Grant.Principal + " on " + r.Grant.Resource
	case r.Usage != nil:
		return "usage of " + r.Usage.KeyID + " at " + r.Usage.Hour.String()
	case r.Event != nil:
		return "event " + r.Event.ID + " " + r.Event.Action
	}
	return "an empty record"
}
