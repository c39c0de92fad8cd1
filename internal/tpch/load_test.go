package tpch

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pbenchd/pbenchd/internal/loader"
	"github.com/pbenchd/pbenchd/internal/pgtest"
)

// rowCounter is a loader.Progress that sums rows per table.
type rowCounter struct {
	mu   sync.Mutex
	rows map[string]int64
}

func (c *rowCounter) Rows(table string, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rows == nil {
		c.rows = map[string]int64{}
	}
	c.rows[table] += n
}

func (c *rowCounter) Step(string, loader.Step) {}

func loadSF(t *testing.T, sf float64, workers int) (*Generator, *pgx.Conn, loader.Result, *rowCounter) {
	t.Helper()
	connect, conn, _ := pgtest.Schema(t)
	g, err := New(sf, 1)
	if err != nil {
		t.Fatal(err)
	}
	var p rowCounter
	res, err := g.Load(context.Background(), connect, LoadOptions{Workers: workers, Progress: &p})
	if err != nil {
		t.Fatalf("load SF %g: %v", sf, err)
	}
	t.Logf("SF %g with %d workers (%s): %v (copy %v, keys %v, swap+FKs %v, analyze %v)", sf, workers, res.Mode,
		res.Elapsed.Round(time.Millisecond), res.Copy.Round(time.Millisecond), res.Index.Round(time.Millisecond),
		res.Swap.Round(time.Millisecond), res.Analyze.Round(time.Millisecond))
	return g, conn, res, &p
}

func TestLoadSF001(t *testing.T) {
	ctx := context.Background()
	g, conn, res, progress := loadSF(t, 0.01, 4)
	if res.Mode != loader.ModeDynamic {
		t.Errorf("mode %s, want dynamic over the eight tables", res.Mode)
	}

	want := g.Rows()
	if want["lineitem"] < 58_500 || want["lineitem"] > 61_500 {
		t.Errorf("expected lineitem rows %d, want about 60,000", want["lineitem"])
	}
	for _, table := range TableNames {
		if n := pgtest.Int(t, conn, "SELECT count(*) FROM "+table); n != want[table] {
			t.Errorf("%s: %d rows, want %d", table, n, want[table])
		}
		if progress.rows[table] != want[table] {
			t.Errorf("%s: progress counted %d rows, want %d", table, progress.rows[table], want[table])
		}
	}
	// Lineitem is the sum of the per-order line counts.
	if n := pgtest.Int(t, conn, "SELECT sum(c) FROM (SELECT count(*) AS c FROM lineitem GROUP BY l_orderkey) s"); n != want["lineitem"] {
		t.Errorf("sum of lines per order %d, want %d", n, want["lineitem"])
	}
	if n := pgtest.Int(t, conn, "SELECT count(*) FROM (SELECT l_orderkey FROM lineitem GROUP BY l_orderkey HAVING count(*) NOT BETWEEN 1 AND 7 OR max(l_linenumber) <> count(*)) s"); n != 0 {
		t.Errorf("%d orders without 1–7 lines numbered from 1", n)
	}

	for _, q := range []struct{ name, sql string }{
		{"lineitem→orders", "SELECT count(*) FROM lineitem LEFT JOIN orders ON o_orderkey = l_orderkey WHERE o_orderkey IS NULL"},
		{"lineitem→partsupp", "SELECT count(*) FROM lineitem LEFT JOIN partsupp ON ps_partkey = l_partkey AND ps_suppkey = l_suppkey WHERE ps_partkey IS NULL"},
		{"orders→customer", "SELECT count(*) FROM orders LEFT JOIN customer ON c_custkey = o_custkey WHERE c_custkey IS NULL"},
		{"partsupp→part", "SELECT count(*) FROM partsupp LEFT JOIN part ON p_partkey = ps_partkey WHERE p_partkey IS NULL"},
		{"partsupp→supplier", "SELECT count(*) FROM partsupp LEFT JOIN supplier ON s_suppkey = ps_suppkey WHERE s_suppkey IS NULL"},
		{"customer→nation", "SELECT count(*) FROM customer LEFT JOIN nation ON n_nationkey = c_nationkey WHERE n_nationkey IS NULL"},
		{"supplier→nation", "SELECT count(*) FROM supplier LEFT JOIN nation ON n_nationkey = s_nationkey WHERE n_nationkey IS NULL"},
		{"nation→region", "SELECT count(*) FROM nation LEFT JOIN region ON r_regionkey = n_regionkey WHERE r_regionkey IS NULL"},
		{"orders without lines", "SELECT count(*) FROM orders WHERE NOT EXISTS (SELECT 1 FROM lineitem WHERE l_orderkey = o_orderkey)"},
		{"custkeys divisible by 3", "SELECT count(*) FROM orders WHERE o_custkey % 3 = 0"},
		{"sparse keys", "SELECT count(*) FROM orders WHERE (o_orderkey - 1) % 32 >= 8"},
		{"extendedprice = quantity × retailprice", "SELECT count(*) FROM lineitem JOIN part ON p_partkey = l_partkey WHERE l_extendedprice <> l_quantity * p_retailprice"},
		{"dates", `SELECT count(*) FROM lineitem JOIN orders ON o_orderkey = l_orderkey
			WHERE l_shipdate - o_orderdate NOT BETWEEN 1 AND 121 OR l_commitdate - o_orderdate NOT BETWEEN 30 AND 90
			   OR l_receiptdate - l_shipdate NOT BETWEEN 1 AND 30 OR o_orderdate NOT BETWEEN '1992-01-01' AND '1998-08-02'`},
		{"flags", `SELECT count(*) FROM lineitem
			WHERE (l_receiptdate <= '1995-06-17') <> (l_returnflag IN ('R', 'A'))
			   OR (l_shipdate > '1995-06-17') <> (l_linestatus = 'O')`},
		{"ranges", `SELECT count(*) FROM lineitem WHERE l_quantity NOT BETWEEN 1 AND 50 OR l_discount NOT BETWEEN 0 AND 0.10 OR l_tax NOT BETWEEN 0 AND 0.08`},
		{"order status", `SELECT count(*) FROM orders JOIN (SELECT l_orderkey, bool_and(l_linestatus = 'F') AS f, bool_and(l_linestatus = 'O') AS o FROM lineitem GROUP BY 1) l ON l_orderkey = o_orderkey
			WHERE o_orderstatus <> CASE WHEN f THEN 'F' WHEN o THEN 'O' ELSE 'P' END`},
		{"total price", `SELECT count(*) FROM orders JOIN (SELECT l_orderkey, sum(round(l_extendedprice * (1 + l_tax) * (1 - l_discount), 2)) AS t FROM lineitem GROUP BY 1) l ON l_orderkey = o_orderkey
			WHERE o_totalprice <> t`},
		{"retail price", "SELECT count(*) FROM part WHERE p_retailprice * 100 <> 90000 + (p_partkey / 10) % 20001 + 100 * (p_partkey % 1000)"},
	} {
		if n := pgtest.Int(t, conn, q.sql); n != 0 {
			t.Errorf("%s: %d rows break the rule", q.name, n)
		}
	}
	if n := pgtest.Int(t, conn, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = current_schema()::regnamespace"); n != 8 {
		t.Errorf("%d foreign keys, want 8", n)
	}
	if names := pgtest.String(t, conn, "SELECT string_agg(n_name, ',' ORDER BY n_nationkey) FROM nation"); names[:17] != "ALGERIA,ARGENTINA" {
		t.Errorf("nations %s", names)
	}

	// Q01 at delta 90: the four groups.
	rows, err := conn.Query(ctx, Q01(Q01Options{Ordered: true}))
	if err != nil {
		t.Fatal(err)
	}
	var groups []string
	var total int64
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		groups = append(groups, fmt.Sprint(vals[0], "/", vals[1]))
		total += vals[9].(int64)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"A/F", "N/F", "N/O", "R/F"}; !slices.Equal(groups, want) {
		t.Errorf("Q01 groups %v, want %v", groups, want)
	}
	if total < want["lineitem"]*9/10 {
		t.Errorf("Q01 counted %d of %d lines; most ship before 1998-09-02", total, want["lineitem"])
	}

	// Q09 green: profit per nation and year.
	q09, err := Q09(Q09Options{Ordered: true})
	if err != nil {
		t.Fatal(err)
	}
	var q09rows, nations, years int64
	err = conn.QueryRow(ctx, "SELECT count(*), count(DISTINCT nation), count(DISTINCT o_year) FROM ("+q09+") q").Scan(&q09rows, &nations, &years)
	if err != nil {
		t.Fatal(err)
	}
	if q09rows == 0 || nations != 25 || years != 7 {
		t.Errorf("Q09: %d rows, %d nations, %d years; want about 175, 25, 7", q09rows, nations, years)
	}
	green := pgtest.Int(t, conn, "SELECT count(*) FROM part WHERE p_name LIKE '%green%'")
	if green < 80 || green > 140 {
		t.Errorf("%d green parts of 2000, want about 5.4%% (109)", green)
	}

	// A rerun finds the tables loaded.
	t.Run("rerun skips", func(t *testing.T) {
		connect := func(ctx context.Context) (*pgx.Conn, error) {
			cfg := conn.Config().Copy()
			return pgx.ConnectConfig(ctx, cfg)
		}
		res, err := g.Load(ctx, connect, LoadOptions{Workers: 2})
		if err != nil || !res.Skipped {
			t.Errorf("rerun: skipped=%v err=%v", res.Skipped, err)
		}
	})

	t.Run("refresh streams", func(t *testing.T) { testRefresh(t, g, conn) })
}

func testRefresh(t *testing.T, g *Generator, conn *pgx.Conn) {
	ctx := context.Background()
	count := func() (orders, lines int64) {
		return pgtest.Int(t, conn, "SELECT count(*) FROM orders"), pgtest.Int(t, conn, "SELECT count(*) FROM lineitem")
	}
	orders0, lines0 := count()
	r := g.NewRefresher("")
	if err := r.Resume(ctx, conn); err != nil {
		t.Fatal(err)
	}

	rf1, err := r.RF1(ctx, conn)
	if err != nil {
		t.Fatalf("RF1: %v", err)
	}
	if rf1.Stream != 1 || rf1.Orders != 15 || rf1.Lineitems < 15 || rf1.Lineitems > 105 {
		t.Errorf("RF1 %+v: want stream 1, 15 orders, 15–105 lines", rf1)
	}
	orders1, lines1 := count()
	if orders1 != orders0+rf1.Orders || lines1 != lines0+rf1.Lineitems {
		t.Errorf("after RF1: %d orders, %d lines; want %d, %d", orders1, lines1, orders0+rf1.Orders, lines0+rf1.Lineitems)
	}
	// The new orders' lines are consistent with partsupp and their order.
	if n := pgtest.Int(t, conn, `SELECT count(*) FROM lineitem l JOIN orders o ON o_orderkey = l_orderkey
		LEFT JOIN partsupp ON ps_partkey = l_partkey AND ps_suppkey = l_suppkey
		WHERE o_orderkey > $1 AND (ps_partkey IS NULL OR l_shipdate <= o_orderdate)`, OrderKey(g.Orders()-1)); n != 0 {
		t.Errorf("%d refresh lines inconsistent", n)
	}

	// The same stream again would collide: keys are a function of the stream.
	if _, err := r.RF1Stream(ctx, conn, 1); err == nil {
		t.Error("RF1 stream 1 twice did not fail on the primary key")
	}
	// A new Refresher resumes after stream 1.
	r2 := g.NewRefresher("")
	if err := r2.Resume(ctx, conn); err != nil {
		t.Fatal(err)
	}
	rf1b, err := r2.RF1(ctx, conn)
	if err != nil || rf1b.Stream != 2 {
		t.Fatalf("resumed RF1: %+v, %v; want stream 2", rf1b, err)
	}

	rf2, err := r.RF2(ctx, conn)
	if err != nil {
		t.Fatalf("RF2: %v", err)
	}
	if rf2.Stream != 1 || rf2.Orders != 15 || rf2.Lineitems < 15 {
		t.Errorf("RF2 %+v: want stream 1, 15 orders", rf2)
	}
	orders2, lines2 := count()
	if orders2 != orders1+rf1b.Orders-15 || lines2 != lines1+rf1b.Lineitems-rf2.Lineitems {
		t.Errorf("after RF2: %d orders, %d lines", orders2, lines2)
	}
	// Stream 1 deleted the first 15 loaded orders.
	if n := pgtest.Int(t, conn, "SELECT count(*) FROM orders WHERE o_orderkey <= $1", OrderKey(14)); n != 0 {
		t.Errorf("%d of the first 15 orders remain", n)
	}
	r3 := g.NewRefresher("")
	if err := r3.Resume(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if rf2b, err := r3.RF2(ctx, conn); err != nil || rf2b.Stream != 2 || rf2b.Orders != 15 {
		t.Errorf("resumed RF2: %+v, %v; want stream 2 deleting 15 orders", rf2b, err)
	}
}

// TestLoadSameDataWhateverTheWorkers loads SF 0.01 with one worker and with
// four and compares checksums of every table.
func TestLoadSameDataWhateverTheWorkers(t *testing.T) {
	sums := func(conn *pgx.Conn) []string {
		var out []string
		for _, q := range []string{
			"SELECT md5(string_agg(t::text, ',' ORDER BY l_orderkey, l_linenumber)) FROM lineitem t",
			"SELECT md5(string_agg(t::text, ',' ORDER BY o_orderkey)) FROM orders t",
			"SELECT md5(string_agg(t::text, ',' ORDER BY ps_partkey, ps_suppkey)) FROM partsupp t",
			"SELECT md5(string_agg(t::text, ',' ORDER BY p_partkey)) FROM part t",
			"SELECT md5(string_agg(t::text, ',' ORDER BY c_custkey)) FROM customer t",
			"SELECT md5(string_agg(t::text, ',' ORDER BY s_suppkey)) FROM supplier t",
		} {
			out = append(out, pgtest.String(t, conn, q))
		}
		return out
	}
	_, one, _, _ := loadSF(t, 0.01, 1)
	_, four, _, _ := loadSF(t, 0.01, 4)
	if a, b := sums(one), sums(four); !slices.Equal(a, b) {
		t.Errorf("checksums differ:\n1 worker:  %v\n4 workers: %v", a, b)
	}
}

// BenchmarkLoad loads TPC-H-shaped data at PBENCHD_BENCH_SF (default
// 0.01) with PBENCHD_BENCH_WORKERS connections (default 2) into a fresh
// schema; bench/load_tpch.sh compares it with psql's \copy.
func BenchmarkLoad(b *testing.B) {
	sf, workers := 0.01, 2
	if v := os.Getenv("PBENCHD_BENCH_SF"); v != "" {
		sf, _ = strconv.ParseFloat(v, 64)
	}
	if v := os.Getenv("PBENCHD_BENCH_WORKERS"); v != "" {
		workers, _ = strconv.Atoi(v)
	}
	g, err := New(sf, 1)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		connect, _, _ := pgtest.Schema(b)
		res, err := g.Load(context.Background(), connect, LoadOptions{Workers: workers})
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("pbenchd COPY: total %.2f s (copy %.2f, keys %.2f, FKs+rename %.2f, analyze %.2f), %d rows, %d workers",
			res.Elapsed.Seconds(), res.Copy.Seconds(), res.Index.Seconds(), res.Swap.Seconds(), res.Analyze.Seconds(), res.Rows(), workers)
		b.ReportMetric(float64(res.Rows())/res.Elapsed.Seconds(), "rows/s")
		b.ReportMetric(res.Elapsed.Seconds(), "load-s")
	}
}
