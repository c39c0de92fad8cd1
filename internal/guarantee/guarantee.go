// Package guarantee owns the verdicts: whether an iteration's exact results
// meet an action's configured guarantees, and the gauges that publish the
// guarantees themselves for alert rules to compare against.
package guarantee

import (
	"fmt"
	"math"
	"strings"
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
	// seconds per second, or a ratio. Value is the judged (SLO) figure:
	// +Inf when the statistic's rank falls on a bad event, NaN when there
	// was nothing to measure.
	Limit metrics.Float `json:"limit"`
	Value metrics.Float `json:"value"`
	// Success is the same statistic over successful calls only, for
	// latency stats and slope (NaN when none succeeded); for qps, the
	// successful calls per second.
	Success metrics.Float `json:"success"`
	// OK is true when the result meets the guarantee.
	OK bool `json:"ok"`
	// Reason says why a verdict failed, in words.
	Reason string `json:"reason,omitempty"`
}

// String shows the verdict as a person reads it: "p99 12ms ≤ 100ms ok",
// "p99 ∞ ≤ 200ms FAIL: 60 % of arrivals failed or were dropped".
func (v Verdict) String() string {
	word := "ok"
	if !v.OK {
		word = "FAIL"
	}
	var s string
	switch v.Stat {
	case "qps":
		s = fmt.Sprintf("qps %s ≥ %.4g %s", num(float64(v.Value), "%.1f"), float64(v.Limit), word)
	case "slope", "error_ratio", "missing", "duplicate", "foreign":
		s = fmt.Sprintf("%s %s ≤ %.4g %s", v.Stat, num(float64(v.Value), "%.4g"), float64(v.Limit), word)
	default:
		s = fmt.Sprintf("%s %s ≤ %s %s", v.Stat, Seconds(float64(v.Value)), Seconds(float64(v.Limit)), word)
	}
	if v.Reason != "" {
		s += ": " + v.Reason
	}
	return s
}

func num(f float64, format string) string {
	switch {
	case math.IsInf(f, 1):
		return "∞"
	case math.IsNaN(f):
		return "n/a"
	}
	return fmt.Sprintf(format, f)
}

// Seconds shows a latency in seconds as a rounded duration, "∞" for
// +Inf and "n/a" for NaN.
func Seconds(sec float64) string {
	switch {
	case math.IsInf(sec, 1):
		return "∞"
	case math.IsNaN(sec):
		return "n/a"
	}
	return round(sec).String()
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

// quantileOf is the share of events a latency stat ranks below.
var quantileOf = map[string]float64{"p50": 0.50, "p95": 0.95, "p99": 0.99}

// Check returns a verdict for every guarantee that is set, in a fixed
// order: qps, the latency stats, slope, error_ratio. Latency and slope
// guarantees judge the SLO figures (every event, bad ones slower than any
// limit); qps judges what an open loop's schedule offered (Result.QPS).
func Check(g config.Guarantee, r metrics.Result) []Verdict {
	var out []Verdict
	word := "calls"
	if r.Open {
		word = "arrivals"
	}
	badText := func() string {
		var parts []string
		for _, p := range []struct {
			n    int64
			what string
		}{{r.Failed, "failed"}, {r.Dropped, "dropped"}, {r.Missed, "missed by the generator"}} {
			if p.n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
			}
		}
		return fmt.Sprintf("%s of %d %s (%s)", pct(r.Bad(), r.Events), r.Events, word, strings.Join(parts, ", "))
	}
	if g.QPS > 0 {
		v := Verdict{Action: r.Action, Stat: "qps", Limit: metrics.Float(g.QPS), Value: metrics.Float(r.QPS), Success: metrics.Float(r.ServedQPS), OK: r.QPS >= g.QPS}
		if !v.OK {
			switch {
			case r.Open:
				v.Reason = fmt.Sprintf("served %d of %d offered arrivals (%s) of a %.4g/s schedule", r.OK, r.Events, pct(r.OK, r.Events), r.Rate)
			default:
				v.Reason = fmt.Sprintf("%d successful calls in %s", r.OK, r.Window.Round(time.Millisecond))
			}
		}
		out = append(out, v)
	}
	lim := latencyLimits(g)
	for _, stat := range metrics.Stats {
		d, ok := lim[stat]
		if !ok {
			continue
		}
		val := r.SLO.Stat(stat)
		v := Verdict{Action: r.Action, Stat: stat, Limit: metrics.Float(d.Seconds()), Value: metrics.Float(val),
			Success: metrics.Float(r.Success.Stat(stat)), OK: val <= d.Seconds()}
		switch {
		case v.OK:
		case r.Events == 0:
			v.Reason = "no " + word + " to measure"
		case math.IsInf(val, 1) && (stat == "max" || stat == "avg"):
			v.Reason = badText() + ": a bad event is slower than any limit"
		case math.IsInf(val, 1):
			v.Reason = fmt.Sprintf("%s, more than the %.3g %% a %s allows", badText(), 100*(1-quantileOf[stat]), stat)
		case r.Bad() > 0:
			v.Reason = fmt.Sprintf("successful calls alone %s; %s", Seconds(r.Success.Stat(stat)), badText())
		}
		out = append(out, v)
	}
	if g.Slope != nil {
		v := Verdict{Action: r.Action, Stat: "slope", Limit: metrics.Float(*g.Slope), Value: metrics.Float(r.SLO.Slope),
			Success: metrics.Float(r.Success.Slope), OK: r.SLO.Slope <= *g.Slope}
		switch {
		case v.OK:
		case math.IsNaN(r.SLO.Slope):
			v.Reason = "no successful call to fit"
		case r.Bad() > 0:
			v.Reason = fmt.Sprintf("successful calls alone %.4g; %s, fitted as the slowest calls", r.Success.Slope, badText())
		}
		out = append(out, v)
	}
	if g.ErrorRatio != nil {
		v := Verdict{Action: r.Action, Stat: "error_ratio", Limit: metrics.Float(*g.ErrorRatio), Value: metrics.Float(r.ErrorRatio), OK: r.ErrorRatio <= *g.ErrorRatio}
		if !v.OK {
			v.Reason = badText()
		}
		out = append(out, v)
	}
	return out
}

// pct shows n of total as a percentage.
func pct(n, total int64) string {
	if total == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.3g %%", 100*float64(n)/float64(total))
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

// GeneratorFault says why pbenchd's own generator, not the target, is to
// blame for an open loop's iteration, or "" when it is not. Its lateness
// or saturation is significant when it decides a verdict:
//   - it missed arrivals: it fell so far behind its schedule that the
//     phase's deadline came before it could issue them, so the target was
//     never offered the configured load and no verdict about it holds;
//   - a latency guarantee fails when measured from the intended start but
//     holds when measured from when a worker took each arrival up: the
//     breach is the generator's lag, not the target's time (nor the wait
//     for a connection, which counts against the target's side).
//
// Lateness that decides nothing (every verdict would be the same without
// it) is reported beside the results, not blamed.
func GeneratorFault(g config.Guarantee, r metrics.Result) string {
	if !r.Open {
		return ""
	}
	if r.Missed > 0 {
		return fmt.Sprintf("the generator fell behind its schedule: %d of %d arrivals could not be issued before the deadline", r.Missed, r.Events)
	}
	lim := latencyLimits(g)
	for _, stat := range metrics.Stats {
		d, ok := lim[stat]
		if !ok {
			continue
		}
		if judged, taken := r.SLO.Stat(stat), r.Taken.Stat(stat); judged > d.Seconds() && taken <= d.Seconds() {
			return fmt.Sprintf("the generator was late: %s is %s from the intended starts but %s from when pbenchd took the arrivals up, within %s (generator lag p99 %s, max %s)",
				stat, Seconds(judged), Seconds(taken), Seconds(d.Seconds()), Seconds(r.GeneratorLagP99), Seconds(r.GeneratorLagMax))
		}
	}
	return ""
}
