package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lanyardhq/lanyard/internal/store"
)

// writeVersion writes, in dir, a database at schema version v (migrations 1 to v, no Go step)
// holding what stmts add.
func writeVersion(t *testing.T, dir string, v int, stmts ...string) {
	t.Helper()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(filepath.Join(dir, FileName), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	all := []string{"CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT"}
	for _, m := range ms[:v] {
		all = append(all, m.sql, fmt.Sprintf("INSERT INTO schema_migrations VALUES (%d, '%s', 0)", m.version, m.name))
	}
	for _, q := range append(all, stmts...) {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestMigrateEmailNorm opens a database whose email_norm values were lower-cased (before
// migration 0005) and checks that they are normalised again: full-width and Kelvin-sign
// spellings find their accounts, İVAN is no longer ivan, and two users whose values trade
// places do not trip the uniqueness of email_norm.
func TestMigrateEmailNorm(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	writeVersion(t, dir, 4, `INSERT INTO users (id, email, email_norm, created_at, updated_at) VALUES
		('alice', 'ＡLICE@example.com', 'ａlice@example.com', 0, 0),
		('kate', '`+"\u212A"+`ate@example.com', '`+"\u212A"+`ate@example.com', 0, 0),
		('ivan', 'İVAN@example.com', 'ivan@example.com', 0, 0),
		('b', 'B@example.com', 'c@example.com', 0, 0),
		('c', 'C@example.com', 'b@example.com', 0, 0),
		('d', 'd@example.com', 'd@example.com', 0, 0)`)
	db := open(t, dir)
	for _, tt := range []struct{ email, id string }{
		{"alice@example.com", "alice"},
		{"KATE@example.com", "kate"},
		{"İVAN@example.com", "ivan"},
		{"b@example.com", "b"},
		{"c@example.com", "c"},
		{"D@example.com", "d"},
	} {
		u, err := db.GetUserByEmail(ctx, tt.email)
		if err != nil || u.ID != tt.id || u.EmailNorm != store.NormalizeEmail(u.Email) {
			t.Errorf("GetUserByEmail(%q) = %+v, %v; want %s with its email normalised", tt.email, u, err, tt.id)
		}
	}
	if _, err := db.GetUserByEmail(ctx, "ivan@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUserByEmail(ivan@example.com) = %v, want ErrNotFound: İVAN is not ivan", err)
	}
	// The address is free for an ivan of its own.
	mustCreate(t, db.CreateUser(ctx, store.User{ID: "ivan2", Email: "ivan@example.com"}, store.Event{}))
}

// TestMigrateEmailNormCollision: two users whose emails are one address once normalised stop
// Open with an error that names both, and change nothing; once one of them has another email,
// Open goes through.
func TestMigrateEmailNormCollision(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	writeVersion(t, dir, 4, `INSERT INTO users (id, email, email_norm, created_at, updated_at) VALUES
		('u1', 'alice@example.com', 'alice@example.com', 0, 0),
		('u2', 'ＡLICE@example.com', 'ａlice@example.com', 1, 1)`)
	db, err := Open(ctx, dir)
	if err == nil {
		db.Close()
		t.Fatal("Open accepted two users with the same normalised email")
	}
	for _, want := range []string{`"u1"`, `"u2"`, "0005", "same email"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to say %s", err, want)
		}
	}
	raw, err := sql.Open("sqlite", dsn(filepath.Join(dir, FileName), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var version int
	var norm string
	if err := raw.QueryRowContext(ctx, "SELECT (SELECT max(version) FROM schema_migrations), email_norm FROM users WHERE id = 'u2'").Scan(&version, &norm); err != nil {
		t.Fatal(err)
	}
	if version != 4 || norm != "ａlice@example.com" {
		t.Errorf("after the failed Open: version %d, u2's email_norm %q; want 4 and what it was", version, norm)
	}
	if _, err := raw.ExecContext(ctx, "UPDATE users SET email = 'alice2@example.com', email_norm = 'alice2@example.com' WHERE id = 'u2'"); err != nil {
		t.Fatal(err)
	}
	db = open(t, dir)
	if u, err := db.GetUserByEmail(ctx, "ALICE2@example.com"); err != nil || u.ID != "u2" {
		t.Errorf("GetUserByEmail(alice2) = %+v, %v", u, err)
	}
}
