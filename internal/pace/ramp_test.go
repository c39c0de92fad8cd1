package pace

import (
	"testing"
	"time"
)

// at is one check of a deterministic shape at offset t: the number of
// arrivals after the first up to t, which must be ⌊N(t)⌋ with N(t) worked out
// by hand, and the rate there.
type at struct {
	t        time.Duration
	arrivals uint64
	mean     float64
}

func checkAt(t *testing.T, p Pacer, checks []at) {
	t.Helper()
	for _, c := range checks {
		if got := arrivalsUpTo(p, c.t); got != c.arrivals {
			t.Errorf("%d arrivals after the first up to %v, want %d", got, c.t, c.arrivals)
		}
		if got := p.Mean(c.t); !within(got, c.mean, 1e-9) {
			t.Errorf("Mean(%v) = %v, want %v", c.t, got, c.mean)
		}
	}
}

func TestRamp(t *testing.T) {
	tests := []struct {
		name     string
		from, to string
		over     time.Duration
		checks   []at
	}{
		// N(t) = 10t + t²/2 for t ≤ 10s; N(10s) = 150; 20/s after.
		{"rising", "10/s", "20/s", 10 * time.Second, []at{
			{-time.Second, 0, 10},
			{0, 0, 10},
			{time.Second, 10, 11},               // 10.5
			{2 * time.Second, 22, 12},           // exactly 22
			{2*time.Second - 1, 21, 12},         // just before arrival 22
			{3500 * time.Millisecond, 41, 13.5}, // 41.125
			{10 * time.Second, 150, 20},
			{12 * time.Second, 190, 20},
		}},
		// N(t) = 100t − 5t² for t ≤ 9s; N(9s) = 495; 10/s after.
		{"falling", "100/s", "10/s", 9 * time.Second, []at{
			{time.Second, 95, 90},
			{4 * time.Second, 320, 60},
			{4*time.Second - time.Millisecond, 319, 60 + 0.01},
			{9 * time.Second, 495, 10},
			{10 * time.Second, 505, 10},
		}},
		// A ramp to the same rate is periodic.
		{"flat", "3/s", "3/s", time.Minute, []at{
			{time.Minute, 180, 3},
			{time.Hour, 10800, 3},
		}},
		// N(t) = t/60 + (59/60)·t²/7200 for t ≤ 1h: 60 + 1770 = 1830 by
		// the end, 60 a minute after.
		{"per minute to per second", "1/m", "1/s", time.Hour, []at{
			{30 * time.Minute, 472, 61.0 / 120}, // 472.5
			{time.Hour, 1830, 1},
			{time.Hour + time.Minute, 1890, 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(Spec{Arrivals: "ramp", Rate: mustRate(tt.from), To: mustRate(tt.to), Over: tt.over})
			if err != nil {
				t.Fatal(err)
			}
			checkAt(t, p, tt.checks)
		})
	}
}

// TestRampExact checks arrivals whose time is a whole number of seconds:
// rounding to the nanosecond leaves them exact.
func TestRampExact(t *testing.T) {
	p, err := New(Spec{Arrivals: "ramp", Rate: mustRate("10/s"), To: mustRate("20/s"), Over: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		n    uint64
		want time.Duration
	}{
		{"start", 0, 0},
		{"during", 22, 2 * time.Second},
		{"end of the ramp", 150, 10 * time.Second},
		{"after", 190, 12 * time.Second},
		{"after, half a gap", 191, 12050 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Next(tt.n, 0, nil); got != tt.want {
				t.Errorf("Next(%d) = %v, want %v", tt.n, got, tt.want)
			}
		})
	}
}
