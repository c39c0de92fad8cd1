// Package loadgen is pbenchd's load generator, the measurement core under
// the engine: one precise scheduler that paces every open loop of a phase
// from a heap of next arrivals on one OS thread, long-lived workers per
// action (grown on demand up to the action's cap; an arrival that finds no
// idle worker is dropped and counted, never queued, unless the action can
// serve only so many calls at once: then it starts only that many workers
// and arrivals wait queued, up to the cap in flight; a worker binds a
// share of its action's runner for as long as it lives, a connection of
// its own, when the runner offers it: action.Binder), closed-loop workers,
// an event loop for the actions whose connections one thread can drive
// many calls at a time (action.Muxer: see mux.go), and recorder shards (a
// few per core, each worker or event loop writing to one) merged at the
// end of a phase and for live reads, so that no lock is shared by all the
// calls of an action.
//
// The engine keeps the iteration lifecycle (setup, phases, verdicts,
// export); this package knows nothing of scenarios or Prometheus.
package loadgen

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/pbenchd/pbenchd/internal/metrics"
)

// Outcome is one call as a worker saw it.
type Outcome struct {
	// Intended is when the call was due: the schedule's time (open loop),
	// or when the worker began it (closed loop).
	Intended time.Time
	// Handed is when the scheduler handed the arrival to a worker, and
	// Called when that worker began the call: Called − Intended is the
	// generator's own lag. Both equal Intended in closed loops.
	Handed, Called time.Time
	// Start is when the call began its work (after waiting for a
	// connection of its own); End when it returned.
	Start, End time.Time
	// ErrClass is "" for success, else the class of the failure.
	ErrClass string
	// Retries lists the reasons of the retries the call made.
	Retries []string
	// Open tells whether the call came from an open loop.
	Open bool
}

// ClassDrainCut is the error class of a call still running when its
// phase's drain ended: due, and not served in time.
const ClassDrainCut = "drain_cut"

// Sink receives the outcomes of one worker. Each worker has a sink of its
// own, so a Sink is called by one goroutine at a time.
type Sink interface {
	Record(o Outcome)
}

// Shard is the exact record of some workers' calls after the warm-up: the
// latency (from the intended start) and generator-lag histograms, counts,
// extremes and the slope fit. A recorder has a few shards per core, and
// its workers are dealt out over them, so a shard's mutex is taken by its
// workers and, rarely, by a reader merging shards: two workers of one
// shard seldom record at the same instant, and no lock is shared by all
// the calls of an action. (A shard per worker would be cheaper still, but
// an exact histogram is about 270 kB: ten thousand workers would need
// gigabytes.)
type Shard struct {
	start, measureAt time.Time

	mu  sync.Mutex
	st  Stats
	tap func(Outcome)
}

// Stats is what shards hold, and what merging them gives.
type Stats struct {
	// OK and Failed count calls; Retries their retries.
	OK, Failed, Retries int64
	// Dropped counts arrivals that found no idle worker; Missed those the
	// generator could not issue before the phase's deadline.
	Dropped, Missed int64
	// Classes counts failures by class.
	Classes map[string]int64
	// Latency is the distribution of successful calls' latency from the
	// intended start, in ns; Lag that of every arrival's generator lag.
	Latency, Lag *hdrhistogram.Histogram
	// Min and Max are the exact extremes of Latency; Sum its sum in
	// seconds.
	Min, Max time.Duration
	Sum      float64
	// Fit is the least-squares fit of latency (s) on time since the
	// phase start (s).
	Fit Fit
}

func newStats() Stats {
	return Stats{Classes: map[string]int64{}, Latency: metrics.NewHDR(), Lag: metrics.NewHDR()}
}

// Merge adds o into s. Every part merges exactly: counts and histogram
// buckets add, extremes combine, the fit's sums add.
func (s *Stats) Merge(o *Stats) {
	if o.OK > 0 && (s.OK == 0 || o.Min < s.Min) {
		s.Min = o.Min
	}
	s.Max = max(s.Max, o.Max)
	s.OK += o.OK
	s.Failed += o.Failed
	s.Retries += o.Retries
	s.Dropped += o.Dropped
	s.Missed += o.Missed
	for k, v := range o.Classes {
		s.Classes[k] += v
	}
	s.Latency.Merge(o.Latency)
	s.Lag.Merge(o.Lag)
	s.Sum += o.Sum
	s.Fit.add(&o.Fit)
}

// Quantile of the successful calls' latency, as metrics.Quantile defines
// it (so the same as the merge of any partition of the calls).
func (s *Stats) Quantile(p float64) time.Duration {
	return metrics.Quantile(s.Latency, p, s.Min, s.Max)
}

// Record records one call; calls due before the warm-up ended are left
// out.
func (sh *Shard) Record(o Outcome) {
	if sh.tap != nil {
		sh.tap(o)
	}
	if o.Intended.Before(sh.measureAt) {
		return
	}
	lat := o.End.Sub(o.Intended)
	sh.mu.Lock()
	st := &sh.st
	metrics.RecordHDR(st.Lag, o.Called.Sub(o.Intended))
	st.Retries += int64(len(o.Retries))
	if o.ErrClass != "" {
		st.Failed++
		st.Classes[o.ErrClass]++
		sh.mu.Unlock()
		return
	}
	st.OK++
	metrics.RecordHDR(st.Latency, lat)
	if st.OK == 1 || lat < st.Min {
		st.Min = lat
	}
	st.Max = max(st.Max, lat)
	sec := lat.Seconds()
	st.Sum += sec
	st.Fit.Add(o.Intended.Sub(sh.start).Seconds(), sec)
	sh.mu.Unlock()
}

// Recorder is the shards of one action in one phase.
type Recorder struct {
	start, measureAt time.Time
	tap              func(Outcome)

	mu     sync.Mutex
	shards []*Shard
	dealt  int // workers given a shard
	// drops and misses are added to by the scheduler's goroutine only, so
	// the atomics are never contended.
	drops, misses atomic.Int64
}

// NewRecorder records an action's phase that began at start, measured
// from start+warmup.
func NewRecorder(start time.Time, warmup time.Duration) *Recorder {
	return &Recorder{start: start, measureAt: start.Add(warmup)}
}

// Tap passes every outcome to f as well (tests, raw exports); f is called
// by many workers at once. Call it before the first shard is made.
func (r *Recorder) Tap(f func(Outcome)) { r.tap = f }

// shardsPerCore is how many shards a recorder makes per core (GOMAXPROCS,
// or the CPUs if fewer: GOMAXPROCS is raised for raw connections).
const shardsPerCore = 4

// NewShard gives a new worker its shard: a new one for each of the first
// shardsPerCore×GOMAXPROCS workers, then those again in turn.
func (r *Recorder) NewShard() *Shard {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.dealt
	r.dealt++
	if limit := shardsPerCore * min(runtime.GOMAXPROCS(0), runtime.NumCPU()); len(r.shards) >= limit {
		return r.shards[n%len(r.shards)]
	}
	sh := &Shard{start: r.start, measureAt: r.measureAt, st: newStats(), tap: r.tap}
	r.shards = append(r.shards, sh)
	return sh
}

// Drop counts an arrival that found no idle worker (after the warm-up),
// at now.
func (r *Recorder) Drop(intended, _ time.Time) {
	if !intended.Before(r.measureAt) {
		r.drops.Add(1)
	}
}

// Miss counts n arrivals, due from from on, that the generator could not
// issue before the phase's deadline (those due in the warm-up are left
// out only when from is in it: the count is of the schedule's tail).
func (r *Recorder) Miss(from time.Time, n int64) {
	if !from.Before(r.measureAt) {
		r.misses.Add(n)
	}
}

// Stats merges every shard: a consistent view of each shard, taken one
// shard at a time (live reads see calls up to about now).
func (r *Recorder) Stats() Stats {
	out := newStats()
	r.mu.Lock()
	shards := append([]*Shard(nil), r.shards...)
	r.mu.Unlock()
	for _, sh := range shards {
		sh.mu.Lock()
		out.Merge(&sh.st)
		sh.mu.Unlock()
	}
	out.Dropped += r.drops.Load()
	out.Missed += r.misses.Load()
	return out
}

// Fit accumulates an ordinary least-squares fit of y on x; fits of parts
// add up to the fit of the whole.
type Fit struct {
	N, Sx, Sy, Sxx, Sxy float64
}

// Add adds one point.
func (f *Fit) Add(x, y float64) {
	f.N++
	f.Sx += x
	f.Sy += y
	f.Sxx += x * x
	f.Sxy += x * y
}

func (f *Fit) add(o *Fit) {
	f.N += o.N
	f.Sx += o.Sx
	f.Sy += o.Sy
	f.Sxx += o.Sxx
	f.Sxy += o.Sxy
}

// Slope is (nΣxy − ΣxΣy) / (nΣx² − (Σx)²); 0 when x does not vary.
func (f *Fit) Slope() float64 {
	d := f.N*f.Sxx - f.Sx*f.Sx
	if f.N < 2 || math.Abs(d) < 1e-12 {
		return 0
	}
	return (f.N*f.Sxy - f.Sx*f.Sy) / d
}
