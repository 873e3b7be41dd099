// Package sqlite is lanyard's embedded store: a store.Store kept in one SQLite file,
// <dir>/lanyard.db, through the pure-Go driver modernc.org/sqlite (no cgo).
//
// The database runs in WAL mode with synchronous=FULL, foreign keys on and a 5 s busy
// timeout. FULL, on every connection the store opens, makes a commit sync the WAL to disk before
// it returns, so a change lanyard has acknowledged survives a power cut, not only a crash of
// lanyard: with NORMAL, SQLite documents that the last transactions may roll back after a power
// loss, and a revoked key would work again. It costs one fsync per write transaction; batched
// bookkeeping (last use of keys, refused credentials) pays it once per batch.
//
// Every change goes through a single writer connection whose transactions begin with BEGIN
// IMMEDIATE, so writers queue in the process instead of failing with SQLITE_BUSY; reads use a
// separate pool of query-only connections, which WAL lets run beside the writer.
//
// The schema is built from numbered SQL files embedded from migrations/, applied in order at
// Open inside one transaction and recorded in schema_migrations; a migration is never applied
// twice, and a database written by a newer lanyard (a schema version this build does not
// know) is refused. A change SQL cannot make is a Go step that runs right after its numbered
// file, in the same transaction: 0005 recomputes every users.email_norm with
// store.NormalizeEmail, and fails Open, changing nothing, when two users' emails become one
// address (the error names both; one of them must change its email with the previous lanyard).
//
// Open also makes the instance key (store.Store.InstanceKey), 32 bytes from crypto/rand kept in
// hex in the meta table, the first time it opens a database; later opens keep it.
//
// Representation: times are stored as UTC unix seconds, so every time the store returns is in
// UTC and truncated to the second (the contract's precision). Secret hashes are 32-byte BLOBs.
// Key.Metadata, Key.AllowedCIDRs and Key.Credits are stored as JSON text, NULL when nil or
// empty: they read back as nil, so an empty non-nil map or slice also reads back as nil, and
// JSON numbers in Metadata read back as float64.
//
// Resources are rows keyed by (type, id), their parent a foreign key (parent_type, parent_id);
// keys, grants and events name them by "type/id" text, split at the first '/'. Subtrees are
// walked with recursive queries inside the transaction that needs them. Each event stores its
// ancestry, the refs of its resource and of that resource's ancestors at write time, so a
// query by resource finds the events of everything that was below it, deleted or moved since.
// The same transaction writes one row of event_resources (resource, at, seq) per ref of the
// ancestry: a query by resource walks that index, so it costs what the resource's own events
// cost however large the audit trail grows.
package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/lanyardhq/lanyard/internal/store"
)

// FileName is the name of the database file inside the data directory.
const FileName = "lanyard.db"

// busyTimeout is how long a connection waits for a lock held by another process before it
// gives up with SQLITE_BUSY.
const busyTimeout = 5 * time.Second

//go:embed migrations/*.sql
var migrationFS embed.FS

// DB is the SQLite store. It is safe for concurrent use.
type DB struct {
	w    *sql.DB // the one writer connection
	r    *sql.DB // query-only read pool
	path string
}

var _ store.Store = (*DB)(nil)

// Open opens (creating it if needed) the store in dir: the directory is created with mode
// 0700 when it does not exist, the database file with mode 0600 (SQLite gives its -wal and
// -shm files the mode of the database file). Pending migrations are applied before Open
// returns; a schema newer than this build knows is an error.
func Open(ctx context.Context, dir string) (*DB, error) {
	return openWith(ctx, dir, options{synchronous: "FULL"})
}

// options are the settings of Open that only the package's own tests and benchmarks change.
type options struct {
	// synchronous is the synchronous pragma of every connection: FULL, except for a
	// benchmark's baseline.
	synchronous string
}

func openWith(ctx context.Context, dir string, o options) (*DB, error) {
	if dir == "" {
		return nil, errors.New("sqlite: open: no data directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: open: creating the data directory: %w", err)
	}
	path, err := filepath.Abs(filepath.Join(dir, FileName))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	// Create the file ourselves so that it never exists with looser permissions than 0600.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: creating the database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}

	db := &DB{path: path}
	// The writer sets the persistent journal mode, so it connects (and migrates) before any
	// reader does.
	db.w, err = sql.Open("sqlite", dsn(path, url.Values{
		"_pragma": {
			fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()),
			"foreign_keys(1)",
			"journal_mode(WAL)",
			"synchronous(" + o.synchronous + ")",
		},
		"_txlock": {"immediate"},
	}))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	db.w.SetConnMaxIdleTime(0)
	db.w.SetConnMaxLifetime(0)

	if err := db.checkWAL(ctx); err != nil {
		db.w.Close()
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		db.w.Close()
		return nil, err
	}

	db.r, err = sql.Open("sqlite", dsn(path, url.Values{
		"_pragma": {
			fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()),
			"foreign_keys(1)",
			"query_only(1)",
			"synchronous(" + o.synchronous + ")",
		},
	}))
	if err != nil {
		db.w.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	db.r.SetMaxOpenConns(readers)
	db.r.SetMaxIdleConns(readers)
	if err := db.r.PingContext(ctx); err != nil {
		db.Close()
		return nil, wrap("open readers", err)
	}
	return db, nil
}

// dsn builds a file: URI for path (escaped, so that '?', '#' or '%' in a directory name stay
// part of the name) with the driver's query parameters.
func dsn(path string, q url.Values) string {
	u := url.URL{Path: filepath.ToSlash(path)}
	return "file:" + u.EscapedPath() + "?" + q.Encode()
}

func (db *DB) checkWAL(ctx context.Context) error {
	var mode string
	if err := db.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return wrap("open", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("sqlite: open: journal mode is %q, want wal", mode)
	}
	return nil
}

// Ping runs a trivial query on the writer and on the read pool.
func (db *DB) Ping(ctx context.Context) error {
	for _, p := range []*sql.DB{db.w, db.r} {
		var one int
		if err := p.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			return wrap("ping", err)
		}
	}
	return nil
}

// Close closes both connection pools.
func (db *DB) Close() error {
	var errs []error
	if db.r != nil {
		errs = append(errs, db.r.Close())
	}
	if db.w != nil {
		errs = append(errs, db.w.Close())
	}
	return errors.Join(errs...)
}

// migration is one embedded schema file and, for a change SQL cannot make, the Go step that
// runs after it in the same transaction.
type migration struct {
	version int
	name    string
	sql     string
	step    func(ctx context.Context, tx *sql.Tx) error
}

// steps are the migrations' Go steps, by version.
var steps = map[int]func(ctx context.Context, tx *sql.Tx) error{
	5: renormalizeEmails,
}

// migrations returns the embedded migrations in order. Their numbers must run 1, 2, 3 … with
// no gap or repeat.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names {
		base := filepath.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("sqlite: migration %s: name must be NNNN_description.sql", base)
		}
		b, err := migrationFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b), step: steps[v]})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("sqlite: migration %s: expected number %d", m.name, i+1)
		}
	}
	return ms, nil
}

// migrate applies every embedded migration the database has not seen, in order, in one
// transaction (BEGIN IMMEDIATE: a second process opening the same file waits, then sees them).
func (db *DB) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	return db.write(ctx, "migrate", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER NOT NULL PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at INTEGER NOT NULL
		) STRICT`); err != nil {
			return wrap("migrate", err)
		}
		var current int
		if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
			return wrap("migrate", err)
		}
		if current > len(ms) {
			return fmt.Errorf("sqlite: the database has schema version %d, newer than this build knows (%d): upgrade lanyard", current, len(ms))
		}
		for _, m := range ms[current:] {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("sqlite: migration %s: %w", m.name, err)
			}
			if m.step != nil {
				if err := m.step(ctx, tx); err != nil {
					return fmt.Errorf("sqlite: migration %s: %w", m.name, err)
				}
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.version, m.name, time.Now().Unix()); err != nil {
				return wrap("migrate", err)
			}
		}
		return initInstanceKey(ctx, tx)
	})
}

// initInstanceKey makes the instance key unless the store has one.
func initInstanceKey(ctx context.Context, tx *sql.Tx) error {
	key := make([]byte, 32)
	rand.Read(key)
	_, err := tx.ExecContext(ctx, "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
		store.MetaInstanceKey, hex.EncodeToString(key))
	return wrap("open: instance key", err)
}

// InstanceKey returns the 32 random bytes Open stored in meta the first time it opened the
// database.
func (db *DB) InstanceKey(ctx context.Context) ([]byte, error) {
	var v string
	if err := db.r.QueryRowContext(ctx, "SELECT value FROM meta WHERE name = ?", store.MetaInstanceKey).Scan(&v); err != nil {
		return nil, wrap("instance key", err)
	}
	key, err := hex.DecodeString(v)
	if err != nil || len(key) != 32 {
		return nil, errors.New("sqlite: instance key: the stored key is not 32 bytes in hex")
	}
	return key, nil
}

// renormalizeEmails is migration 0005: it sets every user's email_norm to
// store.NormalizeEmail of the email. It fails, changing nothing, when two users' emails become
// the same: lanyard cannot choose which of the two accounts keeps the address.
func renormalizeEmails(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "SELECT id, email, email_norm FROM users ORDER BY created_at, id")
	if err != nil {
		return err
	}
	owner := map[string]string{} // normalised email → user id
	changed := map[string]string{}
	var order []string
	for rows.Next() {
		var id, email, old string
		if err := rows.Scan(&id, &email, &old); err != nil {
			rows.Close()
			return err
		}
		n := store.NormalizeEmail(email)
		if other, ok := owner[n]; ok {
			rows.Close()
			return fmt.Errorf("users %q and %q have the same email once emails are compared after Unicode NFKC "+
				"normalisation and case folding; change the email of one of them with the previous version of lanyard, "+
				"then start this one again", other, id)
		}
		owner[n] = id
		if n != old {
			changed[id] = n
			order = append(order, id)
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if err := rows.Err(); err != nil {
		return err
	}
	// email_norm is UNIQUE, checked row by row, and one user's new value may be another's old
	// one: move the changed rows to placeholders first (unique by id, and starting with the
	// noncharacter U+FFFF, which no real address holds), then set the new values.
	for _, id := range order {
		if _, err := tx.ExecContext(ctx, "UPDATE users SET email_norm = ? WHERE id = ?", "\uFFFFrenormalizing:"+id, id); err != nil {
			return err
		}
	}
	for _, id := range order {
		if _, err := tx.ExecContext(ctx, "UPDATE users SET email_norm = ? WHERE id = ?", changed[id], id); err != nil {
			return err
		}
	}
	return nil
}

// write runs fn in a write transaction (BEGIN IMMEDIATE on the one writer connection) and
// commits when fn returns nil. fn's error is returned as it is: fn maps driver errors itself.
func (db *DB) write(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap(op, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return wrap(op, err)
	}
	return nil
}

// wrap maps a driver error to the store's sentinels: a unique or primary key violation to
// store.ErrConflict, no rows to store.ErrNotFound (neither carries the driver's error), a
// database that cannot be reached, locked past the busy timeout or out of space to
// store.ErrUnavailable. Anything else is wrapped with the operation's name.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
	}
	var se *msqlite.Error
	if errors.As(err, &se) {
		switch code := se.Code(); {
		case code == sqlite3.SQLITE_CONSTRAINT_UNIQUE, code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("sqlite: %s: %w", op, store.ErrConflict)
		case code&0xff == sqlite3.SQLITE_BUSY, code&0xff == sqlite3.SQLITE_LOCKED,
			code&0xff == sqlite3.SQLITE_CANTOPEN, code&0xff == sqlite3.SQLITE_IOERR,
			code&0xff == sqlite3.SQLITE_FULL:
			return fmt.Errorf("sqlite: %s: %w: %v", op, store.ErrUnavailable, err)
		}
	}
	if errors.Is(err, sql.ErrConnDone) {
		return fmt.Errorf("sqlite: %s: %w: %v", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// isForeignKey reports whether err is a foreign key violation (a reference to a user that
// does not exist).
func isForeignKey(err error) bool {
	var se *msqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// placeholders returns "?, ?, …" with n marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
