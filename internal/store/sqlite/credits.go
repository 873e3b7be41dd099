package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/lanyardhq/lanyard/internal/store"
)

// WriteCredits writes live balances back, each only where the stored credits still have the
// balance's SetAt, in one transaction.
func (db *DB) WriteCredits(ctx context.Context, balances []store.CreditBalance) error {
	if len(balances) == 0 {
		return nil
	}
	return db.write(ctx, "write credits", func(tx *sql.Tx) error {
		for _, b := range balances {
			var raw sql.NullString
			err := tx.QueryRowContext(ctx, "SELECT credits FROM keys WHERE id = ?", b.KeyID).Scan(&raw)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return wrap("write credits", err)
			}
			var c store.Credits
			if err := fromJSON(raw, &c); err != nil || !raw.Valid || !c.SetAt.Equal(b.SetAt) {
				continue // gone, unlimited now, or set anew since: the newer setting wins
			}
			c.Remaining, c.RefilledAt = b.Remaining, b.RefilledAt
			out, err := json.Marshal(c)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "UPDATE keys SET credits = ? WHERE id = ?", string(out), b.KeyID); err != nil {
				return wrap("write credits", err)
			}
		}
		return nil
	})
}
