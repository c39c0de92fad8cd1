package pace

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

func init() { register("ramp", newRamp) }

// ramp moves the rate linearly from r0 (Rate) to r1 (To) over T (Over), then
// holds it at r1:
//
//	r(t) = r0 + (r1 − r0)·t/T  for t < T,   r1 from T on
//
// Arrivals are periodic in the expected count: arrival n is at the t where
// N(t) = ∫_0^t r(s) ds = n, so the first is at the phase start and, to the
// nanosecond, ⌊N(t)⌋ arrivals follow it up to t. During the ramp
// N(t) = r0·t + a·t² with a = (r1 − r0)/2T, whose root is taken as
//
//	t_n = 2n / (r0 + √(r0² + 4a·n))
//
// a form with no cancellation whether the rate rises, falls or stays. After
// the ramp, t_n = T + (n − N(T))/r1, with N(T) = (r0 + r1)·T/2.
type ramp struct {
	from, to Rate
	over     time.Duration
	// r0 is per nanosecond, a per nanosecond squared and rampCount is
	// N(T), so that Next works in the unit it returns and computes
	// nothing twice.
	r0, a, rampCount float64
}

var _ Pacer = ramp{}

func newRamp(s Spec) (Pacer, error) {
	errs := []error{checkRate("rate", s.Rate), checkRate("to", s.To), checkUnused(s, "ramp", "rate", "to", "over")}
	if s.Over <= 0 {
		errs = append(errs, errors.New("over: must be positive for ramp"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	r0, r1 := s.Rate.count/float64(s.Rate.unit), s.To.count/float64(s.To.unit)
	return ramp{
		from: s.Rate, to: s.To, over: s.Over,
		r0:        r0,
		a:         (r1 - r0) / (2 * float64(s.Over)),
		rampCount: (s.Rate.in(s.Over) + s.To.in(s.Over)) / 2,
	}, nil
}

// Next returns the time at which n arrivals are expected; it ignores prev
// and rng.
func (p ramp) Next(n uint64, _ time.Duration, _ *rand.Rand) time.Duration {
	x := float64(n)
	if x <= p.rampCount {
		return nanos(2 * x / (p.r0 + math.Sqrt(p.r0*p.r0+4*p.a*x)))
	}
	return after(p.over, (x-p.rampCount)*p.to.gap())
}

// Mean returns r(t).
func (p ramp) Mean(t time.Duration) float64 {
	if t >= p.over {
		return p.to.PerSecond()
	}
	r0 := p.from.PerSecond()
	return r0 + (p.to.PerSecond()-r0)*seconds(t)/p.over.Seconds()
}

func (p ramp) String() string {
	return fmt.Sprintf("ramp %v to %v over %v", p.from, p.to, p.over)
}
