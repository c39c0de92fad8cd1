// Package pace owns the arrival schedules of open loops: when each arrival of
// an action is meant to start, as a pure function of its index, plus the Rate
// type that config uses to say how often.
//
// A schedule never sleeps and never reads the clock. The engine asks a Pacer
// for the intended offset of arrival n from the start of the load phase,
// waits until then, and measures latency from that intended time, so a stall
// of the system under test shows in every arrival it delayed.
//
// Each arrival shape (periodic, poisson, …) lives in its own file and
// registers itself by name; New and config validation both ask that one
// registry, so adding a shape is adding a file.
package pace

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Pacer gives the intended start of every arrival of an open loop, relative
// to the start of the load phase.
type Pacer interface {
	// Next returns the intended offset from the phase start of arrival n
	// (n counts from 0), given prev, the offset returned for arrival n-1
	// (0 when n == 0). rng is used only by random shapes; deterministic
	// shapes ignore it and accept nil. Next is pure apart from drawing from
	// rng, so a schedule replays exactly from the same seed.
	Next(n uint64, prev time.Duration, rng *rand.Rand) time.Duration
	// Mean returns the expected number of arrivals per second at offset t,
	// for reports and validation.
	Mean(t time.Duration) float64
	// String describes the shape as a person would configure it,
	// such as "ramp 10/s to 100/s over 1m0s".
	String() string
}

// Spec is the user's description of an arrival shape, as decoded from YAML.
// Which fields apply depends on Arrivals; New rejects a field set for a shape
// that does not use it, so a spec switched from one shape to another does not
// silently keep half its meaning.
type Spec struct {
	// Arrivals names the shape: periodic (when empty), poisson, gaussian,
	// ramp or step; Kinds lists them.
	Arrivals string `koanf:"arrivals"`
	// Rate is the arrival rate; for ramp, the rate at the start of the ramp.
	// Not used by step.
	Rate Rate `koanf:"rate"`
	// Stddev is, for gaussian, the standard deviation of the gap between
	// arrivals. Zero means a quarter of the mean gap (1/Rate). It may be at
	// most half the mean gap, so that truncating negative gaps keeps the
	// mean rate within 0.5% of Rate.
	Stddev time.Duration `koanf:"stddev"`
	// To is, for ramp, the rate at the end of the ramp.
	To Rate `koanf:"to"`
	// Over is, for ramp, how long the rate takes to go from Rate to To;
	// after it, the rate stays at To. Must be positive.
	Over time.Duration `koanf:"over"`
	// Steps are, for step, the successive rates; at least one.
	Steps []Rate `koanf:"steps"`
	// Every is, for step, how long each step lasts; the last step
	// continues for the rest of the phase. Must be positive.
	Every time.Duration `koanf:"every"`
}

// defaultKind is the shape of a Spec whose Arrivals is empty.
const defaultKind = "periodic"

// builders is the registry of arrival shapes, filled by each shape's init.
var builders = map[string]func(Spec) (Pacer, error){}

// register adds an arrival shape. It panics on a duplicate name: two files
// claiming one name is a programming mistake.
func register(name string, build func(Spec) (Pacer, error)) {
	if _, dup := builders[name]; dup {
		panic(fmt.Sprintf("pace: arrival kind %q registered twice", name))
	}
	builders[name] = build
}

// Kinds returns the registered arrival kinds, sorted.
func Kinds() []string {
	return slices.Sorted(maps.Keys(builders))
}

// New validates spec and builds its Pacer. The error joins every problem
// found, each prefixed with the key of the field at fault, relative to the
// spec (such as `over: must be positive for ramp`).
func New(spec Spec) (Pacer, error) {
	kind := spec.Arrivals
	if kind == "" {
		kind = defaultKind
	}
	build, ok := builders[kind]
	if !ok {
		return nil, fmt.Errorf("arrivals: %q is not one of %s", spec.Arrivals, strings.Join(Kinds(), ", "))
	}
	return build(spec)
}

// checkRate reports a rate that is unset or, being made in code, not a
// positive finite number.
func checkRate(key string, r Rate) error {
	if r.IsZero() {
		return fmt.Errorf("%s: missing", key)
	}
	if f := r.PerSecond(); !(f > 0) || math.IsInf(f, 0) {
		return fmt.Errorf("%s: %q: a rate must be positive", key, r.String())
	}
	return nil
}

// checkUnused reports each field of s that kind does not read.
func checkUnused(s Spec, kind string, reads ...string) error {
	set := []struct {
		key string
		set bool
	}{
		{"rate", !s.Rate.IsZero()},
		{"stddev", s.Stddev != 0},
		{"to", !s.To.IsZero()},
		{"over", s.Over != 0},
		{"steps", len(s.Steps) > 0},
		{"every", s.Every != 0},
	}
	var errs []error
	for _, f := range set {
		if f.set && !slices.Contains(reads, f.key) {
			errs = append(errs, fmt.Errorf("%s: not used by %s arrivals", f.key, kind))
		}
	}
	return errors.Join(errs...)
}

// seconds converts an offset to seconds, treating the time before the phase
// as its start.
func seconds(t time.Duration) float64 {
	return max(t, 0).Seconds()
}

// nanos rounds ns to a Duration, saturating at the largest one, so that an
// arrival too far away to happen reads as "never" rather than overflowing
// into a negative offset.
func nanos(ns float64) time.Duration {
	if ns >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(math.Round(ns))
}

// after returns prev+gap nanoseconds, saturating like nanos.
func after(prev time.Duration, gap float64) time.Duration {
	d := nanos(gap)
	if d > math.MaxInt64-prev {
		return math.MaxInt64
	}
	return prev + d
}
