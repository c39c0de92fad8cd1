package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/guarantee"
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
// grows by ε·C calls a second, so a call at the end of a 2 s step waits
// about 2ε seconds; the 100 ms p99 bound breaks once 2ε > 0.1, i.e. above
// 1.05·C. The search stops with held and broke within 5 % of each other,
// so the capacity found lies in [C/1.05, 1.05·C], inside C ± 10 %. A
// step that breaks is run twice more before it counts (confirm: 2), so a
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

	// A rate breaks only when three runs in a row break (see
	// TestProbeCapacityNull).
	errRatio, confirm := 0.01, 2
	probeOf := func(arrivals string, p99 time.Duration) Probe {
		t.Helper()
		sc := &config.Scenario{Name: "probe_" + arrivals, Target: "pg", Phases: []config.Phase{{Probe: &config.ProbePhase{
			Arrivals: arrivals, Start: pace.PerSecond(25), Ceiling: pace.PerSecond(1000), Precision: 0.05,
			Step: config.Dur(2 * time.Second), Warmup: config.Dur(500 * time.Millisecond), Seed: 7, Confirm: &confirm,
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
			t.Logf("  %.1f/s %s: qps %.1f p99 %s error ratio %.4f", st.Rate, st.Outcome, st.Result.QPS, guarantee.Seconds(st.Result.SLO.P99), st.Result.ErrorRatio)
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
	if got := testutil.ToFloat64(m.Probe.Curve.WithLabelValues("probe_periodic", "sleep", fmt.Sprintf("%02d", len(loose.Steps)-1), "served")); got != last.Result.ServedQPS {
		t.Errorf("curve served at the last step %v, want %v", got, last.Result.ServedQPS)
	}
	tight := probeOf("poisson", 30*time.Millisecond)
	if !(tight.Capacity < loose.Capacity) {
		t.Errorf("a tighter SLO gave capacity %.1f/s, not below the looser one's %.1f/s", tight.Capacity, loose.Capacity)
	}
}

// TestProbeCapacityNull probes the null action with a service time of
// 20 ms and at most 8 calls inside it at once: its capacity is 8 ÷ the
// service time, about 400/s. The service time a sleep really takes is a
// little longer than asked (timer slack, scheduling), so the reference is
// concurrency ÷ the mean service time measured by a closed loop of 8
// workers over the same runner, before and after the probe.
//
// Why within 5 %: periodic arrivals below the capacity C never queue, so
// they hold (p99 ≈ 20 ms, within 60 ms). Above C by ε the backlog grows by
// ε·C calls a second, so t seconds into a 2 s step a call waits ε·t; the
// 60 ms bound breaks once 2ε exceeds 0.06 less the 20 ms of service, i.e.
// above 1.02·C. With a precision of 3 % the search ends in
// [C/1.03, 1.02·C], inside C ± 5 %.
func TestProbeCapacityNull(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	e := New(&config.Config{Run: config.Run{SetupTimeout: config.Dur(time.Minute), TeardownTimeout: config.Dur(time.Minute)}}, m, quiet)
	null := map[string]any{"sleep": "20ms", "concurrency": 8}
	kind, _ := action.Kinds.Lookup("noop")
	spec, err := kind.Decode(null, "a", config.Target{})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := kind.Build(context.Background(), spec, action.Env{Scenario: "ref", Action: "a", Slots: 8, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	closedQPS := func() float64 {
		start := time.Now()
		rec := m.NewRecorder("ref", "a", start, 500*time.Millisecond)
		closedLoop(context.Background(), start, 3*time.Second, time.Second, 8, ref, rec)
		return rec.Result(start.Add(3 * time.Second)).QPS
	}
	c := closedQPS()
	// A rate breaks only when three runs in a row break: this machine may
	// be shared, and a stall of a few hundred milliseconds breaks a 2 s
	// step whatever its rate.
	errRatio, confirm := 0.01, 2
	sc := &config.Scenario{Name: "probe_null", Phases: []config.Phase{{Probe: &config.ProbePhase{
		Arrivals: "periodic", Start: pace.PerSecond(50), Ceiling: pace.PerSecond(5000), Precision: 0.03,
		Step: config.Dur(2 * time.Second), Warmup: config.Dur(500 * time.Millisecond), Seed: 3, Confirm: &confirm,
		SLO:    &config.Guarantee{P99: config.Dur(60 * time.Millisecond), ErrorRatio: &errRatio},
		Action: config.Action{Name: "null", Kind: "noop", Kinds: map[string]any{"noop": null}},
	}}}}
	it := e.Iterate(context.Background(), sc, Stage{})
	if it.Err != nil || len(it.Probes) != 1 {
		t.Fatalf("result %s (%v), %d probes", it.Result, it.Err, len(it.Probes))
	}
	p := it.Probes[0]
	c2 := closedQPS()
	lo, hi := min(c, c2), max(c, c2)
	t.Logf("capacity %.1f/s (%s) in %d steps; closed loop %.1f–%.1f/s; nominal 400/s", p.Capacity, p.Reason, len(p.Steps), lo, hi)
	if p.Reason != probe.Converged || p.Capacity < lo/1.05 || p.Capacity > 1.05*hi {
		for _, st := range p.Steps {
			t.Logf("  %.1f/s %s: qps %.1f p99 %s error ratio %.4f", st.Rate, st.Outcome, st.Result.QPS, guarantee.Seconds(st.Result.SLO.P99), st.Result.ErrorRatio)
		}
		t.Errorf("capacity %.1f/s (%s) is not within 5%% of concurrency ÷ service time, %.1f–%.1f/s", p.Capacity, p.Reason, lo, hi)
	}
}

// TestProbeGeneratorLimited: a probe whose first step is far beyond what
// any generator can issue (10^8 arrivals a second of the null action, one
// every 10 ns) ends generator-limited: the step's arrivals the generator
// could not issue are missed, the iteration is an error that names the
// generator, and no capacity is published.
func TestProbeGeneratorLimited(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	e := New(&config.Config{Run: config.Run{SetupTimeout: config.Dur(time.Minute), TeardownTimeout: config.Dur(time.Minute)}}, m, quiet)
	errRatio := 0.01
	sc := &config.Scenario{Name: "probe_gen", Phases: []config.Phase{{Probe: &config.ProbePhase{
		Arrivals: "periodic", Start: pace.PerSecond(1e8), Ceiling: pace.PerSecond(1e8),
		Step: config.Dur(time.Second), MaxInflight: 64,
		SLO:    &config.Guarantee{P99: config.Dur(time.Second), ErrorRatio: &errRatio},
		Action: config.Action{Name: "null", Kind: "noop", Kinds: map[string]any{"noop": nil}},
	}}}}
	start := time.Now()
	it := e.Iterate(context.Background(), sc, Stage{})
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the probe took %v; its one step has a deadline of 1 s plus its drain", took)
	}
	if len(it.Probes) != 1 {
		t.Fatalf("result %s (%v), %d probes", it.Result, it.Err, len(it.Probes))
	}
	p := it.Probes[0]
	if p.Reason != probe.Generator || len(p.Steps) != 1 || p.Steps[0].Outcome != probe.GeneratorLimited || p.Steps[0].Result.Missed == 0 {
		t.Fatalf("probe ended %q after %d steps (%+v), want one generator-limited step with missed arrivals", p.Reason, len(p.Steps), p.Steps)
	}
	if it.Result != Error || it.Err == nil || !strings.Contains(it.Err.Error(), "generator-limited") {
		t.Errorf("iteration %s (%v), want an error naming the generator", it.Result, it.Err)
	}
	if n := testutil.CollectAndCount(m.Probe.Capacity); n != 0 {
		t.Errorf("%d capacity series published by a generator-limited probe, want none", n)
	}
}
