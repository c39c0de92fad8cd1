package loadgen

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/pace"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// gauge counts calls in flight and remembers the most at once.
type gauge struct {
	now, peak, calls atomic.Int64
}

func (g *gauge) enter() {
	g.calls.Add(1)
	n := g.now.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

func (g *gauge) leave() { g.now.Add(-1) }

// blocking holds every call until its context ends.
type blocking struct{ gauge }

func (b *blocking) Call(ctx context.Context) action.Result {
	b.enter()
	defer b.leave()
	<-ctx.Done()
	return action.Result{Err: ctx.Err()}
}

// instant returns at once.
type instant struct{ gauge }

func (r *instant) Call(context.Context) action.Result {
	r.enter()
	r.leave()
	return action.Result{}
}

func periodic(t *testing.T, rate string) pace.Pacer {
	t.Helper()
	var r pace.Rate
	if err := r.UnmarshalText([]byte(rate)); err != nil {
		t.Fatal(err)
	}
	p, err := pace.New(pace.Spec{Rate: r})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func poisson(t *testing.T, rate string) pace.Pacer {
	t.Helper()
	var r pace.Rate
	if err := r.UnmarshalText([]byte(rate)); err != nil {
		t.Fatal(err)
	}
	p, err := pace.New(pace.Spec{Arrivals: "poisson", Rate: r})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// offsets is the schedule a pacer gives over d from a seed: what the
// scheduler must offer (the pacer is pure).
func offsets(p pace.Pacer, seed uint64, d time.Duration) []time.Duration {
	rng := rand.New(rand.NewPCG(seed, seed))
	var out []time.Duration
	var prev time.Duration
	for n := uint64(0); ; n++ {
		off := p.Next(n, prev, rng)
		prev = off
		if off >= d {
			return out
		}
		out = append(out, off)
	}
}

// TestPoolDropsNeverQueues: 200 arrivals (1000/s periodic over 200 ms) at
// an action whose calls never return before the drain deadline, capped at
// 3 in flight: exactly 3 workers start, 3 calls run at once at most, and
// the other 197 arrivals are dropped, none queued (a queued arrival would
// run once the 3 calls end at the drain deadline, and be counted as a
// call). The 3 calls cut by the drain deadline count as drain_cut.
func TestPoolDropsNeverQueues(t *testing.T) {
	run := &blocking{}
	rec := NewRecorder(time.Now(), 0)
	l := &OpenLoop{
		Pacer: periodic(t, "1000/s"), Rng: rand.New(rand.NewPCG(1, 1)), MaxInflight: 3,
		Run: run, NewSink: func() Sink { return rec.NewShard() }, Drop: rec.Drop, Miss: rec.Miss,
	}
	start := time.Now()
	Run(context.Background(), Phase{Start: start, Duration: 200 * time.Millisecond, Drain: 50 * time.Millisecond, Open: []*OpenLoop{l}})
	st := rec.Stats()
	if run.calls.Load() != 3 || run.peak.Load() != 3 {
		t.Errorf("%d calls, %d at once; want 3 and 3", run.calls.Load(), run.peak.Load())
	}
	if st.Dropped != 197 || st.Failed != 3 || st.OK != 0 || st.Classes[ClassDrainCut] != 3 {
		t.Errorf("dropped %d, failed %d (%v), ok %d; want 197 dropped and 3 drain_cut", st.Dropped, st.Failed, st.Classes, st.OK)
	}
	if busy, workers := l.Inflight(); busy != 0 || workers != 3 {
		t.Errorf("after the phase: %d busy of %d workers; want 0 of 3", busy, workers)
	}
}

// TestPoolCap: an action whose calls take 2 ms, capped at 4, under 2000/s
// for 300 ms, is overloaded (4 / 2ms = 2000/s at best, less with any
// scheduling delay): never more than 4 calls at once, no more than 4
// workers, and every arrival of the schedule is either called or dropped.
func TestPoolCap(t *testing.T) {
	var g gauge
	run := callerFunc(func(ctx context.Context) action.Result {
		g.enter()
		defer g.leave()
		time.Sleep(2 * time.Millisecond)
		return action.Result{}
	})
	rec := NewRecorder(time.Now(), 0)
	p := periodic(t, "2000/s")
	l := &OpenLoop{Pacer: p, Rng: rand.New(rand.NewPCG(1, 1)), MaxInflight: 4, Run: run,
		NewSink: func() Sink { return rec.NewShard() }, Drop: rec.Drop, Miss: rec.Miss}
	d := 300 * time.Millisecond
	Run(context.Background(), Phase{Start: time.Now(), Duration: d, Drain: 10 * time.Second, Open: []*OpenLoop{l}})
	st := rec.Stats()
	want := int64(len(offsets(p, 1, d)))
	if g.peak.Load() > 4 {
		t.Errorf("%d calls at once, cap 4", g.peak.Load())
	}
	if _, workers := l.Inflight(); workers > 4 {
		t.Errorf("%d workers, cap 4", workers)
	}
	if st.OK+st.Failed+st.Dropped != want || st.OK != g.calls.Load() {
		t.Errorf("ok %d + failed %d + dropped %d != %d arrivals (calls made %d)", st.OK, st.Failed, st.Dropped, want, g.calls.Load())
	}
}

type callerFunc func(context.Context) action.Result

func (f callerFunc) Call(ctx context.Context) action.Result { return f(ctx) }

// TestSchedulerSeveralLoops: one scheduler drives three open loops at
// different rates and shapes. Each loop offers exactly its schedule (every
// intended time the pacer gives over the phase, in order, called or
// dropped: its rate is kept exactly); no arrival is handed to a worker
// before it is due; and arrivals of all loops are handed out in the order
// of their intended times (one heap), so the generator lag of each loop is
// the scheduler's own lateness at that time, recorded for every call.
// Nothing here depends on how fast the machine is.
func TestSchedulerSeveralLoops(t *testing.T) {
	const d = 600 * time.Millisecond
	type loop struct {
		p    pace.Pacer
		seed uint64
	}
	specs := []loop{{periodic(t, "200/s"), 1}, {periodic(t, "1500/s"), 2}, {poisson(t, "700/s"), 3}}
	var mu sync.Mutex
	type seen struct {
		loop int
		o    Outcome
	}
	var got []seen
	var loops []*OpenLoop
	var recs []*Recorder
	start := time.Now()
	for i, s := range specs {
		rec := NewRecorder(start, 0)
		rec.Tap(func(o Outcome) {
			mu.Lock()
			got = append(got, seen{i, o})
			mu.Unlock()
		})
		recs = append(recs, rec)
		loops = append(loops, &OpenLoop{
			Pacer: s.p, Rng: rand.New(rand.NewPCG(s.seed, s.seed)), MaxInflight: 10000,
			Run: &instant{}, NewSink: func() Sink { return rec.NewShard() }, Drop: rec.Drop, Miss: rec.Miss,
		})
	}
	Run(context.Background(), Phase{Start: start, Duration: d, Drain: 10 * time.Second, Open: loops})

	for i, s := range specs {
		want := offsets(s.p, s.seed, d)
		st := recs[i].Stats()
		var called []time.Duration
		for _, g := range got {
			if g.loop == i {
				called = append(called, g.o.Intended.Sub(start))
			}
		}
		slices.Sort(called)
		if int64(len(called))+st.Dropped != int64(len(want)) {
			t.Errorf("loop %d (%s): %d called + %d dropped, schedule has %d", i, s.p, len(called), st.Dropped, len(want))
		}
		if st.Dropped == 0 && !slices.Equal(called, want) {
			t.Errorf("loop %d (%s): intended times differ from the schedule", i, s.p)
		}
		if st.Lag.TotalCount() != st.OK {
			t.Errorf("loop %d: %d lags recorded for %d calls", i, st.Lag.TotalCount(), st.OK)
		}
	}
	slices.SortFunc(got, func(a, b seen) int { return a.o.Intended.Compare(b.o.Intended) })
	for i, g := range got {
		if g.o.Handed.Before(g.o.Intended) {
			t.Fatalf("loop %d: an arrival due at %v was handed out %v early", g.loop, g.o.Intended.Sub(start), g.o.Intended.Sub(g.o.Handed))
		}
		if i > 0 && g.o.Handed.Before(got[i-1].o.Handed) && !g.o.Intended.Equal(got[i-1].o.Intended) {
			t.Fatalf("arrival due at %v handed before one due at %v: not in schedule order", g.o.Intended.Sub(start), got[i-1].o.Intended.Sub(start))
		}
	}
}

// TestDeadline: at a rate no generator can pace (one arrival a
// nanosecond), the phase still ends at its deadline: no arrival is handed
// out after the grace past its end (half the drain), and the arrivals the
// generator could not issue are counted as missed.
func TestDeadline(t *testing.T) {
	var r pace.Rate
	_ = r.UnmarshalText([]byte("1000000000/s"))
	p, err := pace.New(pace.Spec{Rate: r})
	if err != nil {
		t.Fatal(err)
	}
	rec := NewRecorder(time.Now(), 0)
	var late atomic.Int64
	start := time.Now()
	const d, drain = 20 * time.Millisecond, 40 * time.Millisecond
	rec.Tap(func(o Outcome) {
		if !o.Handed.Before(start.Add(d + drain/2)) {
			late.Add(1)
		}
	})
	l := &OpenLoop{Pacer: p, MaxInflight: 8, Run: &instant{}, NewSink: func() Sink { return rec.NewShard() }, Drop: rec.Drop, Miss: rec.Miss}
	Run(context.Background(), Phase{Start: start, Duration: d, Drain: drain, Open: []*OpenLoop{l}})
	st := rec.Stats()
	if late.Load() != 0 {
		t.Errorf("%d arrivals handed out after the deadline", late.Load())
	}
	// 20 million arrivals are due; a generator hands out a few million a
	// second at most, so most are missed.
	if st.OK == 0 || st.Missed < 10_000_000 || st.OK+st.Dropped+st.Missed > 20_000_001 {
		t.Errorf("ok %d, dropped %d, missed %d: want calls, and most of the 20,000,000 arrivals missed", st.OK, st.Dropped, st.Missed)
	}
}

// TestStop: cancelling the context stops the scheduler and the workers;
// calls it cancelled are not recorded as failures.
func TestStop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	rec := NewRecorder(time.Now(), 0)
	run := &blocking{}
	l := &OpenLoop{Pacer: periodic(t, "100/s"), MaxInflight: 2, Run: run, NewSink: func() Sink { return rec.NewShard() }, Drop: rec.Drop, Miss: rec.Miss}
	c := &ClosedLoop{Workers: 2, Run: run, NewSink: func() Sink { return rec.NewShard() }}
	time.AfterFunc(100*time.Millisecond, cancel)
	Run(ctx, Phase{Start: time.Now(), Duration: time.Hour, Drain: time.Hour, Open: []*OpenLoop{l}, Closed: []*ClosedLoop{c}})
	if st := rec.Stats(); st.Failed != 0 || st.OK != 0 {
		t.Errorf("stopped calls recorded: %d failed, %d ok", st.Failed, st.OK)
	}
}

// TestClosedLoop: N workers make calls one after another, at most N at
// once, and every call is recorded with its service time as latency.
func TestClosedLoop(t *testing.T) {
	var g gauge
	run := callerFunc(func(ctx context.Context) action.Result {
		g.enter()
		defer g.leave()
		time.Sleep(100 * time.Microsecond)
		return action.Result{}
	})
	rec := NewRecorder(time.Now(), 0)
	Run(context.Background(), Phase{Start: time.Now(), Duration: 100 * time.Millisecond, Drain: time.Second,
		Closed: []*ClosedLoop{{Workers: 3, Run: run, NewSink: func() Sink { return rec.NewShard() }}}})
	st := rec.Stats()
	if g.peak.Load() > 3 || st.OK != g.calls.Load() || st.OK == 0 {
		t.Errorf("peak %d (cap 3), %d recorded of %d calls", g.peak.Load(), st.OK, g.calls.Load())
	}
	if st.Min < 100*time.Microsecond {
		t.Errorf("min latency %v, below the 100µs each call sleeps", st.Min)
	}
}

// TestShardsMerge: outcomes spread over many shards merge into exactly
// what one shard of them all holds: counts, histograms, extremes,
// quantiles; the fit's sums within float rounding.
func TestShardsMerge(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	many, one := NewRecorder(start, time.Second), NewRecorder(start, time.Second)
	all := one.NewShard()
	shards := []*Shard{many.NewShard(), many.NewShard(), many.NewShard(), many.NewShard()}
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range 20000 {
		intended := start.Add(time.Duration(i) * 100 * time.Microsecond)
		lat := time.Duration(rng.ExpFloat64()*1e6) + 1
		o := Outcome{Intended: intended, Handed: intended.Add(time.Duration(rng.IntN(5000))), Start: intended, End: intended.Add(lat)}
		if i%50 == 0 {
			o.ErrClass, o.Retries = "timeout", []string{"deadlock", "deadlock"}
		}
		shards[rng.IntN(len(shards))].Record(o)
		all.Record(o)
	}
	for i := range 10 {
		at := start.Add(time.Duration(i) * 300 * time.Millisecond)
		many.Drop(at, at)
		one.Drop(at, at)
	}
	a, b := many.Stats(), one.Stats()
	if a.OK != b.OK || a.Failed != b.Failed || a.Retries != b.Retries || a.Dropped != b.Dropped || a.Classes["timeout"] != b.Classes["timeout"] {
		t.Errorf("counts differ: %+v vs %+v", a, b)
	}
	// 10 drops every 300 ms from 0: those from 1 s on (the warm-up) are 6.
	if a.Dropped != 6 {
		t.Errorf("dropped %d, want the 6 after the warm-up", a.Dropped)
	}
	if !a.Latency.Equals(b.Latency) || !a.Lag.Equals(b.Lag) || a.Min != b.Min || a.Max != b.Max {
		t.Errorf("histograms or extremes differ")
	}
	for _, p := range []float64{50, 95, 99, 99.9} {
		if a.Quantile(p) != b.Quantile(p) {
			t.Errorf("p%v: merged %v, one shard %v", p, a.Quantile(p), b.Quantile(p))
		}
	}
	if math.Abs(a.Fit.Slope()-b.Fit.Slope()) > 1e-9*math.Max(1, math.Abs(b.Fit.Slope())) {
		t.Errorf("slope: merged %v, one shard %v", a.Fit.Slope(), b.Fit.Slope())
	}
}

// TestClosedDrainCut: closed-loop calls still running when the drain ends
// count once each as drain_cut, and their workers stop.
func TestClosedDrainCut(t *testing.T) {
	run := &blocking{}
	rec := NewRecorder(time.Now(), 0)
	Run(context.Background(), Phase{Start: time.Now(), Duration: 30 * time.Millisecond, Drain: 30 * time.Millisecond,
		Closed: []*ClosedLoop{{Workers: 2, Run: run, NewSink: func() Sink { return rec.NewShard() }}}})
	if st := rec.Stats(); st.Failed != 2 || st.Classes[ClassDrainCut] != 2 || run.calls.Load() != 2 {
		t.Errorf("%d calls, failed %d (%v); want 2 calls cut as drain_cut", run.calls.Load(), st.Failed, st.Classes)
	}
}
