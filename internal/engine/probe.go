package engine

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/guarantee"
	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/pace"
	"github.com/pbenchd/pbenchd/internal/probe"
)

// ProbeStep is one rate a probe held for a step, and how the step ended.
type ProbeStep struct {
	// Rate is the offered mean rate, arrivals per second.
	Rate float64
	// Outcome is held, broke or generator_limited.
	Outcome probe.Outcome
	// Result is the step's exact result after its warm-up.
	Result metrics.Result
	// Verdicts are the SLO's verdicts on the step.
	Verdicts []guarantee.Verdict
}

// Probe is the outcome of a probe phase.
type Probe struct {
	Phase  string
	Action string
	// Capacity is the highest rate that held inside the SLO (0: none did).
	Capacity float64
	// Reason says why the search ended (see internal/probe).
	Reason string
	// MaxDrop is the configured largest drop against the 7-day median.
	MaxDrop float64
	// Steps in the order tried.
	Steps []ProbeStep
}

// probeCapMax bounds the default in-flight cap of a probe.
const probeCapMax = 10000

// ProbeCap is a probe step's in-flight cap: the configured one, else by
// Little's law what the ceiling needs when every call takes the SLO's
// largest latency bound (1 s when it bounds only the error ratio), at
// least 16 and at most probeCapMax. More in flight than that cannot be
// inside the SLO anyway, so a step that reaches the cap has broken it.
func ProbeCap(p *config.ProbePhase, slo config.Guarantee, ceiling float64) int {
	if p.MaxInflight > 0 {
		return p.MaxInflight
	}
	bound := latencyBound(slo)
	if bound == 0 {
		bound = time.Second
	}
	return min(max(int(math.Ceil(ceiling*bound.Seconds())), 16), probeCapMax)
}

// probeDrain is how long a step's calls may run past its end: the SLO's
// largest latency bound (a call still running later is outside the SLO
// whatever it returns), at least 100ms and at most the default drain.
func probeDrain(slo config.Guarantee) time.Duration {
	return min(max(latencyBound(slo), 100*time.Millisecond), config.DefaultDrain)
}

// latencyBound is the SLO's largest latency bound; 0 when it bounds none.
func latencyBound(slo config.Guarantee) time.Duration {
	bound := time.Duration(0)
	for _, d := range []config.Duration{slo.P50, slo.P95, slo.P99, slo.Max, slo.Avg} {
		bound = max(bound, d.D)
	}
	return bound
}

// probePhase runs the search: one open-loop step per rate the search asks
// for, each judged by the SLO with the same verdicts as an iteration.
// The action's runner is built once, before the first step, so every step
// runs over connections made before its clock starts.
func (e *Engine) probePhase(ctx context.Context, sc *config.Scenario, name string, p *config.ProbePhase, log *slog.Logger) (*Probe, error) {
	step, warmup := e.window(p.Step.D, p.Warmup.D)
	a := &p.Action
	slo := sc.SLOOf(p)
	search, err := probe.New(p.Search())
	if err != nil {
		return nil, fmt.Errorf("action %s: %w", a.Name, err)
	}
	scfg := search.Config()
	capN := ProbeCap(p, slo, scfg.Ceiling)
	run, err := action.Kinds.Build(ctx, a, action.Env{
		Scenario: sc.Name, Action: a.Name, Target: sc.TargetOf(a), Targets: e.targets,
		Slots: capN, Open: true, Log: log, Metrics: e.m,
	})
	if err != nil {
		return nil, fmt.Errorf("action %s: %w", a.Name, err)
	}
	run = e.msgs.wrap(sc.Name, a.Name, run)
	defer run.Close()
	active := e.m.PhaseActive.WithLabelValues(sc.Name, name)
	active.Set(1)
	defer active.Set(0)
	e.m.InflightMax.WithLabelValues(sc.Name, a.Name).Set(float64(capN))
	seed := p.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	drain := probeDrain(slo)
	out := &Probe{Phase: name, Action: a.Name, MaxDrop: p.Drop()}
	for i := 0; ; i++ {
		rate, more := search.Next()
		if !more {
			break
		}
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		pc, err := pace.New(pace.Spec{Arrivals: p.ArrivalShape(), Rate: pace.PerSecond(rate)})
		if err != nil {
			return out, fmt.Errorf("action %s at %.4g/s: %w", a.Name, rate, err)
		}
		log.Info("probe step started", "phase", name, "action", a.Name, "step", i, "rate", rate, "duration", step)
		start := time.Now()
		rec := e.m.NewRecorder(sc.Name, a.Name, start, warmup)
		rec.SetSchedule(rate)
		s := seed + uint64(i)
		openLoop(ctx, start, step, drain, pc, seeded(s), capN, run, rec)
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		res := rec.Result(start.Add(step))
		st := ProbeStep{Rate: rate, Outcome: probe.Held, Result: res, Verdicts: guarantee.Check(slo, res)}
		for _, v := range st.Verdicts {
			if !v.OK {
				st.Outcome = probe.Broke
			}
		}
		// A step whose arrivals the generator could not all issue says
		// nothing of the target. (Lateness that decided the step's verdict
		// is reported with the step, res.GeneratorFault, but left to the
		// search: a probe near pbenchd's own limit breaks there, which is
		// what its capacity then says.)
		res.GeneratorFault = guarantee.GeneratorFault(slo, res)
		st.Result = res
		if res.Missed > 0 {
			st.Outcome = probe.GeneratorLimited
		}
		search.Observe(rate, st.Outcome)
		out.Steps = append(out.Steps, st)
		log.Info("probe step finished", "phase", name, "action", a.Name, "step", i, "rate", rate,
			"outcome", st.Outcome, "qps", res.QPS, "p99", res.SLO.P99, "error_ratio", res.ErrorRatio)
	}
	r := search.Result()
	out.Capacity, out.Reason = r.Capacity, r.Reason
	return out, nil
}

// ProbeJSON is a probe phase's result as the API and results files show
// it: the capacity, why the search ended, and the curve of every step.
type ProbeJSON struct {
	Phase  string `json:"phase"`
	Action string `json:"action"`
	// Capacity is the highest rate, arrivals per second, that held.
	Capacity float64         `json:"capacity_qps"`
	Reason   string          `json:"reason"`
	Steps    []ProbeStepJSON `json:"steps"`
}

// ProbeStepJSON is one step of a probe: the rate offered, how it ended,
// and what was served.
type ProbeStepJSON struct {
	Rate     float64             `json:"rate"`
	Outcome  string              `json:"outcome"`
	Result   ActionJSON          `json:"result"`
	Verdicts []guarantee.Verdict `json:"verdicts"`
}

// JSON returns the API view of the probe.
func (p Probe) JSON() ProbeJSON {
	out := ProbeJSON{Phase: p.Phase, Action: p.Action, Capacity: p.Capacity, Reason: p.Reason}
	for _, st := range p.Steps {
		out.Steps = append(out.Steps, ProbeStepJSON{Rate: st.Rate, Outcome: st.Outcome.String(), Result: actionJSON(st.Result, false), Verdicts: st.Verdicts})
	}
	return out
}

// probesErr makes an iteration an error when one of its probes was limited
// by pbenchd itself: what it found is a bound of the generator, not the
// target's capacity.
func probesErr(ps []Probe) error {
	for _, p := range ps {
		if p.Reason == probe.Generator {
			return fmt.Errorf("probe %s: pbenchd could not offer more than %.4g/s itself (generator-limited): the target's capacity is at least that, not known", p.Action, p.Capacity)
		}
	}
	return nil
}

// exportProbes publishes each probe's capacity and curve, for judged
// iterations only (a generator-limited probe makes its iteration an
// error, so what it found is never published as a capacity).
func (e *Engine) exportProbes(scenario string, ps []Probe) {
	pm := e.m.Probe
	for _, p := range ps {
		pm.Curve.DeletePartialMatch(prometheus.Labels{"scenario": scenario, "action": p.Action})
		pm.Capacity.WithLabelValues(scenario, p.Action).Set(p.Capacity)
		pm.DropMax.WithLabelValues(scenario, p.Action).Set(p.MaxDrop)
		for i, st := range p.Steps {
			step := fmt.Sprintf("%02d", i) // sorts as text in a table
			r := st.Result
			values := []float64{st.Rate, r.ServedQPS, r.SLO.P50, r.SLO.P99, r.ErrorRatio}
			for j, stat := range metrics.ProbeStats {
				pm.Curve.WithLabelValues(scenario, p.Action, step, stat).Set(values[j])
			}
		}
	}
}

// ProbeMaxDuration is the longest a probe can take with steps of that
// length: every step the search may need (the drains aside).
func ProbeMaxDuration(p *config.ProbePhase, step time.Duration) time.Duration {
	c, err := probe.New(p.Search())
	if err != nil {
		return 0
	}
	return step * time.Duration(c.Config().MaxSteps)
}
