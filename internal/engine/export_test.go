package engine

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/metrics"
)

// TestErroredIterationsExportNothingNew: one slow iteration then four whose
// setup failed. The result gauges keep the slow iteration's figures, the
// judged timestamp stays at its end (alert rules count iterations in a row
// by it), and only the error counter and the plain timestamp move.
func TestErroredIterationsExportNothingNew(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	sc := &config.Scenario{Name: "s", Guarantees: map[string]config.Guarantee{"a": {QPS: 100}}}
	e := &Engine{cfg: &config.Config{}, m: m}
	t0 := time.Unix(1_000_000, 0)

	slow := &Iteration{Scenario: "s", Start: t0, End: t0.Add(10 * time.Second), Result: Fail,
		Results: []metrics.Result{{Scenario: "s", Action: "a", QPS: 50, Calls: 500}}}
	e.export(sc, slow)
	for i := 1; i <= 4; i++ {
		at := t0.Add(time.Duration(i) * time.Minute)
		e.export(sc, &Iteration{Scenario: "s", Start: at, End: at.Add(time.Second), Result: Error, Err: errors.New("setup[0]: connection refused")})
	}

	for _, tc := range []struct {
		what      string
		got, want float64
	}{
		{"result_qps", testutil.ToFloat64(m.ResultQPS.WithLabelValues("s", "a")), 50},
		{"result_calls", testutil.ToFloat64(m.ResultCalls.WithLabelValues("s", "a")), 500},
		{"guarantee_qps_min", testutil.ToFloat64(m.GuaranteeQPSMin.WithLabelValues("s", "a")), 100},
		{"last_judged_iteration_timestamp_seconds", testutil.ToFloat64(m.LastJudged.WithLabelValues("s")), float64(t0.Add(10 * time.Second).Unix())},
		{"last_iteration_timestamp_seconds", testutil.ToFloat64(m.LastIteration.WithLabelValues("s")), float64(t0.Add(4*time.Minute + time.Second).Unix())},
		{"iterations_total{result=fail}", testutil.ToFloat64(m.Iterations.WithLabelValues("s", Fail)), 1},
		{"iterations_total{result=error}", testutil.ToFloat64(m.Iterations.WithLabelValues("s", Error)), 4},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.what, tc.got, tc.want)
		}
	}
}

// TestExpectedCycle: the configured phase time (durations and drains,
// sweep steps) until a scenario has an iteration, then the longer of that
// and its last iteration; plus a pause per scenario.
func TestExpectedCycle(t *testing.T) {
	drain := config.Dur(time.Second)
	cfg := &config.Config{}
	cfg.Run.Pause = config.Dur(30 * time.Second)
	cfg.Targets = map[string]config.Target{"pg": {Kind: "postgres"}}
	cfg.Catalog = []*config.Scenario{
		{Name: "a", Target: "pg", Phases: []config.Phase{{Load: &config.LoadPhase{Duration: config.Dur(10 * time.Second), Drain: &drain}}}},
		{Name: "b", Target: "pg", Phases: []config.Phase{{Sweep: &config.SweepPhase{Concurrency: []int{1, 2, 4}, Step: config.Dur(5 * time.Second)}}}},
	}
	if got, want := ExpectedCycle(cfg, nil), (11+30)*time.Second+(15+30)*time.Second; got != want {
		t.Errorf("before any iteration: %v, want %v", got, want)
	}
	t0 := time.Unix(0, 0)
	last := map[string]*Iteration{
		"a": {Start: t0, End: t0.Add(40 * time.Second)}, // setup took long: counts
		"b": {Start: t0, End: t0.Add(2 * time.Second)},  // shorter than configured: the configuration wins
	}
	if got, want := ExpectedCycle(cfg, last), (40+30)*time.Second+(15+30)*time.Second; got != want {
		t.Errorf("after iterations: %v, want %v", got, want)
	}
}
