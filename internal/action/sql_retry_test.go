package action

import (
	"context"
	"testing"

	"github.com/pbenchd/pbenchd/internal/pgtest"
	"github.com/pbenchd/pbenchd/internal/target"
)

// TestStatementsRetryNeverRepeatsCommittedWork: `statements` runs each
// statement in its own transaction, so the INSERT before a statement that
// fails with a serialization failure has committed. Retrying must re-run
// only the failed statement: with retries: 3 the call makes 3 retries,
// fails with 40001, and the table holds one row, not four. A statement
// that fails once and then succeeds is retried alone too: the INSERTs
// around it run once each.
func TestStatementsRetryNeverRepeatsCommittedWork(t *testing.T) {
	c := pgtest.Connect(t)
	tbl := pgtest.Name("pbenchd_retry")
	seq := tbl + "_seq"
	pgtest.Exec(t, c, "CREATE TABLE "+tbl+" (k int)")
	pgtest.Exec(t, c, "CREATE SEQUENCE "+seq)
	t.Cleanup(func() {
		pgtest.Exec(t, pgtest.Connect(t), "DROP TABLE IF EXISTS "+tbl+"; DROP SEQUENCE IF EXISTS "+seq)
	})
	rows := func() int {
		var n int
		if err := c.QueryRow(context.Background(), "SELECT count(*) FROM "+tbl).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	always := `DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '40001'; END $$`
	r := buildReuse(t, context.Background(), map[string]any{
		"statements": []any{"INSERT INTO " + tbl + " VALUES (1)", always}, "conn": "reuse", "retries": 3,
	})
	res := r.Call(context.Background())
	if got := target.Classify(res.Err); got != "sqlstate_40001" {
		t.Fatalf("class %q (%v), want sqlstate_40001", got, res.Err)
	}
	if len(res.Retries) != 3 {
		t.Errorf("retries %v, want 3", res.Retries)
	}
	if n := rows(); n != 1 {
		t.Errorf("%d rows after one call, want 1: a retry re-ran the committed INSERT", n)
	}

	once := `DO $$ BEGIN IF nextval('` + seq + `') = 1 THEN RAISE EXCEPTION 'injected' USING ERRCODE = '40001'; END IF; END $$`
	r2 := buildReuse(t, context.Background(), map[string]any{
		"statements": []any{"INSERT INTO " + tbl + " VALUES (2)", once, "INSERT INTO " + tbl + " VALUES (3)"}, "conn": "reuse", "retries": 3,
	})
	res = r2.Call(context.Background())
	if res.Err != nil || len(res.Retries) != 1 {
		t.Fatalf("err %v, retries %v: want success after one retry", res.Err, res.Retries)
	}
	if n := rows(); n != 3 {
		t.Errorf("%d rows, want 3 (1, 2 and 3 once each)", n)
	}
}
