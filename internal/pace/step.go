package pace

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"
)

func init() { register("step", newStep) }

// step holds each rate r_k of Steps for E (Every), the last one forever:
//
//	r(t) = r_k  for k·E ≤ t < (k+1)·E,   k = min(⌊t/E⌋, K−1)
//
// Like ramp, arrival n is at the t where N(t) = ∫_0^t r(s) ds = n, so the
// rate changes at the step boundary itself rather than at the next arrival:
//
//	t_n = k·E + (n − C_k)/r_k,   C_k = E·(r_0 + … + r_{k−1}) ≤ n < C_{k+1}
type step struct {
	rates []Rate
	every time.Duration
	// before[k] is C_k, the count expected before step k.
	before []float64
}

var _ Pacer = step{}

func newStep(s Spec) (Pacer, error) {
	errs := []error{checkUnused(s, "step", "steps", "every")}
	if len(s.Steps) == 0 {
		errs = append(errs, errors.New("steps: missing"))
	}
	for i, r := range s.Steps {
		errs = append(errs, checkRate(fmt.Sprintf("steps[%d]", i), r))
	}
	if s.Every <= 0 {
		errs = append(errs, errors.New("every: must be positive for step"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	p := step{rates: slices.Clone(s.Steps), every: s.Every, before: make([]float64, len(s.Steps))}
	for k := 1; k < len(s.Steps); k++ {
		p.before[k] = p.before[k-1] + s.Steps[k-1].in(s.Every)
	}
	return p, nil
}

// Next returns the time at which n arrivals are expected; it ignores prev
// and rng.
func (p step) Next(n uint64, _ time.Duration, _ *rand.Rand) time.Duration {
	x := float64(n)
	k := sort.Search(len(p.before), func(i int) bool { return p.before[i] > x }) - 1
	return after(time.Duration(k)*p.every, (x-p.before[k])*p.rates[k].gap())
}

// Mean returns the rate of the step that t falls in.
func (p step) Mean(t time.Duration) float64 {
	k := min(max(t, 0)/p.every, time.Duration(len(p.rates)-1))
	return p.rates[k].PerSecond()
}

func (p step) String() string {
	rates := make([]string, len(p.rates))
	for i, r := range p.rates {
		rates[i] = r.String()
	}
	return fmt.Sprintf("step %s every %v", strings.Join(rates, ", "), p.every)
}
