package engine

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/guarantee"
	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/pace"
)

// replay feeds the recorder one schedule drawn from seed as a perfect
// target would serve it (every arrival succeeds 1ms after its intended
// start), with no sleeping: the pacer is a pure function. It returns the
// result of the window [warmup, d).
func replay(t *testing.T, m *metrics.Metrics, p pace.Pacer, seed uint64, d, warmup time.Duration) metrics.Result {
	t.Helper()
	start := time.Unix(1_700_000_000, 0)
	rec := m.NewRecorder("s", "a", start, warmup)
	rec.SetSchedule(pace.MeanRate(p, warmup, d))
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var prev time.Duration
	for n := uint64(0); ; n++ {
		off := p.Next(n, prev, rng)
		prev = off
		if off >= d {
			break
		}
		at := start.Add(off)
		rec.Record(metrics.Outcome{Intended: at, Dispatched: at, Start: at, End: at.Add(time.Millisecond), Open: true})
	}
	return rec.Result(start.Add(d))
}

// TestQPSAgainstOffered: 1,000 poisson and 1,000 gaussian schedules of
// 300/s over a 10 s window, served perfectly, never fail a 97.5 % qps
// guarantee (292.5), nor one of 100 % (300): the verdict compares what was
// served with what the schedule offered in that iteration. The raw count
// of served calls per second would fail: a poisson count over 10 s at
// 300/s has a standard deviation of √3000 ≈ 54.8 arrivals, and 2.5 % of
// 3000 is 75, 1.37 standard deviations, so about 8.5 % of the draws fall
// below 292.5/s; the chance that none of 1,000 does is 0.915^1000 ≈ 1e-39.
// So the test also checks that it would have caught the old verdict.
func TestQPSAgainstOffered(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	rate := pace.PerSecond(300)
	for _, arrivals := range []string{"poisson", "gaussian"} {
		p, err := pace.New(pace.Spec{Arrivals: arrivals, Rate: rate})
		if err != nil {
			t.Fatal(err)
		}
		var rawFail int
		for seed := range uint64(1000) {
			res := replay(t, m, p, seed+1, 12*time.Second, 2*time.Second)
			for _, q := range []float64{292.5, 300} {
				for _, v := range guarantee.Check(config.Guarantee{QPS: q}, res) {
					if !v.OK {
						t.Fatalf("%s seed %d: %v (offered %.1f/s, served %.1f/s)", arrivals, seed+1, v, res.OfferedQPS, res.ServedQPS)
					}
				}
			}
			if res.Events != res.OK || res.Rate != 300 {
				t.Fatalf("%s seed %d: events %d, ok %d, rate %v", arrivals, seed+1, res.Events, res.OK, res.Rate)
			}
			if res.ServedQPS < 292.5 {
				rawFail++
			}
		}
		t.Logf("%s: served/s alone would have failed %d of 1000 schedules", arrivals, rawFail)
		if arrivals == "poisson" && rawFail == 0 {
			t.Errorf("no poisson schedule fell below 292.5/s served: the test lost its power")
		}
	}
}

// TestQPSServedShare: a target that serves 9 arrivals in 10 shows 90 % of
// the configured rate, whatever the draw, and a ramp's configured rate is
// its mean over the window.
func TestQPSServedShare(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	start := time.Unix(1_700_000_000, 0)
	p, _ := pace.New(pace.Spec{Arrivals: "ramp", Rate: pace.PerSecond(100), To: pace.PerSecond(300), Over: 10 * time.Second})
	rec := m.NewRecorder("s", "a", start, 0)
	rec.SetSchedule(pace.MeanRate(p, 0, 10*time.Second))
	var prev time.Duration
	for n := uint64(0); ; n++ {
		off := p.Next(n, prev, nil)
		prev = off
		if off >= 10*time.Second {
			break
		}
		at := start.Add(off)
		o := metrics.Outcome{Intended: at, Start: at, End: at.Add(time.Millisecond), Open: true}
		if n%10 == 9 {
			o.ErrClass = "timeout"
		}
		rec.Record(o)
	}
	res := rec.Result(start.Add(10 * time.Second))
	// The mean of a linear ramp 100 → 300/s is 200/s; the midpoint rule is
	// exact on a line, but for the midpoints' rounding to 1ns (at a slope
	// of 20/s², 2e-8/s at most).
	if abs := res.Rate - 200; abs > 1e-7 || abs < -1e-7 {
		t.Errorf("rate = %v, want 200", res.Rate)
	}
	if want := float64(res.OK) / float64(res.Events) * res.Rate; res.QPS != want || res.QPS > 181 || res.QPS < 179 {
		t.Errorf("qps = %v, want %v (90 %% of 200/s)", res.QPS, want)
	}
}
