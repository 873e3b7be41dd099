// Package pgtest makes throwaway PostgreSQL databases for tests, on the server that
// LANYARD_TEST_POSTGRES names (bash scripts/test-services.sh starts one and prints the
// variable). A test that calls Database skips without the variable, or fails under
// LANYARD_TEST_REQUIRE=1, through testenv.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lanyardhq/lanyard/internal/testenv"
)

// timeout bounds each administrative statement.
const timeout = 30 * time.Second

// Database creates an empty database with a new name and returns its postgres:// URL; it is
// dropped (with any connection still open to it) when t ends.
func Database(t testing.TB) string {
	t.Helper()
	dsn, err := CreateDatabase(testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// t.Context() has ended by now.
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := DropDatabase(ctx, dsn); err != nil {
			t.Error(err)
		}
	})
	return dsn
}

// CreateDatabase makes a database named lanyard_test_<random> on the server of admin, a
// postgres:// URL, and returns its URL: admin's with the new database's name.
func CreateDatabase(admin string) (string, error) {
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("%s must be a postgres:// URL", testenv.PostgresEnv)
	}
	name := "lanyard_test_" + RandomName()
	if err := exec(admin, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// DropDatabase drops the database dsn names, from the server's maintenance database postgres.
func DropDatabase(ctx context.Context, dsn string) error {
	u, err := url.Parse(dsn)
	if err != nil {
		return err
	}
	name := strings.TrimPrefix(u.Path, "/")
	u.Path = "/postgres"
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return fmt.Errorf("dropping database %s: %w", name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("dropping database %s: %w", name, err)
	}
	return nil
}

// Exec runs one statement on the database dsn names, or fails t.
func Exec(t testing.TB, dsn, sql string) {
	t.Helper()
	if err := exec(dsn, sql); err != nil {
		t.Fatal(err)
	}
}

func exec(dsn, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connecting to the test server (%s): %w", testenv.PostgresEnv, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// Name is the name of the database dsn names.
func Name(t testing.TB, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// RandomName is 16 random lowercase hex digits, for names of databases and schemas.
func RandomName() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
