package metrics

import (
	"runtime"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestConsistentGather: while an iteration's timestamps are set under
// Export, a gather through Consistent sees last_iteration and
// last_judged_iteration from the same iteration, never a new one beside
// an old one (which the erroring-iterations alert would read as an error).
func TestConsistentGather(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	g := m.Consistent(reg)
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		for ts := 1.0; ts <= 20000; ts++ {
			m.Export.Lock()
			m.LastJudged.WithLabelValues("s").Set(ts)
			runtime.Gosched() // a gather may run between the two
			m.LastIteration.WithLabelValues("s").Set(ts)
			m.Export.Unlock()
		}
	})
	gathers := 0
	for running := true; running; gathers++ {
		select {
		case <-done:
			running = false
		default:
		}
		mfs, err := g.Gather()
		if err != nil {
			t.Fatal(err)
		}
		vals := map[string]float64{}
		for _, mf := range mfs {
			switch mf.GetName() {
			case Namespace + "_last_iteration_timestamp_seconds", Namespace + "_last_judged_iteration_timestamp_seconds":
				for _, mm := range mf.GetMetric() {
					vals[mf.GetName()] = mm.GetGauge().GetValue()
				}
			}
		}
		it, judged := vals[Namespace+"_last_iteration_timestamp_seconds"], vals[Namespace+"_last_judged_iteration_timestamp_seconds"]
		if it != judged {
			t.Fatalf("gather %d: last iteration %v, last judged %v: an iteration half exported", gathers, it, judged)
		}
	}
	wg.Wait()
}
