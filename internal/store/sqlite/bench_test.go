package sqlite

import (
	"crypto/sha256"
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
