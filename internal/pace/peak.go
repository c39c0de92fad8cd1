package pace

import "time"

// Peak returns the highest mean rate p reaches over the offsets [0, d]:
// the largest of Mean at both ends and at 4096 equal steps between (exact
// for constant and linear shapes, whose extremes are at the ends, and for
// steps longer than d/4096).
func Peak(p Pacer, d time.Duration) float64 {
	const steps = 4096
	peak := max(p.Mean(0), p.Mean(max(d-1, 0)))
	for i := 1; i < steps; i++ {
		peak = max(peak, p.Mean(time.Duration(float64(d)*float64(i)/steps)))
	}
	return peak
}
