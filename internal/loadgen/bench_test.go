//go:build unix

package loadgen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/pace"
)

// Benchmarks of the generator's own cost with a null runner (a call that
// returns at once), so everything measured is the scheduler, the hand-off
// to a worker, the clock reads and the shard:
//
//	go test -run '^$' -bench . -benchtime 200000x ./internal/loadgen/
//	taskset -c 1 go test -run '^$' -bench Paced -benchtime 1000000x ./internal/loadgen/
//
// One op is one arrival.

type nullCaller struct{}

func (nullCaller) Call(context.Context) action.Result { return action.Result{} }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPaced runs one open loop of null calls at a fixed periodic
// rate for b.N arrivals and reports what the generator achieved: served
// arrivals per second of phase, the achieved-rate error (served against
// the schedule's own count, in %), the generator lag's p50, p99 and max
// (intended → handed to a worker), and the process's CPU per arrival.
func BenchmarkPaced(b *testing.B) {
	for _, rate := range []float64{20_000, 100_000} {
		b.Run(fmt.Sprintf("rate=%.0f", rate), func(b *testing.B) {
			p, err := pace.New(pace.Spec{Rate: pace.PerSecond(rate)})
			if err != nil {
				b.Fatal(err)
			}
			d := time.Duration(float64(b.N) / rate * 1e9)
			rec := NewRecorder(time.Now(), 0)
			l := &OpenLoop{Pacer: p, Rng: rand.New(rand.NewPCG(1, 1)), MaxInflight: 64, Run: nullCaller{},
				NewSink: func() Sink { return rec.NewShard() }, Drop: rec.Drop, Miss: rec.Miss}
			b.ResetTimer()
			c0 := cpuTime()
			start := time.Now()
			Run(context.Background(), Phase{Start: start, Duration: d, Drain: time.Second, Open: []*OpenLoop{l}})
			cpu := cpuTime() - c0
			b.StopTimer()
			st := rec.Stats()
			offered := len(offsets(p, 1, d))
			b.ReportMetric(float64(st.OK)/d.Seconds(), "served/s")
			b.ReportMetric(100*float64(int64(offered)-st.OK)/float64(offered), "rate-err-%")
			b.ReportMetric(float64(st.Dropped), "dropped")
			b.ReportMetric(float64(st.Lag.ValueAtPercentile(50))/1e3, "lag-p50-µs")
			b.ReportMetric(float64(st.Lag.ValueAtPercentile(99))/1e3, "lag-p99-µs")
			b.ReportMetric(float64(st.Lag.Max())/1e3, "lag-max-µs")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(max(st.OK, 1))/1e3, "cpu-µs/arrival")
		})
	}
}

// BenchmarkHandOff is the scheduler's cost per arrival when it never
// sleeps: every arrival is due at once (1 ns apart), so what is timed is
// the heap, the hand-off to an idle worker, the call and the shard. Drops
// are reported: with a null runner they are hand-offs that found every
// worker still running.
func BenchmarkHandOff(b *testing.B) {
	p, err := pace.New(pace.Spec{Rate: pace.PerSecond(1e9)})
	if err != nil {
		b.Fatal(err)
	}
	rec := NewRecorder(time.Now(), 0)
	l := &OpenLoop{Pacer: p, MaxInflight: 64, Run: nullCaller{}, NewSink: func() Sink { return rec.NewShard() }, Drop: rec.Drop, Miss: rec.Miss}
	b.ResetTimer()
	c0 := cpuTime()
	t0 := time.Now()
	// b.N arrivals 1 ns apart, but at most b.N ns of wall time would end
	// the phase at once: give it an hour and stop when b.N are handed.
	counted := &countingCaller{limit: int64(b.N)}
	l.Run = counted
	ctx, cancel := context.WithCancel(context.Background())
	counted.cancel = cancel
	Run(ctx, Phase{Start: time.Now(), Duration: time.Hour, Drain: time.Second, Open: []*OpenLoop{l}})
	el, cpu := time.Since(t0), cpuTime()-c0
	b.StopTimer()
	st := rec.Stats()
	n := float64(st.OK + st.Dropped)
	b.ReportMetric(float64(el.Nanoseconds())/n, "ns/arrival")
	b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/arrival")
	b.ReportMetric(100*float64(st.Dropped)/n, "dropped-%")
}

type countingCaller struct {
	n      atomic.Int64
	limit  int64
	cancel context.CancelFunc
}

func (c *countingCaller) Call(context.Context) action.Result {
	if c.n.Add(1) == c.limit {
		c.cancel()
	}
	return action.Result{}
}

// BenchmarkClosed is a closed loop's cost per call with a null runner.
func BenchmarkClosed(b *testing.B) {
	for _, workers := range []int{1, 8} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			rec := NewRecorder(time.Now(), 0)
			ctx, cancel := context.WithCancel(context.Background())
			run := &countingCaller{limit: int64(b.N), cancel: cancel}
			b.ResetTimer()
			c0 := cpuTime()
			t0 := time.Now()
			Run(ctx, Phase{Start: time.Now(), Duration: time.Hour, Drain: time.Second,
				Closed: []*ClosedLoop{{Workers: workers, Run: run, NewSink: func() Sink { return rec.NewShard() }}}})
			el, cpu := time.Since(t0), cpuTime()-c0
			b.StopTimer()
			n := float64(run.n.Load())
			b.ReportMetric(float64(el.Nanoseconds())/n, "ns/call")
			b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/call")
		})
	}
}
