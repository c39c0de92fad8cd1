package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestFaultKilledMidLoadAndMidWrite SIGKILLs `pbenchd run` in the middle of
// a load, starts it again, and then leaves the results file as a kill in
// the middle of a write does (half a line) before a third start: the
// staging table is removed at start, the load is redone (and then skipped
// while the data stays as loaded), and every line of the results file is
// whole.
func TestFaultKilledMidLoadAndMidWrite(t *testing.T) {
	srv := startPGServer(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	count := func(sql string) int64 {
		t.Helper()
		var n int64
		if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	const rows = 3_000_000
	cfg := writeConfig(t, "fault_load.yaml", map[string]any{"Rows": rows})
	results := filepath.Join(t.TempDir(), "results.jsonl")
	args := []string{"--config", cfg, "--results.file", results, "--log.level", "debug"}

	// 1. Killed while the staging table fills.
	d := startDaemon(t, srv.DSN(), args...)
	eventually(t, 60*time.Second, "the load under way", func() (bool, string) {
		return count("SELECT count(*) FROM pg_class WHERE relname = 'fault_items__pbenchd_staging'") == 1 &&
			count("SELECT coalesce(sum(n_tup_ins), 0) FROM pg_stat_user_tables WHERE relname = 'fault_items__pbenchd_staging'") > 0, d.stderr.String()
	})
	d.signal(t, syscall.SIGKILL)
	<-d.done
	if count("SELECT count(*) FROM pg_class WHERE relname = 'fault_items'") != 0 {
		t.Fatalf("the load finished before the kill: make it bigger")
	}

	// 2. Started again: the debris goes at start, the load is redone.
	d = startDaemon(t, srv.DSN(), args...)
	eventually(t, 120*time.Second, "an iteration after the redone load", func() (bool, string) {
		return strings.Contains(d.stderr.String(), `msg="iteration finished"`), d.stderr.String()
	})
	if !strings.Contains(d.stderr.String(), `msg="removed the staging tables of interrupted loads"`) {
		t.Errorf("no line says the staging table of the killed load was removed:\n%s", d.stderr.String())
	}
	if n := count("SELECT count(*) FROM fault_items"); n != rows {
		t.Errorf("fault_items has %d rows after the redone load, want %d", n, rows)
	}
	if n := count("SELECT count(*) FROM pg_class WHERE relname LIKE '%pbenchd_staging'"); n != 0 {
		t.Errorf("%d staging tables left", n)
	}
	eventually(t, 60*time.Second, "a second iteration, its load skipped", func() (bool, string) {
		return strings.Contains(d.stderr.String(), `msg="load skipped: the tables are already loaded with the same data"`), d.stderr.String()
	})
	d.signal(t, syscall.SIGKILL)
	<-d.done

	// 3. The results file as a kill mid-write leaves it: half a line.
	f, err := os.OpenFile(results, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"build":{"version":"v0.0`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	d = startDaemon(t, srv.DSN(), args...)
	eventually(t, 60*time.Second, "an iteration after the third start", func() (bool, string) {
		return strings.Contains(d.stderr.String(), `msg="load skipped`) && strings.Contains(d.stderr.String(), `msg="iteration finished"`), d.stderr.String()
	})
	if !strings.Contains(d.stderr.String(), `msg="removed a torn last line from the results file`) {
		t.Errorf("no line says the torn line was removed:\n%s", d.stderr.String())
	}
	d.stop(t)
	b, err := os.ReadFile(results)
	if err != nil {
		t.Fatal(err)
	}
	checkWholeLines(t, string(b))
}

// checkWholeLines requires every line to be a whole JSON object.
func checkWholeLines(t *testing.T, s string) {
	t.Helper()
	if s != "" && !strings.HasSuffix(s, "\n") {
		t.Errorf("the results file does not end with a newline")
	}
	for i, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if l == "" {
			continue
		}
		if !strings.HasPrefix(l, "{") || !strings.HasSuffix(l, "}") || !jsonValid(l) {
			t.Errorf("results line %d is not whole JSON: %.80s", i+1, l)
		}
	}
}
