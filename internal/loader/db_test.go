package loader

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pbenchd/pbenchd/internal/pgtest"
)

// testSchema gives the test a schema of its own (see pgtest.Schema).
func testSchema(t testing.TB) (Connector, *pgx.Conn, string) {
	t.Helper()
	connect, conn, schema := pgtest.Schema(t)
	return connect, conn, schema
}

func queryInt(t testing.TB, conn *pgx.Conn, sql string, args ...any) int64 {
	t.Helper()
	return pgtest.Int(t, conn, sql, args...)
}

func queryString(t testing.TB, conn *pgx.Conn, sql string, args ...any) string {
	t.Helper()
	return pgtest.String(t, conn, sql, args...)
}

// pgxRows adapts rows to pgx.CopyFromSource.
func pgxRows(rows [][]any) pgx.CopyFromSource { return pgx.CopyFromRows(rows) }
