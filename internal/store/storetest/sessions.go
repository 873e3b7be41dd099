package storetest

import (
	"testing"

	"github.com/lanyardhq/lanyard/internal/store"
)

// newSession is a console session of userID whose token hashes to hash("session:"+id), made at
// created and working for an hour.
func newSession(id, userID string, created int) store.Session {
	return store.Session{ID: id, UserID: userID, Hash: hash("session:" + id), CreatedAt: at(created), ExpiresAt: at(created + 3600)}
}

func mustCreateSession(t *testing.T, s store.Store, sess store.Session) {
	t.Helper()
	if err := s.CreateSession(t.Context(), sess, event("user.login", "session:"+sess.ID)); err != nil {
		t.Fatalf("CreateSession(%s): %v", sess.ID, err)
	}
}

// wantSession fails unless the session id still resolves; wantNoSession unless it does not.
func wantSession(t *testing.T, s store.Store, id string) {
	t.Helper()
	if _, err := s.ResolveSession(t.Context(), hash("session:"+id)); err != nil {
		t.Errorf("session %s: %v, want it to resolve", id, err)
	}
}

func wantNoSession(t *testing.T, s store.Store, what, id string) {
	t.Helper()
	_, err := s.ResolveSession(t.Context(), hash("session:"+id))
	wantErr(t, what+": ResolveSession("+id+")", err, store.ErrNotFound)
}

// testSessions: console sessions round-trip by hash, refuse what CreateToken refuses, are never
// a credential, and end with a sign-out, an expiry purge, or their user.
func testSessions(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	u := newUser("u1", at(0))
	mustCreateUser(t, s, u)
	mustCreateUser(t, s, newUser("u2", at(0)))

	sess := newSession("s1", "u1", 10)
	sess.IssuedAgainst = u.PasswordHash
	mustCreateSession(t, s, sess)
	got, err := s.ResolveSession(ctx, sess.Hash)
	if err != nil {
		t.Fatalf("ResolveSession: %v", err)
	}
	want := store.Session{ID: "s1", UserID: "u1", Hash: sess.Hash, CreatedAt: sec(sess.CreatedAt), ExpiresAt: sec(sess.ExpiresAt)}
	if got != want {
		t.Errorf("ResolveSession = %+v, want %+v", got, want)
	}
	if evs := allEvents(t, s, store.EventFilter{Target: "session:s1"}); len(evs) != 1 || evs[0].Action != "user.login" {
		t.Errorf("CreateSession wrote events %v, want one user.login", actions(evs))
	}
	_, err = s.ResolveSession(ctx, hash("nothing"))
	wantErr(t, "ResolveSession(unknown)", err, store.ErrNotFound)
	// A session is no credential: the resolver of API credentials never finds one.
	wantUnresolved(t, s, "a session's hash", sess.Hash)

	before := countEvents(t, s)
	err = s.CreateSession(ctx, newSession("s9", "ghost", 0), event("user.login", "session:s9"))
	wantErr(t, "CreateSession(no such user)", err, store.ErrNotFound)
	dupID := newSession("s1", "u1", 0)
	dupID.Hash = hash("another")
	err = s.CreateSession(ctx, dupID, event("user.login", "session:s1"))
	wantErr(t, "CreateSession(a taken id)", err, store.ErrConflict)
	dupHash := newSession("s8", "u1", 0)
	dupHash.Hash = sess.Hash
	err = s.CreateSession(ctx, dupHash, event("user.login", "session:s8"))
	wantErr(t, "CreateSession(a taken hash)", err, store.ErrConflict)
	stale := newSession("s7", "u1", 0)
	stale.IssuedAgainst = "not the stored hash"
	err = s.CreateSession(ctx, stale, event("user.login", "session:s7"))
	wantErr(t, "CreateSession(a password that changed)", err, store.ErrChanged)
	if n := countEvents(t, s); n != before {
		t.Errorf("refused CreateSession calls wrote %d events", n-before)
	}
	wantNoSession(t, s, "a refused CreateSession", "s7")

	// Sign-out.
	mustCreateSession(t, s, newSession("s2", "u1", 20))
	if err := s.DeleteSession(ctx, "s2", event("user.logout", "session:s2")); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	wantNoSession(t, s, "after DeleteSession", "s2")
	wantSession(t, s, "s1")
	before = countEvents(t, s)
	wantErr(t, "DeleteSession(again)", s.DeleteSession(ctx, "s2", event("user.logout", "session:s2")), store.ErrNotFound)
	if err := s.DeleteSession(ctx, "s1", store.Event{}); err != nil {
		t.Fatalf("DeleteSession without an event: %v", err)
	}
	if n := countEvents(t, s); n != before {
		t.Errorf("DeleteSession without an action, and a refused one, wrote %d events", n-before)
	}

	// Expired sessions still resolve (the caller tells), until PurgeExpired deletes them.
	mustCreateSession(t, s, newSession("old", "u2", -7200))
	mustCreateSession(t, s, newSession("live", "u2", 0))
	if got, err := s.ResolveSession(ctx, hash("session:old")); err != nil || !got.ExpiresAt.Equal(sec(at(-3600))) {
		t.Errorf("ResolveSession(expired) = %+v, %v; want it, with its expiry", got, err)
	}
	if _, err := s.PurgeExpired(ctx, at(0)); err != nil {
		t.Fatal(err)
	}
	wantNoSession(t, s, "after PurgeExpired", "old")
	wantSession(t, s, "live")
}

// testSessionsEndWithUser: a user's sessions end when the user is deleted, demoted or given
// another password hash, and only then.
func testSessionsEndWithUser(t *testing.T, newStore func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	u := newUser("u1", at(0))
	mustCreateUser(t, s, u)
	mustCreateUser(t, s, newUser("u2", at(0)))
	mustCreateSession(t, s, newSession("other", "u2", 0))

	// Renaming, or saving the same password hash, ends nothing; promoting neither.
	mustCreateSession(t, s, newSession("a", "u1", 0))
	if _, err := s.UpdateUser(ctx, "u1", func(u *store.User) error { u.Name = "Renamed"; return nil }, event("user.update", "user:u1")); err != nil {
		t.Fatal(err)
	}
	tok := newToken("t1", store.KindAdmin, "u1", at(1))
	if _, _, err := s.SetAdmin(ctx, "u1", &tok, event("user.promote", "user:u1")); err != nil {
		t.Fatal(err)
	}
	wantSession(t, s, "a")

	if _, _, err := s.SetAdmin(ctx, "u1", nil, event("user.demote", "user:u1")); err != nil {
		t.Fatal(err)
	}
	wantNoSession(t, s, "after a demotion", "a")

	mustCreateSession(t, s, newSession("b", "u1", 0))
	const fresh = "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$bmV3"
	if _, _, err := s.ChangePassword(ctx, "u1", u.PasswordHash, fresh, "", at(2), event("user.update", "user:u1")); err != nil {
		t.Fatal(err)
	}
	wantNoSession(t, s, "after ChangePassword", "b")

	mustCreateSession(t, s, newSession("c", "u1", 0))
	if _, err := s.UpdateUser(ctx, "u1", func(u *store.User) error { u.PasswordHash = u.PasswordHash + "x"; return nil }, event("user.update", "user:u1")); err != nil {
		t.Fatal(err)
	}
	wantNoSession(t, s, "after UpdateUser changed the password hash", "c")

	mustCreateSession(t, s, newSession("d", "u1", 0))
	if _, err := s.DeleteUser(ctx, "u1", event("user.delete", "user:u1")); err != nil {
		t.Fatalf("DeleteUser of a user with a session: %v", err)
	}
	wantNoSession(t, s, "after DeleteUser", "d")
	wantSession(t, s, "other")
}
