package pace

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestKinds(t *testing.T) {
	want := []string{"gaussian", "periodic", "poisson", "ramp", "step"}
	if got := Kinds(); !slices.Equal(got, want) {
		t.Errorf("Kinds() = %q, want %q", got, want)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("registering periodic a second time did not panic")
		}
	}()
	register("periodic", newPeriodic)
}

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		str  string
		// drawn: arrival 0 is drawn at random rather than at the phase start.
		drawn bool
	}{
		{"periodic by default", Spec{Rate: mustRate("100/s")}, "periodic 100/s", false},
		{"poisson", Spec{Arrivals: "poisson", Rate: mustRate("100/s")}, "poisson 100/s", true},
		{"gaussian with default stddev", Spec{Arrivals: "gaussian", Rate: mustRate("100/s")}, "gaussian 100/s stddev 2.5ms", false},
		{"gaussian", Spec{Arrivals: "gaussian", Rate: mustRate("5/m"), Stddev: time.Second}, "gaussian 5/m stddev 1s", false},
		{"ramp", Spec{Arrivals: "ramp", Rate: mustRate("10/s"), To: mustRate("100/s"), Over: time.Minute}, "ramp 10/s to 100/s over 1m0s", false},
		{"step", Spec{Arrivals: "step", Steps: []Rate{mustRate("10/s"), mustRate("20/s")}, Every: 30 * time.Second}, "step 10/s, 20/s every 30s", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.spec)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got := p.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			if got := p.Next(0, 0, rand.New(rand.NewPCG(1, 2))); (got > 0) != tt.drawn {
				t.Errorf("Next(0) = %v; want it drawn: %v", got, tt.drawn)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	r100 := mustRate("100/s")
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"unknown kind", Spec{Arrivals: "bursty", Rate: r100},
			`arrivals: "bursty" is not one of gaussian, periodic, poisson, ramp, step`},
		{"kinds are case sensitive", Spec{Arrivals: "Poisson", Rate: r100},
			`arrivals: "Poisson" is not one of gaussian, periodic, poisson, ramp, step`},
		{"no rate", Spec{}, `rate: missing`},
		{"rate made negative in code", Spec{Arrivals: "poisson", Rate: PerSecond(-1)},
			`rate: "-1/s": a rate must be positive`},
		{"field of another kind", Spec{Rate: r100, To: r100, Every: time.Second},
			"to: not used by periodic arrivals\nevery: not used by periodic arrivals"},
		{"negative stddev", Spec{Arrivals: "gaussian", Rate: r100, Stddev: -time.Millisecond},
			`stddev: -1ms must not be negative`},
		{"stddev too wide", Spec{Arrivals: "gaussian", Rate: r100, Stddev: 6 * time.Millisecond},
			`stddev: 6ms is more than half the 10ms between arrivals at 100/s, so truncating negative gaps would lower the rate`},
		{"stddev without a rate", Spec{Arrivals: "gaussian", Stddev: 6 * time.Millisecond}, `rate: missing`},
		{"empty ramp", Spec{Arrivals: "ramp"},
			"rate: missing\nto: missing\nover: must be positive for ramp"},
		{"ramp with step fields", Spec{Arrivals: "ramp", Rate: r100, To: r100, Over: -time.Second, Steps: []Rate{r100}},
			"steps: not used by ramp arrivals\nover: must be positive for ramp"},
		{"empty step", Spec{Arrivals: "step"}, "steps: missing\nevery: must be positive for step"},
		{"step with a rate", Spec{Arrivals: "step", Rate: r100, Steps: []Rate{r100}, Every: time.Second},
			"rate: not used by step arrivals"},
		{"bad steps", Spec{Arrivals: "step", Steps: []Rate{r100, {}, PerSecond(-2)}, Every: time.Second},
			"steps[1]: missing\nsteps[2]: \"-2/s\": a rate must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.spec)
			if err == nil {
				t.Fatalf("New = %v, want error %q", p, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("New error:\n%s\nwant:\n%s", err, tt.want)
			}
		})
	}
}

// arrivalsUpTo counts the arrivals after the first (which is at the phase
// start) whose offset is at most t: ⌊N(t)⌋ for shapes defined by N(t) = n.
func arrivalsUpTo(p Pacer, t time.Duration) uint64 {
	var n uint64
	for p.Next(n+1, 0, nil) <= t {
		n++
	}
	return n
}

// gaps returns the gaps between the first count arrivals of p drawn from a
// fixed seed, in seconds, and the last offset.
func gaps(p Pacer, count int) ([]float64, time.Duration) {
	rng := rand.New(rand.NewPCG(1, 2))
	gs := make([]float64, count)
	var prev time.Duration
	for n := range count {
		next := p.Next(uint64(n), prev, rng)
		gs[n] = (next - prev).Seconds()
		prev = next
	}
	return gs, prev
}

// meanVar returns the mean and the sample variance of xs.
func meanVar(xs []float64) (mean, variance float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		variance += (x - mean) * (x - mean)
	}
	return mean, variance / float64(len(xs)-1)
}

// within reports whether got is within tol (relative) of want.
func within(got, want, tol float64) bool {
	return got >= want*(1-tol) && got <= want*(1+tol)
}
