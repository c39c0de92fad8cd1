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

// TestSweep: a sweep phase gives one result per concurrency, in order,
// each with calls, exported as gauges labelled by the step.
func TestSweep(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	cfg := &config.Config{
		Targets: map[string]config.Target{"pg": {Kind: "postgres", DSN: pgtest.DSN()}},
		Run:     config.Run{SetupTimeout: config.Dur(time.Minute), TeardownTimeout: config.Dur(time.Minute)},
	}
	sc := &config.Scenario{Name: "sw", Target: "pg", Phases: []config.Phase{{Sweep: &config.SweepPhase{
		Concurrency: []int{1, 2, 3},
		Step:        config.Dur(300 * time.Millisecond),
		Action:      config.Action{Name: "select", Kind: "sql", Kinds: map[string]any{"sql": "SELECT 1"}},
	}}}}
	it := New(cfg, m, quiet).Iterate(context.Background(), sc, Stage{})
	if it.Result != Pass || len(it.Sweeps) != 1 {
		t.Fatalf("result %s (%v), %d sweeps", it.Result, it.Err, len(it.Sweeps))
	}
	steps := it.Sweeps[0].Steps
	if len(steps) != 3 {
		t.Fatalf("%d steps, want 3", len(steps))
	}
	for i, st := range steps {
		if st.Concurrency != i+1 || st.Result.OK == 0 || st.Result.Failed != 0 {
			t.Errorf("step %d: concurrency %d, %d ok, %d failed", i, st.Concurrency, st.Result.OK, st.Result.Failed)
		}
		if got := testutil.ToFloat64(m.SweepQPS.WithLabelValues("sw", "select", []string{"1", "2", "3"}[i])); got != st.Result.QPS {
			t.Errorf("step %d: sweep_qps gauge %v, result %v", i, got, st.Result.QPS)
		}
	}
}
