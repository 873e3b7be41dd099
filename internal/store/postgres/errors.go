package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lanyardhq/lanyard/internal/store"
)

// SQLSTATEs the store tells apart.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeSerialization       = "40001"
	codeDeadlock            = "40P01"
	codeBadEncoding         = "22021" // character_not_in_repertoire: NUL or invalid UTF-8 in text
	codeUntranslatable      = "22P05"
)

// wrap maps a driver error to the store's sentinels: a unique violation to store.ErrConflict,
// no rows or a foreign key violation to store.ErrNotFound (neither carries the driver's error), a
// string PostgreSQL cannot hold to store.ErrInvalid, and a database that cannot be reached, is
// shutting down, is out of resources, is read-only (a standby), or keeps failing to serialize
// a change to store.ErrUnavailable (with the driver's error, so a serialization failure stays
// recognisable for a retry). A cancelled context stays errors.Is-able. Anything else is
// wrapped with the operation's name.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
		return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrUnavailable, err)
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		// Whatever the reason (refused, the database not accepting connections, the
		// server starting up or out of connection slots), no connection means no store.
		return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrUnavailable, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch code := pe.Code; {
		case code == codeUniqueViolation:
			return fmt.Errorf("postgres: %s: %w", op, store.ErrConflict)
		case code == codeForeignKeyViolation:
			return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
		case code == codeBadEncoding, code == codeUntranslatable:
			return fmt.Errorf("postgres: %s: text PostgreSQL cannot store (a NUL character or invalid UTF-8): %w", op, store.ErrInvalid)
		case code == codeSerialization, code == codeDeadlock,
			strings.HasPrefix(code, "08"), // connection exception
			strings.HasPrefix(code, "53"), // insufficient resources: too many connections, disk full
			strings.HasPrefix(code, "57"), // operator intervention: shutdown, query cancelled by statement_timeout
			strings.HasPrefix(code, "58"), // system error: I/O
			code == "25006",               // read-only transaction: connected to a standby
			code == "55P03":               // lock not available
			return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrUnavailable, err)
		}
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	if isConnLost(err) {
		return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// wrapCtx is wrap for an error of a call whose context is ctx: when ctx ended, the error says
// why — the caller's cancellation (errors.Is context.Canceled) or the call's own deadline
// (store.ErrUnavailable) — whatever the driver made of it.
func wrapCtx(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		if cause := context.Cause(ctx); errors.Is(cause, store.ErrUnavailable) {
			return fmt.Errorf("postgres: %s: %w (%w)", op, cause, ctx.Err())
		}
		if !errors.Is(err, ctx.Err()) {
			return fmt.Errorf("postgres: %s: %w (%v)", op, ctx.Err(), err)
		}
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrInvalid) ||
		errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrChanged) {
		return err
	}
	return wrap(op, err)
}

// isSerialization reports whether err is a serialization failure or a deadlock: the attempt
// was rolled back and may run again.
func isSerialization(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == codeSerialization || pe.Code == codeDeadlock)
}

// isConnLost reports whether err means the connection failed or went away (or could not be
// made), rather than the server refusing a statement.
func isConnLost(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// 08: connection exception; 57P01-57P03: the server is shutting down or starting.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ne net.Error
	return errors.As(err, &ne) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, pgconn.ErrConnClosed)
}

// isForeignKey reports whether err is a foreign key violation (a reference to a user or a parent
// resource that does not exist).
func isForeignKey(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == codeForeignKeyViolation
}

// storable reports whether PostgreSQL's text can hold every one of ss: valid UTF-8 without NUL.
// A lookup by a string that is not storable finds nothing, without asking the database.
func storable(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return false
		}
	}
	return true
}

// text makes s storable for the audit trail: invalid UTF-8 and NUL become U+FFFD.
func text(s string) string {
	if storable(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
