package guarantee

import (
	"math"
	"testing"
)

func TestCompare(t *testing.T) {
	nan := math.NaN()
	base := map[string]map[string]Stats{
		"s": {
			"a":    {QPS: 1000, P50: 0.010, P95: 0.020, P99: 0.030, Max: 0.1, Avg: 0.011, Capacity: nan},
			"b":    {QPS: 100, P50: 0.001, P95: 0.002, P99: 0.003, Max: 0.01, Avg: 0.001, Capacity: nan},
			"gone": {QPS: 1, Capacity: nan},
		},
	}
	this := map[string]map[string]Stats{
		"s": {
			// qps 1000/800 = 1.25 > 1.2; p50 ×1.1 ok; p95 ×1.35 > 1.3;
			// p99 ×3 and max ×10 are not gated by default; avg ×1.2 is at
			// the limit, which is not beyond it.
			"a": {QPS: 800, P50: 0.011, P95: 0.027, P99: 0.090, Max: 1, Avg: 0.0132, Capacity: nan},
			// Overridden: p99 gated at 1.5, qps relaxed to 2.
			"b":   {QPS: 60, P50: 0.001, P95: 0.002, P99: 0.0046, Max: 0.01, Avg: 0.001, Capacity: nan},
			"new": {QPS: 5, Capacity: nan},
		},
	}
	th := func(sc, a string) Thresholds {
		t := DefaultThresholds()
		if a == "b" {
			t["p99"], t["qps"] = 1.5, 2
		}
		return t
	}
	got := map[string]Comparison{}
	for _, c := range Compare(this, base, th) {
		got[c.Action+"."+c.Stat] = c
	}
	if len(got) != 12 {
		t.Fatalf("%d comparisons, want 12 (2 actions in both runs × 6 stats)", len(got))
	}
	want := map[string]bool{
		"a.qps": true, "a.p50": false, "a.p95": true, "a.p99": false, "a.max": false, "a.avg": false,
		"b.qps": false, "b.p99": true,
	}
	for k, reg := range want {
		if got[k].Regressed != reg {
			t.Errorf("%s: regressed = %v, want %v (%s)", k, got[k].Regressed, reg, got[k])
		}
	}
	if r := got["a.qps"].Ratio; math.Abs(r-1.25) > 1e-12 {
		t.Errorf("a.qps ratio = %v, want 1.25 (baseline/this)", r)
	}
	if r := got["a.p95"].Ratio; math.Abs(r-1.35) > 1e-12 {
		t.Errorf("a.p95 ratio = %v, want 1.35", r)
	}
}

// TestCompareCapacity: a probed action has only a capacity, compared like
// QPS (a drop beyond the threshold regresses); the stats it lacks are
// not compared, and a load action's missing capacity is not either.
func TestCompareCapacity(t *testing.T) {
	nan := math.NaN()
	probe := func(c float64) Stats {
		return Stats{QPS: nan, P50: nan, P95: nan, P99: nan, Max: nan, Avg: nan, Capacity: c}
	}
	load := Stats{QPS: 10, P50: 0.001, P95: 0.001, P99: 0.001, Max: 0.001, Avg: 0.001, Capacity: nan}
	base := map[string]map[string]Stats{"s": {"probed": probe(1200), "dropped": probe(1000), "load": load}}
	this := map[string]map[string]Stats{"s": {"probed": probe(1100), "dropped": probe(800), "load": load}}
	got := map[string]Comparison{}
	for _, c := range Compare(this, base, func(string, string) Thresholds { return DefaultThresholds() }) {
		got[c.Action+"."+c.Stat] = c
	}
	if len(got) != 8 {
		t.Fatalf("%d comparisons, want 8 (capacity of the 2 probes, 6 stats of the load action): %v", len(got), got)
	}
	// 1200/1100 = 1.09 is within 1.2; 1000/800 = 1.25 is not.
	if c := got["probed.capacity"]; c.Regressed || math.Abs(c.Ratio-1200.0/1100) > 1e-12 {
		t.Errorf("probed: %s", c)
	}
	if c := got["dropped.capacity"]; !c.Regressed || math.Abs(c.Ratio-1.25) > 1e-12 {
		t.Errorf("dropped: %s", c)
	}
	if s := got["dropped.capacity"].String(); s != "capacity 800.0 vs 1000.0 ×1.25 (limit ×1.20) REGRESSION" {
		t.Errorf("text %q", s)
	}
}
