package pace

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

func init() { register("gaussian", newGaussian) }

// gaussian is periodic arrival with jitter: the first arrival at the phase
// start, then gaps drawn from a normal distribution with mean 1/rate and
// standard deviation σ, truncated at 0 so that arrivals never go back in time:
//
//	t_0 = 0,   t_n = t_{n-1} + max(0, N(1/rate, σ²))
//
// Truncation raises the mean gap by σφ(μ/σ) − μΦ(−μ/σ) (μ = 1/rate): 0.0002%
// at the default σ = μ/4 and 0.4% at the largest allowed, σ = μ/2.
type gaussian struct {
	rate   Rate
	stddev time.Duration
}

var _ Pacer = gaussian{}

func newGaussian(s Spec) (Pacer, error) {
	rateErr := checkRate("rate", s.Rate)
	errs := []error{rateErr, checkUnused(s, "gaussian", "rate", "stddev")}
	stddev := s.Stddev
	switch {
	case stddev < 0:
		errs = append(errs, fmt.Errorf("stddev: %v must not be negative", stddev))
	case stddev == 0:
		stddev = s.Rate.Interval() / 4
	case rateErr == nil && 2*stddev > s.Rate.Interval():
		errs = append(errs, fmt.Errorf("stddev: %v is more than half the %v between arrivals at %v, "+
			"so truncating negative gaps would lower the rate", stddev, s.Rate.Interval(), s.Rate))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return gaussian{s.Rate, stddev}, nil
}

// Next returns 0 for n == 0 and otherwise prev plus a normal gap drawn from rng.
func (g gaussian) Next(n uint64, prev time.Duration, rng *rand.Rand) time.Duration {
	if n == 0 {
		return 0
	}
	return after(prev, max(0, g.rate.gap()+float64(g.stddev)*rng.NormFloat64()))
}

// Mean returns the rate.
func (g gaussian) Mean(time.Duration) float64 { return g.rate.PerSecond() }

func (g gaussian) String() string {
	return fmt.Sprintf("gaussian %v stddev %v", g.rate, g.stddev)
}
