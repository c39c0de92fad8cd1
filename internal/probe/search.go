// Package probe owns capacity probes: the search over offered rates for the
// highest one a target serves inside its SLO. The search is a pure state
// machine (it never sleeps, runs nothing and reads no clock): the engine
// asks it for the next rate, runs a step of an open loop at that rate,
// judges the step with the same verdicts as any iteration, and tells the
// search the outcome. The search grows the rate geometrically until a step
// breaks the SLO (or the ceiling holds), then bisects geometrically between
// the highest rate that held and the lowest that broke until the two are
// within the configured precision of each other.
package probe

import (
	"errors"
	"fmt"
	"math"
)

// Outcome is how one step of a probe ended.
type Outcome int

const (
	// Held: the target served the step's rate inside the SLO.
	Held Outcome = iota
	// Broke: the SLO was broken at the step's rate.
	Broke
	// GeneratorLimited: pbenchd itself could not offer the step's rate
	// (its own lag or saturation was significant). The step says nothing
	// about the target, so it ends the probe.
	GeneratorLimited
)

// String names the outcome as results and logs show it.
func (o Outcome) String() string {
	switch o {
	case Held:
		return "held"
	case Broke:
		return "broke"
	case GeneratorLimited:
		return "generator_limited"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Why a probe ended.
const (
	// Converged: the highest rate that held and the lowest that broke are
	// within the precision of each other.
	Converged = "converged"
	// Ceiling: the ceiling itself held; the capacity is at least that.
	Ceiling = "ceiling"
	// BelowFloor: every rate down to the floor broke.
	BelowFloor = "below_floor"
	// Generator: a step was limited by pbenchd, not by the target; the
	// capacity found so far is only a lower bound.
	Generator = "generator_limited"
	// StepLimit: the search used its allowed number of steps.
	StepLimit = "step_limit"
)

// Config bounds a search. Rates are arrivals per second.
type Config struct {
	// Start is the first rate tried; must be positive.
	Start float64
	// Ceiling is the highest rate tried; at least Start.
	Ceiling float64
	// Precision is the relative width at which the search stops: it ends
	// when (lowest broken − highest held) ≤ Precision × highest held. In
	// (0, 1); 0 means 0.05.
	Precision float64
	// Growth is the factor between two rates while no step has broken
	// (and the divisor while no step has held); greater than 1; 0 means 2.
	Growth float64
	// Floor is the lowest rate tried when even Start breaks; 0 means
	// Start / 100.
	Floor float64
	// Confirm is how many times a step that broke is run again at the same
	// rate before the search takes it as broken; it holds if any run
	// held. A transient of the machine or the target (a checkpoint, a
	// noisy neighbour) then does not end the growth early. 0 runs each
	// rate once.
	Confirm int
	// MaxSteps bounds the number of steps; 0 means MaxStepsFor(…) of the
	// other settings, the most the search can need.
	MaxSteps int
}

// withDefaults fills the zero values and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.Precision == 0 {
		c.Precision = 0.05
	}
	if c.Growth == 0 {
		c.Growth = 2
	}
	if c.Floor == 0 {
		c.Floor = c.Start / 100
	}
	var errs []error
	if !(c.Start > 0) || math.IsInf(c.Start, 0) {
		errs = append(errs, fmt.Errorf("start: %g must be a positive rate", c.Start))
	}
	if !(c.Ceiling >= c.Start) || math.IsInf(c.Ceiling, 0) {
		errs = append(errs, fmt.Errorf("ceiling: %g must be at least the start rate %g", c.Ceiling, c.Start))
	}
	if !(c.Precision > 0 && c.Precision < 1) {
		errs = append(errs, fmt.Errorf("precision: %g must be between 0 and 1 (exclusive)", c.Precision))
	}
	if !(c.Growth > 1) || math.IsInf(c.Growth, 0) {
		errs = append(errs, fmt.Errorf("growth: %g must be greater than 1", c.Growth))
	}
	if c.Start > 0 && !(c.Floor > 0 && c.Floor <= c.Start) {
		errs = append(errs, fmt.Errorf("floor: %g must be positive and at most the start rate %g", c.Floor, c.Start))
	}
	if c.Confirm < 0 {
		errs = append(errs, fmt.Errorf("confirm: %d must not be negative", c.Confirm))
	}
	if c.MaxSteps < 0 {
		errs = append(errs, fmt.Errorf("max_steps: %d must not be negative", c.MaxSteps))
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	if c.MaxSteps == 0 {
		c.MaxSteps = MaxStepsFor(c)
	}
	return c, nil
}

// MaxStepsFor is the most steps a search with these settings can take
// (defaults applied): the geometric walk from Start to the ceiling (or down
// to the floor), then the bisection of one growth factor's width down to
// the precision.
//
// Growing takes at most ⌈log_g(Ceiling/Start)⌉ steps after the first;
// shrinking at most ⌈log_g(Start/Floor)⌉. Either ends with one interval
// [held, broke] of ratio g (or less: the ceiling or floor clip it), and each
// geometric bisection halves the interval's log-width, so ⌈log2(ln g /
// ln(1+p))⌉ bisections bring the ratio to 1+p or less. Each rate may be
// run 1+Confirm times.
func MaxStepsFor(c Config) int {
	walk := math.Max(math.Log(c.Ceiling/c.Start), math.Log(c.Start/c.Floor)) / math.Log(c.Growth)
	bisect := math.Log2(math.Log(c.Growth) / math.Log1p(c.Precision))
	rates := 1 + int(math.Ceil(walk-1e-9)) + max(int(math.Ceil(bisect-1e-9)), 0)
	return rates * (1 + c.Confirm)
}

// Step is one rate tried and how it ended.
type Step struct {
	Rate    float64
	Outcome Outcome
}

// Result is what a finished (or stopped) search found.
type Result struct {
	// Capacity is the highest rate that held; 0 when none did.
	Capacity float64
	// Broke is the lowest rate that broke; 0 when none did.
	Broke float64
	// Reason says why the search ended (Converged, Ceiling, BelowFloor,
	// Generator, StepLimit), or "" while it has not.
	Reason string
	// Steps lists every step in the order tried.
	Steps []Step
}

// Search is one capacity search. Not safe for concurrent use.
type Search struct {
	cfg         Config
	held, broke float64 // highest held, lowest broken; 0 = none yet
	steps       []Step
	reason      string
	pending     float64 // the rate Next returned and Observe awaits
	retry       float64 // a rate that broke and is to be run again
	tries       int     // runs of retry that broke so far
}

// New starts a search; a bad config is an error naming each bad field.
func New(c Config) (*Search, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Search{cfg: c}, nil
}

// Config returns the search's settings with defaults applied.
func (s *Search) Config() Config { return s.cfg }

// Next returns the rate of the next step, or ok false when the search has
// ended. Calling it again before Observe returns the same rate.
func (s *Search) Next() (rate float64, ok bool) {
	if s.reason != "" {
		return 0, false
	}
	if s.pending > 0 {
		return s.pending, true
	}
	switch {
	case s.retry > 0:
		rate = s.retry
	case s.held == 0 && s.broke == 0:
		rate = s.cfg.Start
	case s.broke == 0: // only held so far: grow
		if s.held >= s.cfg.Ceiling {
			s.reason = Ceiling
			return 0, false
		}
		rate = math.Min(s.held*s.cfg.Growth, s.cfg.Ceiling)
	case s.held == 0: // only broken so far: shrink
		if s.broke <= s.cfg.Floor {
			s.reason = BelowFloor
			return 0, false
		}
		rate = math.Max(s.broke/s.cfg.Growth, s.cfg.Floor)
	default:
		if s.broke-s.held <= s.cfg.Precision*s.held {
			s.reason = Converged
			return 0, false
		}
		// The geometric midpoint halves the interval's relative width,
		// which is what the precision bounds.
		rate = math.Sqrt(s.held * s.broke)
	}
	if len(s.steps) >= s.cfg.MaxSteps {
		s.reason = StepLimit
		return 0, false
	}
	s.pending = rate
	return rate, true
}

// Observe records how the step at rate ended. rate must be the one Next
// returned; anything else is a programming mistake.
func (s *Search) Observe(rate float64, o Outcome) {
	if s.pending == 0 || rate != s.pending {
		panic(fmt.Sprintf("probe: Observe(%g) without Next returning it (pending %g)", rate, s.pending))
	}
	s.pending = 0
	s.steps = append(s.steps, Step{Rate: rate, Outcome: o})
	if o != Broke {
		s.retry, s.tries = 0, 0
	}
	switch o {
	case Held:
		s.held = math.Max(s.held, rate)
	case Broke:
		if s.retry != rate {
			s.retry, s.tries = rate, 0
		}
		s.tries++
		if s.tries <= s.cfg.Confirm {
			return // run it again before believing it
		}
		s.retry, s.tries = 0, 0
		if s.broke == 0 || rate < s.broke {
			s.broke = rate
		}
	case GeneratorLimited:
		s.reason = Generator
	}
}

// Result returns what the search has found so far.
func (s *Search) Result() Result {
	return Result{Capacity: s.held, Broke: s.broke, Reason: s.reason, Steps: append([]Step(nil), s.steps...)}
}
