package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/target"
)

// ErrTargetDown is the error of an iteration that did not run because a
// target of its scenario did not answer the check before setup.
var ErrTargetDown = errors.New("target down")

// Backoff of a scenario whose target is down: the first retry after
// BackoffMin, doubling each time up to BackoffMax, and at once when the
// target is seen up again.
const (
	BackoffMin = 2 * time.Second
	BackoffMax = 2 * time.Minute
)

// downProbeInterval is how often the daemon checks a target that is down,
// so that it is seen up (and its scenarios resume) soon after it returns.
const downProbeInterval = time.Second

// SetHealth makes the engine's targets report their state to h, which the
// daemon keeps across reloads. Call it before the engine runs.
func (e *Engine) SetHealth(h *target.Health) {
	e.health = h
	e.targets.SetHealth(h)
}

// ScenarioTargets lists the targets a scenario uses, sorted.
func ScenarioTargets(sc *config.Scenario) []string {
	var out []string
	add := func(n string) {
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	add(sc.Target)
	for _, st := range append(slices.Clone(sc.Setup), sc.Teardown...) {
		add(st.Target)
	}
	for _, p := range sc.Phases {
		switch {
		case p.Load != nil:
			for i := range p.Load.Actions {
				add(sc.TargetOf(&p.Load.Actions[i]))
			}
		case p.Sweep != nil:
			add(sc.TargetOf(&p.Sweep.Action))
		case p.Probe != nil:
			add(sc.TargetOf(&p.Probe.Action))
		}
	}
	slices.Sort(out)
	return out
}

// pingTarget checks one target, bounded by its connect timeout.
func (e *Engine) pingTarget(ctx context.Context, name string) error {
	tc, ok := e.cfg.Targets[name]
	if !ok {
		return fmt.Errorf("%w %q", target.ErrUnknownTarget, name)
	}
	switch tc.Kind {
	case "postgres":
		pg, err := e.targets.Postgres(name)
		if err != nil {
			return err
		}
		return pg.Ping(ctx)
	case "kafka":
		k, err := e.targets.Kafka(name, e.log)
		if err != nil {
			return err
		}
		return k.Ping(ctx)
	}
	return nil
}

// precheck checks, side by side, every target of the scenario before its
// setup. A target that does not answer within its connect timeout makes
// the iteration an error at once (ErrTargetDown) instead of a setup and
// phases of failed calls. Only failures to connect or to answer in time
// count: a server that answers with an error (a missing database, bad
// credentials) is up, and setup reports what is wrong.
func (e *Engine) precheck(ctx context.Context, sc *config.Scenario) error {
	names := ScenarioTargets(sc)
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.pingTarget(ctx, n); target.IsDown(err) {
				errs[i] = fmt.Errorf("%w: %s: %w", ErrTargetDown, n, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
