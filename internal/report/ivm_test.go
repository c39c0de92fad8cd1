package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pbenchd/pbenchd/internal/engine"
	"github.com/pbenchd/pbenchd/internal/metrics"
)

func ptr(f float64) *float64 { return &f }

// TestBuildIVMReport builds the report of two runs: a row per run, query
// and strategy with its own scenario's figures (never another scenario's),
// verdict and check; the staleness mean and p99 of the probe; the
// refreshes that overran; the data each run measured; every sweep step.
func TestBuildIVMReport(t *testing.T) {
	act := func(name string, p50 float64) engine.ActionJSON {
		return engine.ActionJSON{Action: name, Calls: 10, P50: metrics.Float(p50)}
	}
	vars := map[string]any{"sf": 0.1, "seed": 1, "schema": "pbenchd_tpch", "foreign_keys": true}
	small := map[string]engine.IterationJSON{
		"ivm_tpch_none": {Result: engine.Pass, Vars: vars, Actions: []engine.ActionJSON{act("q01_direct", 1.47), act("q09_direct", 1.57), act("lineitem_update", 0.0004)},
			Sweeps: []engine.SweepJSON{{Action: "update_sweep", Concurrency: []int{1, 8}, Steps: []engine.ActionJSON{{QPS: 2087, P50: 0.0004, P99: 0.001}, {QPS: 6752, Failed: 2, Dropped: 1}}},
				{Action: "insert_sweep", Concurrency: []int{1}, Steps: []engine.ActionJSON{{QPS: 3000}}}}},
		"ivm_tpch_q01_refresh": {Result: engine.Pass, Vars: vars, Actions: []engine.ActionJSON{act("q01_direct", 9), act("q01_view", 0.00033), act("q01_refresh", 2.11),
			{Action: "q01_refresher", Calls: 8, Dropped: 7}, {Action: "q01_freshness", Calls: 14, P50: 2, Avg: 1.1, P99: 4.0}},
			Checks: []engine.CheckJSON{{Name: "pbenchd_q01", Match: true, Rows: 4}}},
		"ivm_tpch_q01_pg_ivm": {Result: engine.Fail, Vars: vars, Actions: []engine.ActionJSON{act("q01_view", 0.0003), act("q01_refresh", 3.5), act("lineitem_update", 0.0025),
			act("lineitem_insert", 0.002), act("lineitem_delete", 0.003)},
			Checks: []engine.CheckJSON{{Name: "pbenchd_q01_immv", Rows: 4, Missing: []string{"a"}}}},
		// A scenario whose setup failed measured nothing: its rows say so.
		"ivm_tpch_q09_pg_ivm": {Result: engine.Error, Error: "setup[0]: needs pg_ivm preloaded", Vars: vars},
		// Every call of this action failed: no value.
		"ivm_tpch_q09_refresh": {Result: engine.Pass, Vars: vars, Actions: []engine.ActionJSON{{Action: "q09_view", Calls: 3, Failed: 3, P50: 7}}},
		// Not an IVM scenario.
		"read": {Result: engine.Pass, Actions: []engine.ActionJSON{act("q01_direct", 5)}},
	}
	big := map[string]engine.IterationJSON{
		"ivm_tpch_none": {Result: engine.Pass, Vars: map[string]any{"sf": 1, "seed": 1, "schema": "s", "foreign_keys": "false"},
			Actions: []engine.ActionJSON{act("q01_direct", 10)}},
	}
	rep := BuildIVMReport(NamedResults{Name: "a.json", Results: small}, NamedResults{Name: "b.jsonl", Results: big})
	var got []string
	for _, r := range rep.Rows {
		got = append(got, r.Run+" "+r.Query+" "+r.Strategy+" "+r.Scenario)
	}
	want := []string{
		"a.json Q01 none ivm_tpch_none", "b.jsonl Q01 none ivm_tpch_none",
		"a.json Q01 refresh ivm_tpch_q01_refresh", "a.json Q01 pg_ivm ivm_tpch_q01_pg_ivm",
		"a.json Q09 none ivm_tpch_none", "a.json Q09 refresh ivm_tpch_q09_refresh", "a.json Q09 pg_ivm ivm_tpch_q09_pg_ivm",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	eq := func(name string, got *float64, want *float64) {
		t.Helper()
		switch {
		case got == nil && want == nil:
		case got == nil || want == nil || *got != *want:
			t.Errorf("%s = %v, want %v", name, show(got), show(want))
		}
	}
	none, big01, ref, ivm, none09, ref09 := rep.Rows[0], rep.Rows[1], rep.Rows[2], rep.Rows[3], rep.Rows[4], rep.Rows[5]
	eq("none Q01 direct", none.Direct, ptr(1.47))
	eq("none update", none.Update, ptr(0.0004))
	eq("SF 1 Q01 direct", big01.Direct, ptr(10))
	eq("refresh Q01 REFRESH", ref.Refresh, ptr(2.11))
	eq("refresh Q01 direct (its own)", ref.Direct, ptr(9))
	eq("refresh staleness mean", ref.FreshMean, ptr(1.1))
	eq("refresh staleness p99", ref.FreshP99, ptr(4.0))
	eq("pg_ivm REFRESH (refresh_immv, not the materialized view's)", ivm.Refresh, ptr(3.5))
	eq("pg_ivm update", ivm.Update, ptr(0.0025))
	eq("pg_ivm insert", ivm.Insert, ptr(0.002))
	eq("pg_ivm delete", ivm.Delete, ptr(0.003))
	eq("refresh insert (not measured there)", ref.Insert, nil)
	eq("pg_ivm direct (not measured there)", ivm.Direct, nil)
	eq("Q09 view (all calls failed)", ref09.View, nil)
	eq("none Q09 direct", none09.Direct, ptr(1.57))
	if ref.Refreshes != 15 || ref.Overran != 7 {
		t.Errorf("refreshes %d, overran %d; want 15 and 7", ref.Refreshes, ref.Overran)
	}
	if ref.Check != "ok (4 rows)" || ivm.Check != "MISMATCH (4 rows expected, 1 missing, 0 extra)" || none.Check != "" {
		t.Errorf("checks %q, %q, %q", ref.Check, ivm.Check, none.Check)
	}
	if ivm.Verdict != engine.Fail || ref.Verdict != engine.Pass || rep.Rows[6].Verdict != "error: setup[0]: needs pg_ivm preloaded" {
		t.Errorf("verdicts %q, %q, %q", ivm.Verdict, ref.Verdict, rep.Rows[6].Verdict)
	}
	if len(rep.Runs) != 2 || strings.Join(rep.Runs[0].Data, "|") != "SF 0.1, seed 1, pbenchd's TPC-H-shaped data (not dbgen), schema pbenchd_tpch, foreign keys on" ||
		strings.Join(rep.Runs[1].Data, "|") != "SF 1, seed 1, pbenchd's TPC-H-shaped data (not dbgen), schema s, foreign keys off" {
		t.Errorf("runs %+v", rep.Runs)
	}
	if len(rep.Sweep) != 3 || rep.Sweep[0].TPS != 2087 || rep.Sweep[0].P99 != 0.001 || rep.Sweep[1].Errors != 3 ||
		rep.Sweep[2].Write != "insert_sweep" || rep.Sweep[2].TPS != 3000 {
		t.Errorf("sweep %+v", rep.Sweep)
	}

	var b bytes.Buffer
	if err := WriteIVMReport(&b, rep, "csv"); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"run,query,strategy,scenario,verdict,check,SELECT query,SELECT view,REFRESH,update 1 row,insert 1 row,delete 1 row,staleness mean,staleness p99,refreshes overran",
		"a.json,Q01,refresh,ivm_tpch_q01_refresh,pass,ok (4 rows),9.000 s,330.0 µs,2.110 s,-,-,-,1.100 s,4.000 s,7 of 15",
		"run,write,scenario,connections,TPS,p50,p99,errors",
		"a.json,update,ivm_tpch_none,8,6752,0,0,3",
		"a.json,insert,ivm_tpch_none,1,3000,0,0,0",
	} {
		if !strings.Contains(b.String(), line+"\n") {
			t.Errorf("csv lacks %q:\n%s", line, b.String())
		}
	}
	if err := WriteIVMReport(&b, rep, "html"); err == nil {
		t.Error("an unknown format must be an error")
	}
}

func show(v *float64) any {
	if v == nil {
		return "none"
	}
	return *v
}
