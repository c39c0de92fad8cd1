package engine

import (
	"bytes"
	"strings"
	"testing"
)

func ptr(f float64) *float64 { return &f }

func TestBuildIVMReport(t *testing.T) {
	act := func(name string, p50 float64) ActionJSON {
		return ActionJSON{Action: name, Calls: 10, P50: p50}
	}
	results := map[string]IterationJSON{
		"ivm_tpch_none": {Result: Pass, Actions: []ActionJSON{act("q01_direct", 1.47), act("q09_direct", 1.57), act("lineitem_update", 0.0004)},
			Sweeps: []SweepJSON{{Concurrency: []int{1, 8}, Steps: []ActionJSON{{QPS: 2087}, {QPS: 6752}}}}},
		"ivm_tpch_q01_refresh": {Result: Pass, Actions: []ActionJSON{act("q01_direct", 9), act("q01_view", 0.00033), act("q01_refresh", 2.11), act("q01_freshness", 1.2)}},
		"ivm_tpch_q01_pg_ivm": {Result: Pass, Actions: []ActionJSON{act("q01_view", 0.0003), act("lineitem_update", 0.0025)},
			Sweeps: []SweepJSON{{Concurrency: []int{1, 2, 8}, Steps: []ActionJSON{{QPS: 985}, {QPS: 1342}, {QPS: 1027}}}}},
		// A scenario whose setup failed measured nothing.
		"ivm_tpch_q09_pg_ivm": {Result: Error},
		// Every call of this action failed: no value.
		"ivm_tpch_q09_refresh": {Result: Error, Actions: []ActionJSON{{Action: "q09_view", Calls: 3, Failed: 3, P50: 7}}},
	}
	rep := BuildIVMReport(results)
	q01, q09 := rep.Rows[0], rep.Rows[1]
	eq := func(name string, got *float64, want *float64) {
		t.Helper()
		switch {
		case got == nil && want == nil:
		case got == nil || want == nil || *got != *want:
			t.Errorf("%s = %v, want %v", name, show(got), show(want))
		}
	}
	eq("Q01 direct (none first)", q01.Direct, ptr(1.47))
	eq("Q01 view (pg_ivm first)", q01.View, ptr(0.0003))
	eq("Q01 refresh", q01.Refresh, ptr(2.11))
	eq("Q01 IVM update", q01.IVMUpdate, ptr(0.0025))
	eq("Q01 update without view", q01.Update, ptr(0.0004))
	eq("Q01 freshness", q01.Freshness, ptr(1.2))
	eq("Q09 direct", q09.Direct, ptr(1.57))
	eq("Q09 view (all calls failed)", q09.View, nil)
	eq("Q09 IVM update (setup failed)", q09.IVMUpdate, nil)
	eq("Q09 freshness (pg_ivm setup failed: no claim)", q09.Freshness, nil)
	if got := strings.Join(rep.Sweep.Scenarios, ","); got != "ivm_tpch_none,ivm_tpch_q01_pg_ivm" {
		t.Errorf("sweep scenarios = %s", got)
	}
	if got := rep.Sweep.Concurrency; len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 8 {
		t.Errorf("sweep concurrency = %v, want [1 2 8]", got)
	}

	var b bytes.Buffer
	if err := WriteIVMReport(&b, rep, "csv"); err != nil {
		t.Fatal(err)
	}
	want := `query,SELECT query,SELECT view,REFRESH,IVM (update 1 row),"update, no view",freshness
Q01,1.470 s,300.0 µs,2.110 s,2.500 ms,400.0 µs,1.200 s
Q09,1.570 s,-,-,-,400.0 µs,-

write TPS,connections,ivm_tpch_none,ivm_tpch_q01_pg_ivm
,1,2087,985
,2,-,1342
,8,6752,1027
`
	if b.String() != want {
		t.Errorf("csv:\n%s\nwant:\n%s", b.String(), want)
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
