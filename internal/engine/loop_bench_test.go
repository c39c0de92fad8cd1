//go:build unix

package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"syscall"
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

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report adds ns/call (wall time over the calls actually made) and
// cpu-ns/call (the process's CPU over them: with several workers on
// several cores, the cost a call takes from the machine).
func report(b *testing.B, r *noopRunner, elapsed, cpu time.Duration) {
	if n := r.n.Load(); n > 0 {
		b.ReportMetric(float64(elapsed.Nanoseconds())/float64(n), "ns/call")
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/call")
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
			t0, c0 := time.Now(), cpuTime()
			closedLoop(ctx, time.Now(), time.Hour, time.Second, workers, run, rec)
			report(b, run, time.Since(t0), cpuTime()-c0)
		})
	}
}

// backpressured is a schedule whose arrivals are all due at once (1ns
// apart), except that arrival n waits until at most window arrivals are
// still to reach the runner, so the cap on calls in flight is never hit and
// nothing is dropped. openLoop then never sleeps: what is timed is its own
// work per arrival (a goroutine, the semaphore, the gauge, the Recorder with
// its schedule-lag histogram).
type backpressured struct {
	r      *noopRunner
	window int64
	limit  uint64 // arrivals in all; later ones fall after the phase
}

func (p backpressured) Next(n uint64, _ time.Duration, _ *rand.Rand) time.Duration {
	if n >= p.limit {
		return time.Duration(math.MaxInt64)
	}
	for int64(n)-p.r.n.Load() > p.window {
		runtime.Gosched()
	}
	return time.Duration(n)
}
func (backpressured) Mean(time.Duration) float64 { return 1e9 }
func (backpressured) String() string             { return "1ns apart, backpressured" }

// BenchmarkOpenLoop runs openLoop for b.N arrivals as fast as it can start
// them (see backpressured): its overhead per arrival.
func BenchmarkOpenLoop(b *testing.B) {
	const cap = 10000
	ctx, run, rec := newNoop(b)
	run.limit = -1 // the schedule ends the loop, not the runner
	b.ReportAllocs()
	b.ResetTimer()
	t0, c0 := time.Now(), cpuTime()
	start := time.Now()
	// The phase lasts an hour so that its deadline never cuts the
	// schedule short; the schedule ends after b.N arrivals.
	openLoop(ctx, start, time.Hour, time.Second, backpressured{r: run, window: cap / 2, limit: uint64(b.N)}, seeded(1), cap, run, rec)
	report(b, run, time.Since(t0), cpuTime()-c0)
	b.StopTimer()
	if res := rec.Result(start.Add(time.Duration(b.N))); res.Dropped > 0 || res.Missed > 0 {
		b.Errorf("%d of %d arrivals dropped: the benchmark measured overload, not overhead", res.Dropped, b.N)
	}
}
