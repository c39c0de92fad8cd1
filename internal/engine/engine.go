// Package engine runs scenarios: setup, load phases of open and closed
// loops, teardown, the exact results of each iteration with their guarantee
// verdicts, and the daemon loop that repeats it all until stopped. What is
// printed of them, tables and progress, is package report's.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/guarantee"
	"github.com/pbenchd/pbenchd/internal/loader"
	"github.com/pbenchd/pbenchd/internal/loadgen"
	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/pace"
	"github.com/pbenchd/pbenchd/internal/target"
)

// Iteration results.
const (
	Pass  = "pass"
	Fail  = "fail"
	Error = "error"
)

// StopDeadline is when a stop that came at t must be over: calls in flight
// get StopGrace to return, teardown run.teardown_timeout after that.
func (e *Engine) StopDeadline(t time.Time) time.Time {
	return t.Add(StopGrace + e.teardownTimeout())
}

// teardownTimeout is run.teardown_timeout, or its default in a config
// made without defaults.
func (e *Engine) teardownTimeout() time.Duration {
	if d := e.cfg.Run.TeardownTimeout.D; d > 0 {
		return d
	}
	return config.DefaultTeardownTimeout
}

// Engine runs scenarios of one configuration.
type Engine struct {
	progressEvery time.Duration       // SetProgress
	progressFunc  func(PhaseProgress) // nil: log at run.progress
	activity      *Activity
	health        *target.Health
	msgs          *messageLog                // the first server message per class and action
	figures       map[string][]action.Figure // the iteration's action figures so far, by action
	progress      ProgressFactory
	shard         loader.Shard
	cfg           *config.Config
	m             *metrics.Metrics
	targets       *target.Set
	log           *slog.Logger
	topics        createdTopics // Kafka topics setup made, for teardown to delete
}

// New makes an engine for a validated configuration.
func New(cfg *config.Config, m *metrics.Metrics, log *slog.Logger) *Engine {
	for _, sc := range cfg.Selected() {
		m.InitScenario(sc.Name)
		configureSLOs(m, sc)
		for _, c := range sc.Checks {
			m.ViewMismatch.WithLabelValues(sc.Name, c.Name)
		}
	}
	e := &Engine{
		activity: &Activity{},
		cfg:      cfg, m: m, log: log, msgs: newMessageLog(cfg, log),
		targets: target.NewSet(cfg.Targets, func(name string) prometheus.Gauge {
			return m.TargetUp.WithLabelValues(name)
		}),
	}
	e.SetHealth(target.NewHealth(log))
	return e
}

// Config returns the configuration the engine runs.
func (e *Engine) Config() *config.Config { return e.cfg }

// Targets returns the engine's targets.
func (e *Engine) Targets() *target.Set { return e.targets }

// Iteration is the outcome of one pass of a scenario.
type Iteration struct {
	Scenario string
	// Vars are the scenario's variables as this iteration used them
	// (overrides applied), so results say what they measured (a scale
	// factor, a schema).
	Vars  map[string]any
	Start time.Time
	End   time.Time
	// Result is pass, fail or error.
	Result string
	// Err says why the iteration is an error.
	Err error
	// Results per action, in the scenario's order.
	Results []metrics.Result
	// Verdicts of every guarantee checked.
	Verdicts []guarantee.Verdict
	// Reported tells which actions take part in guarantees.
	Reported map[string]bool
	// SetupDone tells whether setup ran and succeeded.
	SetupDone bool
	// Sweeps are the results of sweep phases.
	Sweeps []Sweep
	// Probes are the results of probe phases.
	Probes []Probe
	// Checks are the results of the scenario's checks.
	Checks []CheckResult
	// TeardownErr says why teardown failed; the next setup may then find
	// leftovers, and server settings may not be restored.
	TeardownErr error
	// Messages are the first message of each error class per action.
	Messages []Message
	// Figures are the actions' figures of their own kind (kafka_consume:
	// end-to-end latency, records, missing, duplicate, foreign), by action.
	Figures map[string][]action.Figure
	// Stopped is true when a stop signal cut the iteration short; its
	// results are incomplete and are not exported.
	Stopped bool
}

// Stage says which parts of a scenario an iteration runs.
type Stage struct {
	Setup, Teardown bool
}

// Iterate runs one pass of the scenario and exports its results. ctx
// cancellation (a stop signal) cancels calls in flight; teardown still runs,
// under its own deadline.
func (e *Engine) Iterate(ctx context.Context, sc *config.Scenario, st Stage) *Iteration {
	it := &Iteration{Scenario: sc.Name, Vars: sc.Vars, Start: time.Now(), Reported: map[string]bool{}}
	// When the stop came, so that teardown after it keeps to the stop's
	// budget.
	var stopAt atomic.Pointer[time.Time]
	defer context.AfterFunc(ctx, func() { now := time.Now(); stopAt.Store(&now) })()
	stopped := func() time.Time {
		if t := stopAt.Load(); t != nil {
			return *t
		}
		return time.Now()
	}
	log := e.log.With("scenario", sc.Name)
	if err := e.precheck(ctx, sc); err != nil && ctx.Err() == nil {
		it.End = time.Now()
		it.Result, it.Err = Error, err
		e.export(sc, it)
		return it
	}
	var err error
	if st.Setup {
		err = e.setup(ctx, sc, log)
		it.SetupDone = err == nil
	}
	if err == nil {
		err = e.phases(ctx, sc, it, log)
	}
	if err == nil && ctx.Err() == nil && len(sc.Checks) > 0 {
		it.Checks = e.runChecks(ctx, sc)
		for _, c := range it.Checks {
			if !c.Match {
				log.Error("check failed: the results differ", "check", c.Name, "rows", c.Rows,
					"missing", c.Missing, "extra", c.Extra, "err", c.Err)
			}
		}
	}
	if st.Teardown {
		var by time.Time
		if ctx.Err() != nil {
			by = e.StopDeadline(stopped())
		}
		if terr := e.Teardown(sc, by); terr != nil {
			it.TeardownErr = terr
			e.m.TeardownFailures.WithLabelValues(sc.Name).Inc()
			log.Warn("teardown failed", "err", terr)
		}
	}
	it.End = time.Now()
	it.Messages = e.msgs.take()
	it.Figures, e.figures = e.figures, nil
	switch {
	case ctx.Err() != nil:
		it.Result, it.Err, it.Stopped = Error, ctx.Err(), true
		return it // a stopped iteration is neither exported nor counted
	case err != nil:
		it.Result, it.Err = Error, err
	default:
		it.Result = e.judge(sc, it)
	}
	e.export(sc, it)
	return it
}

func (e *Engine) setup(ctx context.Context, sc *config.Scenario, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Run.SetupTimeout.D)
	defer cancel()
	defer e.activity.set(sc.Name, "")
	for i, st := range sc.Setup {
		e.activity.set(sc.Name, fmt.Sprintf("setup of scenario %s, setup[%d]", sc.Name, i))
		if err := e.step(ctx, sc, st, StopGrace); err != nil {
			if st.IgnoreErrors {
				log.Warn("setup step failed (ignored)", "step", i, "err", err)
				continue
			}
			return fmt.Errorf("setup[%d]: %w", i, err)
		}
	}
	return nil
}

// StopGrace is how long calls in flight get to return after a stop
// signal; teardown runs after them. A stop takes at most StopGrace plus
// run.teardown_timeout (see StopDeadline).
const StopGrace = 5 * time.Second

// Teardown runs the scenario's teardown steps, even when the caller's
// context is done, each under its own deadline (run.teardown_step_timeout)
// and all within run.teardown_timeout and by the deadline given (zero: no
// more than that). Every step runs while time is left; a step that finds
// none is not started and is reported. The errors are joined.
func (e *Engine) Teardown(sc *config.Scenario, by time.Time) error {
	total := time.Now().Add(e.teardownTimeout())
	if by.IsZero() || by.After(total) {
		by = total
	}
	step := e.cfg.Run.TeardownStepTimeout.D
	if step <= 0 {
		step = config.DefaultTeardownStepTimeout
	}
	run := func(what string, f func(ctx context.Context) error) error {
		left := time.Until(by)
		if left <= 0 {
			return fmt.Errorf("%s: not run: the teardown's %s were spent", what, e.teardownTimeout())
		}
		ctx, cancel := context.WithTimeout(context.Background(), min(left, step))
		defer cancel()
		e.activity.set(sc.Name, fmt.Sprintf("teardown of scenario %s, %s (deadline in %s)", sc.Name, what, min(left, step).Round(time.Second)))
		defer e.activity.set(sc.Name, "")
		return f(ctx)
	}
	var errs []error
	for i, st := range sc.Teardown {
		what := fmt.Sprintf("teardown[%d]", i)
		if err := run(what, func(ctx context.Context) error { return e.step(ctx, sc, st, 0) }); err != nil && !st.IgnoreErrors {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	for _, t := range e.topics.take(sc.Name) {
		// Newest first would matter only to dependent topics; each gets its
		// own deadline.
		what := fmt.Sprintf("delete topic %s", t.topic)
		errs = append(errs, run(what, func(ctx context.Context) error { return e.dropTopic(ctx, t) }))
	}
	return errors.Join(errs...)
}

// step runs a setup or teardown step. A statement cut short (a stop,
// the step's deadline) is cancelled on the server and waited for, wait at
// most, so that the steps after it (teardown, after a setup cut by a
// stop) see its outcome; with no wait (teardown, whose deadlines bound a
// stop) it is left to the server.
func (e *Engine) step(ctx context.Context, sc *config.Scenario, st config.Step, wait time.Duration) error {
	name := st.Target
	if name == "" {
		name = sc.Target
	}
	switch {
	case st.Topic != nil:
		return e.topicStep(ctx, sc, name, st.Topic)
	case st.Load != nil, st.TPCH != nil:
		return e.loadStep(ctx, sc, name, st)
	}
	pg, err := e.targets.Postgres(name)
	if err != nil {
		return err
	}
	c, err := pg.ConnectCancelling(ctx, wait)
	if err != nil {
		return fmt.Errorf("target %s: %w", name, err)
	}
	defer c.Close(context.Background())
	// The simple protocol runs several statements in one string.
	for _, q := range st.SQL {
		if _, err := c.PgConn().Exec(ctx, q).ReadAll(); err != nil {
			return err
		}
	}
	return nil
}

// phases runs the load phases in order.
func (e *Engine) phases(ctx context.Context, sc *config.Scenario, it *Iteration, log *slog.Logger) error {
	for i := range sc.Phases {
		ph := sc.Phases[i]
		name := sc.PhaseName(i)
		var err error
		// A sweep or probe cut short keeps the steps it made.
		switch {
		case ph.Sweep != nil:
			var sw *Sweep
			if sw, err = e.sweepPhase(ctx, sc, name, ph.Sweep, log); sw != nil {
				it.Sweeps = append(it.Sweeps, *sw)
			}
		case ph.Probe != nil:
			var pr *Probe
			if pr, err = e.probePhase(ctx, sc, name, ph.Probe, log); pr != nil {
				it.Probes = append(it.Probes, *pr)
			}
		case ph.Load != nil:
			var results []metrics.Result
			if results, err = e.loadPhase(ctx, sc, name, ph.Load, log); err == nil {
				it.Results = append(it.Results, results...)
				for _, a := range ph.Load.Actions {
					it.Reported[a.Name] = a.Reported()
				}
			}
		}
		if err != nil {
			return fmt.Errorf("phase %s: %w", name, err)
		}
	}
	return nil
}

// prepared is an action ready to run: its runner, loop and recorder.
type prepared struct {
	a      *config.Action
	run    action.Runner
	pacer  pace.Pacer
	cap    int
	seed   uint64
	rec    *metrics.Recorder
	worker int
}

// window applies the run's overrides (run.duration, run.warmup) to a
// phase's duration and warm-up; a warm-up that would fill the whole phase
// is dropped.
func (e *Engine) window(d, warmup time.Duration) (time.Duration, time.Duration) {
	if e.cfg.Run.Duration.D > 0 {
		d = e.cfg.Run.Duration.D
	}
	if e.cfg.Run.Warmup != nil {
		warmup = e.cfg.Run.Warmup.D
	}
	if warmup >= d {
		warmup = 0
	}
	return d, warmup
}

func (e *Engine) loadPhase(ctx context.Context, sc *config.Scenario, name string, l *config.LoadPhase, log *slog.Logger) ([]metrics.Result, error) {
	d, warmup := e.window(l.Duration.D, l.Warmup.D)
	drain := config.DefaultDrain
	if l.Drain != nil {
		drain = l.Drain.D
	}
	var ps []*prepared
	defer func() {
		for _, p := range ps {
			p.run.Close()
			// An action's own figures (Kafka's end-to-end latency and
			// counts) are complete once it is closed.
			if f, ok := p.run.(action.Figurer); ok {
				if figs := f.Figures(); len(figs) > 0 {
					if e.figures == nil {
						e.figures = map[string][]action.Figure{}
					}
					e.figures[p.a.Name] = append(e.figures[p.a.Name], figs...)
				}
			}
		}
	}()
	for i := range l.Actions {
		a := &l.Actions[i]
		p := &prepared{a: a}
		env := action.Env{Scenario: sc.Name, Action: a.Name, Target: sc.TargetOf(a), Targets: e.targets, Log: log, Metrics: e.m,
			SetupTimeout: e.cfg.Run.SetupTimeout.D}
		if a.Open != nil {
			spec := a.Open.Spec
			if r, ok := e.cfg.Run.Rates[sc.Name][a.Name]; ok {
				spec.Rate = r
			}
			pc, err := pace.New(spec)
			if err != nil {
				return nil, fmt.Errorf("action %s: %w", a.Name, err)
			}
			p.pacer = pc
			g := sc.Guarantees[a.Name]
			peak := pace.Peak(pc, d)
			p.cap = a.Open.MaxInflight
			if p.cap == 0 {
				p.cap = config.DefaultMaxInflight(peak, g)
			}
			env.Connections = config.DefaultConnections(peak, g, p.cap)
			p.seed = a.Open.Seed
			if p.seed == 0 {
				p.seed = rand.Uint64()
			}
			env.Open, env.Slots = true, p.cap
			e.m.InflightMax.WithLabelValues(sc.Name, a.Name).Set(float64(p.cap))
		} else {
			p.worker = max(a.Closed.Concurrency, 1)
			env.Slots = p.worker
		}
		run, err := action.Kinds.Build(ctx, a, env)
		if err != nil {
			return nil, fmt.Errorf("action %s: %w", a.Name, err)
		}
		run = e.msgs.wrap(sc.Name, a.Name, run)
		p.run = run
		ps = append(ps, p)
	}

	active := e.m.PhaseActive.WithLabelValues(sc.Name, name)
	active.Set(1)
	defer active.Set(0)
	start := time.Now()
	log.Info("phase started", "phase", name, "duration", d, "warmup", warmup, "actions", len(ps))
	e.activity.set(sc.Name, fmt.Sprintf("phase %s of scenario %s: its calls in flight", name, sc.Name))
	defer e.activity.set(sc.Name, "")
	phase := loadgen.Phase{Start: start, Duration: d, Drain: drain}
	for _, p := range ps {
		p.rec = e.m.NewRecorder(sc.Name, p.a.Name, start, warmup)
		if p.pacer != nil {
			p.rec.SetSchedule(pace.MeanRate(p.pacer, warmup, d))
			phase.Open = append(phase.Open, openOf(p.pacer, seeded(p.seed), p.cap, p.run, p.rec))
		} else {
			phase.Closed = append(phase.Closed, closedOf(p.worker, p.run, p.rec))
		}
	}
	// One scheduler paces every open loop of the phase; a watcher reads
	// the recorders for progress meanwhile.
	stopWatch := e.watch(sc.Name, name, start, d, warmup, ps, log)
	loadgen.Run(ctx, phase)
	stopWatch()
	end := start.Add(d)
	out := make([]metrics.Result, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.rec.Result(end))
	}
	return out, nil
}

// judge decides pass or fail from the guarantees. An action that made calls
// but had not one succeed makes the iteration an error: its numbers
// describe a broken target, not performance. So does a generator that was
// late or fell behind its schedule so that it decided a verdict (see
// guarantee.GeneratorFault): its verdicts would blame the target for
// pbenchd's own lateness, or credit it with load it was never offered.
func (e *Engine) judge(sc *config.Scenario, it *Iteration) string {
	result := Pass
	var faults []error
	for i := range it.Results {
		r := &it.Results[i]
		r.GeneratorFault = guarantee.GeneratorFault(sc.Guarantees[r.Action], *r)
		if r.GeneratorFault != "" && it.Reported[r.Action] {
			faults = append(faults, fmt.Errorf("action %s: %s", r.Action, r.GeneratorFault))
		}
	}
	defer func() {
		if len(faults) > 0 {
			it.Err = errors.Join(append(faults, it.Err)...)
		}
	}()
	for _, c := range it.Checks {
		if !c.Match {
			result = Fail
		}
	}
	if err := probesErr(it.Probes); err != nil {
		it.Err = err
		return Error
	}
	for _, r := range it.Results {
		if !it.Reported[r.Action] {
			continue
		}
		if r.OK == 0 && r.Failed > 0 {
			it.Err = fmt.Errorf("action %s: all %d calls failed", r.Action, r.Failed)
			return Error
		}
		g, ok := sc.Guarantees[r.Action]
		if !ok {
			continue
		}
		for _, v := range append(guarantee.Check(g, r), figureVerdicts(r.Action, g, it.Figures[r.Action])...) {
			it.Verdicts = append(it.Verdicts, v)
			if !v.OK {
				result = Fail
			}
		}
	}
	if len(faults) > 0 {
		return Error
	}
	return result
}

// export publishes an iteration's results and verdicts as gauges. Only an
// iteration with a verdict (pass or fail) does: one that ended in an
// error leaves the last judged results in place, so nothing re-counts them
// as a new breach; it is counted, and timestamped, as an error.
func (e *Engine) export(sc *config.Scenario, it *Iteration) {
	m := e.m
	m.Export.Lock()
	defer m.Export.Unlock()
	judged := it.Result == Pass || it.Result == Fail
	if judged {
		e.exportResults(sc, it)
		e.exportProbes(sc.Name, it.Probes)
	}
	// Whether the generator was at fault is exported whatever the result:
	// it is why such an iteration is an error.
	for _, r := range it.Results {
		fault := 0.0
		if r.GeneratorFault != "" {
			fault = 1
		}
		m.GeneratorFault.WithLabelValues(sc.Name, r.Action).Set(fault)
	}
	// The iteration's timestamp last: a scrape that sees the new timestamp
	// sees the new results too.
	m.Iterations.WithLabelValues(sc.Name, it.Result).Inc()
	m.IterationDuration.WithLabelValues(sc.Name).Set(it.End.Sub(it.Start).Seconds())
	ts := float64(it.End.UnixNano()) / 1e9
	if judged {
		m.LastJudged.WithLabelValues(sc.Name).Set(ts)
	}
	m.LastIteration.WithLabelValues(sc.Name).Set(ts)
}

func (e *Engine) exportResults(sc *config.Scenario, it *Iteration) {
	m := e.m
	for _, r := range it.Results {
		m.ResultQPS.WithLabelValues(sc.Name, r.Action).Set(r.QPS)
		m.ResultServedQPS.WithLabelValues(sc.Name, r.Action).Set(r.ServedQPS)
		if r.Open {
			m.ResultOfferedQPS.WithLabelValues(sc.Name, r.Action).Set(r.OfferedQPS)
			m.ResultGeneratorLag.WithLabelValues(sc.Name, r.Action, "p99").Set(r.GeneratorLagP99)
			m.ResultGeneratorLag.WithLabelValues(sc.Name, r.Action, "max").Set(r.GeneratorLagMax)
		}
		for _, s := range metrics.Stats {
			m.ResultLatency.WithLabelValues(sc.Name, r.Action, s).Set(r.SLO.Stat(s))
			m.ResultSuccessLatency.WithLabelValues(sc.Name, r.Action, s).Set(r.Success.Stat(s))
		}
		m.ResultSlope.WithLabelValues(sc.Name, r.Action).Set(r.SLO.Slope)
		m.ResultSuccessSlope.WithLabelValues(sc.Name, r.Action).Set(r.Success.Slope)
		m.ResultErrorRatio.WithLabelValues(sc.Name, r.Action).Set(r.ErrorRatio)
		m.ResultCalls.WithLabelValues(sc.Name, r.Action).Set(float64(r.Calls))
		m.ResultEvents.WithLabelValues(sc.Name, r.Action).Set(float64(r.Events))
		m.ResultDropped.WithLabelValues(sc.Name, r.Action).Set(float64(r.Dropped))
	}
	// Guarantees are published afresh, so one removed from the config
	// (reload) does not linger.
	m.ForgetGuarantees(sc.Name)
	for an, g := range sc.Guarantees {
		guarantee.Export(m, sc.Name, an, g)
	}
	for _, v := range it.Verdicts {
		ok := 0.0
		if v.OK {
			ok = 1
		}
		m.GuaranteeOK.WithLabelValues(sc.Name, v.Action, v.Stat).Set(ok)
	}
}

// IterationJSON is an iteration as the HTTP API shows it.
type IterationJSON struct {
	Scenario string              `json:"scenario"`
	Vars     map[string]any      `json:"vars,omitempty"`
	Start    time.Time           `json:"start"`
	End      time.Time           `json:"end"`
	Result   string              `json:"result"`
	Error    string              `json:"error,omitempty"`
	Actions  []ActionJSON        `json:"actions"`
	Verdicts []guarantee.Verdict `json:"verdicts"`
	Sweeps   []SweepJSON         `json:"sweeps,omitempty"`
	Probes   []ProbeJSON         `json:"probes,omitempty"`
	Checks   []CheckJSON         `json:"checks,omitempty"`
	// Messages are the first message of each error class per action.
	Messages []Message `json:"messages,omitempty"`
}

// CheckJSON is a check's result.
type CheckJSON struct {
	Name    string   `json:"name"`
	Match   bool     `json:"match"`
	Rows    int      `json:"rows"`
	Missing []string `json:"missing,omitempty"`
	Extra   []string `json:"extra,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// SweepJSON is a sweep phase's result.
type SweepJSON struct {
	Phase  string       `json:"phase"`
	Action string       `json:"action"`
	Steps  []ActionJSON `json:"steps"`
	// Concurrency of each step, in order.
	Concurrency []int `json:"concurrency"`
}

// ActionJSON is one action's result, durations in seconds. The latency
// figures and slope at the top level are the judged (SLO) ones: over every
// event, a bad one counted as slower than any limit, +Inf when a
// statistic's rank falls on a bad event ("+Inf" in JSON), null when there
// was nothing to measure; Success has the same figures over successful
// calls only.
type ActionJSON struct {
	Action     string        `json:"action"`
	Reported   bool          `json:"reported"`
	Open       bool          `json:"open,omitempty"`
	Events     int64         `json:"events"`
	Calls      int64         `json:"calls"`
	Failed     int64         `json:"failed"`
	Dropped    int64         `json:"dropped"`
	Missed     int64         `json:"missed,omitempty"`
	Retries    int64         `json:"retries"`
	QPS        float64       `json:"qps"`
	ServedQPS  float64       `json:"served_qps"`
	OfferedQPS float64       `json:"offered_qps,omitempty"`
	Rate       float64       `json:"rate,omitempty"`
	P50        metrics.Float `json:"p50"`
	P95        metrics.Float `json:"p95"`
	P99        metrics.Float `json:"p99"`
	Max        metrics.Float `json:"max"`
	Avg        metrics.Float `json:"avg"`
	Slope      metrics.Float `json:"slope"`
	Success    LatencyJSON   `json:"success"`
	ErrorRatio float64       `json:"error_ratio"`
	// GeneratorLagP99 and GeneratorLagMax are how late the generator took
	// open-loop arrivals up; GeneratorFault says why it, not the target, is
	// to blame for the iteration.
	GeneratorLagP99 metrics.Float `json:"generator_lag_p99,omitempty"`
	GeneratorLagMax metrics.Float `json:"generator_lag_max,omitempty"`
	GeneratorFault  string        `json:"generator_fault,omitempty"`
	// Lanes is the most scheduler threads (lanes) that handed out an
	// open loop's arrivals at once: 1, more when the loop split.
	Lanes        int              `json:"lanes,omitempty"`
	ErrorClasses map[string]int64 `json:"error_classes,omitempty"`
	// Window is the measured time, in seconds, that QPS is over.
	Window float64 `json:"window"`
	// LatencyHDR is the distribution of the successful calls' latencies,
	// in HdrHistogram's standard encoding (V2 compressed, base64; values
	// in nanoseconds), so that results merge exactly (with events and the
	// bad counts, the judged figures too); "" when no call succeeded.
	LatencyHDR string `json:"latency_hdr,omitempty"`
	// Figures are the action kind's own (kafka_consume: e2e_p50, e2e_p99,
	// e2e_max in seconds; records, missing, duplicate, foreign).
	Figures map[string]float64 `json:"figures,omitempty"`
}

// LatencyJSON is a set of latency figures, in seconds.
type LatencyJSON struct {
	Min   metrics.Float `json:"min"`
	P50   metrics.Float `json:"p50"`
	P95   metrics.Float `json:"p95"`
	P99   metrics.Float `json:"p99"`
	Max   metrics.Float `json:"max"`
	Avg   metrics.Float `json:"avg"`
	Slope metrics.Float `json:"slope"`
}

// JSON returns the API view of the iteration.
func (it *Iteration) JSON() IterationJSON {
	out := IterationJSON{Scenario: it.Scenario, Vars: it.Vars, Start: it.Start, End: it.End, Result: it.Result, Verdicts: it.Verdicts, Messages: it.Messages}
	if it.Err != nil {
		out.Error = it.Err.Error()
	}
	for _, r := range it.Results {
		aj := actionJSON(r, it.Reported[r.Action])
		if figs := it.Figures[r.Action]; len(figs) > 0 {
			aj.Figures = map[string]float64{}
			for _, f := range figs {
				aj.Figures[f.Name] = f.Value
			}
		}
		out.Actions = append(out.Actions, aj)
	}
	for _, c := range it.Checks {
		cj := CheckJSON{Name: c.Name, Match: c.Match, Rows: c.Rows, Missing: c.Missing, Extra: c.Extra}
		if c.Err != nil {
			cj.Error = c.Err.Error()
		}
		out.Checks = append(out.Checks, cj)
	}
	for _, sw := range it.Sweeps {
		sj := SweepJSON{Phase: sw.Phase, Action: sw.Action}
		for _, st := range sw.Steps {
			sj.Concurrency = append(sj.Concurrency, st.Concurrency)
			sj.Steps = append(sj.Steps, actionJSON(st.Result, false))
		}
		out.Sweeps = append(out.Sweeps, sj)
	}
	for _, p := range it.Probes {
		out.Probes = append(out.Probes, p.JSON())
	}
	return out
}

func latencyJSON(l metrics.Latency) LatencyJSON {
	f := func(v float64) metrics.Float { return metrics.Float(v) }
	return LatencyJSON{Min: f(l.Min), P50: f(l.P50), P95: f(l.P95), P99: f(l.P99), Max: f(l.Max), Avg: f(l.Avg), Slope: f(l.Slope)}
}

func actionJSON(r metrics.Result, reported bool) ActionJSON {
	slo := latencyJSON(r.SLO)
	a := ActionJSON{
		Action: r.Action, Reported: reported, Open: r.Open, Events: r.Events, Calls: r.Calls, Failed: r.Failed,
		Dropped: r.Dropped, Missed: r.Missed, Retries: r.Retries, QPS: r.QPS, ServedQPS: r.ServedQPS,
		OfferedQPS: r.OfferedQPS, Rate: r.Rate,
		P50: slo.P50, P95: slo.P95, P99: slo.P99, Max: slo.Max, Avg: slo.Avg, Slope: slo.Slope,
		Success: latencyJSON(r.Success), ErrorRatio: r.ErrorRatio, ErrorClasses: r.ErrorClasses,
		Window: r.Window.Seconds(), LatencyHDR: metrics.EncodeHDR(r.Hist),
	}
	if r.Open {
		a.GeneratorLagP99, a.GeneratorLagMax = metrics.Float(r.GeneratorLagP99), metrics.Float(r.GeneratorLagMax)
		a.GeneratorFault = r.GeneratorFault
	}
	a.Lanes = r.Lanes // 0, left out, for a closed loop
	return a
}
