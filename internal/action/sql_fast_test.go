package action

import (
	"context"
	"fmt"
	"testing"

	"github.com/pbenchd/pbenchd/internal/pgtest"
	"github.com/pbenchd/pbenchd/internal/target"
)

// TestFastStatement: prepared `exec` and `query` statements on reused and
// pooled connections go below pgx and store exactly what pgx would (every
// argument kind the fast path encodes, and `now`, which it leaves to
// pgx); their failures are the server's SQLSTATEs, classified alike.
func TestFastStatement(t *testing.T) {
	c := pgtest.Connect(t)
	ctx := context.Background()
	table := pgtest.Name("pbenchd_fast")
	if _, err := c.Exec(ctx, fmt.Sprintf("CREATE TABLE %s (i bigint, s text, f float8, b bool, n int, ts timestamptz)", table)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = c.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) })

	for _, conn := range []string{"reuse", "pooled"} {
		args := []any{
			map[string]any{"kind": "sequence", "start": 1},
			map[string]any{"kind": "choice", "values": []any{"it's"}},
			map[string]any{"kind": "constant", "value": 2.5},
			map[string]any{"kind": "constant", "value": true},
			map[string]any{"kind": "constant", "value": 7},
		}
		ins := buildReuse(t, ctx, map[string]any{
			"exec": fmt.Sprintf("INSERT INTO %s (i, s, f, b, n) VALUES ($1, $2, $3, $4, $5)", table),
			"conn": conn, "args": args,
		})
		if ins.(*sqlRunner).fast == nil {
			t.Fatalf("%s: the prepared exec does not take the fast path", conn)
		}
		for range 3 {
			if res := ins.Call(ctx); res.Err != nil {
				t.Fatalf("%s insert: %v", conn, res.Err)
			}
		}
		now := buildReuse(t, ctx, map[string]any{
			"exec": fmt.Sprintf("INSERT INTO %s (i, ts) VALUES (-1, $1)", table), "conn": conn,
			"args": []any{map[string]any{"kind": "now"}},
		})
		if res := now.Call(ctx); res.Err != nil {
			t.Fatalf("%s insert of now (through pgx): %v", conn, res.Err)
		}
		var n, sum int64
		var s string
		var f float64
		var b bool
		var k int
		if err := c.QueryRow(ctx, fmt.Sprintf("SELECT count(*), sum(i), min(s), min(f), bool_and(b), min(n) FROM %s WHERE i > 0", table)).Scan(&n, &sum, &s, &f, &b, &k); err != nil {
			t.Fatal(err)
		}
		if n != 3 || sum != 6 || s != "it's" || f != 2.5 || !b || k != 7 {
			t.Errorf("%s: stored count %d sum %d s %q f %v b %v n %d; want 3, 6, it's, 2.5, true, 7", conn, n, sum, s, f, b, k)
		}
		if _, err := c.Exec(ctx, "TRUNCATE "+table); err != nil {
			t.Fatal(err)
		}

		q := buildReuse(t, ctx, map[string]any{"query": "SELECT $1::int / $2::int", "conn": conn,
			"args": []any{map[string]any{"kind": "constant", "value": 1}, map[string]any{"kind": "choice", "values": []any{0, 1}}}})
		var failed, ok int
		for range 40 {
			res := q.Call(ctx)
			switch target.Classify(res.Err) {
			case "":
				ok++
			case "sqlstate_22012": // division by zero
				failed++
			default:
				t.Fatalf("%s query: %v", conn, res.Err)
			}
		}
		if ok == 0 || failed == 0 {
			t.Errorf("%s: %d ok and %d division by zero of 40 calls dividing by 0 or 1 at random", conn, ok, failed)
		}
	}
}
