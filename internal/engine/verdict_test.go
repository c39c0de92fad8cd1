package engine

import (
	"context"
	"encoding/json"
	"math"
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

// near tells whether got is within HDR's half-bucket precision (0.05 %) of
// want seconds.
func near(got, want float64) bool { return math.Abs(got-want) <= want*0.0005 }

// TestSLOLatencyExact: 980 successful calls of 1ms, 2ms … 980ms, 15
// failures and 5 drops make 1000 events. By nearest rank over the events,
// p50 is the 500th smallest (500ms), p95 the 950th (950ms), and p99 the
// 990th, a bad event: ∞, as are max and avg. Over successful calls alone
// p50 is the 490th (490ms) and p99 the 971st (971ms).
func TestSLOLatencyExact(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	start := time.Unix(1_700_000_000, 0)
	rec := m.NewRecorder("s", "a", start, 0)
	at := func(i int) time.Time { return start.Add(time.Duration(i) * 10 * time.Millisecond) }
	for i := range 980 {
		rec.Record(metrics.Outcome{Intended: at(i), Start: at(i), End: at(i).Add(time.Duration(i+1) * time.Millisecond)})
	}
	for i := range 15 {
		rec.Record(metrics.Outcome{Intended: at(i), Start: at(i), End: at(i).Add(time.Millisecond), ErrClass: "timeout"})
	}
	for i := range 5 {
		rec.Drop(at(i), at(i))
	}
	res := rec.Result(start.Add(10 * time.Second))
	if res.Events != 1000 || res.Bad() != 20 {
		t.Fatalf("events %d, bad %d; want 1000 and 20", res.Events, res.Bad())
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"p50", res.SLO.P50, 0.500}, {"p95", res.SLO.P95, 0.950},
		{"success p50", res.Success.P50, 0.490}, {"success p99", res.Success.P99, 0.971},
		{"success max", res.Success.Max, 0.980},
	} {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	for name, v := range map[string]float64{"p99": res.SLO.P99, "max": res.SLO.Max, "avg": res.SLO.Avg} {
		if !math.IsInf(v, 1) {
			t.Errorf("%s = %v, want +Inf: its rank falls on a bad event", name, v)
		}
	}
	if res.ErrorRatio != 0.02 {
		t.Errorf("error ratio = %v, want 0.02", res.ErrorRatio)
	}

	g := config.Guarantee{P95: config.Dur(time.Second), P99: config.Dur(2 * time.Second)}
	vs := guarantee.Check(g, res)
	if len(vs) != 2 || !vs[0].OK || vs[1].OK {
		t.Fatalf("verdicts %v: want p95 ok and p99 failed", vs)
	}
	want := "p99 ∞ ≤ 2s FAIL: 2 % of 1000 calls (15 failed, 5 dropped), more than the 1 % a p99 allows"
	if got := vs[1].String(); got != want {
		t.Errorf("verdict reads\n  %s\nwant\n  %s", got, want)
	}
	b, err := json.Marshal(vs[1])
	if err != nil || !strings.Contains(string(b), `"value":"+Inf"`) {
		t.Errorf("verdict JSON %s (%v): want the value as \"+Inf\"", b, err)
	}
	var back guarantee.Verdict
	if err := json.Unmarshal(b, &back); err != nil || !math.IsInf(float64(back.Value), 1) || !near(float64(back.Success), 0.971) {
		t.Errorf("verdict read back as %+v (%v)", back, err)
	}
}

// TestNoSuccessIsNaN: without a successful call the successful-only
// figures are NaN (never 0), the judged ones +Inf (every event is bad);
// without any event both are NaN.
func TestNoSuccessIsNaN(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	start := time.Unix(1_700_000_000, 0)
	rec := m.NewRecorder("s", "a", start, 0)
	for i := range 3 {
		at := start.Add(time.Duration(i) * time.Second)
		rec.Record(metrics.Outcome{Intended: at, Start: at, End: at.Add(time.Millisecond), ErrClass: "connect"})
	}
	res := rec.Result(start.Add(3 * time.Second))
	for _, s := range []string{"p50", "p95", "p99", "max", "avg", "slope"} {
		if v := res.Success.Stat(s); !math.IsNaN(v) {
			t.Errorf("success %s = %v, want NaN", s, v)
		}
	}
	for _, s := range metrics.Stats {
		if v := res.SLO.Stat(s); !math.IsInf(v, 1) {
			t.Errorf("judged %s = %v, want +Inf", s, v)
		}
	}
	empty := m.NewRecorder("s", "b", start, 0).Result(start.Add(time.Second))
	for _, s := range metrics.Stats {
		if v := empty.SLO.Stat(s); !math.IsNaN(v) {
			t.Errorf("judged %s without events = %v, want NaN", s, v)
		}
	}
}

// ols is an independent least-squares slope of y on x.
func ols(xs, ys []float64) float64 {
	var n, sx, sy, sxx, sxy float64
	for i := range xs {
		n++
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	return (n*sxy - sx*sy) / (n*sxx - sx*sx)
}

// TestSlopeWithFailures: a target whose calls are a flat 10ms and which,
// from half-way through the phase, times half of them out at 100ms. The
// successful calls alone are flat (slope 0): judged that way, a target
// degrading into timeouts would look perfectly stable. The judged slope
// fits the bad events as the slowest call of the window (100ms), exactly
// the least-squares slope of that data, and is far above 0.
func TestSlopeWithFailures(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	start := time.Unix(1_700_000_000, 0)
	rec := m.NewRecorder("s", "a", start, 0)
	var xs, ys []float64
	for i := range 1000 {
		x := float64(i) / 10 // 0 … 99.9 s
		at := start.Add(time.Duration(i) * 100 * time.Millisecond)
		if i >= 500 && i%2 == 1 {
			rec.Record(metrics.Outcome{Intended: at, Start: at, End: at.Add(100 * time.Millisecond), ErrClass: "timeout"})
			xs, ys = append(xs, x), append(ys, 0.100)
			continue
		}
		rec.Record(metrics.Outcome{Intended: at, Start: at, End: at.Add(10 * time.Millisecond)})
		xs, ys = append(xs, x), append(ys, 0.010)
	}
	res := rec.Result(start.Add(100 * time.Second))
	if math.Abs(res.Success.Slope) > 1e-12 { // 0 but for float rounding
		t.Errorf("slope of successful calls = %v, want 0 (they are flat)", res.Success.Slope)
	}
	want := ols(xs, ys)
	if math.Abs(res.SLO.Slope-want) > 1e-9*want {
		t.Errorf("judged slope = %v, want %v (failures fitted at 100ms)", res.SLO.Slope, want)
	}
	if res.SLO.Slope < 0.0005 {
		t.Errorf("judged slope = %v: calls starting to fail must not look flat", res.SLO.Slope)
	}
	// Failures that stop half-way (they fit as a falling line) never take
	// the judged slope below the successful calls'.
	rec2 := m.NewRecorder("s", "b", start, 0)
	for i := range 1000 {
		at := start.Add(time.Duration(i) * 100 * time.Millisecond)
		lat, class := time.Duration(10+i/100)*time.Millisecond, ""
		if i < 500 && i%2 == 1 {
			lat, class = 100*time.Millisecond, "timeout"
		}
		rec2.Record(metrics.Outcome{Intended: at, Start: at, End: at.Add(lat), ErrClass: class})
	}
	res2 := rec2.Result(start.Add(100 * time.Second))
	if res2.SLO.Slope != res2.Success.Slope || res2.Success.Slope <= 0 {
		t.Errorf("judged slope %v, successful calls' %v: want the rising successful fit", res2.SLO.Slope, res2.Success.Slope)
	}
}

// TestDropsFailLatencyGuarantee is the case that used to pass: 200/s
// offered to pg_sleep(0.02) with at most 2 calls in flight, guarantee p99
// 200ms. The target serves at most 2/0.02 = 100/s, so about half of the 400
// arrivals are dropped; the successful calls are fast (about 20ms), but
// 99 % of the arrivals were not served within 200ms: FAIL, and the table
// and the verdict say why.
func TestDropsFailLatencyGuarantee(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	cfg := &config.Config{
		Targets: map[string]config.Target{"pg": {Kind: "postgres", DSN: pgtest.DSN(), ConnectTimeout: config.Dur(5 * time.Second)}},
		Run:     config.Run{SetupTimeout: config.Dur(30 * time.Second), TeardownTimeout: config.Dur(10 * time.Second)},
	}
	rate, _ := pace.ParseRate("200/s")
	drain := config.Dur(5 * time.Second)
	sc := &config.Scenario{
		Name: "drops", Target: "pg",
		Phases: []config.Phase{{Load: &config.LoadPhase{Duration: config.Dur(2 * time.Second), Drain: &drain, Actions: []config.Action{
			{Name: "sleep", Open: &config.OpenLoop{Spec: pace.Spec{Rate: rate}, MaxInflight: 2}, Kind: "sql",
				Kinds: map[string]any{"sql": map[string]any{"query": "SELECT pg_sleep(0.02)", "conn": "pooled"}}},
			// One call in ten divides by zero: fast failures, 10 % of
			// the arrivals, more than a p95 allows.
			{Name: "divide", Open: &config.OpenLoop{Spec: pace.Spec{Rate: rate}}, Kind: "sql",
				Kinds: map[string]any{"sql": map[string]any{"query": "SELECT 1 / (($1::int) % 10)",
					"args": []any{map[string]any{"kind": "sequence", "start": 1}}}}},
		}}}},
		Guarantees: map[string]config.Guarantee{
			"sleep":  {P99: config.Dur(200 * time.Millisecond)},
			"divide": {P95: config.Dur(time.Second)},
		},
	}
	e := New(cfg, m, quiet)
	it := e.Iterate(context.Background(), sc, Stage{Setup: true, Teardown: true})
	if len(it.Results) != 2 {
		t.Fatalf("result %s (%v), %d action results", it.Result, it.Err, len(it.Results))
	}
	r := it.Results[0]
	if r.Events != 400 || r.Dropped < 100 {
		t.Fatalf("events %d, dropped %d: want exactly 400 arrivals, at least 100 dropped", r.Events, r.Dropped)
	}
	if it.Result != Fail {
		t.Fatalf("result %s (%v), want fail", it.Result, it.Err)
	}
	v := it.Verdicts[0]
	if v.OK || !math.IsInf(float64(v.Value), 1) || !(float64(v.Success) < 0.2) {
		t.Errorf("verdict %+v: want p99 ∞ failed, successful calls under 200ms", v)
	}
	if !strings.Contains(v.Reason, "dropped") || !strings.Contains(v.Reason, "arrivals") {
		t.Errorf("reason %q does not say arrivals were dropped", v.Reason)
	}
	// The sequence 1, 2, … 400 hits a multiple of 10 in exactly 40
	// arrivals: 10 % failed, so the 95th percentile falls on a failure.
	d := it.Results[1]
	if d.Events != 400 || d.Failed != 40 || d.ErrorClasses["sqlstate_22012"] != 40 {
		t.Errorf("divide: events %d, failed %d (%v), want 400 and 40 division_by_zero", d.Events, d.Failed, d.ErrorClasses)
	}
	dv := it.Verdicts[1]
	if dv.Action != "divide" || dv.OK || !math.IsInf(float64(dv.Value), 1) || !strings.Contains(dv.Reason, "40 failed") {
		t.Errorf("divide verdict %v: want p95 ∞ failed because 40 calls failed", dv)
	}
	t.Log(iterationText(it))
	// What once's table shows (internal/report draws it from these).
	if !strings.HasPrefix(v.String(), "p99 ∞ ≤ 200ms FAIL: ") {
		t.Errorf("verdict %q: want the failed verdict with its reason", v.String())
	}
	if r.Success.P99 == r.SLO.P99 {
		t.Errorf("successful calls' p99 %v is the SLO's %v: no figure of their own to show beside", r.Success.P99, r.SLO.P99)
	}
	if got := testutil.ToFloat64(m.ResultLatency.WithLabelValues("drops", "sleep", "p99")); !math.IsInf(got, 1) {
		t.Errorf("pbenchd_result_latency_seconds{p99} = %v, want +Inf", got)
	}
	if got := testutil.ToFloat64(m.ResultSuccessLatency.WithLabelValues("drops", "sleep", "p99")); !(got > 0 && got < 0.2) {
		t.Errorf("pbenchd_result_success_latency_seconds{p99} = %v, want the successful calls' p99", got)
	}
	if _, err := json.Marshal(NewResults([]*Iteration{it})); err != nil {
		t.Errorf("results JSON: %v", err)
	}
}
