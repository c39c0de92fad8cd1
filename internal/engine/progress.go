package engine

import (
	"log/slog"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/termui"
)

// PhaseProgress is a live snapshot of a running load phase.
type PhaseProgress struct {
	Scenario, Phase string
	// Elapsed is the time since the phase started, of Duration; the first
	// Warmup of it is not measured.
	Elapsed, Duration, Warmup time.Duration
	Actions                   []ActionProgress
}

// ActionProgress is one action's figures so far: its result over the
// measured window up to now, and its calls in flight.
type ActionProgress struct {
	metrics.Result
	// Open tells an open loop (offered = calls + dropped) from a closed one.
	Open     bool
	Inflight float64
}

// Offered is the arrivals (open loop) or calls (closed loop) so far.
func (a ActionProgress) Offered() int64 { return a.Calls + a.Dropped }

// SetProgress makes every load phase call f with a snapshot every interval
// while it runs (0 turns it off), instead of the info line it logs by
// default at run.progress.
func (e *Engine) SetProgress(every time.Duration, f func(PhaseProgress)) {
	e.progressEvery, e.progressFunc = every, f
}

// watch reports a phase's progress until the returned stop is called.
func (e *Engine) watch(scenario, phase string, start time.Time, d, warmup time.Duration, ps []*prepared, log *slog.Logger) (stop func()) {
	every, f := e.progressEvery, e.progressFunc
	if f == nil {
		every = e.cfg.Run.Progress.D
		f = func(p PhaseProgress) { logProgress(log, p) }
	}
	if every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				p := PhaseProgress{Scenario: scenario, Phase: phase, Elapsed: now.Sub(start), Duration: d, Warmup: warmup}
				for _, a := range ps {
					var m dto.Metric
					_ = a.rec.Inflight().Write(&m)
					p.Actions = append(p.Actions, ActionProgress{Result: a.rec.Result(now), Open: a.pacer != nil, Inflight: m.GetGauge().GetValue()})
				}
				f(p)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// logProgress is the info line of a phase's progress: one line, a group of
// figures per action.
func logProgress(log *slog.Logger, p PhaseProgress) {
	attrs := []any{"phase", p.Phase, "elapsed", p.Elapsed.Round(time.Second).String(), "of", p.Duration.String()}
	if p.Elapsed < p.Warmup {
		attrs = append(attrs, "warming_up", true)
	}
	for _, a := range p.Actions {
		attrs = append(attrs, slog.Group(a.Action,
			"offered", a.Offered(), "served", a.Calls, "qps", round1(a.QPS),
			"p50", termui.Seconds(a.SLO.P50), "p99", termui.Seconds(a.SLO.P99),
			"errors", a.Failed, "dropped", a.Dropped, "inflight", a.Inflight))
	}
	log.Info("phase progress", attrs...)
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }
