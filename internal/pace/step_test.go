package pace

import (
	"testing"
	"time"
)

func TestStep(t *testing.T) {
	tests := []struct {
		name   string
		steps  []string
		every  time.Duration
		checks []at
	}{
		// N = 10, 30, 35 at the ends of the steps, then 5/s.
		{"up and down", []string{"10/s", "20/s", "5/s"}, time.Second, []at{
			{-time.Second, 0, 10},
			{500 * time.Millisecond, 5, 10},
			{time.Second - 1, 9, 10},
			{time.Second, 10, 20},
			{1500 * time.Millisecond, 20, 20},
			{2 * time.Second, 30, 5},
			{2500 * time.Millisecond, 32, 5}, // 32.5
			{3 * time.Second, 35, 5},
			{10 * time.Second, 70, 5},
		}},
		// "20/m" for 30s is exactly 10, though 20/60 is not a binary fraction.
		{"per minute then per second", []string{"20/m", "1/s"}, 30 * time.Second, []at{
			{29 * time.Second, 9, 1.0 / 3},
			{30 * time.Second, 10, 1},
			{31 * time.Second, 11, 1},
			{time.Minute, 40, 1},
		}},
		{"one step is periodic", []string{"3/s"}, time.Second, []at{
			{time.Hour, 10800, 3},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps := make([]Rate, len(tt.steps))
			for i, s := range tt.steps {
				steps[i] = mustRate(s)
			}
			p, err := New(Spec{Arrivals: "step", Steps: steps, Every: tt.every})
			if err != nil {
				t.Fatal(err)
			}
			checkAt(t, p, tt.checks)
		})
	}
}

// TestStepExact checks arrivals on and between step boundaries.
func TestStepExact(t *testing.T) {
	p, err := New(Spec{Arrivals: "step", Steps: []Rate{mustRate("10/s"), mustRate("20/s"), mustRate("5/s")}, Every: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		n    uint64
		want time.Duration
	}{
		{"start", 0, 0},
		{"first step", 3, 300 * time.Millisecond},
		{"first boundary", 10, time.Second},
		{"second step", 11, 1050 * time.Millisecond},
		{"second boundary", 30, 2 * time.Second},
		{"last step, forever", 40, 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Next(tt.n, 0, nil); got != tt.want {
				t.Errorf("Next(%d) = %v, want %v", tt.n, got, tt.want)
			}
		})
	}
}

// TestStepKeepsItsRates checks that a Pacer does not share the spec's slice.
func TestStepKeepsItsRates(t *testing.T) {
	steps := []Rate{mustRate("10/s")}
	p, err := New(Spec{Arrivals: "step", Steps: steps, Every: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	steps[0] = mustRate("1/s")
	if got := p.Next(1, 0, nil); got != 100*time.Millisecond {
		t.Errorf("Next(1) = %v after the spec changed, want 100ms", got)
	}
}
