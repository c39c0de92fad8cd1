package engine

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/pace"
	"github.com/pbenchd/pbenchd/internal/pgtest"
)

// TestOverloadQueuesArrivals: 2000/s offered for 1 s to a pool of 2
// connections over pg_sleep(0.01), which serves about 200/s, with at most
// 200 calls in flight. The calls beyond the 2 being served wait queued as
// arrivals, not as goroutines parked on the pool: the phase adds a handful
// of goroutines, where one per call in flight would be 200. The in-flight
// gauge still counts them, up to the cap and never past it, and the
// arrivals beyond the cap are dropped.
func TestOverloadQueuesArrivals(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	cfg := &config.Config{
		Targets: map[string]config.Target{"pg": {Kind: "postgres", DSN: pgtest.DSN(), ConnectTimeout: config.Dur(5 * time.Second)}},
		Run:     config.Run{SetupTimeout: config.Dur(30 * time.Second), TeardownTimeout: config.Dur(10 * time.Second)},
	}
	rate, _ := pace.ParseRate("2000/s")
	sc := &config.Scenario{
		Name: "overload", Target: "pg",
		Phases: []config.Phase{{Load: &config.LoadPhase{Duration: config.Dur(time.Second), Actions: []config.Action{
			{Name: "sleep", Open: &config.OpenLoop{Spec: pace.Spec{Rate: rate}, MaxInflight: 200}, Kind: "sql",
				Kinds: map[string]any{"sql": map[string]any{"query": "SELECT pg_sleep(0.01)", "conn": "pooled", "pool_size": 2}}},
		}}}},
	}
	e := New(cfg, m, quiet)
	base := runtime.NumGoroutine()
	var peakG, peakIn atomic.Int64
	done := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if g := int64(runtime.NumGoroutine()); g > peakG.Load() {
				peakG.Store(g)
			}
			if in := int64(testutil.ToFloat64(m.Inflight.WithLabelValues("overload", "sleep"))); in > peakIn.Load() {
				peakIn.Store(in)
			}
		}
	}()
	it := e.Iterate(context.Background(), sc, Stage{Setup: true, Teardown: true})
	close(done)
	<-watched
	if len(it.Results) != 1 {
		t.Fatalf("result %s (%v)", it.Result, it.Err)
	}
	r := it.Results[0]
	if added := peakG.Load() - int64(base); added >= 100 {
		t.Errorf("the phase added %d goroutines at its peak; want a handful (2 workers, the pool's own), not one per call in flight", added)
	}
	if in := peakIn.Load(); in > 200 || in < 150 {
		t.Errorf("in-flight gauge peaked at %d; want the cap, 200, reached (the target serves a tenth of the rate) and never passed", in)
	}
	if r.Dropped == 0 || r.OK == 0 {
		t.Errorf("ok %d, dropped %d: want calls served and arrivals dropped at the cap", r.OK, r.Dropped)
	}
	// One scheduler thread handed out the arrivals (2,000/s is below a
	// second lane's rate), and none after the phase.
	if lanes := testutil.ToFloat64(m.GeneratorLanes.WithLabelValues("overload", "sleep")); r.Lanes != 1 || lanes != 0 {
		t.Errorf("lanes %d in the result, %v on the gauge after the phase; want 1 and 0", r.Lanes, lanes)
	}
}
