package guarantee

import (
	"fmt"
	"math"
	"sort"
)

// Stats are the statistics of one action that regression checks compare:
// QPS and Capacity in calls per second, the rest in seconds. A stat the
// action does not have is NaN (a probed action has only Capacity; a load
// action has no Capacity) and is not compared.
type Stats struct {
	QPS, P50, P95, P99, Max, Avg float64
	// Capacity is a probe's highest rate inside its SLO.
	Capacity float64
}

// Thresholds are, per stat, the factor by which THIS may be worse than the
// baseline before it is a regression: latency stats regress when
// this > baseline × t, QPS when this < baseline / t. Zero means not gated.
type Thresholds map[string]float64

// DefaultThresholds are Materialize's: QPS, average and median 1.2, p95
// 1.3; p99 and max vary too much between two single runs to gate by
// default.
func DefaultThresholds() Thresholds {
	return Thresholds{"qps": 1.2, "avg": 1.2, "p50": 1.2, "p95": 1.3, "p99": 0, "max": 0, "capacity": 1.2}
}

// RegressionStats lists the stats a threshold may name, in report order.
var RegressionStats = []string{"qps", "avg", "p50", "p95", "p99", "max", "capacity"}

// higherIsBetter tells the stats that regress by going down.
func higherIsBetter(stat string) bool { return stat == "qps" || stat == "capacity" }

func (s Stats) get(stat string) float64 {
	switch stat {
	case "qps":
		return s.QPS
	case "avg":
		return s.Avg
	case "p50":
		return s.P50
	case "p95":
		return s.P95
	case "p99":
		return s.P99
	case "max":
		return s.Max
	case "capacity":
		return s.Capacity
	}
	return math.NaN()
}

// Comparison is one stat of one action, this run against the baseline.
type Comparison struct {
	Scenario, Action, Stat string
	This, Baseline         float64
	// Ratio is this/baseline for latency, baseline/this for QPS: above 1
	// means worse.
	Ratio     float64
	Threshold float64
	// Regressed is true when Ratio exceeds a threshold that is set.
	Regressed bool
}

// Compare checks every action present in both runs. thresholds returns the
// thresholds of an action (the defaults with its overrides applied).
// Actions only in one of the runs are not compared; the result is sorted
// by scenario, action and stat order.
func Compare(this, base map[string]map[string]Stats, thresholds func(scenario, action string) Thresholds) []Comparison {
	var out []Comparison
	for sc, actions := range this {
		for a, st := range actions {
			b, ok := base[sc][a]
			if !ok {
				continue
			}
			th := thresholds(sc, a)
			for _, stat := range RegressionStats {
				c := Comparison{Scenario: sc, Action: a, Stat: stat, This: st.get(stat), Baseline: b.get(stat), Threshold: th[stat]}
				if math.IsNaN(c.This) || math.IsNaN(c.Baseline) {
					continue // a stat one of the runs does not have
				}
				switch {
				case higherIsBetter(stat) && c.This > 0:
					c.Ratio = c.Baseline / c.This
				case higherIsBetter(stat):
					c.Ratio = math.Inf(1)
				case c.Baseline > 0:
					c.Ratio = c.This / c.Baseline
				case c.This > 0:
					c.Ratio = math.Inf(1)
				default:
					c.Ratio = 1
				}
				c.Regressed = c.Threshold > 0 && c.Ratio > c.Threshold
				out = append(out, c)
			}
		}
	}
	order := map[string]int{}
	for i, s := range RegressionStats {
		order[s] = i
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Scenario != b.Scenario {
			return a.Scenario < b.Scenario
		}
		if a.Action != b.Action {
			return a.Action < b.Action
		}
		return order[a.Stat] < order[b.Stat]
	})
	return out
}

// String shows a comparison as "p95 12ms vs 10ms ×1.20 (limit ×1.30) ok".
func (c Comparison) String() string {
	word := "ok"
	switch {
	case c.Regressed:
		word = "REGRESSION"
	case c.Threshold == 0:
		word = "not gated"
	}
	limit := "-"
	if c.Threshold > 0 {
		limit = fmt.Sprintf("×%.2f", c.Threshold)
	}
	if higherIsBetter(c.Stat) {
		return fmt.Sprintf("%s %.1f vs %.1f ×%.2f (limit %s) %s", c.Stat, c.This, c.Baseline, c.Ratio, limit, word)
	}
	return fmt.Sprintf("%s %s vs %s ×%.2f (limit %s) %s", c.Stat, Seconds(c.This), Seconds(c.Baseline), c.Ratio, limit, word)
}
