package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestLoadCommand: `pbenchd load` runs a scenario's load step, does nothing
// the second time (the data is there), and refuses bad usage with exit 2.
func TestLoadCommand(t *testing.T) {
	t.Parallel()
	table := uniqueTable()
	dropTable(t, table)
	cfg := filepath.Join(t.TempDir(), "load.yaml")
	yaml := fmt.Sprintf(`targets: {pg: {kind: postgres, dsn: %q}}
scenarios:
  - name: e2e_load
    target: pg
    setup:
      - load:
          table: %s
          rows: 5000
          workers: 2
          columns:
            - {name: id, kind: sequence}
            - {name: qty, kind: uniform_int, min: 1, max: 50}
          primary_key: [id]
    phases:
      - load: {duration: 1s, actions: [{name: q, closed: {concurrency: 1}, sql: SELECT 1}]}
  - name: e2e_noload
    target: pg
    phases:
      - load: {duration: 1s, actions: [{name: q, closed: {concurrency: 1}, sql: SELECT 1}]}
`, testDSN(), table)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	load := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"load", "--config", cfg}, args...), &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	if code, out := load("--scenario", "e2e_load"); code != 0 || !strings.Contains(out, "load done") {
		t.Fatalf("first load: exit %d\n%s", code, out)
	}
	var n int64
	if err := pgConn(t).QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil || n != 5000 {
		t.Fatalf("rows loaded: %d (%v), want 5000", n, err)
	}
	if code, out := load("--scenario", "e2e_load"); code != 0 || !strings.Contains(out, "load skipped") {
		t.Errorf("second load: exit %d, want 0 and a skip\n%s", code, out)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "--scenario is required"},
		{[]string{"--scenario", "nope"}, 2, `"nope" is not a known scenario`},
		{[]string{"--scenario", "e2e_load", "--shard", "3/2"}, 2, "--shard"},
		{[]string{"--scenario", "e2e_noload"}, 1, "has no load or tpch step"},
	} {
		if code, out := load(c.args...); code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("load %v: exit %d, want %d and %q\n%s", c.args, code, c.code, c.want, out)
		}
	}
}

// TestReportCommand: `pbenchd report ivm` renders results from a `once
// --results` file and from the daemon's JSON-lines log (the last iteration
// of each scenario), two runs side by side, and refuses bad usage.
func TestReportCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	results := filepath.Join(dir, "r.json")
	doc := `{"build": {"version": "v1"}, "results": {
	  "ivm_tpch_none": {"scenario": "ivm_tpch_none", "result": "pass", "vars": {"sf": 0.1, "seed": 1, "schema": "pbenchd_tpch", "foreign_keys": true},
	    "actions": [
	    {"action": "q01_direct", "calls": 3, "p50": 1.5},
	    {"action": "lineitem_update", "calls": 100, "p50": 0.0004}],
	    "sweeps": [{"phase": "write_sweep", "action": "update_sweep", "concurrency": [1, 2],
	      "steps": [{"qps": 2000, "p50": 0.0005, "p99": 0.002}, {"qps": 3000, "p50": 0.0006, "p99": 0.003}]}]},
	  "ivm_tpch_q01_refresh": {"scenario": "ivm_tpch_q01_refresh", "result": "pass", "vars": {"sf": 0.1, "seed": 1, "schema": "pbenchd_tpch", "foreign_keys": true},
	    "actions": [
	    {"action": "q01_view", "calls": 10, "p50": 0.0003},
	    {"action": "q01_refresh", "calls": 3, "p50": 2.1}],
	    "checks": [{"name": "pbenchd_q01", "match": true, "rows": 4}]}}}`
	if err := os.WriteFile(results, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	// The daemon's log: two iterations of one scenario, the last counts.
	log := filepath.Join(dir, "log.jsonl")
	lines := strings.Join([]string{
		`{"build": {"version": "v1"}, "scenario": "ivm_tpch_q01_pg_ivm", "result": "fail", "vars": {"sf": 1, "seed": 1, "schema": "s", "foreign_keys": false}, "actions": [{"action": "q01_view", "calls": 5, "p50": 0.9}]}`,
		`{"build": {"version": "v1"}, "scenario": "ivm_tpch_q01_pg_ivm", "result": "pass", "vars": {"sf": 1, "seed": 1, "schema": "s", "foreign_keys": false}, "actions": [{"action": "q01_view", "calls": 5, "p50": 0.0004}, {"action": "q01_freshness", "calls": 9, "avg": 0.0003, "p99": 0.001}], "checks": [{"name": "pbenchd_q01_immv", "match": false, "rows": 4, "missing": ["x"]}]}`,
	}, "\n") + "\n"
	if err := os.WriteFile(log, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"report", "ivm", "--from", results, "--format", "csv"}, &stdout, &stderr); code != 0 {
		t.Fatalf("report: exit %d\n%s", code, stderr.String())
	}
	for _, want := range []string{
		"# " + results + ": SF 0.1, seed 1, pbenchd's TPC-H-shaped data (not dbgen), schema pbenchd_tpch, foreign keys on",
		"Q01,none,ivm_tpch_none,pass,-,1.500 s,-,-,400.0 µs,-,-,-,-,-",
		"Q01,refresh,ivm_tpch_q01_refresh,pass,ok (4 rows),-,300.0 µs,2.100 s,-,-,-,-,-,-",
		"update,ivm_tpch_none,1,2000,500.0 µs,2.000 ms,0", "update,ivm_tpch_none,2,3000,600.0 µs,3.000 ms,0",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, stdout.String())
		}
	}
	stdout.Reset()
	if code := run([]string{"report", "ivm", "--from", results, "--from", log, "--format", "csv"}, &stdout, &stderr); code != 0 {
		t.Fatalf("report of two runs: exit %d\n%s", code, stderr.String())
	}
	for _, want := range []string{
		"# " + log + ": SF 1, seed 1, pbenchd's TPC-H-shaped data (not dbgen), schema s, foreign keys off",
		results + ",Q01,refresh,ivm_tpch_q01_refresh,pass,ok (4 rows)",
		log + ",Q01,pg_ivm,ivm_tpch_q01_pg_ivm,pass,\"MISMATCH (4 rows expected, 1 missing, 0 extra)\",-,400.0 µs,-,-,-,-,300.0 µs,1.000 ms,-",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("report of two runs lacks %q:\n%s", want, stdout.String())
		}
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{\"x\": 1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"report"}, 2},
		{[]string{"report", "ivm", "--from", results, "--format", "html"}, 2},
		{[]string{"report", "ivm", "--from", filepath.Join(dir, "missing.json")}, 1},
		{[]string{"report", "ivm", "--from", bad}, 1},
	} {
		stdout.Reset()
		stderr.Reset()
		if code := run(c.args, &stdout, &stderr); code != c.code || stderr.Len() == 0 {
			t.Errorf("%v: exit %d, stderr %q; want %d and a message", c.args, code, stderr.String(), c.code)
		}
	}
}

// TestListCommand: `pbenchd list` shows the whole catalog, at least 15
// scenarios, one row each: read back through --format csv, and in the
// plain table layout (off a terminal) with a name at the start of a line.
func TestListCommand(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"list", "--format", "csv"}, &stdout, &stderr); code != 0 {
		t.Fatalf("list: exit %d\n%s", code, stderr.String())
	}
	recs, err := csv.NewReader(&stdout).ReadAll()
	if err != nil {
		t.Fatalf("list --format csv: %v", err)
	}
	if len(recs) < 16 || !slices.Equal(recs[0], []string{"scenario", "measures", "targets", "duration", "guarantees"}) {
		t.Errorf("list shows %d rows, want a header and at least 15 scenarios:\n%v", len(recs), recs)
	}
	stdout.Reset()
	if code := run([]string{"list"}, &stdout, &stderr); code != 0 {
		t.Fatalf("list: exit %d\n%s", code, stderr.String())
	}
	for _, name := range []string{"read", "pool_read", "ivm_tpch_q01_refresh", "kafka_produce_consume", "cqrs"} {
		if !regexp.MustCompile(`(?m)^` + name + ` `).MatchString(stdout.String()) {
			t.Errorf("list lacks %s:\n%s", name, stdout.String())
		}
	}
}
