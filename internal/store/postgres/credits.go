package postgres

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/lanyardhq/lanyard/internal/store"
)

// WriteCredits writes live balances back, each only where the stored credits still have the
// balance's SetAt, in one transaction.
func (db *DB) WriteCredits(ctx context.Context, balances []store.CreditBalance) error {
	if len(balances) == 0 {
		return nil
	}
	return db.write(ctx, "write credits", func(tx *txn) error {
		for _, b := range balances {
			if !storable(b.KeyID) {
				continue
			}
			var raw *string
			err := tx.QueryRow(ctx, "SELECT credits::text FROM keys WHERE id = $1 FOR UPDATE", b.KeyID).Scan(&raw)
			if errors.Is(err, pgx.ErrNoRows) {
				continue
			}
			if err != nil {
				return wrap("write credits", err)
			}
			var c store.Credits
			if err := fromJSON(raw, &c); err != nil || raw == nil || !c.SetAt.Equal(b.SetAt) {
				continue // gone, unlimited now, or set anew since: the newer setting wins
			}
			c.Remaining, c.RefilledAt = b.Remaining, b.RefilledAt
			out, err := json.Marshal(c)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "UPDATE keys SET credits = $1::json WHERE id = $2", string(out), b.KeyID); err != nil {
				return wrap("write credits", err)
			}
		}
		return nil
	})
}
