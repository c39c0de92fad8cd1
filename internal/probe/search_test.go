package probe

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// run drives a search against a target that serves any rate up to
// capacity inside its SLO and breaks above it, with the generator able to
// offer rates up to genMax (0 = any).
func run(t *testing.T, c Config, capacity, genMax float64) Result {
	t.Helper()
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	for {
		rate, ok := s.Next()
		if !ok {
			return s.Result()
		}
		switch {
		case genMax > 0 && rate > genMax:
			s.Observe(rate, GeneratorLimited)
		case rate <= capacity:
			s.Observe(rate, Held)
		default:
			s.Observe(rate, Broke)
		}
	}
}

// TestSearchFindsCapacity checks the search's guarantee exactly, over
// capacities spread log-uniformly from below the floor to above the
// ceiling: a converged search brackets the capacity with held ≤ C < broke
// and broke ≤ (1+p)·held, so C/(1+p) < held ≤ C; a capacity at or above
// the ceiling gives the ceiling; one below the floor gives 0; and no
// search takes more steps than MaxStepsFor says.
func TestSearchFindsCapacity(t *testing.T) {
	configs := []struct {
		name string
		c    Config
	}{
		{"defaults", Config{Start: 100, Ceiling: 100000}},
		{"fine", Config{Start: 10, Ceiling: 50000, Precision: 0.01}},
		{"coarse fast growth", Config{Start: 1000, Ceiling: 1e6, Precision: 0.2, Growth: 4}},
		{"start is ceiling", Config{Start: 500, Ceiling: 500}},
		{"slow growth", Config{Start: 50, Ceiling: 5000, Growth: 1.25, Precision: 0.02}},
		{"confirmed twice", Config{Start: 100, Ceiling: 100000, Confirm: 2}},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range configs {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.c)
			if err != nil {
				t.Fatal(err)
			}
			c := s.Config()
			lo, hi := math.Log(c.Floor/2), math.Log(c.Ceiling*2)
			for i := range 2000 {
				capacity := math.Exp(lo + (hi-lo)*rng.Float64())
				if i == 0 {
					capacity = c.Ceiling // exactly at the ceiling
				}
				r := run(t, tc.c, capacity, 0)
				if len(r.Steps) > c.MaxSteps {
					t.Fatalf("capacity %g: %d steps, more than the bound %d", capacity, len(r.Steps), c.MaxSteps)
				}
				switch {
				case capacity >= c.Ceiling:
					if r.Reason != Ceiling || r.Capacity != c.Ceiling {
						t.Fatalf("capacity %g ≥ ceiling %g: got %+v", capacity, c.Ceiling, r)
					}
				case capacity < c.Floor:
					if r.Reason != BelowFloor || r.Capacity != 0 {
						t.Fatalf("capacity %g < floor %g: got %+v", capacity, c.Floor, r)
					}
				default:
					if r.Reason != Converged {
						t.Fatalf("capacity %g: ended %q, want %q (%+v)", capacity, r.Reason, Converged, r)
					}
					if !(r.Capacity <= capacity && capacity < r.Broke) {
						t.Fatalf("capacity %g not bracketed by held %g and broke %g", capacity, r.Capacity, r.Broke)
					}
					if r.Broke-r.Capacity > c.Precision*r.Capacity*(1+1e-12) {
						t.Fatalf("capacity %g: held %g and broke %g wider than precision %g", capacity, r.Capacity, r.Broke, c.Precision)
					}
				}
				for _, st := range r.Steps {
					if st.Rate < c.Floor || st.Rate > c.Ceiling {
						t.Fatalf("capacity %g: step at %g outside [%g, %g]", capacity, st.Rate, c.Floor, c.Ceiling)
					}
				}
			}
		})
	}
}

// TestSearchGeneratorLimited: a step pbenchd could not offer ends the
// probe as generator-limited with what held so far as a lower bound, never
// as the target's capacity.
func TestSearchGeneratorLimited(t *testing.T) {
	r := run(t, Config{Start: 100, Ceiling: 1e6}, 1e9, 1000)
	if r.Reason != Generator {
		t.Fatalf("reason %q, want %q", r.Reason, Generator)
	}
	// 100, 200, 400, 800 held; 1600 is beyond the generator.
	if r.Capacity != 800 || r.Broke != 0 {
		t.Fatalf("got capacity %g broke %g, want 800 and none", r.Capacity, r.Broke)
	}
	last := r.Steps[len(r.Steps)-1]
	if last.Rate != 1600 || last.Outcome != GeneratorLimited {
		t.Fatalf("last step %+v, want 1600 generator_limited", last)
	}
}

// TestSearchSequence pins the exact rates of one search, so a change of
// strategy is seen: growth by 2 from 100, then geometric bisection.
func TestSearchSequence(t *testing.T) {
	r := run(t, Config{Start: 100, Ceiling: 10000, Precision: 0.1}, 1000, 0)
	want := []float64{100, 200, 400, 800, 1600, math.Sqrt(800 * 1600)}
	w := math.Sqrt(800 * want[5]) // 1131 broke, so bisect [800, 1131]
	want = append(want, w, math.Sqrt(w*want[5]))
	// 951 held; [951, 1131]: 1037 broke; [951, 1037] is within 10 %.
	if len(r.Steps) != len(want) {
		t.Fatalf("steps %+v, want rates %v", r.Steps, want)
	}
	for i, st := range r.Steps {
		if math.Abs(st.Rate-want[i]) > 1e-9*want[i] {
			t.Fatalf("step %d at %g, want %g (all: %+v)", i, st.Rate, want[i], r.Steps)
		}
	}
	if r.Reason != Converged || r.Capacity != want[6] || r.Broke != want[7] {
		t.Fatalf("got %+v", r)
	}
}

func TestSearchNextIsIdempotentAndObserveChecked(t *testing.T) {
	s, err := New(Config{Start: 10, Ceiling: 100})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Next()
	b, _ := s.Next()
	if a != b || a != 10 {
		t.Fatalf("Next twice gave %g and %g, want 10 both", a, b)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Observe of a rate Next did not return did not panic")
		}
	}()
	s.Observe(11, Held)
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want []string
	}{
		{Config{}, []string{"start: 0 must be a positive rate"}},
		{Config{Start: -1, Ceiling: -2}, []string{"start: -1 must be a positive rate", "ceiling: -2 must be at least the start rate -1"}},
		{Config{Start: 100, Ceiling: 50}, []string{"ceiling: 50 must be at least the start rate 100"}},
		{Config{Start: 100, Ceiling: 500, Precision: 1.5}, []string{"precision: 1.5 must be between 0 and 1 (exclusive)"}},
		{Config{Start: 100, Ceiling: 500, Growth: 1}, []string{"growth: 1 must be greater than 1"}},
		{Config{Start: 100, Ceiling: 500, Floor: 200}, []string{"floor: 200 must be positive and at most the start rate 100"}},
		{Config{Start: math.NaN(), Ceiling: 500}, []string{"start: NaN must be a positive rate"}},
	} {
		_, err := New(tc.c)
		if err == nil {
			t.Fatalf("%+v: no error", tc.c)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: error %q lacks %q", tc.c, err, w)
			}
		}
	}
}

// TestSearchConfirmRidesOutTransients: with Confirm 1, a transient that
// breaks one step (never two in a row) whatever its rate changes nothing:
// the search finds what it finds on a steady target, taking one more step
// per transient at most. Without Confirm the same transient ends the
// growth early.
func TestSearchConfirmRidesOutTransients(t *testing.T) {
	const capacity = 3000.0
	transient := func(c Config) Result {
		s, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; ; k++ {
			rate, ok := s.Next()
			if !ok {
				return s.Result()
			}
			switch {
			case k%3 == 1: // a checkpoint, a noisy neighbour
				s.Observe(rate, Broke)
			case rate <= capacity:
				s.Observe(rate, Held)
			default:
				s.Observe(rate, Broke)
			}
		}
	}
	c := Config{Start: 100, Ceiling: 100000, Confirm: 1}
	steady := run(t, c, capacity, 0)
	got := transient(c)
	if got.Capacity != steady.Capacity || got.Broke != steady.Broke || got.Reason != Converged {
		t.Fatalf("with transients: %+v; steady: capacity %g broke %g", got, steady.Capacity, steady.Broke)
	}
	if !(got.Capacity <= capacity && capacity < got.Broke) {
		t.Fatalf("capacity %g not bracketed by %g and %g", capacity, got.Capacity, got.Broke)
	}
	c.Confirm = 0
	if early := transient(c); early.Capacity >= capacity/2 {
		t.Fatalf("without confirm a transient at step 1 should end the growth early, got capacity %g", early.Capacity)
	}
}
