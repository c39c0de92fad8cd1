// Package guarantee owns the verdicts: whether an iteration's exact results
// meet an action's configured guarantees, and the gauges that publish the
// guarantees themselves for alert rules to compare against.
package guarantee

import (
	"fmt"
	"time"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/metrics"
)

// Verdict is one guarantee checked against one iteration's result.
type Verdict struct {
	Action string `json:"action"`
	// Stat is qps, p50, p95, p99, max, avg, slope or error_ratio.
	Stat string `json:"stat"`
	// Limit and Value are in the stat's unit: calls per second, seconds,
	// seconds per second, or a ratio.
	Limit float64 `json:"limit"`
	Value float64 `json:"value"`
	// OK is true when the result meets the guarantee.
	OK bool `json:"ok"`
}

// String shows the verdict as a person reads it: "p99 12ms ≤ 100ms ok".
func (v Verdict) String() string {
	word := "ok"
	if !v.OK {
		word = "FAIL"
	}
	switch v.Stat {
	case "qps":
		return fmt.Sprintf("qps %.1f ≥ %.4g %s", v.Value, v.Limit, word)
	case "slope", "error_ratio":
		return fmt.Sprintf("%s %.4g ≤ %.4g %s", v.Stat, v.Value, v.Limit, word)
	}
	return fmt.Sprintf("%s %s ≤ %s %s", v.Stat, round(v.Value), round(v.Limit), word)
}

func round(sec float64) time.Duration {
	d := time.Duration(sec * 1e9)
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d >= time.Microsecond:
		return d.Round(time.Microsecond)
	}
	return d
}

// latencyLimits lists the latency guarantees that are set, by stat name.
func latencyLimits(g config.Guarantee) map[string]time.Duration {
	out := map[string]time.Duration{}
	for stat, d := range map[string]config.Duration{"p50": g.P50, "p95": g.P95, "p99": g.P99, "max": g.Max, "avg": g.Avg} {
		if d.D > 0 {
			out[stat] = d.D
		}
	}
	return out
}

// Check returns a verdict for every guarantee that is set, in a fixed
// order: qps, the latency stats, slope, error_ratio.
func Check(g config.Guarantee, r metrics.Result) []Verdict {
	var out []Verdict
	if g.QPS > 0 {
		out = append(out, Verdict{Action: r.Action, Stat: "qps", Limit: g.QPS, Value: r.QPS, OK: r.QPS >= g.QPS})
	}
	lim := latencyLimits(g)
	for _, stat := range metrics.Stats {
		if d, ok := lim[stat]; ok {
			v := r.Stat(stat)
			// No successful call means no latency to bound: the error
			// ratio and QPS guarantees speak for such an iteration.
			out = append(out, Verdict{Action: r.Action, Stat: stat, Limit: d.Seconds(), Value: v.Seconds(), OK: v <= d})
		}
	}
	if g.Slope != nil {
		out = append(out, Verdict{Action: r.Action, Stat: "slope", Limit: *g.Slope, Value: r.Slope, OK: r.Slope <= *g.Slope})
	}
	if g.ErrorRatio != nil {
		out = append(out, Verdict{Action: r.Action, Stat: "error_ratio", Limit: *g.ErrorRatio, Value: r.ErrorRatio, OK: r.ErrorRatio <= *g.ErrorRatio})
	}
	return out
}

// Export publishes the configured guarantees of one action as gauges.
func Export(m *metrics.Metrics, scenario, action string, g config.Guarantee) {
	if g.QPS > 0 {
		m.GuaranteeQPSMin.WithLabelValues(scenario, action).Set(g.QPS)
	}
	for stat, d := range latencyLimits(g) {
		m.GuaranteeLatencyMax.WithLabelValues(scenario, action, stat).Set(d.Seconds())
	}
	if g.Slope != nil {
		m.GuaranteeSlopeMax.WithLabelValues(scenario, action).Set(*g.Slope)
	}
	if g.ErrorRatio != nil {
		m.GuaranteeErrorRatioMax.WithLabelValues(scenario, action).Set(*g.ErrorRatio)
	}
}
