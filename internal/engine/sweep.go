package engine

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/metrics"
)

// SweepStep is the result of one concurrency of a sweep.
type SweepStep struct {
	Concurrency int
	Result      metrics.Result
}

// Sweep is the outcome of a sweep phase.
type Sweep struct {
	Phase  string
	Action string
	Steps  []SweepStep
}

// sweepPhase runs the action in a closed loop at each concurrency in turn.
// Each step gets fresh connections, made before its clock starts.
func (e *Engine) sweepPhase(ctx context.Context, sc *config.Scenario, name string, sw *config.SweepPhase, log *slog.Logger) (*Sweep, error) {
	step, warmup := e.window(sw.Step.D, sw.Warmup.D)
	a := &sw.Action
	active := e.m.PhaseActive.WithLabelValues(sc.Name, name)
	active.Set(1)
	defer active.Set(0)
	out := &Sweep{Phase: name, Action: a.Name}
	for _, n := range sw.Concurrency {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		run, err := action.Kinds.Build(ctx, a, action.Env{
			Scenario: sc.Name, Action: a.Name, Target: sc.TargetOf(a), Targets: e.targets, Slots: n, Log: log, Metrics: e.m,
		})
		if err != nil {
			return out, fmt.Errorf("action %s at concurrency %d: %w", a.Name, n, err)
		}
		run = e.msgs.wrap(sc.Name, a.Name, run)
		log.Info("sweep step started", "phase", name, "action", a.Name, "concurrency", n, "duration", step)
		start := time.Now()
		rec := e.m.NewRecorder(sc.Name, a.Name, start, warmup)
		closedLoop(ctx, start, step, config.DefaultDrain, n, run, rec)
		run.Close()
		res := rec.Result(start.Add(step))
		out.Steps = append(out.Steps, SweepStep{Concurrency: n, Result: res})
		label := strconv.Itoa(n)
		e.m.SweepQPS.WithLabelValues(sc.Name, a.Name, label).Set(res.QPS)
		for _, s := range metrics.Stats {
			e.m.SweepLatency.WithLabelValues(sc.Name, a.Name, label, s).Set(res.Stat(s))
		}
	}
	return out, nil
}
