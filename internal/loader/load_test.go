package loader

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// specs are the load steps of a small scenario: a referenced table and one
// with every column kind.
func specs(rows int64, workers int, mode Mode) (other, items *Spec) {
	f := func(v float64) *float64 { return &v }
	scale := 2
	other = &Spec{
		Table: "other", Rows: 1000, Workers: workers, Mode: mode, Seed: 7,
		Columns:    []ColumnSpec{{Name: "id", Kind: "sequence"}, {Name: "label", Kind: "choice", Values: []string{"x", "y", "z"}}},
		PrimaryKey: []string{"id"},
	}
	from, _ := ParseDate("2020-01-01")
	to, _ := ParseDate("2020-12-31")
	items = &Spec{
		Table: "items", Rows: rows, Workers: workers, Mode: mode, Seed: 42, BatchRows: 1000,
		Columns: []ColumnSpec{
			{Name: "id", Kind: "sequence"},
			{Name: "qty", Kind: "uniform_int", Min: f(1), Max: f(50)},
			{Name: "price", Kind: "uniform_numeric", Min: f(-1), Max: f(100), Scale: &scale},
			{Name: "note", Kind: "string", Length: 20},
			{Name: "memo", Kind: "string", MinLength: 0, MaxLength: 12},
			{Name: "status", Kind: "choice", Values: []string{"a", "b", "c"}},
			{Name: "at", Kind: "date", From: from, To: to},
			{Name: "other_id", Kind: "foreign_key", Table: "other", Column: "id"},
		},
		PrimaryKey: []string{"id"},
		Indexes:    []string{"CREATE INDEX ON {{table}} (qty)", "CREATE INDEX items_status ON {{table}} (status)"},
	}
	return other, items
}

func mustCompile(t *testing.T, s *Spec, others ...*Spec) []Table {
	t.Helper()
	d := s.WithDefaults()
	if err := d.Validate("load", others...); err != nil {
		t.Fatalf("spec: %v", err)
	}
	tables, err := d.Compile(others...)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return tables
}

// counter is a Progress that sums rows per table.
type counter struct {
	mu    sync.Mutex
	rows  map[string]int64
	steps map[string][]Step
}

func (c *counter) Rows(table string, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rows == nil {
		c.rows = map[string]int64{}
	}
	c.rows[table] += n
}

func (c *counter) Step(table string, s Step) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.steps == nil {
		c.steps = map[string][]Step{}
	}
	c.steps[table] = append(c.steps[table], s)
}

func TestLoadCopiesExactRowCounts(t *testing.T) {
	ctx := context.Background()
	connect, conn, schema := testSchema(t)
	other, items := specs(25_013, 4, ModeStatic)

	var p counter
	opts := other.LoadOptions()
	opts.Progress = &p
	res, err := Load(ctx, connect, mustCompile(t, other), opts)
	if err != nil {
		t.Fatalf("load other: %v", err)
	}
	if res.Rows() != 1000 {
		t.Errorf("other: %d rows copied, want 1000", res.Rows())
	}
	opts = items.LoadOptions()
	opts.Progress = &p
	res, err = Load(ctx, connect, mustCompile(t, items, other), opts)
	if err != nil {
		t.Fatalf("load items: %v", err)
	}
	if res.Mode != ModeStatic || res.Workers != 4 || res.Rows() != 25_013 {
		t.Errorf("result %+v: want static, 4 workers, 25013 rows", res)
	}
	if got := queryInt(t, conn, "SELECT count(*) FROM items"); got != 25_013 {
		t.Errorf("items has %d rows, want 25013", got)
	}
	if p.rows["items"] != 25_013 || p.rows["other"] != 1000 {
		t.Errorf("progress counted %v", p.rows)
	}
	if want := []Step{StepCopy, StepIndex, StepReady, StepAnalyze, StepDone}; !slices.Equal(p.steps["items"], want) {
		t.Errorf("steps of items = %v, want %v", p.steps["items"], want)
	}

	// Values stay within their specs; the sequence is exactly 1..rows.
	var minID, maxID, distinct, minQty, maxQty, badFK, nullish int64
	var priceOK bool
	err = conn.QueryRow(ctx, `
		SELECT min(id), max(id), count(DISTINCT id), min(qty), max(qty),
		       min(price) >= -1 AND min(price) < 0 AND max(price) <= 100 AND max(price) > 99 AND min(scale(price)) = 2,
		       count(*) FILTER (WHERE other_id NOT IN (SELECT id FROM other)),
		       count(*) FILTER (WHERE length(note) <> 20 OR length(memo) > 12 OR status NOT IN ('a','b','c')
		                         OR at NOT BETWEEN '2020-01-01' AND '2020-12-31')
		FROM items`).Scan(&minID, &maxID, &distinct, &minQty, &maxQty, &priceOK, &badFK, &nullish)
	if err != nil {
		t.Fatal(err)
	}
	if minID != 1 || maxID != 25_013 || distinct != 25_013 {
		t.Errorf("ids %d..%d (%d distinct), want 1..25013", minID, maxID, distinct)
	}
	if minQty != 1 || maxQty != 50 {
		t.Errorf("qty %d..%d, want 1..50", minQty, maxQty)
	}
	if !priceOK {
		t.Errorf("prices do not span -1.00..100.00 with 2 decimals")
	}
	if badFK != 0 || nullish != 0 {
		t.Errorf("%d foreign keys without target, %d values outside their spec", badFK, nullish)
	}

	// Keys, indexes (renamed with the table), the completion mark, no staging left.
	indexes := queryString(t, conn, `SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = $1 AND tablename = 'items'`, schema)
	if indexes != "items_pkey,items_qty_idx,items_status" {
		t.Errorf("indexes = %s", indexes)
	}
	if n := queryInt(t, conn, `SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename LIKE '%staging'`, schema); n != 0 {
		t.Errorf("%d staging tables left", n)
	}
	// The mark: the fingerprint, the exact row count, a sample of about
	// 1000 rows (4 % of 25013, to 3 digits) and its checksum.
	if c, want := queryString(t, conn, `SELECT obj_description('items'::regclass, 'pg_class')`),
		commentPrefix+mustCompile(t, items, other)[0].Fingerprint+" rows=25013 sample=4:"; !strings.HasPrefix(c, want) || len(c) != len(want)+32 {
		t.Errorf("comment = %q, want %q and an md5", c, want)
	}
	if n := queryInt(t, conn, `SELECT count(*) FROM pg_stats WHERE schemaname = $1 AND tablename = 'items'`, schema); n == 0 {
		t.Errorf("items was not analyzed")
	}

	// A rerun with the same spec does nothing; a changed spec reloads.
	res, err = Load(ctx, connect, mustCompile(t, items, other), items.LoadOptions())
	if err != nil || !res.Skipped {
		t.Fatalf("rerun: skipped=%v err=%v, want skipped", res.Skipped, err)
	}
	items.Rows = 500
	res, err = Load(ctx, connect, mustCompile(t, items, other), items.LoadOptions())
	if err != nil || res.Skipped {
		t.Fatalf("changed spec: skipped=%v err=%v, want a reload", res.Skipped, err)
	}
	if got := queryInt(t, conn, "SELECT count(*) FROM items"); got != 500 {
		t.Errorf("items has %d rows after reload, want 500", got)
	}
}

// checksum is the md5 of the whole table in id order.
func checksum(t *testing.T, connect Connector, table string) string {
	t.Helper()
	conn, err := connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	return queryString(t, conn, fmt.Sprintf("SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM %s t", table))
}

func TestLoadSameDataWhateverTheSplit(t *testing.T) {
	ctx := context.Background()
	var sums []string
	for _, run := range []struct {
		workers int
		mode    Mode
		batch   int
	}{{1, ModeStatic, 0}, {4, ModeStatic, 0}, {4, ModeDynamic, 777}, {7, ModeDynamic, 0}} {
		connect, _, _ := testSchema(t)
		other, items := specs(20_000, run.workers, run.mode)
		items.BatchRows = run.batch
		for _, s := range []*Spec{other, items} {
			if _, err := Load(ctx, connect, mustCompile(t, s, other), s.LoadOptions()); err != nil {
				t.Fatalf("%d workers %s: %v", run.workers, run.mode, err)
			}
		}
		sums = append(sums, checksum(t, connect, "items"))
	}
	for i, s := range sums {
		if s != sums[0] {
			t.Errorf("run %d checksum %s differs from run 0's %s", i, s, sums[0])
		}
	}
}

func TestLoadTableSetDynamic(t *testing.T) {
	ctx := context.Background()
	connect, conn, _ := testSchema(t)
	s := &Spec{
		Tables: &TableSet{Pattern: "collection{{i}}", Count: 10, Start: 1}, Rows: 3_001, Workers: 3,
		Columns:    []ColumnSpec{{Name: "id", Kind: "sequence"}, {Name: "v", Kind: "string", Length: 8}},
		PrimaryKey: []string{"id"},
	}
	res, err := Load(ctx, connect, mustCompile(t, s), s.LoadOptions())
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != ModeDynamic {
		t.Errorf("mode %s, want dynamic for a set of tables", res.Mode)
	}
	for i := 1; i <= 10; i++ {
		if n := queryInt(t, conn, fmt.Sprintf("SELECT count(*) FROM collection%d", i)); n != 3_001 {
			t.Errorf("collection%d has %d rows, want 3001", i, n)
		}
	}
	if a, b := checksum(t, connect, "collection1"), checksum(t, connect, "collection2"); a == b {
		t.Errorf("collection1 and collection2 have the same data; tables of a set should differ")
	}
}

// cancelAfter is a Progress that cancels the load after some batches.
type cancelAfter struct {
	batches atomic.Int32
	after   int32
	cancel  context.CancelFunc
}

func (c *cancelAfter) Rows(string, int64) {
	if c.batches.Add(1) == c.after {
		c.cancel()
	}
}

func (c *cancelAfter) Step(string, Step) {}

func TestLoadCancelledLeavesNoTableAndRerunCompletes(t *testing.T) {
	connect, conn, schema := testSchema(t)
	other, items := specs(200_000, 4, ModeDynamic)
	if _, err := Load(context.Background(), connect, mustCompile(t, other), other.LoadOptions()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := items.LoadOptions()
	opts.Progress = &cancelAfter{after: 5, cancel: cancel}
	_, err := Load(ctx, connect, mustCompile(t, items, other), opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled load: error %v, want one wrapping context.Canceled", err)
	}
	if n := queryInt(t, conn, "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = 'items'", schema); n != 0 {
		t.Fatalf("a cancelled load left a table named items")
	}
	if n := queryInt(t, conn, "SELECT count(*) FROM items__pbenchd_staging"); n == 0 || n >= 200_000 {
		t.Errorf("staging table holds %d rows; want a partial load (the test cancels early)", n)
	}

	res, err := Load(context.Background(), connect, mustCompile(t, items, other), items.LoadOptions())
	if err != nil || res.Skipped {
		t.Fatalf("rerun: skipped=%v err=%v", res.Skipped, err)
	}
	if n := queryInt(t, conn, "SELECT count(*) FROM items"); n != 200_000 {
		t.Errorf("items has %d rows after the rerun, want 200000", n)
	}
	if n := queryInt(t, conn, "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename LIKE '%staging'", schema); n != 0 {
		t.Errorf("%d staging tables left after the rerun", n)
	}
}

func TestLoadRefusesATableItDidNotLoad(t *testing.T) {
	ctx := context.Background()
	connect, conn, _ := testSchema(t)
	if _, err := conn.Exec(ctx, "CREATE TABLE other (id int)"); err != nil {
		t.Fatal(err)
	}
	other, _ := specs(0, 1, ModeAuto)
	_, err := Load(ctx, connect, mustCompile(t, other), other.LoadOptions())
	if !errors.Is(err, ErrNotOwned) {
		t.Fatalf("error %v, want ErrNotOwned", err)
	}
	opts := other.LoadOptions()
	opts.Replace = true
	if _, err := Load(ctx, connect, mustCompile(t, other), opts); err != nil {
		t.Fatalf("with Replace: %v", err)
	}
	if n := queryInt(t, conn, "SELECT count(*) FROM other"); n != 1000 {
		t.Errorf("other has %d rows, want 1000", n)
	}
}

func TestLoadUnloggedEndsLogged(t *testing.T) {
	ctx := context.Background()
	connect, conn, _ := testSchema(t)
	other, _ := specs(0, 2, ModeAuto)
	other.Unlogged = true
	if _, err := Load(ctx, connect, mustCompile(t, other), other.LoadOptions()); err != nil {
		t.Fatal(err)
	}
	if p := queryString(t, conn, "SELECT relpersistence::text FROM pg_class WHERE oid = 'other'::regclass"); p != "p" {
		t.Errorf("relpersistence = %q, want p (logged)", p)
	}
}

func TestDecimalEncoding(t *testing.T) {
	ctx := context.Background()
	_, conn, _ := testSchema(t)
	RegisterTypes(conn)
	if _, err := conn.Exec(ctx, "CREATE TABLE d (i int, v numeric)"); err != nil {
		t.Fatal(err)
	}
	values := []Decimal{
		{0, 0}, {0, 2}, {1, 0}, {-1, 2}, {5, 2}, {10000, 2}, {100000000, 4}, {123456789, 3},
		{-99999, 2}, {1 << 62, 0}, {-(1 << 62), 9}, {-1 << 63, 2}, {7, 9}, {12345678901234, 2}, {5, -2},
	}
	rows := make([][]any, len(values))
	for i, v := range values {
		rows[i] = []any{i, v}
	}
	if _, err := conn.CopyFrom(ctx, []string{"d"}, []string{"i", "v"}, pgxRows(rows)); err != nil {
		t.Fatal(err)
	}
	for i, v := range values {
		want := v.String()
		if got := queryString(t, conn, "SELECT v::text FROM d WHERE i = $1", i); got != want {
			t.Errorf("Decimal%+v stored as %s, want %s", v, got, want)
		}
	}
}

func TestWriteCSVLoadsBackTheSameRows(t *testing.T) {
	ctx := context.Background()
	connect, conn, _ := testSchema(t)
	other, items := specs(3_000, 2, ModeAuto)
	for _, s := range []*Spec{other, items} {
		if _, err := Load(ctx, connect, mustCompile(t, s, other), s.LoadOptions()); err != nil {
			t.Fatal(err)
		}
	}
	tb := mustCompile(t, items, other)[0]
	var csv strings.Builder
	n, err := WriteCSV(&csv, tb.Rows(Range{0, tb.Items}))
	if err != nil || n != 3_000 {
		t.Fatalf("WriteCSV: %d rows, %v", n, err)
	}
	if _, err := conn.Exec(ctx, tb.CreateSQL("from_csv")); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.PgConn().CopyFrom(ctx, strings.NewReader(csv.String()), "COPY from_csv FROM STDIN WITH (FORMAT csv)"); err != nil {
		t.Fatal(err)
	}
	if a, b := checksum(t, connect, "items"), checksum(t, connect, "from_csv"); a != b {
		t.Errorf("CSV round trip checksum %s, COPY load %s", b, a)
	}
}
