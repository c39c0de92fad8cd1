package engine

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/pace"
	"github.com/pbenchd/pbenchd/internal/pgtest"
	"github.com/pbenchd/pbenchd/internal/probe"
)

// TestProbeCapacityPostgres probes a target of known capacity: a pool of 2
// connections over `SELECT pg_sleep(0.01)` serves at most 2 / s calls a
// second, where s (a little over 10 ms) is the service time. The reference
// capacity C is what a closed loop of 2 workers over the same pool reaches
// in the same test, so machine load moves both alike.
//
// Why within 10 %: with periodic arrivals below C nothing queues, so every
// rate below C holds (p99 ≈ s ≪ 100 ms). Above C by a fraction ε the queue
// grows by ε·C calls a second, so a call at the end of a 3 s step waits
// about 3ε seconds; the 100 ms p99 bound breaks once 3ε > 0.1, i.e. above
// 1.033·C. The search stops with held and broke within 5 % of each other,
// so the capacity found lies in [C/1.05, 1.033·C], inside C ± 10 %. A
// step that breaks is run once more before it counts (confirm: 1), so a
// transient of this shared machine does not end the growth early.
//
// A tighter SLO (poisson arrivals, p99 within 30 ms, so a call may wait at
// most about two service times) must give a lower capacity: queueing under
// random arrivals reaches that wait at utilisations well below 1.
func TestProbeCapacityPostgres(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	cfg := &config.Config{
		Targets: map[string]config.Target{"pg": {Kind: "postgres", DSN: pgtest.DSN(), ConnectTimeout: config.Dur(5 * time.Second)}},
		Run:     config.Run{SetupTimeout: config.Dur(time.Minute), TeardownTimeout: config.Dur(time.Minute)},
	}
	e := New(cfg, m, quiet)
	sql := map[string]any{"sql": map[string]any{"query": "SELECT pg_sleep(0.01)", "conn": "pooled", "pool_size": 2}}

	// The reference: a closed loop of 2 workers over a pool of 2, before
	// and after the probes (the machine's load may change meanwhile).
	ref := buildSQL(t, sql["sql"].(map[string]any), false, 2)
	closedQPS := func() float64 {
		start := time.Now()
		rec := m.NewRecorder("ref", "a", start, time.Second)
		closedLoop(context.Background(), start, 4*time.Second, time.Second, 2, ref, rec)
		c := rec.Result(start.Add(4 * time.Second)).QPS
		if c < 50 || c > 200 {
			t.Fatalf("closed loop of 2 over pg_sleep(0.01) reached %.1f/s, not the 50–200/s that 2 connections of ≥10 ms allow", c)
		}
		return c
	}
	c := closedQPS()

	errRatio := 0.01
	probeOf := func(arrivals string, p99 time.Duration) Probe {
		t.Helper()
		sc := &config.Scenario{Name: "probe_" + arrivals, Target: "pg", Phases: []config.Phase{{Probe: &config.ProbePhase{
			Arrivals: arrivals, Start: pace.PerSecond(25), Ceiling: pace.PerSecond(1000), Precision: 0.05,
			Step: config.Dur(3 * time.Second), Warmup: config.Dur(time.Second), Seed: 7,
			SLO:    &config.Guarantee{P99: config.Dur(p99), ErrorRatio: &errRatio},
			Action: config.Action{Name: "sleep", Kind: "sql", Kinds: sql},
		}}}}
		it := e.Iterate(context.Background(), sc, Stage{})
		if it.Err != nil || len(it.Probes) != 1 {
			t.Fatalf("%s probe: result %s (%v), %d probes", arrivals, it.Result, it.Err, len(it.Probes))
		}
		p := it.Probes[0]
		t.Logf("%s probe, p99 ≤ %s: capacity %.1f/s (%s) in %d steps; closed loop %.1f/s", arrivals, p99, p.Capacity, p.Reason, len(p.Steps), c)
		for _, st := range p.Steps {
			t.Logf("  %.1f/s %s: qps %.1f p99 %s error ratio %.4f", st.Rate, st.Outcome, st.Result.QPS, st.Result.P99, st.Result.ErrorRatio)
		}
		return p
	}

	loose := probeOf("periodic", 100*time.Millisecond)
	if loose.Reason != probe.Converged {
		t.Fatalf("loose probe ended %q, want %q", loose.Reason, probe.Converged)
	}
	c2 := closedQPS()
	lo, hi := min(c, c2), max(c, c2)
	if loose.Capacity < lo/1.1 || loose.Capacity > 1.1*hi {
		t.Errorf("capacity %.1f/s is not within 10%% of the closed loop's %.1f–%.1f/s", loose.Capacity, lo, hi)
	}
	if got := testutil.ToFloat64(m.Probe.Capacity.WithLabelValues("probe_periodic", "sleep")); got != loose.Capacity {
		t.Errorf("pbenchd_capacity_qps %v, want the probe's %v", got, loose.Capacity)
	}
	if n, want := testutil.CollectAndCount(m.Probe.Curve), len(loose.Steps)*len(metrics.ProbeStats); n != want {
		t.Errorf("%d curve series, want %d (5 per step)", n, want)
	}
	last := loose.Steps[len(loose.Steps)-1]
	if got := testutil.ToFloat64(m.Probe.Curve.WithLabelValues("probe_periodic", "sleep", strconv.Itoa(len(loose.Steps)-1), "served")); got != last.Result.QPS {
		t.Errorf("curve served at the last step %v, want %v", got, last.Result.QPS)
	}
	tight := probeOf("poisson", 30*time.Millisecond)
	if !(tight.Capacity < loose.Capacity) {
		t.Errorf("a tighter SLO gave capacity %.1f/s, not below the looser one's %.1f/s", tight.Capacity, loose.Capacity)
	}
}
