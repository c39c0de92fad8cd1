package pace

import (
	"errors"
	"math/rand/v2"
	"time"
)

func init() { register("periodic", newPeriodic) }

// periodic spaces arrivals exactly 1/rate apart, the first at the phase start:
//
//	t_n = n / rate
//
// computed from n alone, in nanoseconds as n·unit/count (for "5/m",
// n·60s/5), so there is no drift from summing rounded gaps.
type periodic struct{ rate Rate }

var _ Pacer = periodic{}

func newPeriodic(s Spec) (Pacer, error) {
	if err := errors.Join(checkRate("rate", s.Rate), checkUnused(s, "periodic", "rate")); err != nil {
		return nil, err
	}
	return periodic{s.Rate}, nil
}

// Next returns n/rate; it ignores prev and rng.
func (p periodic) Next(n uint64, _ time.Duration, _ *rand.Rand) time.Duration {
	return nanos(float64(n) * float64(p.rate.unit) / p.rate.count)
}

// Mean returns the rate.
func (p periodic) Mean(time.Duration) float64 { return p.rate.PerSecond() }

func (p periodic) String() string { return "periodic " + p.rate.String() }
