package engine

import (
	"time"

	"github.com/pbenchd/pbenchd/internal/config"
)

// ExpectedCycle is how long one pass of the daemon loop over every selected
// scenario is expected to take: for each scenario the duration of its last
// iteration (its configured phase time while it has none), plus the pause
// after it. The stall alert compares the time since a scenario's last
// iteration with a multiple of it, so a long --pause or a slow scenario
// never looks like a stuck daemon.
func ExpectedCycle(cfg *config.Config, last map[string]*Iteration) time.Duration {
	e := &Engine{cfg: cfg}
	var total time.Duration
	for _, sc := range cfg.Selected() {
		d := e.phaseTime(sc)
		if it := last[sc.Name]; it != nil && !it.Stopped {
			d = max(d, it.End.Sub(it.Start))
		}
		total += d + max(cfg.Run.Pause.D, 0)
	}
	return total
}

// phaseTime is the time a scenario's load and sweep phases are configured
// to take, drains included (setup, loads and teardown come on top).
func (e *Engine) phaseTime(sc *config.Scenario) time.Duration {
	var total time.Duration
	for _, ph := range sc.Phases {
		switch {
		case ph.Load != nil:
			d, _ := e.window(ph.Load.Duration.D, ph.Load.Warmup.D)
			drain := config.DefaultDrain
			if ph.Load.Drain != nil {
				drain = ph.Load.Drain.D
			}
			total += d + drain
		case ph.Sweep != nil:
			step, _ := e.window(ph.Sweep.Step.D, ph.Sweep.Warmup.D)
			total += time.Duration(len(ph.Sweep.Concurrency)) * step
		}
	}
	return total
}
