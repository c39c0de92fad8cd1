package loadgen

import (
	"context"
	"github.com/pbenchd/pbenchd/internal/pace"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/pgtest"
	"github.com/pbenchd/pbenchd/internal/target"
)

// The event loop's tests run real sql runners (reused connections, one
// prepared statement: the runners that are action.Muxers) against the
// test PostgreSQL.

// pgMux is a real sql runner, built as the engine builds it, whose Call
// is counted: a loop that drives it through its Mux makes none.
type pgMux struct {
	action.Runner
	m     *metrics.Metrics
	calls atomic.Int64
	muxes atomic.Int64
}

func (p *pgMux) Call(ctx context.Context) action.Result {
	p.calls.Add(1)
	return p.Runner.Call(ctx)
}

func (p *pgMux) Mux() (action.Mux, bool) {
	m, ok := p.Runner.(action.Muxer).Mux()
	if ok {
		p.muxes.Add(1)
	}
	return m, ok
}

func (p *pgMux) reconnects() float64 {
	return testutil.ToFloat64(p.m.Reconnects.WithLabelValues("s", "a"))
}

// newPgMux builds an sql action of spec (conn: reuse is added) with n
// connections; it fails the test unless the runner can be multiplexed.
func newPgMux(t *testing.T, n int, open bool, spec map[string]any) *pgMux {
	t.Helper()
	k, _ := action.Kinds.Lookup("sql")
	tc := config.Target{Kind: "postgres", DSN: pgtest.DSN()}
	spec["conn"] = "reuse"
	s, err := k.Decode(spec, "a", tc)
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(prometheus.NewRegistry())
	env := action.Env{Scenario: "s", Action: "a", Target: "pg", Slots: n, Open: open, Connections: n, Metrics: m,
		Targets: target.NewSet(map[string]config.Target{"pg": tc}, nil),
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil))}
	r, err := k.Build(context.Background(), s, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	if _, ok := r.(action.Muxer); !ok {
		t.Fatalf("the sql runner of %v is not a Muxer", spec)
	}
	return &pgMux{Runner: r, m: m}
}

func intArg() map[string]any { return map[string]any{"kind": "uniform_int", "min": 1, "max": 1000} }
func seqArg() map[string]any { return map[string]any{"kind": "sequence", "start": 1} }

// tapped is a recorder that keeps every outcome.
func tapped() (*Recorder, func() []Outcome) {
	rec := NewRecorder(time.Now(), 0)
	var mu sync.Mutex
	var seen []Outcome
	rec.Tap(func(o Outcome) {
		mu.Lock()
		seen = append(seen, o)
		mu.Unlock()
	})
	return rec, func() []Outcome {
		mu.Lock()
		defer mu.Unlock()
		return append([]Outcome(nil), seen...)
	}
}

// TestMuxClosedLoop: a closed loop of 4 over 4 reused connections is
// driven by the event loop (no Call is made), every call succeeds, the
// in-flight gauge never passes 4 and ends at 0, and afterwards the
// connections, back in blocking mode, serve ordinary calls.
func TestMuxClosedLoop(t *testing.T) {
	p := newPgMux(t, 4, false, map[string]any{"query": "SELECT $1::int", "args": []any{intArg()}})
	rec := NewRecorder(time.Now(), 0)
	g := &countGauge{}
	Run(context.Background(), Phase{Start: time.Now(), Duration: 300 * time.Millisecond, Drain: 5 * time.Second,
		Closed: []*ClosedLoop{{Workers: 4, Run: p, Gauge: g, NewSink: func() Sink { return rec.NewShard() }}}})
	st := rec.Stats()
	if p.muxes.Load() != 1 || p.calls.Load() != 0 {
		t.Fatalf("%d muxes taken, %d calls made through Call; want the loop on one mux and no Call", p.muxes.Load(), p.calls.Load())
	}
	if st.OK == 0 || st.Failed != 0 {
		t.Errorf("ok %d, failed %d (%v); want calls, none failed", st.OK, st.Failed, st.Classes)
	}
	if g.peak.Load() > 4 || g.now.Load() != 0 || g.calls.Load() != st.OK {
		t.Errorf("gauge: peak %d, after %d, entered %d times for %d calls; want at most 4, 0, one per call", g.peak.Load(), g.now.Load(), g.calls.Load(), st.OK)
	}
	for range 4 {
		if res := p.Runner.Call(context.Background()); res.Err != nil {
			t.Fatalf("a call after the loop: %v", res.Err)
		}
	}
	if n := p.reconnects(); n != 0 {
		t.Errorf("%v reconnects; want none", n)
	}
}

// TestMuxWholeCallTimeout: odd calls sleep 2 s on the server, even ones
// return at once; the call timeout is 150 ms. The timeout bounds the whole
// call: each odd call ends as a timeout after 150 ms (and well before the
// 2 s it would take), its connection is replaced (a reconnect each), and
// the even calls succeed on the new connection.
func TestMuxWholeCallTimeout(t *testing.T) {
	p := newPgMux(t, 1, false, map[string]any{"timeout": "150ms", "args": []any{seqArg()},
		"query": "SELECT pg_sleep(CASE WHEN $1::int % 2 = 1 THEN 2 ELSE 0 END)"})
	rec, seen := tapped()
	Run(context.Background(), Phase{Start: time.Now(), Duration: 600 * time.Millisecond, Drain: 5 * time.Second,
		Closed: []*ClosedLoop{{Workers: 1, Run: p, NewSink: func() Sink { return rec.NewShard() }}}})
	st := rec.Stats()
	if p.calls.Load() != 0 {
		t.Fatalf("%d calls through Call; want the event loop's", p.calls.Load())
	}
	timeouts := st.Classes["timeout"]
	if timeouts < 2 || st.OK < timeouts-1 || st.OK > timeouts || st.Failed != timeouts {
		t.Fatalf("ok %d, failed %d (%v); want timeouts and successes alternating", st.OK, st.Failed, st.Classes)
	}
	for _, o := range seen() {
		took := o.End.Sub(o.Start)
		// At least the timeout; at most the timeout and a wake-up, far
		// from the 2 s the server would take (1 s is a descheduled loop
		// on a loaded machine, and still proves the cut).
		if o.ErrClass == "timeout" && (took < 150*time.Millisecond || took > time.Second) {
			t.Errorf("a call timed out after %v; its timeout is 150ms", took)
		}
	}
	if n := p.reconnects(); n != float64(timeouts) && n != float64(timeouts-1) {
		t.Errorf("%v reconnects after %d timeouts; want one for each that a call followed", n, timeouts)
	}
}

// TestMuxReconnect: the server ends the loop's connections mid-phase
// (pg_terminate_backend). The calls in flight fail as the connection's
// loss, the connections are made again outside any call, and calls
// succeed again before the phase ends.
func TestMuxReconnect(t *testing.T) {
	mark := pgtest.Name("muxreconnect")
	p := newPgMux(t, 2, false, map[string]any{"query": "SELECT $1::int AS " + mark + ", pg_sleep(0.002)", "args": []any{intArg()}})
	admin := pgtest.Connect(t)
	rec, seen := tapped()
	start := time.Now()
	var killed int64
	var wg sync.WaitGroup
	wg.Go(func() {
		time.Sleep(300 * time.Millisecond)
		killed = pgtest.Int(t, admin, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()", mark)
	})
	Run(context.Background(), Phase{Start: start, Duration: 900 * time.Millisecond, Drain: 5 * time.Second,
		Closed: []*ClosedLoop{{Workers: 2, Run: p, NewSink: func() Sink { return rec.NewShard() }}}})
	wg.Wait()
	if killed != 2 {
		t.Fatalf("%d backends terminated; want the loop's 2", killed)
	}
	st := rec.Stats()
	var lost, okAfter int
	var firstLoss time.Time
	for _, o := range seen() {
		if o.ErrClass != "" {
			// The server's goodbye (admin shutdown), or the closed socket.
			if c := o.ErrClass; c != "sqlstate_57P01" && c != "connection_lost" {
				t.Errorf("a call failed as %q; want the connection's loss", o.ErrClass)
			}
			lost++
			if firstLoss.IsZero() || o.End.Before(firstLoss) {
				firstLoss = o.End
			}
		}
	}
	for _, o := range seen() {
		if o.ErrClass == "" && !firstLoss.IsZero() && o.Start.After(firstLoss) {
			okAfter++
		}
	}
	if lost == 0 || okAfter == 0 || st.Failed != int64(lost) {
		t.Errorf("%d calls lost their connection, %d succeeded after (%v); want some of each", lost, okAfter, st.Classes)
	}
	if n := p.reconnects(); n < 2 {
		t.Errorf("%v reconnects; want the 2 connections made again", n)
	}
}

// TestMuxOpenQueueAndDrop: as TestQueueForServers, on the event loop: 2
// connections whose calls (pg_sleep 2 s) outlast the phase and its drain,
// a cap of 5 in flight, 200 arrivals (1000/s over 200 ms): 2 calls run, 3
// arrivals wait queued, 195 are dropped; at the end of the drain the 2
// calls are cut and the 3 queued arrivals fail, all 5 as drain_cut, and
// the gauge is back at 0.
func TestMuxOpenQueueAndDrop(t *testing.T) {
	p := newPgMux(t, 2, true, map[string]any{"query": "SELECT pg_sleep(2), $1::int", "args": []any{intArg()}})
	g := &countGauge{}
	rec := NewRecorder(time.Now(), 0)
	l := &OpenLoop{
		Pacer: periodic(t, "1000/s"), Rng: rand.New(rand.NewPCG(1, 1)), MaxInflight: 5, Servers: 2, Gauge: g,
		Run: p, NewSink: func() Sink { return rec.NewShard() }, Drop: rec.Drop, Miss: rec.Miss,
	}
	start := time.Now()
	Run(context.Background(), Phase{Start: start, Duration: 200 * time.Millisecond, Drain: 50 * time.Millisecond, Open: []*OpenLoop{l}})
	if took := time.Since(start); took > time.Second {
		t.Errorf("the phase of 200 ms and its 50 ms drain took %v: the calls were not cut", took)
	}
	st := rec.Stats()
	if p.calls.Load() != 0 || p.muxes.Load() != 1 {
		t.Fatalf("%d calls through Call, %d muxes; want the event loop's", p.calls.Load(), p.muxes.Load())
	}
	if g.peak.Load() != 5 || g.now.Load() != 0 {
		t.Errorf("in flight: peak %d, after %d; want 5 and 0", g.peak.Load(), g.now.Load())
	}
	if st.Dropped != 195 || st.Failed != 5 || st.Classes[ClassDrainCut] != 5 || st.OK != 0 {
		t.Errorf("dropped %d, failed %d (%v), ok %d; want 195 dropped and 5 drain_cut", st.Dropped, st.Failed, st.Classes, st.OK)
	}
	if busy, conns := l.Inflight(); busy != 0 || conns != 2 {
		t.Errorf("after the phase: %d in flight on %d connections; want 0 on 2", busy, conns)
	}
	if res := p.Runner.Call(context.Background()); target.Classify(res.Err) != "" {
		t.Errorf("a call after the phase (the cut connections made again): %v", res.Err)
	}
}

// TestMuxFIFO: one connection, calls of about 1 ms, arrivals at 3000/s
// for 100 ms: arrivals queue and are served in the order they were due;
// a queued call's generator lag ended when it was queued (Called is
// Handed) and its wait is part of its wait for a connection (Start after
// Called); every arrival of the schedule is served.
func TestMuxFIFO(t *testing.T) {
	p := newPgMux(t, 1, true, map[string]any{"query": "SELECT pg_sleep(0.001), $1::int", "args": []any{intArg()}})
	rec, seen := tapped()
	pc := periodic(t, "3000/s")
	d := 100 * time.Millisecond
	l := &OpenLoop{
		Pacer: pc, Rng: rand.New(rand.NewPCG(1, 1)), MaxInflight: 1000, Servers: 1,
		Run: p, NewSink: func() Sink { return rec.NewShard() }, Drop: rec.Drop, Miss: rec.Miss,
	}
	Run(context.Background(), Phase{Start: time.Now(), Duration: d, Drain: 20 * time.Second, Open: []*OpenLoop{l}})
	st := rec.Stats()
	want := int64(len(offsets(pc, 1, d)))
	if st.OK != want || st.Dropped != 0 || st.Failed != 0 {
		t.Fatalf("ok %d, dropped %d, failed %d (%v); want all %d served", st.OK, st.Dropped, st.Failed, st.Classes, want)
	}
	got := seen()
	queued := fifoQueued(t, got)
	// 300 arrivals of at least 1 ms each on one connection in 100 ms: at
	// most 100 can find it free, so at least 200 waited queued.
	if queued < 200 {
		t.Errorf("%d calls waited queued; want at least 200 of %d", queued, len(got))
	}
}

// TestMuxStop: a stop during calls that take 2 s on the server ends the
// phase at once, on every lane (3 connections over 2); the calls it cut
// are not events, and the connections, made again, serve calls
// afterwards.
func TestMuxStop(t *testing.T) {
	lanes(t, 2)
	p := newPgMux(t, 3, true, map[string]any{"query": "SELECT pg_sleep(2), $1::int", "args": []any{intArg()}})
	rec := NewRecorder(time.Now(), 0)
	ctx, cancel := context.WithCancel(context.Background())
	rng, fork := forked(1)
	l := &OpenLoop{
		Pacer: periodic(t, "100/s"), Rng: rng, Fork: fork, MaxInflight: 3, Servers: 3,
		Run: p, NewSink: func() Sink { return rec.NewShard() }, Drop: rec.Drop, Miss: rec.Miss,
	}
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	Run(ctx, Phase{Start: start, Duration: 5 * time.Second, Drain: 5 * time.Second, Open: []*OpenLoop{l}})
	if took := time.Since(start); took > time.Second {
		t.Errorf("the phase took %v after a stop at 200ms", took)
	}
	if st := rec.Stats(); st.OK != 0 || st.Failed != 0 {
		t.Errorf("ok %d, failed %d (%v): cut calls recorded", st.OK, st.Failed, st.Classes)
	}
	if res := p.Runner.Call(context.Background()); res.Err != nil {
		t.Errorf("a call after the stop: %v", res.Err)
	}
}

// TestMuxLargeRowsAndErrors: through the event loop, rows larger than a
// connection's read buffer (100 kB) are read past, and a server error is
// the call's outcome with the connection still in step: odd calls get a
// large row, even ones divide by zero, and no connection is made again.
func TestMuxLargeRowsAndErrors(t *testing.T) {
	p := newPgMux(t, 1, false, map[string]any{"args": []any{seqArg()},
		"query": "SELECT CASE WHEN $1::int % 2 = 0 THEN (1 / ($1::int % 2))::text ELSE repeat('x', 100000) END"})
	rec := NewRecorder(time.Now(), 0)
	Run(context.Background(), Phase{Start: time.Now(), Duration: 200 * time.Millisecond, Drain: 5 * time.Second,
		Closed: []*ClosedLoop{{Workers: 1, Run: p, NewSink: func() Sink { return rec.NewShard() }}}})
	st := rec.Stats()
	if p.calls.Load() != 0 {
		t.Fatalf("%d calls through Call; want the event loop's", p.calls.Load())
	}
	div := st.Classes["sqlstate_22012"]
	if st.OK < 2 || div < st.OK-1 || div > st.OK || st.Failed != div {
		t.Errorf("ok %d, failed %d (%v); want large rows and divisions by zero alternating", st.OK, st.Failed, st.Classes)
	}
	if n := p.reconnects(); n != 0 {
		t.Errorf("%v reconnects; a server error leaves the connection usable", n)
	}
}

// TestMuxBesideWorkers: the schedulers of one phase (2 lanes) drive two
// event-loop actions and a worker-driven one at different rates: each
// offers and serves exactly its schedule.
func TestMuxBesideWorkers(t *testing.T) {
	lanes(t, 2)
	a := newPgMux(t, 2, true, map[string]any{"query": "SELECT $1::int", "args": []any{intArg()}})
	b := newPgMux(t, 2, true, map[string]any{"query": "SELECT $1::int + 1", "args": []any{intArg()}})
	var nulls atomic.Int64
	null := callerFunc(func(context.Context) action.Result {
		nulls.Add(1)
		return action.Result{}
	})
	d := 500 * time.Millisecond
	recs := make([]*Recorder, 3)
	var loops []*OpenLoop
	for i, run := range []Caller{a, b, null} {
		recs[i] = NewRecorder(time.Now(), 0)
		rec := recs[i]
		rng, fork := forked(1)
		loops = append(loops, &OpenLoop{
			Pacer: periodic(t, []string{"400/s", "150/s", "1000/s"}[i]), Rng: rng, Fork: fork, MaxInflight: 100,
			Run: run, NewSink: func() Sink { return rec.NewShard() }, Drop: rec.Drop, Miss: rec.Miss,
		})
	}
	Run(context.Background(), Phase{Start: time.Now(), Duration: d, Drain: 10 * time.Second, Open: loops})
	for i, l := range loops {
		want := int64(len(offsets(l.Pacer, 1, d)))
		st := recs[i].Stats()
		if st.OK != want || st.Dropped+st.Missed+st.Failed != 0 {
			t.Errorf("loop %d: ok %d, dropped %d, missed %d, failed %d; want %d served", i, st.OK, st.Dropped, st.Missed, st.Failed, want)
		}
	}
	for i, l := range loops[:2] {
		if q := l.mux.Load(); q == nil || len(q.lanes) != 2 {
			t.Errorf("loop %d ran on %v; want 2 lanes", i, q)
		}
	}
	if a.calls.Load()+b.calls.Load() != 0 || nulls.Load() != int64(len(offsets(loops[2].Pacer, 1, d))) {
		t.Errorf("calls through Call: %d and %d (want 0); null calls %d", a.calls.Load(), b.calls.Load(), nulls.Load())
	}
}

// TestMuxLazyAnswersTimedOnArrival: an open loop at 20/s of calls that
// take 2 ms on the server does not wake for their answers: it reads each
// when it next wakes (its longest nap is 20 ms, maxNap; the next arrival
// is 50 ms away), since the answers carry the kernel's receive time (see
// reactor.lazy). Yet each call is timed at its answer's arrival: 2 ms and
// the server's scheduling, not the 20 ms to the loop's next wake. The
// median is taken (the server's scheduling on a loaded machine may delay
// a few calls): about 2 ms if timed on arrival, 20 ms or more if timed
// when read; 11 ms splits the two.
func TestMuxLazyAnswersTimedOnArrival(t *testing.T) {
	p := newPgMux(t, 1, true, map[string]any{"query": "SELECT pg_sleep(0.002), $1::int", "args": []any{intArg()}})
	rec, seen := tapped()
	l := &OpenLoop{
		Pacer: periodic(t, "20/s"), Rng: rand.New(rand.NewPCG(1, 1)), MaxInflight: 10, Servers: 1,
		Run: p, NewSink: func() Sink { return rec.NewShard() }, Drop: rec.Drop, Miss: rec.Miss,
	}
	Run(context.Background(), Phase{Start: time.Now(), Duration: 1 * time.Second, Drain: 5 * time.Second, Open: []*OpenLoop{l}})
	st := rec.Stats()
	if st.OK != 20 || st.Failed+st.Dropped+st.Missed != 0 {
		t.Fatalf("ok %d, failed %d, dropped %d, missed %d; want 20 served", st.OK, st.Failed, st.Dropped, st.Missed)
	}
	var took []time.Duration
	for _, o := range seen() {
		d := o.End.Sub(o.Start)
		if d < 2*time.Millisecond {
			t.Errorf("a call of pg_sleep(0.002) took %v", d)
		}
		took = append(took, d)
	}
	slices.Sort(took)
	if med := took[len(took)/2]; med >= 11*time.Millisecond {
		t.Errorf("median latency %v: answers timed when read, not when they arrived", med)
	}
}

// TestMuxRetries: through the event loop a serialization failure is
// retried on the same connection, with the same arguments: every other
// attempt fails (a sequence's parity decides), so each call succeeds on
// its one retry; a call whose retries run out fails with the server's
// SQLSTATE and its retries listed.
func TestMuxRetries(t *testing.T) {
	conn := pgtest.Connect(t)
	fn, seq := pgtest.Name("pbenchd_muxflaky"), pgtest.Name("pbenchd_muxseq")
	pgtest.Exec(t, conn, "CREATE SEQUENCE "+seq)
	pgtest.Exec(t, conn, "CREATE FUNCTION "+fn+"(n int) RETURNS int LANGUAGE plpgsql AS $f$ BEGIN "+
		"IF nextval('"+seq+"') % 2 = 1 THEN RAISE EXCEPTION 'flaky' USING ERRCODE = '40001'; END IF; RETURN n; END $f$")
	t.Cleanup(func() {
		pgtest.Exec(t, conn, "DROP FUNCTION "+fn+"(int)")
		pgtest.Exec(t, conn, "DROP SEQUENCE "+seq)
	})
	for _, tc := range []struct {
		retries int
		class   string
		want    []string
	}{
		{1, "", []string{"serialization"}},
		{0, "sqlstate_40001", nil},
	} {
		pgtest.Exec(t, conn, "SELECT setval('"+seq+"', 1, false)")
		p := newPgMux(t, 1, false, map[string]any{"query": "SELECT " + fn + "($1::int)", "args": []any{intArg()}, "retries": tc.retries})
		rec, seen := tapped()
		Run(context.Background(), Phase{Start: time.Now(), Duration: 100 * time.Millisecond, Drain: 5 * time.Second,
			Closed: []*ClosedLoop{{Workers: 1, Run: p, NewSink: func() Sink { return rec.NewShard() }}}})
		got := seen()
		if len(got) == 0 || p.calls.Load() != 0 {
			t.Fatalf("retries %d: %d calls recorded, %d through Call", tc.retries, len(got), p.calls.Load())
		}
		for i, o := range got {
			// Without retries, every other call fails: the sequence's
			// parity alternates from call to call.
			want, wantRetries := tc.class, tc.want
			if tc.retries == 0 && i%2 == 1 {
				want = ""
			}
			if o.ErrClass != want || !slices.Equal(o.Retries, wantRetries) {
				t.Fatalf("retries %d, call %d: class %q, retries %v; want %q and %v", tc.retries, i, o.ErrClass, o.Retries, want, wantRetries)
			}
		}
	}
}

// lanes makes phases deal event-loop actions out over n lanes, whatever
// this machine's cores, from their first arrival, for the test.
func lanes(t *testing.T, n int) {
	t.Helper()
	splitLater(t, n, 0)
}

// splitLater makes phases split event-loop actions over n lanes, whatever
// this machine's cores, after their first lane has handed out arrivals
// for after (every arrival counts as behind).
func splitLater(t *testing.T, n int, after time.Duration) {
	t.Helper()
	was, wasRate, wasLag, wasAfter := maxLanes, laneRate, splitLag, splitAfter
	maxLanes, laneRate, splitLag, splitAfter = func() int { return n }, 1, -1, after
	t.Cleanup(func() { maxLanes, laneRate, splitLag, splitAfter = was, wasRate, wasLag, wasAfter })
}

// laneSink counts the calls one lane recorded.
type laneSink struct {
	Sink
	n *atomic.Int64
}

func (s laneSink) Record(o Outcome) {
	s.n.Add(1)
	s.Sink.Record(o)
}

// countedSinks makes each lane's sink a shard of rec that counts its
// calls; calls returns the counts, by lane started.
func countedSinks(rec *Recorder) (newSink func() Sink, calls func() []int64) {
	var mu sync.Mutex
	var perLane []*atomic.Int64
	newSink = func() Sink {
		mu.Lock()
		defer mu.Unlock()
		n := &atomic.Int64{}
		perLane = append(perLane, n)
		return laneSink{rec.NewShard(), n}
	}
	calls = func() []int64 {
		mu.Lock()
		defer mu.Unlock()
		var c []int64
		for _, n := range perLane {
			c = append(c, n.Load())
		}
		return c
	}
	return newSink, calls
}

// servedExactly checks that the calls recorded (seen) served the
// schedule's arrivals (want, offsets from start), each once, and that
// none was dropped, missed or failed.
func servedExactly(t *testing.T, rec *Recorder, seen []Outcome, start time.Time, want []time.Duration) {
	t.Helper()
	st := rec.Stats()
	if st.OK != int64(len(want)) || st.Dropped+st.Missed+st.Failed != 0 {
		t.Fatalf("ok %d, dropped %d, missed %d, failed %d; want all %d of the schedule served", st.OK, st.Dropped, st.Missed, st.Failed, len(want))
	}
	var got []time.Duration
	for _, o := range seen {
		got = append(got, o.Intended.Sub(start))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("served %d arrivals at offsets that differ from the schedule's %d", len(got), len(want))
	}
}

// TestMuxLanesSplitMidFlight: a loop starts on one lane with every
// connection, and splits over 2 after 100 ms, when its 4 connections are
// all in calls of 30 ms (200/s offered, about 133/s served: a queue
// builds). Connections 1 and 3 go to lane 1 as their calls end. The
// schedule is still served exactly, each arrival once, and both lanes
// make calls: lane 1 only on connections it was given.
func TestMuxLanesSplitMidFlight(t *testing.T) {
	splitLater(t, 2, 100*time.Millisecond)
	p := newPgMux(t, 4, true, map[string]any{"query": "SELECT pg_sleep(0.03), $1::int", "args": []any{intArg()}})
	rec, seen := tapped()
	pc := poisson(t, "200/s")
	d := 400 * time.Millisecond
	rng, fork := forked(11)
	newSink, calls := countedSinks(rec)
	l := &OpenLoop{
		Pacer: pc, Rng: rng, Fork: fork, MaxInflight: 1000,
		Run: p, Drop: rec.Drop, Miss: rec.Miss, NewSink: newSink,
	}
	start := time.Now()
	Run(context.Background(), Phase{Start: start, Duration: d, Drain: 10 * time.Second, Open: []*OpenLoop{l}})
	servedExactly(t, rec, seen(), start, offsets(pc, 11, d))
	if c := calls(); len(c) != 2 || c[0] == 0 || c[1] == 0 {
		t.Errorf("calls by lane %v; want both of 2 lanes to make some", c)
	}
	if busy, conns := l.Inflight(); busy != 0 || conns != 4 {
		t.Errorf("after the phase: %d in flight on %d connections; want 0 on 4", busy, conns)
	}
}

// mergeEvery makes lane 0 merge its lanes back after after of each split
// (instead of when they are idle), for the test; merges counts them.
func mergeEvery(t *testing.T, after time.Duration) (merges *atomic.Int64) {
	t.Helper()
	was := mergeWhen
	merges = &atomic.Int64{}
	mergeWhen = func(ln *lane, _ *loopState, _, now time.Time) bool {
		if now.Sub(ln.splitAt) < after {
			return false
		}
		merges.Add(1)
		return true
	}
	t.Cleanup(func() { mergeWhen = was })
	return merges
}

// TestMuxLanesMergeAndSplitAgain: a loop splits over 2 lanes after 40 ms
// of its first lane, merges back 40 ms after each split and splits again
// 40 ms after each merge, over and over in 800 ms, with fast calls, with
// calls of 5 ms (connections then move at the end of their calls, both
// ways) and of 60 ms (a call a merge sent back to lane 0 may still run
// at the next split, which deals its connection back to its lane). Each arrival of the schedule is still served once, by one
// lane or the other, none dropped, missed or failed; lane 1 makes calls;
// and all 4 connections are back after the phase.
func TestMuxLanesMergeAndSplitAgain(t *testing.T) {
	for _, tc := range []struct {
		name, query, rate string
	}{
		{"fast calls", "SELECT $1::int", "2000/s"},
		{"calls of 5 ms", "SELECT pg_sleep(0.005), $1::int", "400/s"},
		{"calls of 60 ms", "SELECT pg_sleep(0.06), $1::int", "50/s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			splitLater(t, 2, 40*time.Millisecond)
			merges := mergeEvery(t, 40*time.Millisecond)
			p := newPgMux(t, 4, true, map[string]any{"query": tc.query, "args": []any{intArg()}})
			rec, seen := tapped()
			pc := poisson(t, tc.rate)
			d := 800 * time.Millisecond
			rng, fork := forked(5)
			newSink, calls := countedSinks(rec)
			var told []int // what Lanes was told, on lane 0
			l := &OpenLoop{
				Pacer: pc, Rng: rng, Fork: fork, MaxInflight: 1000,
				Run: p, Drop: rec.Drop, Miss: rec.Miss, NewSink: newSink, Lanes: func(n int) { told = append(told, n) },
			}
			start := time.Now()
			Run(context.Background(), Phase{Start: start, Duration: d, Drain: 10 * time.Second, Open: []*OpenLoop{l}})
			servedExactly(t, rec, seen(), start, offsets(pc, 5, d))
			t.Logf("%d merges, calls by lane %v", merges.Load(), calls())
			if n := merges.Load(); n < 2 {
				t.Errorf("%d merges in %v; want a split, a merge and another of each at least", n, d)
			}
			if c := calls(); len(c) != 2 || c[1] == 0 {
				t.Errorf("calls by lane %v; want 2 lanes, lane 1 making some", c)
			}
			// 1 at the start, then 2 at each split and 1 when each merge
			// is done, 0 at the end.
			if n := len(told); n < 2*int(merges.Load())+2 || told[0] != 1 || told[n-1] != 0 {
				t.Errorf("lanes told %v after %d merges; want 1, then 2 and 1 for each, 0 at the end", told, merges.Load())
			} else {
				for i, v := range told[1 : n-1] {
					if v != 2-i%2 {
						t.Errorf("lanes told %v; want 1, then 2 and 1 in turn, 0 at the end", told)
						break
					}
				}
			}
			if busy, conns := l.Inflight(); busy != 0 || conns != 4 {
				t.Errorf("after the phase: %d in flight on %d connections; want 0 on 4", busy, conns)
			}
		})
	}
}

// TestMuxLanesMergeTwoLoops: two loops of a phase, at 2,000/s and 300/s,
// split and merge together, over and over. A merge is decided on one
// loop's arrival, when lane 0 has drawn the other's next arrival up to
// several milliseconds ahead (past the arrivals of lane 1 before it):
// each schedule is still served exactly.
func TestMuxLanesMergeTwoLoops(t *testing.T) {
	splitLater(t, 2, 40*time.Millisecond)
	merges := mergeEvery(t, 40*time.Millisecond)
	d := 800 * time.Millisecond
	type run struct {
		l    *OpenLoop
		pc   pace.Pacer
		seed uint64
		seen func() []Outcome
		rec  *Recorder
	}
	var runs []run
	for i, rate := range []string{"2000/s", "300/s"} {
		p := newPgMux(t, 4, true, map[string]any{"query": "SELECT $1::int", "args": []any{intArg()}})
		rec, seen := tapped()
		pc := poisson(t, rate)
		seed := uint64(21 + i)
		rng, fork := forked(seed)
		l := &OpenLoop{
			Pacer: pc, Rng: rng, Fork: fork, MaxInflight: 1000,
			Run: p, Drop: rec.Drop, Miss: rec.Miss, NewSink: func() Sink { return rec.NewShard() },
		}
		runs = append(runs, run{l, pc, seed, seen, rec})
	}
	start := time.Now()
	Run(context.Background(), Phase{Start: start, Duration: d, Drain: 10 * time.Second, Open: []*OpenLoop{runs[0].l, runs[1].l}})
	for _, r := range runs {
		servedExactly(t, r.rec, r.seen(), start, offsets(r.pc, r.seed, d))
	}
	if n := merges.Load(); n < 2 {
		t.Errorf("%d merges in %v; want 2 at least", n, d)
	}
}

// TestLaneMergeable: lane 0 merges its lanes when, for mergeAfter in a
// row (doubled after each merge), it handed out every arrival on time and
// at every look its lanes ran less than mergeRun of a core between them
// while the machine had mergeIdle of a core idle, with at most mergeLate
// (5 %) of its arrivals behind in between: counted from the look before
// the first such look. The
// threads' CPU and the machine's idle time are given (looks every 100
// ms, a machine of NumCPU cores with 100 ticks a second each).
func TestLaneMergeable(t *testing.T) {
	wasLook, wasAfter, wasCPU, wasIdle := mergeLook, mergeAfter, threadCPU, idleCPU
	t.Cleanup(func() { mergeLook, mergeAfter, threadCPU, idleCPU = wasLook, wasAfter, wasCPU, wasIdle })
	mergeLook, mergeAfter = 100*time.Millisecond, 400*time.Millisecond
	ncpu := int64(runtime.NumCPU())
	type look struct {
		run, idle    float64 // cores, over the 100 ms before the look
		late, ontime int     // arrivals handed out behind and on time before it
		want         bool
	}
	on := look{run: 0.5, idle: 1}
	yes := on
	yes.want = true
	for _, tc := range []struct {
		name   string
		merges int
		looks  []look
	}{
		{"quiet for mergeAfter", 0, []look{on, on, on, yes}},
		{"lanes running mergeRun", 0, []look{on, on, {run: mergeRun, idle: 1}, on, on, on, yes}},
		{"too little idle", 0, []look{on, {run: 0.1, idle: 0.2}, on, on, on, yes}},
		{"6 in 101 arrivals late", 0, []look{on, on, {run: 0.5, idle: 1, late: 6, ontime: 95}, on, on, on, yes}},
		{"5 in 101 arrivals late", 0, []look{on, on, {run: 0.5, idle: 1, late: 5, ontime: 96}, yes}},
		{"after a merge, twice as long", 1, []look{on, on, on, on, on, on, on, yes}},
		{"after 20 merges, mergeMax", 20, slices.Concat(slices.Repeat([]look{on}, int(mergeMax/mergeLook)-1), []look{yes})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var run time.Duration
			var idle, total int64
			threadCPU = func(int32) (time.Duration, bool) { return run, true }
			idleCPU = func() (int64, int64, bool) { return idle, total, true }
			q := newMuxQueue(100, 4, nil, nil)
			s := &loopState{m: &muxLoop{q: q}}
			ln := &lane{merges: tc.merges}
			now := time.Unix(1000, 0)
			if ln.mergeable(s, now, now) {
				t.Fatalf("merged at the first look")
			}
			for i, l := range tc.looks {
				for range l.late {
					if ln.mergeable(s, now.Add(-2*splitLag), now) {
						t.Fatalf("look %d: merged on a late arrival", i)
					}
				}
				for range l.ontime {
					if ln.mergeable(s, now, now) {
						t.Fatalf("look %d: merged between looks", i)
					}
				}
				now = now.Add(mergeLook)
				run += time.Duration(l.run * float64(mergeLook))
				total += 10 * ncpu
				idle += int64(l.idle * 10)
				if got := ln.mergeable(s, now, now); got != l.want {
					t.Fatalf("look %d (%.2f of a core run, %.2f idle): mergeable %v; want %v", i, l.run, l.idle, got, l.want)
				}
			}
		})
	}
}

// TestLoadReadings: a thread's CPU clock counts its own spinning, at most
// the wall time it spun; the machine's idle time is part of its total.
func TestLoadReadings(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := threadID()
	i0, t0, ok2 := machineIdle()
	start := time.Now()
	r0, ok := threadRun(tid)
	if !ok || !ok2 {
		t.Fatalf("thread CPU readable %v, machine idle readable %v", ok, ok2)
	}
	var r1 time.Duration
	for r1 <= r0 && time.Since(start) < 5*time.Second {
		for end := time.Now().Add(10 * time.Millisecond); time.Now().Before(end); {
		}
		r1, _ = threadRun(tid)
	}
	wall := time.Since(start)
	// The two clocks are read apart: a millisecond's slack.
	if r1 <= r0 || r1-r0 > wall+time.Millisecond {
		t.Errorf("spinning %v: the thread's CPU went from %v to %v", wall, r0, r1)
	}
	i1, t1, _ := machineIdle()
	if t1 <= t0 || i1 < i0 || i1-i0 > t1-t0 {
		t.Errorf("machine: idle %d to %d, total %d to %d", i0, i1, t0, t1)
	}
	if _, ok := threadRun(0); ok {
		t.Errorf("thread 0 read as a thread")
	}
}

// TestLaneBehind: lane 0 splits when it has been behind (an arrival
// handed more than splitLag late, the last answer taken more than
// splitLag after it came, or more arrivals queued than the loop's 4
// connections) for splitAfter, every arrival meanwhile; an arrival on
// time starts the count again; a loop planned for one lane, or already
// split, never asks.
func TestLaneBehind(t *testing.T) {
	t0 := time.Unix(1000, 0)
	after, late := splitAfter, 2*splitLag
	type step struct {
		at, lag, answer time.Duration
		queued          int32
		want            bool
	}
	for _, tc := range []struct {
		name    string
		planned uint64
		steps   []step
	}{
		{"late for splitAfter", 2, []step{{0, late, 0, 0, false}, {after / 2, late, 0, 0, false}, {after, late, 0, 0, true}}},
		{"answers taken late for splitAfter", 2, []step{{0, 0, late, 0, false}, {after - 1, 0, 5 * late, 0, false}, {after, 0, late, 0, true}}},
		{"queued beyond the connections for splitAfter", 2, []step{{0, 0, 0, 5, false}, {after - 1, 0, 0, 90, false}, {after, 0, 0, 5, true}}},
		{"late, then answers late, then queued", 2, []step{{0, late, 0, 0, false}, {after / 3, 0, late, 0, false}, {after / 2, 0, 0, 5, false}, {after, late, late, 5, true}}},
		{"at the thresholds is on time", 2, []step{{0, splitLag, splitLag, 4, false}, {2 * after, splitLag, splitLag, 4, false}}},
		{"on time in between", 2, []step{{0, late, 0, 0, false}, {after - 1, 0, 0, 0, false}, {after, late, 0, 0, false}, {2*after - 1, 0, 0, 5, false}, {2 * after, late, 0, 0, true}}},
		{"one lane planned", 1, []step{{0, 5 * late, 5 * late, 50, false}, {2 * after, 5 * late, 5 * late, 50, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln := &lane{start: func(*lane) {}}
			q := newMuxQueue(100, 4, nil, nil)
			s := &loopState{m: &muxLoop{q: q}, planned: tc.planned, lanes: 1}
			for _, st := range tc.steps {
				s.m.answerLag = st.answer
				q.queued.Store(st.queued)
				handed := t0.Add(st.at)
				if got := ln.lagging(s, handed.Add(-st.lag), handed); got != st.want {
					t.Fatalf("at %v, %v late, answer %v late, %d queued: behind %v; want %v", st.at, st.lag, st.answer, st.queued, got, st.want)
				}
			}
			ln.split(t0)
			if ln.lagging(s, t0, t0.Add(time.Second)) {
				t.Errorf("asked to split again after the split")
			}
		})
	}
}

// forked returns an open loop's generators, seeded alike.
func forked(seed uint64) (*rand.Rand, func() *rand.Rand) {
	f := func() *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }
	return f(), f
}

// TestMuxLanesServeTheSchedule: a Poisson schedule dealt out over 3 lanes
// (4 connections) is served exactly: each arrival of the schedule drawn
// from the seed once, none twice, none dropped or missed, each timed from
// its intended start.
func TestMuxLanesServeTheSchedule(t *testing.T) {
	lanes(t, 3)
	p := newPgMux(t, 4, true, map[string]any{"query": "SELECT $1::int", "args": []any{intArg()}})
	rec, seen := tapped()
	pc := poisson(t, "2000/s")
	d := 300 * time.Millisecond
	rng, fork := forked(7)
	l := &OpenLoop{
		Pacer: pc, Rng: rng, Fork: fork, MaxInflight: 100,
		Run: p, NewSink: func() Sink { return rec.NewShard() }, Drop: rec.Drop, Miss: rec.Miss,
	}
	start := time.Now()
	Run(context.Background(), Phase{Start: start, Duration: d, Drain: 10 * time.Second, Open: []*OpenLoop{l}})
	if q := l.mux.Load(); q == nil || len(q.lanes) != 3 {
		t.Fatalf("the loop ran on %v; want 3 lanes", q)
	}
	want := offsets(pc, 7, d)
	st := rec.Stats()
	if st.OK != int64(len(want)) || st.Dropped+st.Missed+st.Failed != 0 || p.calls.Load() != 0 {
		t.Fatalf("ok %d, dropped %d, missed %d, failed %d (%d through Call); want all %d of the schedule served by the event loop",
			st.OK, st.Dropped, st.Missed, st.Failed, p.calls.Load(), len(want))
	}
	var got []time.Duration
	for _, o := range seen() {
		got = append(got, o.Intended.Sub(start))
		if o.Handed.Before(o.Intended) || o.Start.Before(o.Called) || o.End.Before(o.Start) {
			t.Fatalf("intended %v, handed %v, called %v, start %v, end %v: out of order", o.Intended, o.Handed, o.Called, o.Start, o.End)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("served %d arrivals at offsets that differ from the schedule's %d", len(got), len(want))
	}
	if busy, conns := l.Inflight(); busy != 0 || conns != 4 {
		t.Errorf("after the phase: %d in flight on %d connections; want 0 on 4", busy, conns)
	}
}

// TestMuxLanesShareTheCap: TestMuxOpenQueueAndDrop's phase on 2 lanes (a
// connection each): the cap of 5 in flight is the loop's, not each
// lane's: 2 calls run, 3 arrivals wait queued, 195 are dropped, the 5
// fail as drain_cut, and the gauge peaks at 5.
func TestMuxLanesShareTheCap(t *testing.T) {
	lanes(t, 2)
	p := newPgMux(t, 2, true, map[string]any{"query": "SELECT pg_sleep(2), $1::int", "args": []any{intArg()}})
	g := &countGauge{}
	rec := NewRecorder(time.Now(), 0)
	rng, fork := forked(1)
	l := &OpenLoop{
		Pacer: periodic(t, "1000/s"), Rng: rng, Fork: fork, MaxInflight: 5, Servers: 2, Gauge: g,
		Run: p, NewSink: func() Sink { return rec.NewShard() }, Drop: rec.Drop, Miss: rec.Miss,
	}
	Run(context.Background(), Phase{Start: time.Now(), Duration: 200 * time.Millisecond, Drain: 50 * time.Millisecond, Open: []*OpenLoop{l}})
	if q := l.mux.Load(); q == nil || len(q.lanes) != 2 {
		t.Fatalf("the loop ran on %v; want 2 lanes", q)
	}
	st := rec.Stats()
	if g.peak.Load() != 5 || g.now.Load() != 0 {
		t.Errorf("in flight: peak %d, after %d; want 5 and 0", g.peak.Load(), g.now.Load())
	}
	if st.Dropped != 195 || st.Failed != 5 || st.Classes[ClassDrainCut] != 5 || st.OK != 0 {
		t.Errorf("dropped %d, failed %d (%v), ok %d; want 195 dropped and 5 drain_cut", st.Dropped, st.Failed, st.Classes, st.OK)
	}
}

// TestMuxLanesQueueIsShared: 2 lanes with a connection each, arrivals
// every 100 ms for 1 s, lane 0 taking the even ones. The first call
// takes 1 s (the sequence's first value); the others 5 ms. Lane 0's
// later arrivals find its connection busy and queue, and lane 1's free
// connection serves them: none waits for the long call (at worst 800 ms
// if each lane had a queue of its own). 500 ms splits the two.
func TestMuxLanesQueueIsShared(t *testing.T) {
	lanes(t, 2)
	p := newPgMux(t, 2, true, map[string]any{"args": []any{seqArg()},
		"query": "SELECT pg_sleep(CASE WHEN $1::int = 1 THEN 1.0 ELSE 0.005 END)"})
	rec, seen := tapped()
	rng, fork := forked(1)
	l := &OpenLoop{
		Pacer: periodic(t, "10/s"), Rng: rng, Fork: fork, MaxInflight: 10, Servers: 2,
		Run: p, NewSink: func() Sink { return rec.NewShard() }, Drop: rec.Drop, Miss: rec.Miss,
	}
	start := time.Now()
	Run(context.Background(), Phase{Start: start, Duration: time.Second, Drain: 5 * time.Second, Open: []*OpenLoop{l}})
	st := rec.Stats()
	if st.OK != 10 || st.Dropped+st.Missed+st.Failed != 0 {
		t.Fatalf("ok %d, dropped %d, missed %d, failed %d; want the 10 arrivals served", st.OK, st.Dropped, st.Missed, st.Failed)
	}
	long := 0
	for _, o := range seen() {
		if o.End.Sub(o.Start) >= time.Second {
			long++
			if !o.Intended.Equal(start) {
				t.Errorf("the long call was due at %v; want the first arrival's", o.Intended.Sub(start))
			}
			continue
		}
		if wait := o.Start.Sub(o.Called); wait >= 500*time.Millisecond {
			t.Errorf("the arrival due at %v waited %v for a connection: behind the long call", o.Intended.Sub(start), wait)
		}
	}
	if long != 1 {
		t.Errorf("%d calls took a second; want the first one", long)
	}
}

// TestLaneCount: a loop gets a lane per laneRate (30,000/s) of its mean
// rate, at most one per core, per connection and per call it may have in
// flight, and one when its schedule cannot be replayed.
func TestLaneCount(t *testing.T) {
	was := maxLanes
	maxLanes = func() int { return 4 }
	t.Cleanup(func() { maxLanes = was })
	ph := Phase{Duration: time.Second}
	_, fork := forked(1)
	for _, tc := range []struct {
		rate       string
		fork       bool
		cap, slots int
		want       int
	}{
		{"10000/s", true, 100, 8, 1},
		{"30000/s", true, 100, 8, 1},
		{"30001/s", true, 100, 8, 2},
		{"40000/s", true, 100, 8, 2},
		{"60000/s", true, 100, 8, 2},
		{"60001/s", true, 100, 8, 3},
		{"100000/s", true, 100, 8, 4},
		{"200000/s", true, 100, 8, 4},
		{"200000/s", true, 100, 3, 3},
		{"200000/s", true, 2, 8, 2},
		{"200000/s", false, 100, 8, 1},
	} {
		l := &OpenLoop{Pacer: poisson(t, tc.rate), Rng: rand.New(rand.NewPCG(1, 1)), MaxInflight: tc.cap}
		if tc.fork {
			l.Fork = fork
		}
		if got := laneCount(ph, l, tc.slots); got != tc.want {
			t.Errorf("%s, fork %v, cap %d, %d connections: %d lanes; want %d", tc.rate, tc.fork, tc.cap, tc.slots, got, tc.want)
		}
	}
}

// steered is what steerEveryOther saw.
type steered struct {
	mu     sync.Mutex
	loopOf map[int32]int32        // a loop's thread: its CPU, as told
	n      map[int32]int64        // a loop's answers asked about
	seenBy map[int]map[int32]bool // a connection's socket: the loops whose calls ended on it
	away   atomic.Int64           // answers said to be on the other loop's core
}

// steerEveryOther makes a closed loop's connections move between its two
// event loops for the test (two, whatever the cores): each loop's thread is told a CPU of its own
// (0 and 1, in the order they first ask), and every other answer a loop
// asks about is said to have come in on the other loop's CPU. So at
// least (n − 2)/2 of the n answers asked about are said to be on the
// other loop's core (each loop's own count rounded down), and each such
// answer moves its connection.
func steerEveryOther(t *testing.T) *steered {
	t.Helper()
	h := &steered{loopOf: map[int32]int32{}, n: map[int32]int64{}, seenBy: map[int]map[int32]bool{}}
	own := func() int32 { // under h.mu
		id, ok := h.loopOf[threadID()]
		if !ok {
			id = int32(len(h.loopOf))
			h.loopOf[threadID()] = id
		}
		return id
	}
	wasS, wasW, wasL := steerCPU, wokeOn, closedLoops
	closedLoops = func() int { return 2 } // on one core too
	wokeOn = func() int32 {
		h.mu.Lock()
		defer h.mu.Unlock()
		return own()
	}
	steerCPU = func(fd int) int32 {
		h.mu.Lock()
		defer h.mu.Unlock()
		id := own()
		if h.seenBy[fd] == nil {
			h.seenBy[fd] = map[int32]bool{}
		}
		h.seenBy[fd][id] = true
		h.n[id]++
		if h.n[id]%2 == 0 {
			h.away.Add(1)
			return 1 - id
		}
		return id
	}
	t.Cleanup(func() { steerCPU, wokeOn, closedLoops = wasS, wasW, wasL })
	return h
}

// asked is how many answers the loops asked about.
func (h *steered) asked() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var n int64
	for _, c := range h.n {
		n += c
	}
	return n
}

// TestMuxClosedLoopSteered: a closed loop of 4 over 4 connections of
// 2 ms calls runs on two event loops (two cores), its connections
// moving to the other loop after every other call of each loop
// (steerEveryOther). Every call succeeds, both
// loops make calls, each connection makes calls on both, the in-flight gauge never passes 4, ends at 0 and is
// entered once per call, all 4 connections are still in calls at once
// near the end of the phase (none was lost in a move), and afterwards
// they serve ordinary calls with no reconnect.
func TestMuxClosedLoopSteered(t *testing.T) {
	h := steerEveryOther(t)

	p := newPgMux(t, 4, false, map[string]any{"query": "SELECT pg_sleep(0.002)"})
	rec := NewRecorder(time.Now(), 0)
	newSink, perLoop := countedSinks(rec)
	g := &countGauge{}
	start, d := time.Now(), 600*time.Millisecond
	// The most calls in flight at once from 150 ms to 20 ms before the end.
	var late atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(time.Until(start.Add(d - 150*time.Millisecond)))
		for time.Now().Before(start.Add(d - 20*time.Millisecond)) {
			if n := g.now.Load(); n > late.Load() {
				late.Store(n)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	Run(context.Background(), Phase{Start: start, Duration: d, Drain: 5 * time.Second,
		Closed: []*ClosedLoop{{Workers: 4, Run: p, Gauge: g, NewSink: newSink}}})
	<-done
	st := rec.Stats()
	if st.OK == 0 || st.Failed != 0 {
		t.Fatalf("ok %d, failed %d (%v); want calls, none failed", st.OK, st.Failed, st.Classes)
	}
	if len(h.loopOf) != 2 {
		t.Fatalf("%d loop threads asked their CPU; want 2", len(h.loopOf))
	}
	// Every call that ended before the phase's end was asked about:
	// all but the last of each connection, at most.
	if n := h.asked(); n > st.OK || n < st.OK-4 || h.away.Load() < (n-2)/2 {
		t.Errorf("%d answers asked about in %d calls, %d said to be on the other loop's core; want all but 4 at most, half of them", n, st.OK, h.away.Load())
	}
	if c := perLoop(); len(c) != 2 || c[0] == 0 || c[1] == 0 {
		t.Errorf("calls by loop %v; want both loops to make calls", c)
	}
	if len(h.seenBy) != 4 {
		t.Errorf("calls ended on %d sockets; want the 4 connections'", len(h.seenBy))
	}
	for fd, by := range h.seenBy {
		if len(by) != 2 {
			t.Errorf("the connection on socket %d made calls on loops %v only; want it moved between both", fd, by)
		}
	}
	if g.peak.Load() > 4 || g.now.Load() != 0 || g.calls.Load() != st.OK {
		t.Errorf("gauge: peak %d, after %d, entered %d times for %d calls; want at most 4, 0, one per call", g.peak.Load(), g.now.Load(), g.calls.Load(), st.OK)
	}
	if late.Load() != 4 {
		t.Errorf("at most %d calls in flight at once near the end; want all 4 connections still in calls", late.Load())
	}
	for range 4 {
		if res := p.Runner.Call(context.Background()); res.Err != nil {
			t.Fatalf("a call after the loop: %v", res.Err)
		}
	}
	if n := p.reconnects(); n != 0 {
		t.Errorf("%v reconnects; want none", n)
	}
}

// TestMuxClosedLoopSteeredStop: a stop 200 ms into a 5 s phase of a
// closed loop of 4 on two event loops, its connections moving between
// them after every other call of each (steerEveryOther), ends the phase
// at once: no call fails, the
// calls it cut are not events, the in-flight gauge is back at 0, and the
// 4 connections (made again where a call was cut) serve calls
// afterwards.
func TestMuxClosedLoopSteeredStop(t *testing.T) {
	h := steerEveryOther(t)

	p := newPgMux(t, 4, false, map[string]any{"query": "SELECT pg_sleep(0.002)"})
	rec := NewRecorder(time.Now(), 0)
	g := &countGauge{}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	Run(ctx, Phase{Start: start, Duration: 5 * time.Second, Drain: 5 * time.Second,
		Closed: []*ClosedLoop{{Workers: 4, Run: p, Gauge: g, NewSink: func() Sink { return rec.NewShard() }}}})
	if took := time.Since(start); took > time.Second {
		t.Errorf("the phase took %v after a stop at 200ms", took)
	}
	st := rec.Stats()
	if st.OK == 0 || st.Failed != 0 {
		t.Errorf("ok %d, failed %d (%v); want calls before the stop, none failed", st.OK, st.Failed, st.Classes)
	}
	// Every call that ended before the stop was asked about: all but
	// the last of each connection, at most.
	if n := h.asked(); n > st.OK || n < st.OK-4 || h.away.Load() < (n-2)/2 || n < 20 {
		t.Errorf("%d answers asked about in %d calls, %d said to be on the other loop's core; want 20 at least, all but 4 at most, half of them", n, st.OK, h.away.Load())
	}
	if g.now.Load() != 0 {
		t.Errorf("%d calls in flight after the phase; want 0", g.now.Load())
	}
	for range 4 {
		if res := p.Runner.Call(context.Background()); res.Err != nil {
			t.Fatalf("a call after the stop: %v", res.Err)
		}
	}
}
