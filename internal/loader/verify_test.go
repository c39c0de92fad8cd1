package loader

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// TestLoadAlreadyLoadedChecksTheData: a rerun skips tables that still hold
// what the load left, and loads again those whose rows were deleted or
// changed, though their comment still says loaded.
func TestLoadAlreadyLoadedChecksTheData(t *testing.T) {
	ctx := context.Background()
	connect, conn, _ := testSchema(t)
	other, items := specs(20_000, 2, ModeStatic)
	if _, err := Load(ctx, connect, mustCompile(t, other), other.LoadOptions()); err != nil {
		t.Fatal(err)
	}
	load := func() Result {
		t.Helper()
		res, err := Load(ctx, connect, mustCompile(t, items, other), items.LoadOptions())
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	load()
	if res := load(); !res.Skipped || len(res.Stale) != 0 {
		t.Fatalf("rerun of an untouched load: skipped=%v stale=%v, want skipped", res.Skipped, res.Stale)
	}
	exec := func(sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ change, why string }{
		{"DELETE FROM items WHERE id > 10", "items has 10 rows, the load left 20000"},
		{"UPDATE items SET qty = qty", "items: the sampled rows differ from those the load left"},
	} {
		exec(tc.change)
		res := load()
		if res.Skipped || !slices.Equal(res.Stale, []string{tc.why}) {
			t.Errorf("after %s: skipped=%v stale=%q, want a reload because %q", tc.change, res.Skipped, res.Stale, tc.why)
		}
		if n := queryInt(t, conn, "SELECT count(*) FROM items"); n != 20_000 {
			t.Errorf("after %s and a rerun: %d rows, want 20000", tc.change, n)
		}
		if res := load(); !res.Skipped {
			t.Errorf("after %s, the rerun after the reload was not skipped (stale=%v)", tc.change, res.Stale)
		}
	}
	// An old-style comment (the fingerprint alone) cannot be checked.
	c := queryString(t, conn, "SELECT obj_description('items'::regclass, 'pg_class')")
	fp := parseMarkOrFail(t, c)
	exec("COMMENT ON TABLE items IS " + quoteLiteral(commentPrefix+fp))
	if res := load(); res.Skipped || len(res.Stale) != 1 || !strings.Contains(res.Stale[0], "without a row count") {
		t.Errorf("with an old comment: skipped=%v stale=%q, want a reload", res.Skipped, res.Stale)
	}
}

// TestCleanStaging: the staging table of an interrupted load is dropped;
// one whose load holds its lock (loading now) is kept.
func TestCleanStaging(t *testing.T) {
	ctx := context.Background()
	connect, conn, schema := testSchema(t)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec("CREATE TABLE items__pbenchd_staging (a int)")
	exec("CREATE TABLE busy__pbenchd_staging (a int)")
	exec("CREATE TABLE keep_me (a int)")
	other, err := connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	if _, err := other.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(TableID("pbenchd load busy"))); err != nil {
		t.Fatal(err)
	}
	dropped, err := CleanStaging(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{schema + ".items__pbenchd_staging"}; !slices.Equal(dropped, want) {
		t.Errorf("dropped %v, want %v", dropped, want)
	}
	for table, want := range map[string]int64{"items__pbenchd_staging": 0, "busy__pbenchd_staging": 1, "keep_me": 1} {
		if n := queryInt(t, conn, "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = $2", schema, table); n != want {
			t.Errorf("%s: %d tables, want %d", table, n, want)
		}
	}
}

func parseMarkOrFail(t *testing.T, comment string) string {
	t.Helper()
	m, ok := parseMark(comment)
	if !ok {
		t.Fatalf("comment %q does not parse", comment)
	}
	if m.String() != comment {
		t.Errorf("comment %q prints back as %q", comment, m.String())
	}
	return m.fingerprint
}
