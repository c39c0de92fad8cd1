package pace

import (
	"math"
	"testing"
	"time"
)

// TestGaussian checks 200,000 gaps from a fixed seed: their mean and standard
// deviation, and that truncation at 0 happens as often as the normal
// distribution says and never yields a negative gap.
func TestGaussian(t *testing.T) {
	const arrivals = 200_000
	tests := []struct {
		name   string
		rate   string
		stddev time.Duration
		// The truncated normal's mean and stddev: above 1/rate and below
		// stddev by σφ(z) − μΦ(−z) and so on, with z = μ/σ; the share of
		// gaps truncated to 0 is Φ(−z).
		wantMean, wantStddev time.Duration
		wantTruncated        float64
	}{
		{"default stddev", "100/s", 0, 10 * time.Millisecond, 2500 * time.Microsecond, 0.00003},
		{"narrow", "100/s", time.Millisecond, 10 * time.Millisecond, time.Millisecond, 0},
		{"widest allowed", "100/s", 5 * time.Millisecond, 10042454 * time.Nanosecond, 4899481 * time.Nanosecond, 0.02275},
		{"per minute", "5/m", 3 * time.Second, 12 * time.Second, 3 * time.Second, 0.00003},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(Spec{Arrivals: "gaussian", Rate: mustRate(tt.rate), Stddev: tt.stddev})
			if err != nil {
				t.Fatal(err)
			}
			gs, _ := gaps(p, arrivals)
			if gs[0] != 0 {
				t.Errorf("arrival 0 at %vs, want the phase start", gs[0])
			}
			gs = gs[1:]
			var truncated float64
			for i, g := range gs {
				if g < 0 {
					t.Fatalf("gap %d is negative: %vs", i+1, g)
				}
				if g == 0 {
					truncated++
				}
			}
			mean, variance := meanVar(gs)
			t.Logf("mean gap %.6gs, stddev %.6gs, %v truncated", mean, math.Sqrt(variance), truncated)
			if !within(mean, tt.wantMean.Seconds(), 0.01) {
				t.Errorf("mean gap = %.6gs, want %v ± 1%%", mean, tt.wantMean)
			}
			if sd := time.Duration(1e9 * math.Sqrt(variance)); !within(sd.Seconds(), tt.wantStddev.Seconds(), 0.01) {
				t.Errorf("stddev of gaps = %v, want %v ± 1%%", sd, tt.wantStddev)
			}
			if share := truncated / float64(len(gs)); share > tt.wantTruncated+0.002 || share < tt.wantTruncated-0.002 {
				t.Errorf("%.4f%% of gaps truncated to 0, want %.4f%% ± 0.2%%", 100*share, 100*tt.wantTruncated)
			}
		})
	}
}
