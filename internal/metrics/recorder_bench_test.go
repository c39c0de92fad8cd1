package metrics

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The Recorder is on every call's path: these benchmarks give its cost per
// call, alone and under contention from parallel workers (as the closed and
// open loops call it).
//
//	go test -run '^$' -bench Record -benchmem ./internal/metrics/

func benchRecorder(b *testing.B, warmup time.Duration, slo ...bool) (*Recorder, time.Time) {
	b.Helper()
	m := New(prometheus.NewRegistry())
	if len(slo) > 0 && slo[0] {
		m.SLO.Configure("bench", map[string][]Objective{"select": {
			{Stat: "p95", Limit: time.Millisecond, Budget: 0.05},
			{Stat: "p99", Limit: 2 * time.Millisecond, Budget: 0.01},
			{Stat: "error_ratio", Budget: 0.001},
		}})
	}
	start := time.Now()
	return m.NewRecorder("bench", "select", start, warmup), start
}

// outcomes returns a small ring of realistic outcomes (latencies spread
// over 50µs–5ms) so that the histograms touch several buckets.
func outcomes(start time.Time, open bool, errClass string) []Outcome {
	out := make([]Outcome, 64)
	for i := range out {
		intended := start.Add(time.Duration(i) * time.Millisecond)
		lat := time.Duration(50+i*i*1200/64) * time.Microsecond
		out[i] = Outcome{Intended: intended, Start: intended.Add(10 * time.Microsecond), End: intended.Add(lat), Open: open, ErrClass: errClass}
	}
	return out
}

// BenchmarkRecord is one Recorder.Record call of a successful closed-loop
// call after the warm-up: two Prometheus histograms (latency, service; each
// with native and classic buckets), a counter, and under the mutex the HDR
// histogram, the extremes, the sum and the slope fit.
func BenchmarkRecord(b *testing.B) {
	for _, c := range []struct {
		name     string
		open     bool
		errClass string
		warmup   time.Duration
		slo      bool
	}{
		{name: "closed"},
		{name: "open", open: true},                  // + the schedule-lag histogram
		{name: "error", errClass: "sqlstate_42P01"}, // + Errors.WithLabelValues on the path
		{name: "warmup", warmup: time.Hour},         // Prometheus only: the exact part is skipped
		{name: "slo", slo: true},                    // + good/bad counters of p95, p99 and error_ratio objectives
	} {
		b.Run(c.name, func(b *testing.B) {
			r, start := benchRecorder(b, c.warmup, c.slo)
			outs := outcomes(start, c.open, c.errClass)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r.Record(outs[i&63])
			}
		})
	}
}

// BenchmarkRecordParallel calls Record from GOMAXPROCS×p goroutines on one
// Recorder (one action), as the workers of a loop do: it shows the cost of
// the shared mutex and of the shared cache lines of the Prometheus
// collectors. Compare ns/op with BenchmarkRecord/closed: on a machine with
// more than one core, anything above it is contention.
func BenchmarkRecordParallel(b *testing.B) {
	for _, p := range []int{1, 4} {
		for _, c := range []struct {
			name   string
			warmup time.Duration
		}{{"all", 0}, {"prometheus_only", time.Hour}} {
			b.Run(fmt.Sprintf("%s/p=%d", c.name, p), func(b *testing.B) {
				r, start := benchRecorder(b, c.warmup)
				outs := outcomes(start, false, "")
				b.ReportAllocs()
				b.SetParallelism(p)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						r.Record(outs[i&63])
						i++
					}
				})
			})
		}
	}
}

// BenchmarkInflight is the in-flight gauge's Inc and Dec that both loops
// make around every call: two CAS loops on one shared float64.
func BenchmarkInflight(b *testing.B) {
	r, _ := benchRecorder(b, 0)
	g := r.Inflight()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			g.Inc()
			g.Dec()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				g.Inc()
				g.Dec()
			}
		})
	})
}
