package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestSLOEventsCountEveryArrivalAfterWarmup(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.SLO.Configure("s", map[string][]Objective{
		"a": {
			{Stat: "p99", Limit: 10 * time.Millisecond, Budget: 0.01},
			{Stat: "p95", Limit: 50 * time.Millisecond, Budget: 0.05},
			{Stat: "error_ratio", Budget: 0.02},
			{Stat: "error_ratio0", Budget: 0}, // no budget: left out
		},
	})
	start := time.Unix(1000, 0)
	r := m.NewRecorder("s", "a", start, time.Second)
	call := func(at, latency time.Duration, class string) {
		in := start.Add(at)
		r.Record(Outcome{Intended: in, Start: in, End: in.Add(latency), ErrClass: class, Open: true})
	}
	call(0, time.Second, "timeout")                                          // warm-up: counts nowhere
	r.Drop(start.Add(500*time.Millisecond), start.Add(500*time.Millisecond)) // warm-up too
	call(2*time.Second, 5*time.Millisecond, "")                              // good for all three
	call(2*time.Second, 10*time.Millisecond, "")                             // at the p99 limit: good
	call(2*time.Second, 20*time.Millisecond, "")                             // bad for p99 only
	call(2*time.Second, 60*time.Millisecond, "")                             // bad for p99 and p95
	call(2*time.Second, time.Millisecond, "40001")                           // failed: bad for all
	r.Drop(start.Add(3*time.Second), start.Add(3*time.Second))               // dropped: bad for all

	for _, tc := range []struct {
		stat      string
		good, bad float64
	}{
		{"p99", 2, 4},
		{"p95", 3, 3},
		{"error_ratio", 4, 2},
	} {
		if got := testutil.ToFloat64(m.SLO.Good.WithLabelValues("s", "a", tc.stat)); got != tc.good {
			t.Errorf("good %s = %v, want %v", tc.stat, got, tc.good)
		}
		if got := testutil.ToFloat64(m.SLO.Bad.WithLabelValues("s", "a", tc.stat)); got != tc.bad {
			t.Errorf("bad %s = %v, want %v", tc.stat, got, tc.bad)
		}
	}
	if n := testutil.CollectAndCount(m.SLO.Budget); n != 3 {
		t.Errorf("%d budget series, want 3 (the zero budget left out)", n)
	}
	if got := testutil.ToFloat64(m.SLO.Budget.WithLabelValues("s", "a", "p95")); got != 0.05 {
		t.Errorf("budget p95 = %v, want 0.05", got)
	}

	// An action without objectives counts nothing and has no series.
	other := m.NewRecorder("s", "b", start, 0)
	other.Drop(start, start)
	if n := testutil.CollectAndCount(m.SLO.Bad); n != 3 {
		t.Errorf("%d bad-event series, want 3: an action without objectives has none", n)
	}

	// A reload keeps the counters (burn-rate windows span it) but
	// replaces the budgets; a removed scenario loses everything.
	m.SLO.Configure("s", map[string][]Objective{"a": {{Stat: "p99", Limit: time.Second, Budget: 0.01}}})
	if n := testutil.CollectAndCount(m.SLO.Budget); n != 1 {
		t.Errorf("after reload: %d budget series, want 1", n)
	}
	if n := testutil.CollectAndCount(m.SLO.Good); n != 3 {
		t.Errorf("after reload: %d good-event series, want 3 (kept)", n)
	}
	m.ForgetScenario("s")
	for name, c := range map[string]prometheus.Collector{"good": m.SLO.Good, "bad": m.SLO.Bad, "budget": m.SLO.Budget} {
		if n := testutil.CollectAndCount(c); n != 0 {
			t.Errorf("after ForgetScenario: %d %s series, want 0", n, name)
		}
	}
}

// TestLanesKeepsTheMost: the lanes gauge shows the scheduler threads of
// an open loop now; its result keeps the most at once in the phase.
func TestLanesKeepsTheMost(t *testing.T) {
	m := New(prometheus.NewRegistry())
	r := m.NewRecorder("s", "a", time.Now(), 0)
	if got := r.Result(time.Now()).Lanes; got != 0 {
		t.Errorf("lanes %d before any was told; want 0", got)
	}
	for _, n := range []int{1, 2, 1, 3, 1, 0} {
		r.Lanes(n)
		if got := testutil.ToFloat64(m.GeneratorLanes.WithLabelValues("s", "a")); got != float64(n) {
			t.Fatalf("told %d lanes: gauge %v", n, got)
		}
	}
	if got := r.Result(time.Now()).Lanes; got != 3 {
		t.Errorf("lanes %d in the result; want 3, the most at once", got)
	}
}
