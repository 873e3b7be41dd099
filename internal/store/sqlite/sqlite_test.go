package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
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

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, t.TempDir())
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
	if err := db.CreateKey(ctx, k, store.Secret{Hash: h, Kind: store.KindKeyToken, CreatedAt: created}, store.Event{}); err != nil {
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
		{db.w, "synchronous", 1}, // NORMAL
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
