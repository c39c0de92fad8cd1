package engine

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/pgtest"
)

// TestChecks compares a materialized view with its query: equal after a
// refresh (numeric values compared by value), a mismatch once the table
// changed and the view did not, counted, reported by rows, failing the
// iteration.
func TestChecks(t *testing.T) {
	c := pgtest.Connect(t)
	tbl, mv := pgtest.Name("pbenchd_chk"), pgtest.Name("pbenchd_chk_mv")
	pgtest.Exec(t, c, "CREATE TABLE "+tbl+" (g text, v numeric(10,2))")
	pgtest.Exec(t, c, "INSERT INTO "+tbl+" VALUES ('a', 1.50), ('a', 2), ('b', 3.25)")
	pgtest.Exec(t, c, "CREATE MATERIALIZED VIEW "+mv+" AS SELECT g, sum(v) AS s, count(*) AS n FROM "+tbl+" GROUP BY g")
	t.Cleanup(func() {
		pgtest.Exec(t, pgtest.Connect(t), "DROP MATERIALIZED VIEW IF EXISTS "+mv+"; DROP TABLE IF EXISTS "+tbl)
	})
	direct := "SELECT g, sum(v)::float8 AS s, count(*)::int AS n FROM " + tbl + " GROUP BY g"

	m := metrics.New(prometheus.NewRegistry())
	cfg := &config.Config{
		Targets: map[string]config.Target{"pg": {Kind: "postgres", DSN: pgtest.DSN()}},
		Run:     config.Run{SetupTimeout: config.Dur(time.Minute), TeardownTimeout: config.Dur(time.Minute)},
	}
	sc := &config.Scenario{
		Name: "chk", Target: "pg",
		Phases: []config.Phase{{Load: &config.LoadPhase{Duration: config.Dur(100 * time.Millisecond), Actions: []config.Action{
			{Name: "read", Closed: &config.ClosedLoop{Concurrency: 1}, Kind: "sql", Kinds: map[string]any{"sql": "SELECT * FROM " + mv}},
		}}}},
		// The direct query returns float8 and int while the view holds
		// numeric and bigint: values, not types or spellings, must agree.
		Checks: []config.Check{{Name: "mv", Expect: direct, Actual: "SELECT g, s, n FROM " + mv}},
	}
	e := New(cfg, m, quiet)
	it := e.Iterate(context.Background(), sc, Stage{})
	if it.Result != Pass || len(it.Checks) != 1 || !it.Checks[0].Match || it.Checks[0].Rows != 2 {
		t.Fatalf("fresh view: result %s, checks %+v", it.Result, it.Checks)
	}

	pgtest.Exec(t, c, "INSERT INTO "+tbl+" VALUES ('c', 4)")
	it = e.Iterate(context.Background(), sc, Stage{})
	if it.Result != Fail {
		t.Fatalf("stale view: result %s, want fail", it.Result)
	}
	ch := it.Checks[0]
	if ch.Match || len(ch.Missing) != 1 || ch.Missing[0] != `("c", 4, 1)` || len(ch.Extra) != 0 {
		t.Fatalf("stale view: check %+v, want one missing row (\"c\", 4, 1)", ch)
	}
	if got := testutil.ToFloat64(m.ViewMismatch.WithLabelValues("chk", "mv")); got != 1 {
		t.Errorf("view_mismatch_total = %v, want 1", got)
	}

	// A prepare step (the refresh) brings them back in line.
	sc.Checks[0].Prepare = []string{"REFRESH MATERIALIZED VIEW " + mv}
	if it = e.Iterate(context.Background(), sc, Stage{}); it.Result != Pass {
		t.Fatalf("after refresh: result %s, checks %+v", it.Result, it.Checks)
	}
}

// TestCheckCorruptedRow: a view kept as a table (as pg_ivm keeps its
// views) with one row deliberately changed is reported as a mismatch that
// names the row on both sides.
func TestCheckCorruptedRow(t *testing.T) {
	c := pgtest.Connect(t)
	tbl, view := pgtest.Name("pbenchd_corrupt"), pgtest.Name("pbenchd_corrupt_view")
	pgtest.Exec(t, c, "CREATE TABLE "+tbl+" (g text, v numeric(12,2))")
	pgtest.Exec(t, c, "INSERT INTO "+tbl+" SELECT chr(97 + g % 5), g FROM generate_series(1, 1000) g")
	pgtest.Exec(t, c, "CREATE TABLE "+view+" AS SELECT g, sum(v) AS s FROM "+tbl+" GROUP BY g")
	pgtest.Exec(t, c, "UPDATE "+view+" SET s = s + 0.01 WHERE g = 'c'")
	t.Cleanup(func() { pgtest.Exec(t, pgtest.Connect(t), "DROP TABLE IF EXISTS "+view+", "+tbl) })

	cfg := &config.Config{Targets: map[string]config.Target{"pg": {Kind: "postgres", DSN: pgtest.DSN()}}}
	m := metrics.New(prometheus.NewRegistry())
	sc := &config.Scenario{Name: "corrupt", Target: "pg"}
	r := New(cfg, m, quiet).check(context.Background(), sc, config.Check{
		Name: "v", Expect: "SELECT g, sum(v) FROM " + tbl + " GROUP BY g", Actual: "SELECT g, s FROM " + view,
	})
	if r.Err != nil || r.Match || r.Rows != 5 {
		t.Fatalf("check: match %v, rows %d, err %v; want a mismatch over 5 rows", r.Match, r.Rows, r.Err)
	}
	if len(r.Missing) != 1 || r.Missing[0] != `("c", 99900)` || len(r.Extra) != 1 || r.Extra[0] != `("c", 99900.01)` {
		t.Errorf("missing %v, extra %v; want (\"c\", 99900) and (\"c\", 99900.01)", r.Missing, r.Extra)
	}
}

func TestCanonical(t *testing.T) {
	for _, c := range []struct {
		name string
		in   any
		want string
	}{
		{"int", int64(42), "42"},
		{"float integral", 3.0, "3"},
		{"float", 0.25, "0.25"},
		{"string", "a\"b", `"a\"b"`},
		{"nil", nil, "NULL"},
		{"time", time.Date(2020, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)), "2020-01-02T02:04:05Z"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := canonical(c.in); got != c.want {
				t.Errorf("canonical(%v) = %s, want %s", c.in, got, c.want)
			}
		})
	}
}

// TestRowSetHiddenColumns compares a table shaped like a pg_ivm view (its
// visible columns and pg_ivm's __ivm_… counts) with the view's query: the
// hidden columns are left out, so the rows agree; a column merely
// containing "ivm" is still compared.
func TestRowSetHiddenColumns(t *testing.T) {
	c := pgtest.Connect(t)
	tbl := pgtest.Name("pbenchd_chk_immv")
	pgtest.Exec(t, c, "CREATE TABLE "+tbl+" (g text, s numeric, __ivm_count_s__ bigint, __ivm_count__ bigint, my__ivm_ int)")
	pgtest.Exec(t, c, "INSERT INTO "+tbl+" VALUES ('a', 3.5, 2, 2, 7)")
	t.Cleanup(func() { pgtest.Exec(t, pgtest.Connect(t), "DROP TABLE IF EXISTS "+tbl) })
	got, err := rowSet(context.Background(), c, "SELECT * FROM "+tbl)
	if err != nil {
		t.Fatal(err)
	}
	want, err := rowSet(context.Background(), c, "SELECT 'a'::text AS g, 3.50 AS s, 7 AS my__ivm_")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(want) != 1 || got[0] != want[0] || got[0] != `("a", 3.5, 7)` {
		t.Fatalf("rows of the view %q, of the query %q: want both (\"a\", 3.5, 7)", got, want)
	}
}
