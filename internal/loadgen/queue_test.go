package loadgen

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pbenchd/pbenchd/internal/action"
)

// countGauge is a Gauge that remembers the most calls in flight at once.
type countGauge struct{ gauge }

func (g *countGauge) Inc() { g.enter() }
func (g *countGauge) Dec() { g.leave() }

// TestQueueForServers: an action that serves 2 calls at once (Servers 2),
// capped at 5 in flight, whose calls never return before the drain
// deadline, under 200 arrivals (1000/s over 200 ms): exactly 2 workers
// start and 2 calls run at once, 3 more arrivals wait queued (5 in flight,
// never more: the gauge's peak), and the other 195 are dropped. At the
// drain deadline the 2 calls are cut and the 3 queued ones, taken up by
// then, end at once: 5 drain_cut, and the gauge is back at 0.
func TestQueueForServers(t *testing.T) {
	run := &blocking{}
	g := &countGauge{}
	rec := NewRecorder(time.Now(), 0)
	l := &OpenLoop{
		Pacer: periodic(t, "1000/s"), Rng: rand.New(rand.NewPCG(1, 1)), MaxInflight: 5, Servers: 2, Gauge: g,
		Run: run, NewSink: func() Sink { return rec.NewShard() }, Drop: rec.Drop, Miss: rec.Miss,
	}
	Run(context.Background(), Phase{Start: time.Now(), Duration: 200 * time.Millisecond, Drain: 50 * time.Millisecond, Open: []*OpenLoop{l}})
	st := rec.Stats()
	if p := run.peak.Load(); p != 2 {
		t.Errorf("%d calls at once; want 2 (the servers)", p)
	}
	if run.calls.Load() != 5 {
		t.Errorf("%d calls made; want 5 (2 served, 3 queued)", run.calls.Load())
	}
	if g.peak.Load() != 5 || g.now.Load() != 0 {
		t.Errorf("in flight: peak %d, after %d; want 5 and 0", g.peak.Load(), g.now.Load())
	}
	if st.Dropped != 195 || st.Failed != 5 || st.Classes[ClassDrainCut] != 5 || st.OK != 0 {
		t.Errorf("dropped %d, failed %d (%v), ok %d; want 195 dropped and 5 drain_cut", st.Dropped, st.Failed, st.Classes, st.OK)
	}
	if busy, workers := l.Inflight(); busy != 0 || workers != 2 {
		t.Errorf("after the phase: %d in flight on %d workers; want 0 on 2", busy, workers)
	}
}

// TestQueueFIFO: one server, calls of 1 ms, arrivals at 3000/s for 100 ms:
// the queue grows, and the worker serves arrivals in the order they were
// due. A queued call's generator lag ends when it was queued (Called is
// Handed), its wait in the queue is part of its wait for a connection
// (Start after Called) and of its latency from the intended start, and
// every arrival of the schedule is served or dropped: none is left behind.
func TestQueueFIFO(t *testing.T) {
	run := callerFunc(func(ctx context.Context) action.Result {
		time.Sleep(time.Millisecond)
		return action.Result{}
	})
	rec, outcomes := tapped()
	p := periodic(t, "3000/s")
	d := 100 * time.Millisecond
	l := &OpenLoop{
		Pacer: p, Rng: rand.New(rand.NewPCG(1, 1)), MaxInflight: 1000, Servers: 1,
		Run: run, NewSink: func() Sink { return rec.NewShard() }, Drop: rec.Drop, Miss: rec.Miss,
	}
	Run(context.Background(), Phase{Start: time.Now(), Duration: d, Drain: 10 * time.Second, Open: []*OpenLoop{l}})
	st := rec.Stats()
	want := int64(len(offsets(p, 1, d)))
	if st.OK+st.Dropped != want || st.Dropped != 0 {
		t.Errorf("ok %d + dropped %d, schedule %d; want all %d served", st.OK, st.Dropped, want, want)
	}
	seen := outcomes()
	queued := fifoQueued(t, seen)
	// 300 arrivals of 1 ms each on one server in 100 ms: at most 100 can
	// find the server idle, so at least 200 waited queued.
	if queued < 200 {
		t.Errorf("%d calls waited queued; want at least 200 of %d", queued, len(seen))
	}
}

// TestQueueNoLostArrival: instant calls on 2 servers at 20,000/s for
// 300 ms, where workers go idle and the scheduler queues all the time:
// every arrival is served or dropped (an arrival queued while the last
// busy worker went idle would be left unserved), and the phase ends.
func TestQueueNoLostArrival(t *testing.T) {
	var calls atomic.Int64
	run := callerFunc(func(context.Context) action.Result {
		calls.Add(1)
		return action.Result{}
	})
	for _, seed := range []uint64{1, 2, 3} {
		rec := NewRecorder(time.Now(), 0)
		p := poisson(t, "20000/s")
		d := 300 * time.Millisecond
		l := &OpenLoop{
			Pacer: p, Rng: rand.New(rand.NewPCG(seed, seed)), MaxInflight: 64, Servers: 2,
			Run: run, NewSink: func() Sink { return rec.NewShard() }, Drop: rec.Drop, Miss: rec.Miss,
		}
		calls.Store(0)
		Run(context.Background(), Phase{Start: time.Now(), Duration: d, Drain: 10 * time.Second, Open: []*OpenLoop{l}})
		st := rec.Stats()
		want := int64(len(offsets(p, seed, d)))
		if st.OK+st.Dropped+st.Missed != want || st.OK != calls.Load() {
			t.Errorf("seed %d: ok %d + dropped %d + missed %d != %d arrivals (calls %d)", seed, st.OK, st.Dropped, st.Missed, want, calls.Load())
		}
		if _, workers := l.Inflight(); workers > 2 {
			t.Errorf("seed %d: %d workers for 2 servers", seed, workers)
		}
	}
}

// fifoQueued checks that calls were served in the order they were due,
// each timed in order (intended, handed, called, start, end), and counts
// those that waited queued: their generator lag ended when they were
// queued (Called is Handed) and their service began after it.
func fifoQueued(t *testing.T, seen []Outcome) int {
	t.Helper()
	queued := 0
	for i, o := range seen {
		if i > 0 && !o.Intended.After(seen[i-1].Intended) {
			t.Fatalf("call %d due at %v served after one due at %v: not first in, first out", i, o.Intended, seen[i-1].Intended)
		}
		if o.Start.Before(o.Called) || o.Called.Before(o.Handed) || o.Handed.Before(o.Intended) || o.End.Before(o.Start) {
			t.Fatalf("call %d: intended %v, handed %v, called %v, start %v, end %v: out of order", i, o.Intended, o.Handed, o.Called, o.Start, o.End)
		}
		if o.Called.Equal(o.Handed) && o.Start.After(o.Called) {
			queued++
		}
	}
	return queued
}
