package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/metrics"
)

// These benchmarks measure pbenchd's own cost per call in its loops: the
// runner does nothing, so everything timed is the loop, the clock reads,
// the in-flight gauge and the Recorder. One op is one call.
//
//	go test -run '^$' -bench Loop -benchmem ./internal/engine/

// noopRunner returns at once. After limit calls it cancels the loop's
// context, so a loop makes b.N calls (plus at most one per other worker
// still in its call); the shared counter is one contended atomic add per
// call, cheaper than the in-flight gauge the loops already update.
type noopRunner struct {
	n      atomic.Int64
	limit  int64
	cancel context.CancelFunc
}

func (r *noopRunner) Call(context.Context) action.Result {
	if r.n.Add(1) == r.limit {
		r.cancel()
	}
	return action.Result{}
}

func (r *noopRunner) Close() {}

func newNoop(b *testing.B) (context.Context, *noopRunner, *metrics.Recorder) {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	m := metrics.New(prometheus.NewRegistry())
	rec := m.NewRecorder("bench", "noop", time.Now(), 0)
	return ctx, &noopRunner{limit: int64(b.N), cancel: cancel}, rec
}

func report(b *testing.B, r *noopRunner, elapsed time.Duration) {
	if n := r.n.Load(); n > 0 {
		b.ReportMetric(float64(elapsed.Nanoseconds())/float64(n), "ns/call")
	}
}

// BenchmarkClosedLoop runs closedLoop with a no-op runner until b.N calls
// are made: the loop's overhead per call with 1 and 8 workers.
func BenchmarkClosedLoop(b *testing.B) {
	for _, workers := range []int{1, 8} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			ctx, run, rec := newNoop(b)
			b.ReportAllocs()
			b.ResetTimer()
			t0 := time.Now()
			closedLoop(ctx, time.Now(), time.Hour, workers, run, rec)
			report(b, run, time.Since(t0))
		})
	}
}

// asFastAsPossible is a schedule whose arrivals are 1ns apart: every
// arrival is already due, so openLoop never sleeps and what is timed is
// its own work per arrival (a goroutine, the semaphore, the gauge, the
// Recorder with its schedule-lag histogram).
type asFastAsPossible struct{}

func (asFastAsPossible) Next(n uint64, _ time.Duration, _ *rand.Rand) time.Duration {
	return time.Duration(n)
}
func (asFastAsPossible) Mean(time.Duration) float64 { return 1e9 }
func (asFastAsPossible) String() string             { return "1ns apart" }

// BenchmarkOpenLoop runs openLoop for b.N arrivals that are all due at
// once, with a cap of calls in flight that is never reached by a no-op
// runner (drops are reported if it is).
func BenchmarkOpenLoop(b *testing.B) {
	ctx, run, rec := newNoop(b)
	run.limit = -1 // the schedule ends the loop, not the runner
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	b.ResetTimer()
	t0 := time.Now()
	start := time.Now()
	openLoop(ctx, start, time.Duration(b.N), asFastAsPossible{}, rng, 10000, run, rec)
	report(b, run, time.Since(t0))
	b.StopTimer()
	if res := rec.Result(start.Add(time.Duration(b.N))); res.Dropped > 0 {
		b.ReportMetric(float64(res.Dropped)/float64(b.N), "dropped/arrival")
	}
}
