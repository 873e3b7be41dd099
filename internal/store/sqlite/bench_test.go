package sqlite

import (
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"strconv"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

// BenchmarkCreateKeySync measures what synchronous=FULL costs a write (one fsync of the WAL per
// commit) against the NORMAL baseline, in the same run and on the same file system. Run it on
// the disk lanyard's data lives on (TMPDIR=/path/on/that/disk): on tmpfs an fsync costs nothing.
func BenchmarkCreateKeySync(b *testing.B) {
	for _, mode := range []string{"full", "normal"} {
		b.Run(mode, func(b *testing.B) {
			ctx := b.Context()
			db, err := openWith(ctx, b.TempDir(), options{synchronous: mode})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			now := time.Unix(1_900_000_000, 0)
			if err := db.CreateUser(ctx, store.User{ID: "u1", Email: "ann@example.com", CreatedAt: now, UpdatedAt: now}, store.Event{}); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				id := "k" + strconv.Itoa(i)
				var seed [8]byte
				binary.BigEndian.PutUint64(seed[:], uint64(i))
				k := store.Key{ID: id, Format: store.FormatToken, Owner: "u1", CreatedAt: now}
				s := store.Secret{Hash: sha256.Sum256(seed[:]), CreatedAt: now}
				ev := store.Event{At: now, Actor: "user:u1", Action: "key.create", Target: "key:" + id, Result: "success", Count: 1}
				if err := db.CreateKey(ctx, k, s, nil, ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkListEventsByResource measures an audit query by resource (the first page of 50 of
// a tenant's 200 events) in a store holding nothing else, and in one holding a million events
// of ten thousand other tenants, written at the same times (CONTRACT §11.62 asks for at most 2×
// the first). The trail is seeded in one statement per table, straight in SQL. instr-scan is
// the query before migration 0004, on the million, for comparison.
func BenchmarkListEventsByResource(b *testing.B) {
	ctx := b.Context()
	const (
		mine   = 200
		others = 1_000_000
		start  = 1_900_000_000
	)
	seed := func(b *testing.B, others int) *DB {
		db, err := Open(ctx, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		if err := db.write(ctx, "seed", func(tx *sql.Tx) error {
			for _, q := range []string{
				// Other tenants' events: organization/t<n>, each event of one of its projects,
				// spread over the same hour as the tenant's own.
				`INSERT INTO events (at, actor, action, target, resource, result, ancestry)
				WITH RECURSIVE n (i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?1)
				SELECT ?2 + i * 3600 / ?1, 'user:u' || (i % 50000), 'key.create', 'key:k' || i, 'project/t' || (i % 10000) || '-' || (i % 7),
					'success', '|organization/t' || (i % 10000) || '|project/t' || (i % 10000) || '-' || (i % 7) || '|'
				FROM n`,
				`INSERT INTO event_resources (resource, at, seq)
				SELECT 'organization/t' || ((seq - 1) % 10000), at, seq FROM events
				UNION ALL
				SELECT resource, at, seq FROM events`,
			} {
				if others == 0 {
					break
				}
				if _, err := tx.ExecContext(ctx, q, others, start); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		// The tenant's own events go through the store, as events are written.
		var evs []store.Event
		for i := range mine {
			evs = append(evs, store.Event{At: time.Unix(start+int64(i)*3600/mine, 0), Actor: "user:ann", Action: "key.create",
				Target: "key:a" + strconv.Itoa(i), Resource: "organization/acme", Result: "success", Count: 1})
		}
		if err := db.AppendEvents(ctx, evs); err != nil {
			b.Fatal(err)
		}
		return db
	}
	query := func(b *testing.B, db *DB) {
		for b.Loop() {
			evs, err := db.ListEvents(ctx, store.EventFilter{Resource: "organization/acme"}, store.Page{Limit: 50})
			if err != nil || len(evs) != 50 {
				b.Fatalf("ListEvents = %d events, %v", len(evs), err)
			}
		}
	}
	empty, full := seed(b, 0), seed(b, others)
	b.Run("others=0", func(b *testing.B) { query(b, empty) })
	b.Run("others=1000000", func(b *testing.B) { query(b, full) })
	b.Run("others=1000000/instr-scan", func(b *testing.B) {
		for b.Loop() {
			seqs, err := queryStrings(ctx, full.r, `SELECT seq FROM events
				WHERE instr(ancestry, '|' || ?1 || '|') > 0 OR (ancestry IS NULL AND resource = ?1) ORDER BY at, seq LIMIT 50`,
				"organization/acme")
			if err != nil || len(seqs) != 50 {
				b.Fatalf("%d events, %v", len(seqs), err)
			}
		}
	})
}
