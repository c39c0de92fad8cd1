package pace

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestPoisson checks 200,000 arrivals from a fixed seed against what a
// Poisson process promises: exponential gaps (mean 1/rate, variance 1/rate²),
// and counts in one-second windows whose variance equals their mean.
func TestPoisson(t *testing.T) {
	const arrivals = 200_000
	tests := []struct {
		name string
		rate string
	}{
		{"100/s", "100/s"},
		{"20/s", "20/s"},
		{"per minute", "30/m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rate := mustRate(tt.rate)
			p, err := New(Spec{Arrivals: "poisson", Rate: rate})
			if err != nil {
				t.Fatal(err)
			}
			r := rate.PerSecond()
			gs, last := gaps(p, arrivals)

			mean, variance := meanVar(gs)
			if !within(mean, 1/r, 0.02) {
				t.Errorf("mean gap = %.6gs, want %.6gs ± 2%%", mean, 1/r)
			}
			if !within(variance, 1/(r*r), 0.03) {
				t.Errorf("variance of gaps = %.6gs², want %.6gs² ± 3%%", variance, 1/(r*r))
			}

			// Whole windows only: the last one is cut short by the last arrival.
			windows := make([]float64, int(last/time.Second))
			var at float64
			for _, g := range gs {
				at += g
				if w := int(at); w < len(windows) {
					windows[w]++
				}
			}
			wMean, wVar := meanVar(windows)
			if !within(wMean, r, 0.02) {
				t.Errorf("mean arrivals per second = %.4g, want %.4g ± 2%%", wMean, r)
			}
			if d := wVar / wMean; !within(d, 1, 0.1) {
				t.Errorf("index of dispersion = %.4f, want 1 ± 10%%", d)
			}
			t.Logf("mean gap %.6gs, variance %.6gs², %d windows of mean %.5g, dispersion %.4f",
				mean, variance, len(windows), wMean, wVar/wMean)
			if got := p.Mean(time.Minute); got != r {
				t.Errorf("Mean = %v, want %v", got, r)
			}
		})
	}
}

// TestPoissonReplays checks that a schedule depends only on the seed.
func TestPoissonReplays(t *testing.T) {
	p, err := New(Spec{Arrivals: "poisson", Rate: mustRate("100/s")})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := gaps(p, 1000)
	b, _ := gaps(p, 1000)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("gap %d is %v then %v from the same seed", i, a[i], b[i])
		}
	}
}

func BenchmarkNextPoisson(b *testing.B) {
	p, err := New(Spec{Arrivals: "poisson", Rate: mustRate("400/s")})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var n uint64
	var prev time.Duration
	for b.Loop() {
		prev = p.Next(n, prev, rng)
		n++
	}
}
