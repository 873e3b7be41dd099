// Package storetest is the one conformance suite for store.Store: every backend runs it, and
// a backend is done when it passes all of it. The suite uses nothing but the store.Store
// interface, so a new backend runs it unchanged:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := Open(t.Context(), t.TempDir())
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Besides what store.go says of each method, the suite pins down these promises:
//
//   - Times come back in UTC, truncated to the second.
//   - Lists are ordered by (CreatedAt, ID in byte order) and return the records strictly after
//     (Page.AfterCreated, Page.AfterID); a Limit that is not positive means 50. ListEvents is
//     ordered by write order and Page.AfterID is the ID of the last event seen. ListResources
//     is ordered by (CreatedAt, ID, Type) and Page.AfterID is a "type/id"; ListGrants by
//     (CreatedAt, Principal) and Page.AfterID is a principal.
//   - Every change writes its event (when ev.Action is not empty) in its transaction: a change
//     that fails writes none. DeleteKeys writes one event per deleted key, with Target
//     "key:<id>" and, when the template has none, the key's resource.
//   - nil Metadata, AllowedCIDRs, Credits and time pointers read back as nil; an empty non-nil
//     map or slice may read back as nil.
//   - A cancelled context makes a call fail with an error that wraps context.Canceled.
//   - Deleting a key, a user or a resource deletes every grant that names it, so a new record
//     with the same id inherits nothing; a deleted key's usage hours go with it.
package storetest

import (
	"crypto/sha256"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

// Run runs every conformance case as a subtest. newStore must return a new, empty store and
// arrange (with t.Cleanup) for it to be closed; it is called at least once per subtest.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, newStore func(t *testing.T) store.Store)
	}{
		{"Ping", testPing},
		{"UserRoundTrip", testUserRoundTrip},
		{"UserConflicts", testUserConflicts},
		{"UnicodeEmails", testUnicodeEmails},
		{"UpdateUser", testUpdateUser},
		{"DeleteUser", testDeleteUser},
		{"ListUsers", testListUsers},
		{"ListDefaultLimit", testListDefaultLimit},
		{"KeyRoundTrip", testKeyRoundTrip},
		{"KeyConflicts", testKeyConflicts},
		{"UpdateKey", testUpdateKey},
		{"DeleteKey", testDeleteKey},
		{"DeleteKeys", testDeleteKeys},
		{"ListKeys", testListKeys},
		{"ReissueKey", testReissueKey},
		{"ReissueKeyErrors", testReissueKeyErrors},
		{"TouchKeys", testTouchKeys},
		{"AddUsage", testAddUsage},
		{"UsageOf", testUsageOf},
		{"UsageGoesWithKey", testUsageGoesWithKey},
		{"BusinessKeyGrant", testBusinessKeyGrant},
		{"CreateToken", testCreateToken},
		{"DeleteTokens", testDeleteTokens},
		{"SetAdmin", testSetAdmin},
		{"Bootstrap", testBootstrap},
		{"ResourceRoundTrip", testResourceRoundTrip},
		{"ResourceConflicts", testResourceConflicts},
		{"ListResources", testListResources},
		{"UpdateResource", testUpdateResource},
		{"DeleteResource", testDeleteResource},
		{"Grants", testGrants},
		{"ReusedIDsInheritNothing", testReusedIDsInheritNothing},
		{"ResourceEvents", testResourceEvents},
		{"EventsWithChanges", testEventsWithChanges},
		{"FailedChangesWriteNoEvent", testFailedChangesWriteNoEvent},
		{"ListEvents", testListEvents},
		{"ConcurrentWriters", testConcurrentWriters},
		{"CancelledContext", testCancelledContext},
		{"Guards", testGuards},
		{"ChangePassword", testChangePassword},
		{"CountKeys", testCountKeys},
		{"DeleteResourceDetail", testDeleteResourceDetail},
		{"Revoked", testRevoked},
		{"ScopedTokens", testScopedTokens},
		{"WriteCredits", testWriteCredits},
		{"InstanceKey", testInstanceKey},
		{"PurgeExpired", testPurgeExpired},
		{"PurgeUsage", testPurgeUsage},
		{"ExportImport", testExportImport},
		{"Sessions", testSessions},
		{"SessionsEndWithUser", testSessionsEndWithUser},
		{"Nodes", testNodes},
		{"RevocationLog", testRevocationLog},
		{"RevocationTail", testRevocationTail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore) })
	}
}

// RunReopen runs the conformance cases that close a store and open it again. newPlace returns a
// new, empty place to keep a store (a directory for SQLite, a database for PostgreSQL); open
// opens the store kept at place, creating it when it is new, and arranges (with t.Cleanup) for
// it to be closed. A case closes the store open returned before it opens the place again.
func RunReopen(t *testing.T, newPlace func(t *testing.T) string, open func(t *testing.T, place string) store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, newPlace func(t *testing.T) string, open func(t *testing.T, place string) store.Store)
	}{
		{"InstanceKeyKept", testInstanceKeyKept},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newPlace, open) })
	}
}

// base is a time in a zone other than UTC: stores must return times in UTC.
var base = time.Date(2031, 3, 4, 5, 6, 7, 0, time.FixedZone("UTC+1", 3600))

// at returns base plus n seconds plus a fraction of a second that stores must drop.
func at(n int) time.Time {
	return base.Add(time.Duration(n)*time.Second + 123456789)
}

// sec is what a store returns for a time: UTC, truncated to the second.
func sec(t time.Time) time.Time { return t.Truncate(time.Second).UTC() }

func secPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := sec(*t)
	return &v
}

func ptr[T any](v T) *T { return &v }

func hash(s string) store.Hash { return sha256.Sum256([]byte(s)) }

func event(action, target string) store.Event {
	return store.Event{At: at(0), Actor: "user:root", Credential: "admin:t0", Action: action, Target: target,
		Result: "success", IP: "192.0.2.1", Count: 1}
}

func newUser(id string, created time.Time) store.User {
	email := "  " + id + "@Example.COM"
	return store.User{ID: id, Email: email, EmailNorm: store.NormalizeEmail(email), Name: "User " + id,
		PasswordHash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA", CreatedAt: created, UpdatedAt: created}
}

func mustCreateUser(t *testing.T, s store.Store, u store.User) {
	t.Helper()
	if err := s.CreateUser(t.Context(), u, event("user.create", "user:"+u.ID)); err != nil {
		t.Fatalf("CreateUser(%s): %v", u.ID, err)
	}
}

// newKey is a minimal personal key of owner (a business key of org/acme when owner is empty).
func newKey(id, owner string, created time.Time) store.Key {
	k := store.Key{ID: id, Name: "key " + id, Format: store.FormatToken, Prefix: "lk_" + id, Owner: owner,
		CreatedAt: created, CreatedBy: "user:root"}
	if owner == "" {
		k.Resource, k.Role = "org/acme", "member"
	}
	return k
}

func keySecret(k store.Key, seed string) store.Secret {
	kind := store.KindKeyToken
	if k.Format == store.FormatKeySecret {
		kind = store.KindKeySecret
	}
	return store.Secret{Hash: hash(seed), Kind: kind, ID: k.ID, CreatedAt: k.CreatedAt}
}

// mustCreateKey creates k with a secret whose hash is hash("secret:"+k.ID) and returns it.
func mustCreateKey(t *testing.T, s store.Store, k store.Key) store.Secret {
	t.Helper()
	sec := keySecret(k, "secret:"+k.ID)
	if err := s.CreateKey(t.Context(), k, sec, nil, event("key.create", "key:"+k.ID)); err != nil {
		t.Fatalf("CreateKey(%s): %v", k.ID, err)
	}
	return sec
}

// resEvent is event(action, ref) for a change of the resource ref (its Resource set).
func resEvent(action, ref string) store.Event {
	ev := event(action, ref)
	ev.Resource = ref
	return ev
}

// newResource is the resource ref ("type/id") below parent ("" for a root).
func newResource(ref, parent string, created time.Time) store.Resource {
	typ, id, _ := strings.Cut(ref, "/")
	return store.Resource{Type: typ, ID: id, Name: "Resource " + ref, Parent: parent, CreatedAt: created}
}

func mustCreateResource(t *testing.T, s store.Store, r store.Resource) {
	t.Helper()
	if err := s.CreateResource(t.Context(), r, resEvent("resource.create", r.Ref())); err != nil {
		t.Fatalf("CreateResource(%s): %v", r.Ref(), err)
	}
}

// mustTree creates resources, in order, all at at(0); each is "type/id" for a root or
// "type/id < parent/ref" for a child.
func mustTree(t *testing.T, s store.Store, specs ...string) {
	t.Helper()
	for _, spec := range specs {
		ref, parent, _ := strings.Cut(spec, " < ")
		mustCreateResource(t, s, newResource(ref, parent, at(0)))
	}
}

func newToken(id, kind, userID string, created time.Time) store.Token {
	return store.Token{ID: id, Kind: kind, UserID: userID, Hash: hash("token:" + id), CreatedAt: created}
}

func mustCreateToken(t *testing.T, s store.Store, tok store.Token) {
	t.Helper()
	if err := s.CreateToken(t.Context(), tok, event("token.create", tok.Kind+":"+tok.ID)); err != nil {
		t.Fatalf("CreateToken(%s): %v", tok.ID, err)
	}
}

// wantErr fails unless err wraps want.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: err = %v, want %v", what, err, want)
	}
}

// wantPlainErr fails unless err is an error that is none of the store's sentinels.
func wantPlainErr(t *testing.T, what string, err error) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s: no error, want one", what)
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrUnavailable),
		errors.Is(err, store.ErrInvalid):
		t.Errorf("%s: err = %v, want an error that is no sentinel", what, err)
	}
}

func mustResolve(t *testing.T, s store.Store, h store.Hash) store.Resolved {
	t.Helper()
	r, err := s.Resolve(t.Context(), h)
	if err != nil {
		t.Fatalf("Resolve(%x…): %v", h[:4], err)
	}
	return r
}

func wantUnresolved(t *testing.T, s store.Store, what string, h store.Hash) {
	t.Helper()
	_, err := s.Resolve(t.Context(), h)
	wantErr(t, "Resolve("+what+")", err, store.ErrNotFound)
}

// allEvents returns every event matching f, following pages of 7.
func allEvents(t *testing.T, s store.Store, f store.EventFilter) []store.Event {
	t.Helper()
	var out []store.Event
	seen := map[string]bool{}
	page := store.Page{Limit: 7}
	for {
		evs, err := s.ListEvents(t.Context(), f, page)
		if err != nil {
			t.Fatalf("ListEvents: %v", err)
		}
		for _, e := range evs {
			if seen[e.ID] {
				t.Fatalf("ListEvents(%+v) returned event %s twice", page, e.ID)
			}
			seen[e.ID] = true
		}
		out = append(out, evs...)
		if len(evs) < page.Limit {
			return out
		}
		page.AfterCreated, page.AfterID = evs[len(evs)-1].At, evs[len(evs)-1].ID
	}
}

func countEvents(t *testing.T, s store.Store) int {
	t.Helper()
	return len(allEvents(t, s, store.EventFilter{}))
}

// actions lists the actions of evs, in order.
func actions(evs []store.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Action)
	}
	return out
}

// checkTime fails unless got is want in UTC.
func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("%s = %v, want %v (UTC)", what, got, want)
	}
}

func checkTimePtr(t *testing.T, what string, got, want *time.Time) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		t.Errorf("%s = %v, want %v", what, got, want)
	default:
		checkTime(t, what, *got, *want)
	}
}

// checkUser compares users; want's times must already be what the store returns.
func checkUser(t *testing.T, got, want store.User) {
	t.Helper()
	checkTime(t, "user "+want.ID+" CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, "user "+want.ID+" UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("user %s:\n got %+v\nwant %+v", want.ID, got, want)
	}
}

// storedUser is u as a store returns it.
func storedUser(u store.User) store.User {
	u.CreatedAt, u.UpdatedAt = sec(u.CreatedAt), sec(u.UpdatedAt)
	return u
}

// storedKey is k as a store returns it.
func storedKey(k store.Key) store.Key {
	k.CreatedAt = sec(k.CreatedAt)
	k.ExpiresAt, k.LastUsedAt = secPtr(k.ExpiresAt), secPtr(k.LastUsedAt)
	return k
}

// checkKey compares keys; want's times must already be what the store returns.
func checkKey(t *testing.T, got, want store.Key) {
	t.Helper()
	checkTime(t, "key "+want.ID+" CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTimePtr(t, "key "+want.ID+" ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	checkTimePtr(t, "key "+want.ID+" LastUsedAt", got.LastUsedAt, want.LastUsedAt)
	got.CreatedAt, got.ExpiresAt, got.LastUsedAt = time.Time{}, nil, nil
	want.CreatedAt, want.ExpiresAt, want.LastUsedAt = time.Time{}, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("key %s:\n got %+v\nwant %+v", want.ID, got, want)
	}
}

// storedResource is r as a store returns it.
func storedResource(r store.Resource) store.Resource {
	r.CreatedAt = sec(r.CreatedAt)
	return r
}

// checkResource compares resources; want's time must already be what the store returns.
func checkResource(t *testing.T, got, want store.Resource) {
	t.Helper()
	checkTime(t, "resource "+want.Ref()+" CreatedAt", got.CreatedAt, want.CreatedAt)
	got.CreatedAt, want.CreatedAt = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("resource %s:\n got %+v\nwant %+v", want.Ref(), got, want)
	}
}

// checkGrants compares lists of grants, in order; want's times must already be what the store
// returns.
func checkGrants(t *testing.T, what string, got, want []store.Grant) {
	t.Helper()
	for _, g := range got {
		if g.CreatedAt.Location() != time.UTC {
			t.Errorf("%s: grant %+v: CreatedAt not in UTC", what, g)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
		return
	}
	for i := range got {
		if got[i].Resource != want[i].Resource || got[i].Principal != want[i].Principal ||
			got[i].Role != want[i].Role || !got[i].CreatedAt.Equal(want[i].CreatedAt) {
			t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
			return
		}
	}
}

// grantsOf is s.GrantsOf(principal), sorted by resource.
func grantsOf(t *testing.T, s store.Store, principal string) []store.Grant {
	t.Helper()
	gs, err := s.GrantsOf(t.Context(), principal)
	if err != nil {
		t.Fatalf("GrantsOf(%s): %v", principal, err)
	}
	slices.SortFunc(gs, func(a, b store.Grant) int { return strings.Compare(a.Resource, b.Resource) })
	return gs
}

// grantsOn is every grant on resource, following pages of 2.
func grantsOn(t *testing.T, s store.Store, resource string) []store.Grant {
	t.Helper()
	var out []store.Grant
	page := store.Page{Limit: 2}
	for range 100 {
		gs, err := s.ListGrants(t.Context(), resource, page)
		if err != nil {
			t.Fatalf("ListGrants(%s): %v", resource, err)
		}
		if len(gs) > page.Limit {
			t.Fatalf("ListGrants(%s): page of %d, limit %d", resource, len(gs), page.Limit)
		}
		out = append(out, gs...)
		if len(gs) < page.Limit {
			break
		}
		page.AfterCreated, page.AfterID = gs[len(gs)-1].CreatedAt, gs[len(gs)-1].Principal
	}
	return out
}

// refs lists the refs of rs, in order.
func refs(rs []store.Resource) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Ref())
	}
	return out
}

// checkSecret compares a resolved secret row; want's times must already be what the store
// returns. Prefix is not stored with secrets and is not compared.
func checkSecret(t *testing.T, got, want store.Secret) {
	t.Helper()
	checkTime(t, "secret CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTimePtr(t, "secret ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	got.CreatedAt, got.ExpiresAt, got.Prefix = time.Time{}, nil, ""
	want.CreatedAt, want.ExpiresAt, want.Prefix = time.Time{}, nil, ""
	if got != want {
		t.Errorf("secret:\n got %+v\nwant %+v", got, want)
	}
}

// sameSet fails unless got and want hold the same strings, in any order.
func sameSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func sameHashes(t *testing.T, what string, got, want []store.Hash) {
	t.Helper()
	key := func(hs []store.Hash) []string {
		var out []string
		for _, h := range hs {
			out = append(out, string(h[:]))
		}
		return out
	}
	g, w := key(got), key(want)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("%s: got %d hashes %x, want %d %x", what, len(got), got, len(want), want)
	}
}

func testPing(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// mustUsers creates users with the given ids (grants need their principal to exist).
func mustUsers(t *testing.T, s store.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := s.CreateUser(t.Context(), newUser(id, at(0)), store.Event{}); err != nil {
			t.Fatalf("CreateUser(%s): %v", id, err)
		}
	}
}
