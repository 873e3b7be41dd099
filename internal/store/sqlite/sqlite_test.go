package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
	"github.com/lanyardhq/lanyard/internal/store/storetest"
)

func open(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openOptions(t *testing.T, dir string, o options) *DB {
	t.Helper()
	db, err := openWith(t.Context(), dir, o)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, t.TempDir())
	})
}

func TestStoreReopen(t *testing.T) {
	storetest.RunReopen(t, func(t *testing.T) string { return t.TempDir() }, func(t *testing.T, dir string) store.Store {
		return open(t, dir)
	})
}

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	db := open(t, dir)
	// Write something so that the WAL and its index exist.
	u := store.User{ID: "u1", Email: "a@example.com", EmailNorm: "a@example.com", CreatedAt: time.Unix(1, 0)}
	if err := db.CreateUser(t.Context(), u, store.Event{}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, filepath.Dir(dir)} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o700 {
			t.Errorf("%s: mode %v, want 0700", d, got)
		}
	}
	for _, name := range []string{FileName, FileName + "-wal", FileName + "-shm"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, got)
		}
	}
}

func TestOddDirectoryName(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "what?is#this %20 dir")
	db := open(t, dir)
	if err := db.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Errorf("the database is not where it belongs: %v", err)
	}
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	db, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	u := store.User{ID: "u1", Email: "Ann@example.com", EmailNorm: "ann@example.com", Name: "Ann", CreatedAt: created, UpdatedAt: created}
	if err := db.CreateUser(ctx, u, store.Event{At: created, Action: "user.create", Target: "user:u1"}); err != nil {
		t.Fatal(err)
	}
	k := store.Key{ID: "k1", Format: store.FormatToken, Prefix: "lk_AbC123", Owner: "u1", Metadata: map[string]any{"a": "b"}, CreatedAt: created}
	h := store.Hash{1, 2, 3}
	if err := db.CreateKey(ctx, k, store.Secret{Hash: h, Kind: store.KindKeyToken, CreatedAt: created}, nil, store.Event{}); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.InitBootstrap(ctx, store.Token{ID: "bootstrap", Hash: store.Hash{9}, CreatedAt: created}, store.Event{}); err != nil || !ok {
		t.Fatalf("InitBootstrap = %v, %v", ok, err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	for i := range 2 {
		db, err = Open(ctx, dir)
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
		got, err := db.GetUserByEmail(ctx, "ann@example.com")
		if err != nil || got.Name != "Ann" || !got.CreatedAt.Equal(created) {
			t.Errorf("reopen %d: user %+v, %v", i, got, err)
		}
		res, err := db.Resolve(ctx, h)
		if err != nil || res.Key == nil || res.Key.Metadata["a"] != "b" {
			t.Errorf("reopen %d: Resolve = %+v, %v", i, res, err)
		}
		if ok, err := db.InitBootstrap(ctx, store.Token{ID: "bootstrap", Hash: store.Hash{8}, CreatedAt: created}, store.Event{}); err != nil || ok {
			t.Errorf("reopen %d: InitBootstrap = %v, %v; want false", i, ok, err)
		}
		evs, err := db.ListEvents(ctx, store.EventFilter{}, store.Page{})
		if err != nil || len(evs) != 1 {
			t.Errorf("reopen %d: %d events, %v", i, len(evs), err)
		}
		var versions int
		if err := db.r.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&versions); err != nil {
			t.Fatal(err)
		}
		ms, err := migrations()
		if err != nil {
			t.Fatal(err)
		}
		if versions != len(ms) {
			t.Errorf("reopen %d: %d rows in schema_migrations, want %d: a migration ran twice", i, versions, len(ms))
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	db, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(ctx, dir)
	if err == nil {
		db.Close()
		t.Fatal("Open accepted a database with a newer schema")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("err = %v, want it to say the schema is newer", err)
	}
}

func TestPragmas(t *testing.T) {
	ctx := t.Context()
	db := open(t, t.TempDir())
	tests := []struct {
		pool *sql.DB
		name string
		want int64
	}{
		{db.w, "foreign_keys", 1},
		{db.w, "synchronous", 2}, // FULL
		{db.w, "busy_timeout", busyTimeout.Milliseconds()},
		{db.r, "foreign_keys", 1},
		{db.r, "query_only", 1},
		{db.r, "busy_timeout", busyTimeout.Milliseconds()},
		{db.w, "query_only", 0},
	}
	for _, tt := range tests {
		var got int64
		if err := tt.pool.QueryRowContext(ctx, "PRAGMA "+tt.name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("%s = %d, want %d", tt.name, got, tt.want)
		}
	}
	// The read pool cannot write.
	_, err := db.r.ExecContext(ctx, "INSERT INTO meta (name, value) VALUES ('x', 'y')")
	if err == nil {
		t.Error("a write on the read pool succeeded")
	}
}

// TestSynchronousFull reads synchronous back on the writer and on every connection of the read
// pool, held at once so that each is a connection of its own: FULL (2) everywhere, so that an
// acknowledged change survives a power cut (CONTRACT §11.43). A store opened with NORMAL (the
// benchmark's baseline) reads back 1 everywhere: the setting reaches every connection, FULL is
// not merely SQLite's default.
func TestSynchronousFull(t *testing.T) {
	ctx := t.Context()
	for _, tt := range []struct {
		db   *DB
		want int
	}{
		{open(t, t.TempDir()), 2},
		{openOptions(t, t.TempDir(), options{synchronous: "NORMAL"}), 1},
	} {
		var conns []*sql.Conn
		for _, pool := range []*sql.DB{tt.db.w, tt.db.r, tt.db.r, tt.db.r, tt.db.r} {
			c, err := pool.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			conns = append(conns, c)
		}
		for i, c := range conns {
			var got int
			if err := c.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("connection %d (0 is the writer): synchronous = %d, want %d", i, got, tt.want)
			}
		}
	}
}

func TestErrorsAreMapped(t *testing.T) {
	ctx := t.Context()
	db := open(t, t.TempDir())
	u := store.User{ID: "u1", Email: "a@example.com"}
	if err := db.CreateUser(ctx, u, store.Event{}); err != nil {
		t.Fatal(err)
	}
	err := db.CreateUser(ctx, u, store.Event{})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	if strings.Contains(err.Error(), "constraint") {
		t.Errorf("err %q carries the driver's message", err)
	}
	if _, err := db.ListEvents(ctx, store.EventFilter{}, store.Page{AfterID: "not-a-seq"}); err == nil {
		t.Error("ListEvents accepted an AfterID that is no event id")
	}
	db.Close()
	if _, err := db.GetUser(context.Background(), "u1"); err == nil {
		t.Error("GetUser on a closed store succeeded")
	}
}

// TestMigrateFromVersion1 opens a database written before migration 0002: its keys may name
// resources that were never stored, and its events have no ancestry.
func TestMigrateFromVersion1(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	old, err := sql.Open("sqlite", dsn(filepath.Join(dir, FileName), nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT",
		ms[0].sql,
		"INSERT INTO schema_migrations VALUES (1, '" + ms[0].name + "', 0)",
		"INSERT INTO users (id, email, email_norm, created_at, updated_at) VALUES ('u1', 'a@example.com', 'a@example.com', 0, 0)",
		"INSERT INTO keys (id, format, owner, resource, role, created_at) VALUES ('k1', 'token', NULL, 'org/legacy', 'member', 1)",
		"INSERT INTO keys (id, format, owner, resource, created_at) VALUES ('k2', 'token', 'u1', 'org/legacy', 2)",
		"INSERT INTO secrets (hash, kind, id, created_at) VALUES (zeroblob(32), 'key_token', 'k1', 1)",
		"INSERT INTO events (at, action, resource) VALUES (1, 'old.one', 'org/legacy'), (2, 'old.two', 'project/p1'), (3, 'old.three', '')",
	} {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	old.Close()

	db := open(t, dir)
	var version int
	if err := db.r.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&version); err != nil || version != len(ms) {
		t.Fatalf("schema version %d (%v), want %d", version, err, len(ms))
	}
	// Old events are found by their exact resource, and only so.
	mustCreate(t, db.CreateResource(ctx, store.Resource{Type: "org", ID: "acme", CreatedAt: time.Unix(5, 0)}, store.Event{}))
	mustCreate(t, db.CreateResource(ctx, store.Resource{Type: "project", ID: "p1", Parent: "org/acme", CreatedAt: time.Unix(5, 0)},
		store.Event{At: time.Unix(6, 0), Action: "resource.create", Resource: "project/p1"}))
	for _, tt := range []struct {
		resource string
		want     []string
	}{
		{"org/legacy", []string{"old.one"}},
		{"project/p1", []string{"old.two", "resource.create"}},
		{"org/acme", []string{"resource.create"}},
	} {
		evs, err := db.ListEvents(ctx, store.EventFilter{Resource: tt.resource}, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			got = append(got, e.Action)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("events of %s: %q, want %q", tt.resource, got, tt.want)
		}
	}
	// Keys on a resource that was never stored are still found and deleted by it.
	keys, err := db.ListKeys(ctx, store.KeyFilter{Within: []string{"org/legacy"}}, store.Page{})
	if err != nil || len(keys) != 2 {
		t.Errorf("ListKeys(within org/legacy) = %d keys, %v; want 2", len(keys), err)
	}
	rev, err := db.DeleteKeys(ctx, store.KeyFilter{Within: []string{"org/legacy"}}, store.Event{Action: "key.revoke_all"})
	if err != nil || len(rev.KeyIDs) != 2 {
		t.Errorf("DeleteKeys(within org/legacy) = %+v, %v; want 2 keys", rev, err)
	}
	checkForeignKeys(t, db)
}

func mustCreate(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// checkForeignKeys fails when a row references one that does not exist.
func checkForeignKeys(t *testing.T, db *DB) {
	t.Helper()
	rows, err := db.r.QueryContext(t.Context(), "PRAGMA foreign_key_check")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if rows.Next() {
		t.Error("PRAGMA foreign_key_check reports violations")
	}
}

// TestEventAncestry checks what events.ancestry holds, and that a move's event is found under
// the old place and the new one.
func TestEventAncestry(t *testing.T) {
	ctx := t.Context()
	db := open(t, t.TempDir())
	ev := func(action, resource string) store.Event {
		return store.Event{At: time.Unix(1, 0), Action: action, Resource: resource}
	}
	for _, r := range []store.Resource{
		{Type: "organization", ID: "acme"},
		{Type: "organization", ID: "other"},
		{Type: "project", ID: "p1", Parent: "organization/acme"},
		{Type: "env", ID: "e1", Parent: "project/p1"},
	} {
		mustCreate(t, db.CreateResource(ctx, r, ev("resource.create", r.Ref())))
	}
	mustCreate(t, db.AppendEvents(ctx, []store.Event{ev("refused", "env/e1"), ev("refused", "org/ghost"), ev("refused", "")}))
	_, err := db.UpdateResource(ctx, "project/p1", func(r *store.Resource) error { r.Parent = "organization/other"; return nil }, nil,
		ev("resource.move", "project/p1"))

	mustCreate(t, err)
	_, err = db.DeleteResource(ctx, "project/p1", nil, ev("resource.delete", "project/p1"))
	mustCreate(t, err)
	anc, err := queryStrings(ctx, db.r, "SELECT coalesce(ancestry, 'NULL') FROM events ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"|organization/acme|",
		"|organization/other|",
		"|organization/acme|project/p1|",
		"|organization/acme|project/p1|env/e1|",
		"|organization/acme|project/p1|env/e1|",
		"|org/ghost|",
		"",
		"|organization/acme|project/p1|organization/other|",
		"|organization/other|project/p1|",
	}
	if !slices.Equal(anc, want) {
		t.Errorf("ancestries\n%q,\nwant %q", anc, want)
	}
	for _, ref := range []string{"organization/acme", "organization/other"} {
		evs, err := db.ListEvents(ctx, store.EventFilter{Resource: ref, Action: "resource.move"}, store.Page{})
		if err != nil || len(evs) != 1 {
			t.Errorf("move events under %s: %d, %v; want 1", ref, len(evs), err)
		}
	}
	checkForeignKeys(t, db)
}

// TestGrantsNeedTheirPrincipal: a grant for a key or user that does not exist is refused, so
// a key or user created later with that id inherits nothing.
func TestGrantsNeedTheirPrincipal(t *testing.T) {
	ctx := t.Context()
	db := open(t, t.TempDir())
	mustCreate(t, db.CreateResource(ctx, store.Resource{Type: "org", ID: "acme"}, store.Event{}))
	for _, p := range []string{"key:kp", "user:nobody", "team:x"} {
		_, err := db.PutGrant(ctx, store.Grant{Resource: "org/acme", Principal: p, Role: "admin"}, nil, store.Event{})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("PutGrant(%s) = %v, want ErrNotFound", p, err)
		}
	}
	mustCreate(t, db.CreateUser(ctx, store.User{ID: "u1", Email: "a@example.com"}, store.Event{}))
	mustCreate(t, db.CreateKey(ctx, store.Key{ID: "kp", Format: store.FormatToken, Owner: "u1"},
		store.Secret{Hash: store.Hash{1}}, nil,
		store.Event{}))
	if gs, err := db.GrantsOf(ctx, "key:kp"); err != nil || len(gs) != 0 {
		t.Errorf("GrantsOf(key:kp) = %+v, %v; want none", gs, err)
	}
}
