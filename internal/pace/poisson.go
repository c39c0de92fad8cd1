package pace

import (
	"errors"
	"math/rand/v2"
	"time"
)

func init() { register("poisson", newPoisson) }

// poisson is a Poisson process: independent users arriving at random, gaps
// exponentially distributed with mean 1/rate:
//
//	t_n = t_{n-1} + Exp(rate),   t_{-1} = 0
//
// The first arrival is also drawn, not put at the phase start: the process
// is memoryless, so this makes the count in every window, the first one
// included, Poisson distributed with mean rate·length.
type poisson struct{ rate Rate }

var _ Pacer = poisson{}

func newPoisson(s Spec) (Pacer, error) {
	if err := errors.Join(checkRate("rate", s.Rate), checkUnused(s, "poisson", "rate")); err != nil {
		return nil, err
	}
	return poisson{s.Rate}, nil
}

// Next returns prev plus an exponential gap drawn from rng.
func (p poisson) Next(_ uint64, prev time.Duration, rng *rand.Rand) time.Duration {
	return after(prev, rng.ExpFloat64()*p.rate.gap())
}

// Mean returns the rate.
func (p poisson) Mean(time.Duration) float64 { return p.rate.PerSecond() }

func (p poisson) String() string { return "poisson " + p.rate.String() }
