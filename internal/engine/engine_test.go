package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/pace"
	"github.com/pbenchd/pbenchd/internal/pgtest"
	"github.com/pbenchd/pbenchd/internal/target"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func testTargets(dsn string) *target.Set {
	return target.NewSet(map[string]config.Target{"pg": {Kind: "postgres", DSN: dsn, ConnectTimeout: config.Dur(2 * time.Second)}}, nil)
}

// buildSQL builds a runner of the real sql kind against the test server.
func buildSQL(t *testing.T, raw map[string]any, open bool, slots int) action.Runner {
	t.Helper()
	kind, ok := action.Kinds.Lookup("sql")
	if !ok {
		t.Fatal("sql kind not registered")
	}
	spec, err := kind.Decode(raw, "sql", config.Target{Kind: "postgres"})
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	r, err := kind.Build(context.Background(), spec, action.Env{
		Scenario: "test", Action: "a", Target: "pg", Targets: testTargets(pgtest.DSN()),
		Slots: slots, Open: open, Log: quiet,
	})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

// iterationText is an iteration as JSON, for a test's log.
func iterationText(it *Iteration) string {
	b, err := json.MarshalIndent(it.JSON(), "", "  ")
	if err != nil {
		return fmt.Sprintf("%+v", it)
	}
	return string(b)
}

type samples struct {
	mu  sync.Mutex
	out []metrics.Outcome
}

func (s *samples) add(o metrics.Outcome) {
	s.mu.Lock()
	s.out = append(s.out, o)
	s.mu.Unlock()
}

// TestCoordinatedOmission runs an open loop at 100/s over one connection
// while another session holds a lock on the table for one second. Latency
// is measured from the schedule, so every arrival the stall delayed shows
// it. The bounds are exact, from the lock's own timestamps rather than
// from how long things took: the lock was taken by lockedAt (when LOCK
// returned) and was still held at releasedAt (just before COMMIT was
// sent), so an arrival due at a ≥ lockedAt cannot finish before
// releasedAt, and its latency is at least releasedAt − a. Calls on the one
// connection run one at a time, a call that began before the lock ended
// before LOCK returned (LOCK waits for it), so exactly one call began
// before releasedAt and ended after it: the one the server blocked. The
// service-time view (from each call's actual start) shows just that one
// slow call. None of this depends on the
// speed of the machine, so it holds under -race and load.
func TestCoordinatedOmission(t *testing.T) {
	c := pgtest.Connect(t)
	tbl := pgtest.Name("pbenchd_co")
	pgtest.Exec(t, c, "CREATE TABLE "+tbl+" (k int)")
	pgtest.Exec(t, c, "INSERT INTO "+tbl+" VALUES (1)")
	t.Cleanup(func() { pgtest.Exec(t, pgtest.Connect(t), "DROP TABLE IF EXISTS "+tbl) })

	run := buildSQL(t, map[string]any{"query": "SELECT k FROM " + tbl, "conn": "reuse", "connections": 1}, true, 500)
	m := metrics.New(prometheus.NewRegistry())
	start := time.Now().Add(50 * time.Millisecond)
	rec := m.NewRecorder("test", "a", start, 0)
	var s samples
	rec.Tap(s.add)
	p, err := pace.New(pace.Spec{Rate: pace.PerSecond(100)})
	if err != nil {
		t.Fatal(err)
	}

	lockStart := start.Add(1 * time.Second)
	var lockedAt, releasedAt time.Time
	locked := make(chan error, 1)
	go func() {
		ctx := context.Background()
		time.Sleep(time.Until(lockStart))
		tx, err := c.Begin(ctx)
		if err == nil {
			_, err = tx.Exec(ctx, "LOCK TABLE "+tbl+" IN ACCESS EXCLUSIVE MODE")
			lockedAt = time.Now()
			time.Sleep(time.Until(lockStart.Add(time.Second)))
			releasedAt = time.Now()
			_ = tx.Commit(ctx)
		}
		locked <- err
	}()
	openLoop(context.Background(), start, 3*time.Second, 10*time.Second, p, nil, 500, run, rec)
	if err := <-locked; err != nil {
		t.Fatalf("lock: %v", err)
	}
	hold := releasedAt.Sub(lockedAt)

	if len(s.out) != 300 {
		t.Fatalf("calls = %d, want exactly 300 (3 s at 100/s, none dropped)", len(s.out))
	}
	var lats, bounds []time.Duration
	var servedThroughLock int
	for _, o := range s.out {
		if o.ErrClass != "" {
			t.Fatalf("call failed: %s", o.ErrClass)
		}
		lat := o.End.Sub(o.Intended)
		lats = append(lats, lat)
		if !o.Intended.Before(lockedAt) && o.Intended.Before(releasedAt) {
			bound := releasedAt.Sub(o.Intended)
			bounds = append(bounds, bound)
			if lat < bound {
				t.Errorf("arrival due %v after the lock was taken has latency %v, less than the %v until it was released: the stall is missing",
					o.Intended.Sub(lockedAt), lat, bound)
			}
		}
		if o.Start.Before(releasedAt) && !o.End.Before(releasedAt) {
			servedThroughLock++
		}
	}
	// 100/s over a hold of about 1 s: about 100 arrivals fall in it.
	if len(bounds) < int(hold.Seconds()*100)-2 {
		t.Errorf("%d arrivals due while the lock was held for %v, want about %d", len(bounds), hold, int(hold.Seconds()*100))
	}
	if servedThroughLock != 1 {
		t.Errorf("calls that began before the lock's release and ended after it = %d, want exactly 1 (the call the server blocked)", servedThroughLock)
	}
	// The iteration's p99 is the 297th of 300 latencies (nearest rank),
	// so the 4th largest: at least the 4th largest lower bound, and within
	// HDR's half-bucket of the raw samples' own.
	res := rec.Result(start.Add(3 * time.Second))
	slices.Sort(lats)
	slices.Sort(bounds)
	want := lats[len(lats)-4]
	if got := sec(res.SLO.P99); absDur(got-want) > want/2000+time.Microsecond {
		t.Errorf("iteration p99 = %v, the raw samples give %v", got, want)
	}
	if sec(res.SLO.P99) < bounds[len(bounds)-4] {
		t.Errorf("iteration p99 = %v, below %v: the stall is missing from the results", res.SLO.P99, bounds[len(bounds)-4])
	}
	if res.Success.P99 != res.SLO.P99 {
		t.Errorf("successful-only p99 %v differs from the judged %v with no bad event", res.Success.P99, res.SLO.P99)
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// TestExactQuantiles checks that an iteration's statistics equal those of
// the raw samples: quantiles within 0.1%, max and mean exact.
func TestExactQuantiles(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	start := time.Unix(1_700_000_000, 0)
	rec := m.NewRecorder("test", "a", start, 0)
	rng := rand.New(rand.NewPCG(1, 2))
	var lats []time.Duration
	var sum float64
	for i := range 200_000 {
		// Log-normal around 1ms with a long tail, as real latencies are.
		lat := time.Duration(math.Exp(rng.NormFloat64()*1.2) * float64(time.Millisecond))
		lat = max(lat, time.Microsecond)
		lats = append(lats, lat)
		sum += lat.Seconds()
		at := start.Add(time.Duration(i) * time.Millisecond)
		rec.Record(metrics.Outcome{Intended: at, Start: at, End: at.Add(lat)})
	}
	res := rec.Result(start.Add(200 * time.Second))
	slices.Sort(lats)
	rank := func(p float64) time.Duration { // nearest rank, as HDR counts
		return lats[int(math.Ceil(p/100*float64(len(lats))))-1]
	}
	for _, c := range []struct {
		name string
		got  time.Duration
		p    float64
	}{{"p50", sec(res.SLO.P50), 50}, {"p95", sec(res.SLO.P95), 95}, {"p99", sec(res.SLO.P99), 99}} {
		want := rank(c.p)
		if rel := math.Abs(float64(c.got-want)) / float64(want); rel > 0.001 {
			t.Errorf("%s = %v, raw samples give %v (off by %.3f%%)", c.name, c.got, want, rel*100)
		}
	}
	if res.SLO.Max != lats[len(lats)-1].Seconds() {
		t.Errorf("max = %v, want %v exactly", res.SLO.Max, lats[len(lats)-1])
	}
	if want := sum / float64(len(lats)); math.Abs(res.SLO.Avg-want) > 1e-9 {
		t.Errorf("avg = %v, want %v", res.SLO.Avg, want)
	}
	if res.Success != res.SLO {
		t.Errorf("success-only figures %+v differ from the judged ones %+v with no bad event", res.Success, res.SLO)
	}
	if res.QPS != 1000 {
		t.Errorf("qps = %v, want 1000 (200000 calls in 200 s)", res.QPS)
	}
}

// sec converts seconds to a Duration.
func sec(s float64) time.Duration { return time.Duration(s * 1e9) }

// TestSlopeWarmupAndErrors: latencies on an exact line give their slope
// back over successful calls, warm-up calls stay out of the results, and
// failures and drops are bad events.
func TestSlopeWarmupAndErrors(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	start := time.Unix(1_700_000_000, 0)
	rec := m.NewRecorder("s", "a", start, 10*time.Second)
	for i := range 1000 {
		at := start.Add(time.Duration(i) * 100 * time.Millisecond) // 0 … 99.9 s
		lat := time.Duration((0.002 + 0.0005*at.Sub(start).Seconds()) * 1e9)
		if i < 100 {
			lat = time.Hour // in the warm-up: must not count
		}
		rec.Record(metrics.Outcome{Intended: at, Start: at, End: at.Add(lat)})
	}
	for i := range 10 {
		at := start.Add(20*time.Second + time.Duration(i)*time.Second)
		rec.Record(metrics.Outcome{Intended: at, Start: at, End: at.Add(time.Millisecond), ErrClass: "sqlstate_57014"})
	}
	rec.Drop(start.Add(50*time.Second), start.Add(50*time.Second))
	rec.Drop(start.Add(5*time.Second), start.Add(5*time.Second)) // warm-up: not counted
	res := rec.Result(start.Add(100 * time.Second))
	if math.Abs(res.Success.Slope-0.0005) > 1e-9 {
		t.Errorf("slope of successful calls = %v, want 0.0005", res.Success.Slope)
	}
	if res.SLO.Slope < res.Success.Slope {
		t.Errorf("judged slope %v is below the successful calls' %v", res.SLO.Slope, res.Success.Slope)
	}
	if res.OK != 900 || res.Failed != 10 || res.Dropped != 1 {
		t.Errorf("ok/failed/dropped = %d/%d/%d, want 900/10/1", res.OK, res.Failed, res.Dropped)
	}
	if want := 900.0 / 90; res.QPS != want {
		t.Errorf("qps = %v, want %v", res.QPS, want)
	}
	if want := 11.0 / 911; math.Abs(res.ErrorRatio-want) > 1e-12 {
		t.Errorf("error ratio = %v, want %v", res.ErrorRatio, want)
	}
	if res.ErrorClasses["sqlstate_57014"] != 10 {
		t.Errorf("error classes = %v", res.ErrorClasses)
	}
	if res.Success.Max > 1 {
		t.Errorf("max = %v: a warm-up call leaked into the results", res.Success.Max)
	}
	// Prometheus saw every call, warm-up included.
	if got := testutil.ToFloat64(m.Calls.WithLabelValues("s", "a", "ok")); got != 1000 {
		t.Errorf("calls_total{ok} = %v, want 1000", got)
	}
	if got := testutil.ToFloat64(m.Errors.WithLabelValues("s", "a", "sqlstate_57014")); got != 10 {
		t.Errorf("errors_total = %v, want 10", got)
	}
	if got := testutil.ToFloat64(m.Dropped.WithLabelValues("s", "a")); got != 2 {
		t.Errorf("dropped_total = %v, want 2", got)
	}
}

// slowRunner stands in for nothing but time: it sleeps and counts how many
// calls run at once, to check the open loop's own bound.
type countingRunner struct {
	action.Runner
	now, peak atomic.Int64
}

func (c *countingRunner) Call(ctx context.Context) action.Result {
	n := c.now.Add(1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			break
		}
	}
	defer c.now.Add(-1)
	return c.Runner.Call(ctx)
}

// TestOpenLoopBounded offers 200/s of 200ms queries with at most 10 in
// flight: the server can take 50/s, so most arrivals are dropped, counted,
// and never run; in flight never exceeds the cap; every arrival is either
// run or dropped.
func TestOpenLoopBounded(t *testing.T) {
	run := &countingRunner{Runner: buildSQL(t, map[string]any{"query": "SELECT pg_sleep(0.2)", "conn": "pooled"}, true, 10)}
	m := metrics.New(prometheus.NewRegistry())
	start := time.Now()
	rec := m.NewRecorder("test", "a", start, 0)
	var s samples
	rec.Tap(s.add)
	p, _ := pace.New(pace.Spec{Rate: pace.PerSecond(200)})
	openLoop(context.Background(), start, 2*time.Second, 10*time.Second, p, nil, 10, run, rec)
	res := rec.Result(start.Add(2 * time.Second))
	if got := res.Calls + res.Dropped; got != 400 {
		t.Errorf("calls + dropped = %d, want exactly 400 arrivals", got)
	}
	if peak := run.peak.Load(); peak > 10 {
		t.Errorf("peak in flight = %d, cap is 10", peak)
	}
	// 10 slots × 2 s / 0.2 s = 100 calls at most (plus the last round).
	if res.Calls < 80 || res.Calls > 110 {
		t.Errorf("calls = %d, want about 100", res.Calls)
	}
	if res.ErrorRatio < 0.7 {
		t.Errorf("error ratio = %v: dropped arrivals must count against the action", res.ErrorRatio)
	}
	if g := testutil.ToFloat64(m.Inflight.WithLabelValues("test", "a")); g != 0 {
		t.Errorf("inflight gauge = %v after the loop, want 0", g)
	}
}

// TestExactnessAgainstPostgres: a real closed loop's p99 equals the p99 of
// its raw samples within 0.1%.
func TestExactnessAgainstPostgres(t *testing.T) {
	run := buildSQL(t, map[string]any{"query": "SELECT 1", "conn": "reuse"}, false, 4)
	m := metrics.New(prometheus.NewRegistry())
	start := time.Now()
	rec := m.NewRecorder("test", "a", start, 0)
	var s samples
	rec.Tap(s.add)
	closedLoop(context.Background(), start, time.Second, 10*time.Second, 4, run, rec)
	res := rec.Result(start.Add(time.Second))
	if len(s.out) < 100 || int64(len(s.out)) != res.Calls {
		t.Fatalf("samples = %d, result calls = %d", len(s.out), res.Calls)
	}
	lats := make([]time.Duration, 0, len(s.out))
	for _, o := range s.out {
		lats = append(lats, o.End.Sub(o.Intended))
	}
	slices.Sort(lats)
	want := lats[int(math.Ceil(0.99*float64(len(lats))))-1]
	if rel := math.Abs(float64(sec(res.SLO.P99)-want)) / float64(want); rel > 0.001 {
		t.Errorf("p99 = %v, raw samples give %v", res.SLO.P99, want)
	}
}

// TestTargetDown: a scenario against a port where nothing listens is an
// error iteration at once (its phases are not run), and the target is
// down; no crash, no leak.
func TestTargetDown(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	cfg := &config.Config{
		Targets: map[string]config.Target{"pg": {Kind: "postgres", DSN: "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=1", ConnectTimeout: config.Dur(time.Second)}},
		Run:     config.Run{SetupTimeout: config.Dur(5 * time.Second), TeardownTimeout: config.Dur(5 * time.Second)},
	}
	rate, _ := pace.ParseRate("20/s")
	sc := &config.Scenario{
		Name: "down", Target: "pg",
		Phases: []config.Phase{{Load: &config.LoadPhase{Duration: config.Dur(time.Second), Actions: []config.Action{
			{Name: "closed", Closed: &config.ClosedLoop{Concurrency: 2}, Kind: "sql", Kinds: map[string]any{"sql": "SELECT 1"}},
			{Name: "open", Open: &config.OpenLoop{Spec: pace.Spec{Rate: rate}, MaxInflight: 5}, Kind: "sql", Kinds: map[string]any{"sql": map[string]any{"query": "SELECT 1", "conn": "pooled"}}},
		}}}},
	}
	e := New(cfg, m, quiet)
	it := e.Iterate(context.Background(), sc, Stage{Setup: true, Teardown: true})
	if it.Result != Error {
		t.Fatalf("result = %s, want error", it.Result)
	}
	if got := testutil.ToFloat64(m.TargetUp.WithLabelValues("pg")); got != 0 {
		t.Errorf("target_up = %v, want 0", got)
	}
	// The check before setup finds the target down: the iteration is an
	// error at once, without a phase of failed calls.
	if !errors.Is(it.Err, ErrTargetDown) || len(it.Results) != 0 {
		t.Errorf("err = %v with %d action results, want ErrTargetDown and no phase run", it.Err, len(it.Results))
	}
	if got := testutil.ToFloat64(m.Errors.WithLabelValues("down", "closed", "connect")); got != 0 {
		t.Errorf("connect errors of the closed loop = %v, want 0 (no call made)", got)
	}
	if got := testutil.ToFloat64(m.Iterations.WithLabelValues("down", "error")); got != 1 {
		t.Errorf("iterations_total{error} = %v, want 1", got)
	}
}

// TestResultsLogRepair: a last line cut short is removed when the log is
// opened again, whole lines are kept, and new lines follow them.
func TestResultsLogRepair(t *testing.T) {
	for _, tc := range []struct {
		name, before, after string
		torn                int64
	}{
		{"empty", "", "", 0},
		{"whole lines", "{\"a\":1}\n{\"a\":2}\n", "{\"a\":1}\n{\"a\":2}\n", 0},
		{"a torn last line", "{\"a\":1}\n{\"a\":2}\n{\"sce", "{\"a\":1}\n{\"a\":2}\n", 5},
		{"one torn line only", "{\"sce", "", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "results.jsonl")
			if err := os.WriteFile(path, []byte(tc.before), 0o644); err != nil {
				t.Fatal(err)
			}
			l, err := OpenResultsLog(path)
			if err != nil {
				t.Fatal(err)
			}
			if l.Torn != tc.torn {
				t.Errorf("Torn = %d, want %d", l.Torn, tc.torn)
			}
			if err := l.Append(&Iteration{Scenario: "s", Result: Pass}); err != nil {
				t.Fatal(err)
			}
			l.Close()
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got := string(b)
			if !strings.HasPrefix(got, tc.after) {
				t.Fatalf("file after repair and one append:\n%q\nwant it to start with\n%q", got, tc.after)
			}
			rest := strings.TrimPrefix(got, tc.after)
			var line map[string]any
			if err := json.Unmarshal([]byte(rest), &line); err != nil || line["scenario"] != "s" || !strings.HasSuffix(rest, "}\n") {
				t.Errorf("the appended line %q is not one whole JSON line of scenario s: %v", rest, err)
			}
		})
	}
}
