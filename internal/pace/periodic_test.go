package pace

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestPeriodicNext(t *testing.T) {
	tests := []struct {
		name string
		rate string
		n    uint64
		want time.Duration
	}{
		{"first at the phase start", "400/s", 0, 0},
		{"400/s, arrival 1000", "400/s", 1000, 2500 * time.Millisecond},
		{"3/s rounds to the nanosecond", "3/s", 1, 333333333},
		{"3/s rounds up too", "3/s", 2, 666666667},
		{"3/s has no drift", "3/s", 3_000_000, 1_000_000 * time.Second},
		{"per minute", "5/m", 7, 84 * time.Second},
		{"per minute, far out", "5/m", 5_000_000, 1_000_000 * time.Minute},
		{"fraction", "0.5/s", 3, 6 * time.Second},
		{"per millisecond", "10/ms", 25, 2500 * time.Microsecond},
		{"unit with a count", "1/5s", 4, 20 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(Spec{Rate: mustRate(tt.rate)})
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Next(tt.n, 0, nil); got != tt.want {
				t.Errorf("Next(%d) = %v, want %v", tt.n, got, tt.want)
			}
			if got, want := p.Mean(time.Hour), mustRate(tt.rate).PerSecond(); got != want {
				t.Errorf("Mean = %v, want %v", got, want)
			}
		})
	}
}

// TestPeriodicNoDrift checks every one of three million arrivals at 3/s, whose
// interval is not a whole number of nanoseconds: each is the exact n/3 s
// rounded, so summing the gaps never drifts.
func TestPeriodicNoDrift(t *testing.T) {
	p, err := New(Spec{Rate: mustRate("3/s")})
	if err != nil {
		t.Fatal(err)
	}
	for n := range uint64(3_000_001) {
		// |3·t_n − n·1e9| ≤ 1.5 ns, in exact integer arithmetic.
		if d := 3*int64(p.Next(n, 0, nil)) - int64(n)*1e9; d < -1 || d > 1 {
			t.Fatalf("Next(%d) = %v, %d/3 ns away from n/3 s", n, p.Next(n, 0, nil), d)
		}
	}
}

func BenchmarkNextPeriodic(b *testing.B) {
	p, err := New(Spec{Rate: mustRate("400/s")})
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
