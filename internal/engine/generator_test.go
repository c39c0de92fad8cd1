package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/guarantee"
	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/pace"
	"github.com/pbenchd/pbenchd/internal/pgtest"
)

// stallPacer holds the dispatching goroutine itself for hold when asked
// for arrival at: what a GC pause or a descheduled pacer thread does.
type stallPacer struct {
	pace.Pacer
	at   uint64
	hold time.Duration
}

func (p stallPacer) Next(n uint64, prev time.Duration, rng *rand.Rand) time.Duration {
	if n == p.at {
		time.Sleep(p.hold)
	}
	return p.Pacer.Next(n, prev, rng)
}

// TestGeneratorStallBlamed: an open loop of SELECT 1 at 100/s for 3 s
// whose dispatching goroutine is held for 1 s from arrival 100 on. The
// arrivals due in that second (about 100 of the 300) are taken up to 1 s
// late, so measured from their intended starts the p99 is about 1 s and a
// p99 ≤ 300ms guarantee fails; measured from when pbenchd took them up,
// SELECT 1 is far within it. The iteration is an error that blames the
// generator, not a failure of the target.
func TestGeneratorStallBlamed(t *testing.T) {
	run := buildSQL(t, map[string]any{"query": "SELECT 1", "conn": "reuse", "connections": 4}, true, 500)
	m := metrics.New(prometheus.NewRegistry())
	base, _ := pace.New(pace.Spec{Rate: pace.PerSecond(100)})
	p := stallPacer{Pacer: base, at: 100, hold: time.Second}
	start := time.Now().Add(20 * time.Millisecond)
	rec := m.NewRecorder("gen", "a", start, 0)
	rec.SetSchedule(pace.MeanRate(p, 0, 3*time.Second))
	openLoop(context.Background(), start, 3*time.Second, 10*time.Second, p, nil, 500, run, rec)
	res := rec.Result(start.Add(3 * time.Second))
	if res.Events != 300 || res.Bad() != 0 {
		t.Fatalf("events %d, bad %d: want 300 arrivals, all served", res.Events, res.Bad())
	}
	if res.GeneratorLagMax < 0.9 {
		t.Errorf("generator lag max %v s, want about 1 s (the stall)", res.GeneratorLagMax)
	}
	g := config.Guarantee{P99: config.Dur(300 * time.Millisecond)}
	fault := guarantee.GeneratorFault(g, res)
	if !strings.Contains(fault, "the generator was late") {
		t.Fatalf("generator fault %q (p99 %v from the intended starts, %v from when taken up): want the generator blamed",
			fault, res.SLO.P99, res.Taken.P99)
	}
	cfg := &config.Config{}
	e := New(cfg, m, quiet)
	sc := &config.Scenario{Name: "gen", Guarantees: map[string]config.Guarantee{"a": g}}
	it := &Iteration{Scenario: "gen", Results: []metrics.Result{res}, Reported: map[string]bool{"a": true}}
	if got := e.judge(sc, it); got != Error || it.Err == nil || !strings.Contains(it.Err.Error(), "generator") {
		t.Errorf("iteration %s (%v): want an error that names the generator", got, it.Err)
	}
	// The same stall with a guarantee the arrivals miss either way
	// (p99 ≤ 1µs): the target's own time breaks it, so it is a failure of
	// the target, not the generator's.
	g1 := config.Guarantee{P99: config.Dur(time.Microsecond)}
	if f := guarantee.GeneratorFault(g1, res); f != "" {
		t.Errorf("generator blamed (%s) for a guarantee the target breaks by itself", f)
	}
}

// slowDispatch is a schedule that costs its generator 20µs of work per
// arrival: a stand-in for a rate pbenchd cannot pace.
type slowDispatch struct{ pace.Pacer }

func (p slowDispatch) Next(n uint64, prev time.Duration, rng *rand.Rand) time.Duration {
	for t0 := time.Now(); time.Since(t0) < 20*time.Microsecond; {
	}
	return p.Pacer.Next(n, prev, rng)
}

// TestPhaseDeadline: whatever the rate, an open loop returns by its
// duration plus drain, and arrivals it could not issue in time are missed
// (blamed on the generator), not silently dropped from the schedule. The
// bound allows 2 s past duration+drain for a loaded machine; before the
// hard deadline a 1 s phase at 1e9/s ran for minutes.
func TestPhaseDeadline(t *testing.T) {
	run := buildSQL(t, map[string]any{"query": "SELECT 1", "conn": "reuse", "connections": 2}, true, 64)
	for _, c := range []struct {
		rate float64
		slow bool
	}{{1e3, false}, {1e6, false}, {1e9, false}, {1e5, true}} {
		t.Run(fmt.Sprintf("%g/s slow=%v", c.rate, c.slow), func(t *testing.T) {
			m := metrics.New(prometheus.NewRegistry())
			var p pace.Pacer
			p, _ = pace.New(pace.Spec{Rate: pace.PerSecond(c.rate)})
			if c.slow {
				p = slowDispatch{p}
			}
			const d, drain = time.Second, time.Second
			start := time.Now()
			rec := m.NewRecorder("dl", "a", start, 0)
			rec.SetSchedule(pace.MeanRate(p, 0, d))
			openLoop(context.Background(), start, d, drain, p, nil, 64, run, rec)
			took := time.Since(start)
			if took > d+drain+2*time.Second {
				t.Errorf("the phase took %v, its deadline is %v", took, d+drain)
			}
			res := rec.Result(start.Add(d))
			// Every arrival of the schedule is accounted for: the
			// schedule's expectation over 1 s is the rate, within one
			// arrival (the one in progress), or within the generator's
			// estimate of those it missed.
			if got, want := float64(res.Events), c.rate; got < want*0.999-1 || got > want*1.001+1 {
				t.Errorf("events %d, want %g (ok %d, failed %d, dropped %d, missed %d)", res.Events, want, res.OK, res.Failed, res.Dropped, res.Missed)
			}
			// 1e9/s is beyond any generator, and 20µs of work per arrival
			// cannot keep 1e5/s (2 s of work per second).
			if c.rate >= 1e9 || c.slow {
				if res.Missed == 0 || guarantee.GeneratorFault(config.Guarantee{}, res) == "" {
					t.Errorf("missed %d at %g/s: want the generator blamed for falling behind", res.Missed, c.rate)
				}
			}
		})
	}
}

// TestRampDefaultsCarryPeak: a ramp from 10/s to 2000/s over 3 s of
// SELECT 1 with every default. The cap and the connections follow the
// peak rate (2000/s), not the rate at the start: the cap is 2000 (one
// second at the peak) and the connections 20 (2000/s × an assumed 10ms per
// call), so no arrival is dropped and the qps verdict holds at the
// schedule's own mean rate. Sized from the rate at t=0 (a cap of 16 and
// one connection) most arrivals were dropped.
func TestRampDefaultsCarryPeak(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	cfg := &config.Config{
		Targets: map[string]config.Target{"pg": {Kind: "postgres", DSN: pgtest.DSN(), ConnectTimeout: config.Dur(5 * time.Second)}},
		Run:     config.Run{SetupTimeout: config.Dur(30 * time.Second), TeardownTimeout: config.Dur(10 * time.Second)},
	}
	from, _ := pace.ParseRate("10/s")
	to, _ := pace.ParseRate("2000/s")
	spec := pace.Spec{Arrivals: "ramp", Rate: from, To: to, Over: 3 * time.Second}
	p, _ := pace.New(spec)
	mean := pace.MeanRate(p, 0, 3*time.Second)
	sc := &config.Scenario{
		Name: "ramp", Target: "pg",
		Phases: []config.Phase{{Load: &config.LoadPhase{Duration: config.Dur(3 * time.Second), Actions: []config.Action{
			{Name: "select_1", Open: &config.OpenLoop{Spec: spec}, Kind: "sql", Kinds: map[string]any{"sql": "SELECT 1"}},
		}}}},
		// The whole schedule's mean rate, to the last arrival.
		Guarantees: map[string]config.Guarantee{"select_1": {QPS: mean}},
	}
	e := New(cfg, m, quiet)
	it := e.Iterate(context.Background(), sc, Stage{Setup: true, Teardown: true})
	if len(it.Results) != 1 {
		t.Fatalf("result %s (%v)", it.Result, it.Err)
	}
	r := it.Results[0]
	if got := testutil.ToFloat64(m.InflightMax.WithLabelValues("ramp", "select_1")); got != 2000 {
		t.Errorf("default max in flight %v, want 2000 (one second at the peak)", got)
	}
	if r.Dropped != 0 || r.Failed != 0 {
		t.Errorf("dropped %d, failed %d of %d arrivals: the defaults did not carry the peak", r.Dropped, r.Failed, r.Events)
	}
	if it.Result != Pass {
		t.Errorf("result %s (%v), verdicts %v: want pass", it.Result, it.Err, it.Verdicts)
	}
}
