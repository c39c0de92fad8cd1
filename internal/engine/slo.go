package engine

import (
	"time"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/metrics"
)

// quantiles are the latency guarantees that are objectives over events:
// p99 ≤ 50ms means at most 1 % of the events may be bad.
var quantiles = []struct {
	stat   string
	budget float64
	limit  func(config.Guarantee) time.Duration
}{
	{"p50", 0.5, func(g config.Guarantee) time.Duration { return g.P50.D }},
	{"p95", 0.05, func(g config.Guarantee) time.Duration { return g.P95.D }},
	{"p99", 0.01, func(g config.Guarantee) time.Duration { return g.P99.D }},
}

// Objectives returns the guarantees of an action that count good and bad
// events continuously: each quantile latency guarantee (p50, p95, p99)
// with the budget its quantile leaves, and error_ratio with its maximum.
// max, avg, slope and qps are properties of an iteration, not of events,
// and an error_ratio of 0 leaves no budget to burn.
func Objectives(g config.Guarantee) []metrics.Objective {
	var out []metrics.Objective
	for _, q := range quantiles {
		if d := q.limit(g); d > 0 {
			out = append(out, metrics.Objective{Stat: q.stat, Limit: d, Budget: q.budget})
		}
	}
	if g.ErrorRatio != nil && *g.ErrorRatio > 0 {
		out = append(out, metrics.Objective{Stat: "error_ratio", Budget: *g.ErrorRatio})
	}
	return out
}

// configureSLOs publishes the objectives of a scenario's guarantees.
func configureSLOs(m *metrics.Metrics, sc *config.Scenario) {
	byAction := map[string][]metrics.Objective{}
	for action, g := range sc.Guarantees {
		byAction[action] = Objectives(g)
	}
	m.SLO.Configure(sc.Name, byAction)
}
