// Package pgtest gives tests the real PostgreSQL they run against: its DSN
// (PBENCHD_TEST_DSN, or the local server) and a connection that fails the
// test, never skips it, when the server is unreachable.
package pgtest

import (
	"context"
	"fmt"
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
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, DSN())
	if err != nil {
		t.Fatalf("PostgreSQL is not reachable at %s (run `make test-deps`, or set PBENCHD_TEST_DSN): %v", DSN(), err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
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
