package engine

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/target"
)

// ProbeInterval is how often the daemon checks that its targets answer.
const ProbeInterval = 10 * time.Second

// Daemon loops the selected scenarios until stopped, and swaps in a new
// configuration between two scenarios when asked to reload.
type Daemon struct {
	load func() (*config.Config, error)
	m    *metrics.Metrics
	log  *slog.Logger

	act    *Activity
	stopAt atomic.Pointer[time.Time]
	health *target.Health
	// backoff of scenarios whose target was down, by scenario.
	boMu    sync.Mutex
	backoff map[string]*backoff
	wake    chan struct{} // a target came back up

	mu    sync.RWMutex
	eng   *Engine
	ready atomic.Bool
	last  map[string]*Iteration

	// OnReload, if set, is called with every configuration a reload made
	// current.
	OnReload func(*config.Config)

	// OnIteration, if set, is called after every iteration.
	OnIteration func(*Iteration)
}

// NewDaemon makes a daemon from a loaded configuration; load reads the
// configuration again on reload.
func NewDaemon(cfg *config.Config, load func() (*config.Config, error), m *metrics.Metrics, log *slog.Logger) *Daemon {
	d := &Daemon{load: load, m: m, log: log, act: &Activity{}, last: map[string]*Iteration{},
		health: target.NewHealth(log), backoff: map[string]*backoff{}, wake: make(chan struct{}, 1)}
	d.health.OnUp = d.targetUp
	d.eng = d.newEngine(cfg)
	m.ReloadOK.Set(1)
	m.ReloadTime.Set(float64(time.Now().UnixNano()) / 1e9)
	return d
}

func (d *Daemon) newEngine(cfg *config.Config) *Engine {
	e := New(cfg, d.m, d.log)
	e.activity = d.act
	e.SetHealth(d.health)
	return e
}

// Activity says what the daemon is busy with (a teardown step, a phase's
// calls), for the answer to a second stop signal.
func (d *Daemon) Activity() *Activity { return d.act }

// StopDeadline is when a stop that came at t must be over (see
// Engine.StopDeadline), with the current configuration.
func (d *Daemon) StopDeadline(t time.Time) time.Time { return d.Engine().StopDeadline(t) }

// Engine returns the engine of the current configuration.
func (d *Daemon) Engine() *Engine {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.eng
}

// Ready reports whether the first scenario has started.
func (d *Daemon) Ready() bool { return d.ready.Load() }

// Reload reads the configuration again and, only if it is valid, makes it
// the one the next scenario runs with. The running scenario finishes with
// the configuration it started with.
func (d *Daemon) Reload() error {
	cfg, err := d.load()
	if err != nil {
		d.m.ReloadOK.Set(0)
		d.log.Error("config reload failed; keeping the running config", "err", err)
		return err
	}
	d.mu.Lock()
	old := d.eng.Config()
	d.eng = d.newEngine(cfg)
	for _, sc := range old.Selected() {
		if !slices.ContainsFunc(cfg.Selected(), func(n *config.Scenario) bool { return n.Name == sc.Name }) {
			d.m.ForgetScenario(sc.Name)
			delete(d.last, sc.Name)
		}
	}
	d.mu.Unlock()
	if d.OnReload != nil {
		d.OnReload(cfg)
	}
	d.m.ReloadOK.Set(1)
	d.m.ReloadTime.Set(float64(time.Now().UnixNano()) / 1e9)
	d.log.Info("config reloaded", "scenarios", len(cfg.Selected()))
	return nil
}

// Run loops the scenarios until ctx is done (or run.iterations passes are
// over), then tears down what "once" setup left in place. It returns nil on
// a stop: failures of targets are results, not errors of the daemon.
func (d *Daemon) Run(ctx context.Context) error {
	d.Engine().CleanStaging(ctx)
	go d.probe(ctx)
	defer context.AfterFunc(ctx, func() { now := time.Now(); d.stopAt.Store(&now) })()
	setUp := map[string]*config.Scenario{}
	var setUpEng = map[string]*Engine{}
	defer func() { d.teardownOnce(setUp, setUpEng) }()
	for pass := 1; ctx.Err() == nil; pass++ {
		eng := d.Engine()
		cfg := eng.Config()
		selected := cfg.Selected()
		if len(selected) == 0 {
			d.log.Warn("no scenario selected; waiting for a reload")
			sleep(ctx, cfg.Run.Pause.D+time.Second)
			continue
		}
		skipped := 0
		for i := 0; i < len(selected) && ctx.Err() == nil; i++ {
			eng = d.Engine()
			cfg = eng.Config()
			sc := cfg.Scenario(selected[i].Name)
			if sc == nil { // removed by a reload
				continue
			}
			d.m.CycleExpected.Set(d.expectedCycle(cfg).Seconds())
			if d.backingOff(sc.Name) {
				skipped++
				continue
			}
			st := Stage{Setup: true, Teardown: true}
			if cfg.Run.Setup == "once" {
				_, done := setUp[sc.Name]
				st = Stage{Setup: !done}
			}
			d.ready.Store(true)
			it := eng.Iterate(ctx, sc, st)
			if cfg.Run.Setup == "once" && st.Setup && it.SetupDone {
				setUp[sc.Name], setUpEng[sc.Name] = sc, eng
			}
			d.noteBackoff(it)
			d.logIteration(it)
			d.mu.Lock()
			// A reload during the iteration may have removed the scenario:
			// then its results must not come back.
			if d.eng.Config().Selects(it.Scenario) {
				d.last[it.Scenario] = it
			} else {
				d.m.ForgetScenario(it.Scenario)
			}
			d.mu.Unlock()
			if d.OnIteration != nil {
				d.OnIteration(it)
			}
			// Give the memory of a phase (its calls, their goroutines)
			// back to the system, so that RSS returns to its baseline
			// between scenarios.
			debug.FreeOSMemory()
			sleep(ctx, cfg.Run.Pause.D)
		}
		if skipped == len(selected) {
			// Every scenario waits for its target: not a pass.
			d.waitBackoff(ctx)
			pass--
			continue
		}
		if n := cfg.Run.Iterations; n > 0 && pass >= n {
			return nil
		}
	}
	return nil
}

// teardownOnce tears down, side by side, the scenarios that `setup: once`
// left set up, all within one teardown budget: by the stop's deadline
// after a stop signal, else run.teardown_timeout from now.
func (d *Daemon) teardownOnce(setUp map[string]*config.Scenario, engs map[string]*Engine) {
	if len(setUp) == 0 {
		return
	}
	var by time.Time
	if t := d.stopAt.Load(); t != nil {
		by = d.StopDeadline(*t)
	} else {
		by = time.Now().Add(d.Engine().Config().Run.TeardownTimeout.D)
	}
	var wg sync.WaitGroup
	for name, sc := range setUp {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := engs[name].Teardown(sc, by); err != nil {
				d.m.TeardownFailures.WithLabelValues(name).Inc()
				d.log.Warn("teardown failed", "scenario", name, "err", err)
			}
		}()
	}
	wg.Wait()
}

func (d *Daemon) logIteration(it *Iteration) {
	attrs := []any{"scenario", it.Scenario, "result", it.Result, "took", it.End.Sub(it.Start).Round(time.Millisecond)}
	for _, r := range it.Results {
		attrs = append(attrs, r.Action, slog.GroupValue(
			slog.Int64("calls", r.Calls), slog.Float64("qps", round2(r.QPS)),
			slog.Float64("p99", r.SLO.P99), slog.Float64("p99_success", r.Success.P99), slog.Int64("errors", r.Failed), slog.Int64("dropped", r.Dropped)))
	}
	switch {
	case it.Stopped:
		d.log.Info("iteration stopped", "scenario", it.Scenario)
		return
	case errors.Is(it.Err, ErrTargetDown):
		// Said once by the "target down" line; the scenario backs off.
		d.log.Debug("iteration not run: a target is down", append(attrs, "err", it.Err)...)
	case it.Err != nil && it.Result == Error:
		d.log.Error("iteration failed", append(attrs, "err", it.Err)...)
	case it.Result == Fail:
		// A field each (broken.action.stat=…), not one list run together.
		var broken []any
		for _, v := range it.Verdicts {
			if !v.OK {
				broken = append(broken, slog.String(v.Action+"."+v.Stat, v.String()))
			}
		}
		d.log.Warn("iteration broke guarantees", append(attrs, slog.Group("broken", broken...))...)
	default:
		d.log.Info("iteration finished", attrs...)
	}
}

func (d *Daemon) expectedCycle(cfg *config.Config) time.Duration {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return ExpectedCycle(cfg, d.last)
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// probe checks every target the selected scenarios use every
// ProbeInterval, so that pbenchd_target_up says the truth between
// scenarios too, and a target that is down every second, so that it is
// seen up (and its scenarios stop backing off) soon after it returns.
func (d *Daemon) probe(ctx context.Context) {
	t := time.NewTicker(downProbeInterval)
	defer t.Stop()
	var last time.Time
	for {
		eng := d.Engine()
		all := time.Since(last) >= ProbeInterval
		if all {
			last = time.Now()
		}
		var wg sync.WaitGroup
		for name := range eng.Config().Targets {
			if !eng.Config().Uses(name) {
				continue
			}
			if up, known := d.health.Up(name); !all && (up || !known) {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := eng.pingTarget(ctx, name); err != nil && ctx.Err() == nil {
					d.log.Debug("target probe failed", "target", name, "err", err)
				}
			}()
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// backoff is the state of a scenario whose target was down.
type backoff struct {
	fails int
	until time.Time
}

// noteBackoff starts or lengthens the scenario's backoff after an
// iteration that found a target down, and ends it after any other.
func (d *Daemon) noteBackoff(it *Iteration) {
	d.boMu.Lock()
	defer d.boMu.Unlock()
	if !errors.Is(it.Err, ErrTargetDown) {
		delete(d.backoff, it.Scenario)
		return
	}
	b := d.backoff[it.Scenario]
	if b == nil {
		b = &backoff{}
		d.backoff[it.Scenario] = b
	}
	b.fails++
	wait := BackoffMax
	if b.fails <= 16 {
		wait = min(BackoffMin<<(b.fails-1), BackoffMax)
	}
	b.until = time.Now().Add(wait)
	d.log.Debug("scenario backs off: a target is down", "scenario", it.Scenario, "retry_in", wait.String())
}

// backingOff reports whether the scenario waits for its target.
func (d *Daemon) backingOff(scenario string) bool {
	d.boMu.Lock()
	defer d.boMu.Unlock()
	b := d.backoff[scenario]
	return b != nil && time.Now().Before(b.until)
}

// targetUp ends the backoff of every scenario that uses the target.
func (d *Daemon) targetUp(name string) {
	cfg := d.Engine().Config()
	d.boMu.Lock()
	for scen := range d.backoff {
		if sc := cfg.Scenario(scen); sc == nil || slices.Contains(ScenarioTargets(sc), name) {
			delete(d.backoff, scen)
		}
	}
	d.boMu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// waitBackoff waits, when every scenario backs off, until the first may
// run again or a target comes back.
func (d *Daemon) waitBackoff(ctx context.Context) {
	d.boMu.Lock()
	var first time.Time
	for _, b := range d.backoff {
		if first.IsZero() || b.until.Before(first) {
			first = b.until
		}
	}
	d.boMu.Unlock()
	if first.IsZero() {
		return
	}
	t := time.NewTimer(max(time.Until(first), 0))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-d.wake:
	}
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Once runs every selected scenario one time, setup to teardown, and
// returns the iterations in order.
func Once(ctx context.Context, eng *Engine, each func(*Iteration)) []*Iteration {
	eng.CleanStaging(ctx)
	var out []*Iteration
	for _, sc := range eng.Config().Selected() {
		if ctx.Err() != nil {
			break
		}
		it := eng.Iterate(ctx, sc, Stage{Setup: true, Teardown: true})
		if each != nil {
			each(it)
		}
		out = append(out, it)
	}
	return out
}

// Results returns the last iteration of every scenario.
func (d *Daemon) Results() any {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := Results{Build: ThisBuild(), Results: map[string]IterationJSON{}}
	for n, it := range d.last {
		out.Results[n] = it.JSON()
	}
	return out
}
