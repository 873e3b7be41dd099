// Package postgres is lanyard's shared store: a store.Store kept in a PostgreSQL database that
// several lanyard nodes use at once, through github.com/jackc/pgx/v5 and its pool (statements
// are prepared once per connection and cached). Open takes a postgres:// URL as pgx reads it:
// pool_max_conns and the other pool_* parameters set the pool, connect_timeout (default 5 s)
// bounds a connection attempt, search_path selects a schema other than the default (it must
// exist).
//
// Every session lanyard opens sets synchronous_commit = on in its startup packet, whatever the
// server, database or role says, and the pool refuses a connection on which it is not in effect:
// a change lanyard has acknowledged is flushed to disk (and to the synchronous standbys, when
// there are any) before its answer, so it survives a power cut and not only a crash of lanyard
// (CONTRACT §11.43, §11.54).
//
// Every change is one SERIALIZABLE transaction: a change's guard (store.Guard) reads the
// resource tree, the grants and the keys inside it, and PostgreSQL aborts the change rather than
// let it commit on what another change altered meanwhile. An aborted attempt (a serialization
// failure, SQLSTATE 40001, or a deadlock, 40P01) is run again from the start, guard and
// callbacks included, after a short randomised wait, up to 25 times; so is an attempt whose
// connection dropped before its COMMIT was sent (the server rolled it back), twice at most, on a
// pool started afresh. A change is thus applied whole or not at all. A connection lost while
// COMMIT was in flight leaves the outcome unknown: that is never retried, and the caller gets
// store.ErrUnavailable. TouchKeys (bookkeeping that decides nothing) runs at READ COMMITTED.
// Reads are single statements on the pool, run once more on a new connection when theirs was
// lost. Each call has a deadline (10 s unless the caller's context ends sooner); a database that
// does not answer within it, cannot be reached, or refuses connections is store.ErrUnavailable.
//
// The schema is built from numbered SQL files embedded from migrations/, applied at Open in one
// READ COMMITTED transaction that first takes a transaction-scoped advisory lock, and recorded
// in schema_migrations: nodes that start at once queue on the lock, the first applies what is
// missing, and the others then find nothing to do. A database written by a newer lanyard (a
// schema version this build does not know) is refused. Open also makes the instance key
// (store.Store.InstanceKey), 32 bytes from crypto/rand kept in hex in the meta table, the first
// time it opens a database. Open fails when the database cannot be reached.
//
// Representation follows the SQLite store: times are timestamptz truncated to the second and
// come back in UTC; secret hashes are 32-byte bytea; Key.Metadata, AllowedCIDRs and Credits
// are json, NULL when nil or empty; identifiers are COLLATE "C", so lists come in byte order on
// any database. Each event stores its ancestry and one row of event_resources per ref of it,
// so a query by resource reads that resource's rows only. Deleting a secret records its hash in
// revoked (a trigger, as in the SQLite store), so that Resolve tells a revoked secret
// (store.ErrRevoked) from an unknown one. PostgreSQL's text holds neither NUL
// nor invalid UTF-8: a change that would store such a string is store.ErrInvalid, a lookup by
// one finds nothing, and in audit events such characters are written as U+FFFD.
package postgres

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	mrand "math/rand/v2"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lanyardhq/lanyard/internal/store"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Defaults of Options.
const (
	// DefaultTimeout bounds each call when the caller's context has no earlier deadline.
	DefaultTimeout = 10 * time.Second
	// defaultConnectTimeout bounds one connection attempt when the URL sets no connect_timeout.
	defaultConnectTimeout = 5 * time.Second
)

// The retry budget of a change: serialization failures and deadlocks are retried up to
// maxAttempts times in all, a dropped connection up to maxReconnects times, each after a wait
// that doubles from backoffMin up to backoffMax (half of it random).
const (
	maxAttempts   = 25
	maxReconnects = 2
	backoffMin    = 2 * time.Millisecond
	backoffMax    = 250 * time.Millisecond
)

// migrationLock is the key of the advisory lock migrations run under: the first eight bytes of
// "lanyard\x00" read as a big-endian integer. Advisory locks are per database.
const migrationLock int64 = 0x6c616e7961726400

// DB is the PostgreSQL store. It is safe for concurrent use.
type DB struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	applied func(version int) // test hook: a migration was applied by this Open
}

var _ store.Store = (*DB)(nil)

// Options are the settings of OpenWith.
type Options struct {
	// Timeout bounds every call (DefaultTimeout when zero).
	Timeout time.Duration
	// applied, when set, is called for each migration this Open applies (tests).
	applied func(version int)
}

// Open connects to the database at url (postgres:// or postgresql://), applies pending
// migrations under the advisory lock and returns the store. A schema newer than this build
// knows is an error.
func Open(ctx context.Context, url string) (*DB, error) {
	return OpenWith(ctx, url, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, url string, o Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		var pe *pgconn.ParseConfigError
		if errors.As(err, &pe) {
			if inner := errors.Unwrap(pe); inner != nil {
				return nil, fmt.Errorf("postgres: the store URL does not parse: %v", inner)
			}
		}
		return nil, errors.New("postgres: the store URL does not parse")
	}
	cc := cfg.ConnConfig
	// Sent in the startup packet, so it beats the server's, database's and role's settings.
	cc.RuntimeParams["synchronous_commit"] = "on"
	if cc.RuntimeParams["application_name"] == "" {
		cc.RuntimeParams["application_name"] = "lanyard"
	}
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = defaultConnectTimeout
	}
	cfg.AfterConnect = checkSession
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	db := &DB{pool: pool, timeout: o.Timeout, applied: o.applied}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// checkSession refuses a connection on which synchronous_commit is not on (a pooler in front of
// the server that dropped the startup parameter, say): lanyard would acknowledge changes a power
// cut could undo.
func checkSession(ctx context.Context, c *pgx.Conn) error {
	var v string
	if err := c.QueryRow(ctx, "SHOW synchronous_commit").Scan(&v); err != nil {
		return err
	}
	if v != "on" {
		return fmt.Errorf("postgres: synchronous_commit is %q on a new connection, want on: lanyard acknowledges a change only once it is durable (a connection pooler must pass the startup parameter on)", v)
	}
	return nil
}

// Ping runs a trivial query.
func (db *DB) Ping(ctx context.Context) error {
	_, err := read(ctx, db, "ping", func(ctx context.Context) (int, error) {
		var one int
		err := db.pool.QueryRow(ctx, "SELECT 1").Scan(&one)
		return one, err
	})
	return err
}

// Close closes the pool, waiting for connections in use to be released.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// bound gives a call its deadline: the caller's, or db.timeout from now when that is sooner.
func (db *DB) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, db.timeout, errTimeout)
}

// errTimeout is the cause of a call's own deadline.
var errTimeout = fmt.Errorf("postgres: the database did not answer in time: %w", store.ErrUnavailable)

// migration is one embedded schema file.
type migration struct {
	version int
	name    string
	sql     string
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
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("postgres: migration %s: name must be NNNN_description.sql", base)
		}
		b, err := migrationFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("postgres: migration %s: expected number %d", m.name, i+1)
		}
	}
	return ms, nil
}

// migrate applies every embedded migration the database has not seen, in order, in one
// transaction that holds the advisory lock migrationLock until it ends. At READ COMMITTED each
// statement after the lock sees what a node that held it before committed, so only the first of
// several nodes starting at once applies anything. It also makes the instance key.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	var applied []int
	err = db.inTx(ctx, "migrate", pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, retries{attempts: 1, reconnects: maxReconnects}, func(tx *txn) error {
		applied = applied[:0]
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
			return wrap("migrate: taking the migration lock", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer     NOT NULL PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL
		)`); err != nil {
			return wrap("migrate", err)
		}
		var current int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
			return wrap("migrate", err)
		}
		if current > len(ms) {
			return fmt.Errorf("postgres: the database has schema version %d, newer than this build knows (%d): upgrade lanyard", current, len(ms))
		}
		for _, m := range ms[current:] {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("postgres: migration %s: %w", m.name, wrap("migrate", err))
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
				m.version, m.name, ts(time.Now())); err != nil {
				return wrap("migrate", err)
			}
			applied = append(applied, m.version)
		}
		key := make([]byte, 32)
		rand.Read(key)
		if _, err := tx.Exec(ctx, "INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
			store.MetaInstanceKey, hex.EncodeToString(key)); err != nil {
			return wrap("open: instance key", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if db.applied != nil {
		for _, v := range applied {
			db.applied(v)
		}
	}
	return nil
}

// SchemaVersion returns the number of the last migration applied to the database.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	return read(ctx, db, "schema version", func(ctx context.Context) (int, error) {
		var v int
		err := db.pool.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v)
		return v, err
	})
}

// InstanceKey returns the 32 random bytes Open stored in meta the first time it opened the
// database.
func (db *DB) InstanceKey(ctx context.Context) ([]byte, error) {
	v, err := read(ctx, db, "instance key", func(ctx context.Context) (string, error) {
		var v string
		err := db.pool.QueryRow(ctx, "SELECT value FROM meta WHERE name = $1", store.MetaInstanceKey).Scan(&v)
		return v, err
	})
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(v)
	if err != nil || len(key) != 32 {
		return nil, errors.New("postgres: instance key: the stored key is not 32 bytes in hex")
	}
	return key, nil
}

// read runs fn, a read on the pool, within the call's deadline, and once more on a new
// connection (up to maxReconnects times) when the connection it used was lost: a read is always
// safe to repeat.
func read[T any](ctx context.Context, db *DB, op string, fn func(ctx context.Context) (T, error)) (T, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	for attempt := 1; ; attempt++ {
		v, err := fn(ctx)
		if err == nil {
			return v, nil
		}
		if ctx.Err() != nil || attempt > maxReconnects || !isConnLost(err) {
			var zero T
			return zero, wrapCtx(ctx, op, err)
		}
		db.pool.Reset()
		if err := sleep(ctx, backoff(attempt)); err != nil {
			var zero T
			return zero, wrapCtx(ctx, op, err)
		}
	}
}

// txn is a write transaction. Its View notes serialization failures it hands to a guard, so
// that the attempt is retried even when the guard returns an error of its own instead.
type txn struct {
	pgx.Tx
	retry error
}

// write runs fn in a SERIALIZABLE transaction and commits when fn returns nil, retrying the
// whole transaction as the package doc says. fn's error is returned as it is: fn maps driver
// errors itself (with wrap, which keeps a serialization failure recognisable).
func (db *DB) write(ctx context.Context, op string, fn func(tx *txn) error) error {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	return db.inTx(ctx, op, pgx.TxOptions{IsoLevel: pgx.Serializable}, changeRetries, fn)
}

// retries says how often inTx runs a transaction again: after a serialization failure or a
// deadlock (up to attempts runs in all), after a lost connection (up to reconnects times).
type retries struct{ attempts, reconnects int }

var (
	// changeRetries are a change's.
	changeRetries = retries{attempts: maxAttempts, reconnects: maxReconnects}
	// noRetries run a transaction once: its fn cannot run twice (Import reads its records once).
	noRetries = retries{attempts: 1}
)

// stage is where an attempt failed.
type stage int

const (
	inBegin stage = iota
	inBody
	inCommit
)

// inTx runs fn in a transaction with opts, again as r allows.
func (db *DB) inTx(ctx context.Context, op string, opts pgx.TxOptions, r retries, fn func(tx *txn) error) error {
	reconnects := 0
	for attempt := 1; ; attempt++ {
		st, err := db.attempt(ctx, opts, fn)
		if err == nil {
			return nil
		}
		retry := false
		switch {
		case ctx.Err() != nil:
		case isSerialization(err):
			retry = attempt < r.attempts
		case st != inCommit && isConnLost(err):
			// The server rolls back a transaction whose connection went away before COMMIT.
			reconnects++
			retry = reconnects <= r.reconnects
			if retry {
				// A connection lost is seldom the only one (a restart, a failover, the
				// network): start the pool afresh rather than try its other connections one
				// by one.
				db.pool.Reset()
			}
		}
		if !retry {
			if st == inBody {
				if ctx.Err() != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
					return wrapCtx(ctx, op, err)
				}
				return err
			}
			return wrapCtx(ctx, op, err)
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return wrapCtx(ctx, op, err)
		}
	}
}

// attempt runs fn once in a transaction and reports where it failed.
func (db *DB) attempt(ctx context.Context, opts pgx.TxOptions, fn func(tx *txn) error) (stage, error) {
	tx, err := db.pool.BeginTx(ctx, opts)
	if err != nil {
		return inBegin, err
	}
	t := &txn{Tx: tx}
	defer tx.Rollback(ctx) // after Commit, a no-op
	if err := fn(t); err != nil {
		if t.retry != nil && !isSerialization(err) {
			return inBody, t.retry
		}
		return inBody, err
	}
	if err := tx.Commit(ctx); err != nil {
		return inCommit, err
	}
	return inBody, nil
}

// backoff is the wait before attempt+1: doubling from backoffMin up to backoffMax, its second
// half random so that contending changes spread out.
func backoff(attempt int) time.Duration {
	d := backoffMin << min(attempt-1, 16)
	d = min(d, backoffMax)
	return d/2 + mrand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
