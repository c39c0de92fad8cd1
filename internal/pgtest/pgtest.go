// Package pgtest gives tests the real PostgreSQL they run against: its DSN
// (PBENCHD_TEST_DSN, or the local server), connections, and databases or
// schemas of their own so that tests running at once against one server do
// not see each other's tables. Tests fail, never skip, when the server is
// unreachable: code that talks to PostgreSQL is not tested until it has.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultDSN is the server tests use when PBENCHD_TEST_DSN is not set.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// DSN returns the test server's DSN.
func DSN() string {
	if d := os.Getenv("PBENCHD_TEST_DSN"); d != "" {
		return d
	}
	return DefaultDSN
}

// Connect opens a connection to the test server, closed when the test ends.
func Connect(t testing.TB) *pgx.Conn {
	t.Helper()
	return ConnectTo(t, DSN())
}

// ConnectTo opens a connection to dsn, closed when the test ends.
func ConnectTo(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("PostgreSQL is not reachable at %s (run `make test-deps`, or set PBENCHD_TEST_DSN): %v", dsn, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// Database returns the DSN of a database of that name on the test server,
// created if missing. Tests that compare the objects of a database before
// and after a run use one of their own, away from other tests' tables.
func Database(t testing.TB, name string) string {
	t.Helper()
	c := Connect(t)
	ctx := context.Background()
	var exists bool
	if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatalf("looking for database %s: %v", name, err)
	}
	if !exists {
		if _, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			// Another test process may have created it meanwhile.
			if err2 := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err2 != nil || !exists {
				t.Fatalf("creating database %s: %v", name, err)
			}
		}
	}
	dsn := DSN()
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + name
		return u.String()
	}
	return dsn + " dbname=" + name
}

var seq atomic.Int64

// Name returns a table name unique to this process and call, so tests
// running at once against one server do not collide.
func Name(prefix string) string {
	return fmt.Sprintf("%s_%d_%d", prefix, os.Getpid(), seq.Add(1))
}

// Exec runs SQL on the test server and fails the test on error.
func Exec(t testing.TB, c *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := c.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
