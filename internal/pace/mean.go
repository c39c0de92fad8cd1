package pace

import "time"

// ExpectedArrivals is the number of arrivals p's schedule expects in the
// offsets [from, to).
func ExpectedArrivals(p Pacer, from, to time.Duration) float64 {
	if to <= from {
		return 0
	}
	return MeanRate(p, from, to) * (to - from).Seconds()
}

// MeanRate is p's mean rate over the offsets [from, to): the average of
// Mean at the midpoints of 1024 equal steps, exact for a constant rate
// (the configured figure comes back bit for bit) and for linear pieces but
// for the steps that straddle a kink or a jump.
func MeanRate(p Pacer, from, to time.Duration) float64 {
	const steps = 1024
	h := float64(to-from) / steps
	var sum float64
	for i := range steps {
		sum += p.Mean(from + time.Duration((float64(i)+0.5)*h))
	}
	return sum / steps
}
