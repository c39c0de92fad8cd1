package engine

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/guarantee"
	"github.com/pbenchd/pbenchd/internal/metrics"
)

// figureVerdicts checks the guarantees on an action kind's own figures
// (kafka_consume's end-to-end latency and counts). A guarantee on a
// figure the action did not report (no record arrived, so no latency)
// fails: what was not measured was not met.
func figureVerdicts(act string, g config.Guarantee, figs []action.Figure) []guarantee.Verdict {
	limits := g.FigureLimits()
	var out []guarantee.Verdict
	for _, name := range []string{"e2e_p50", "e2e_p99", "e2e_max", "missing", "duplicate", "foreign"} {
		limit, ok := limits[name]
		if !ok {
			continue
		}
		v := guarantee.Verdict{Action: act, Stat: name, Limit: metrics.Float(limit)}
		i := slices.IndexFunc(figs, func(f action.Figure) bool { return f.Name == name })
		if i >= 0 {
			v.Value = metrics.Float(figs[i].Value)
			v.OK = figs[i].Value <= limit
		}
		out = append(out, v)
	}
	return out
}

// figuresText is an action's figures for a table cell, a line each.
func figuresText(figs []action.Figure) string {
	var lines []string
	for _, f := range figs {
		val := fmt.Sprintf("%g", f.Value)
		if f.Seconds {
			val = fmtDur(time.Duration(f.Value * 1e9))
		}
		lines = append(lines, strings.ReplaceAll(f.Name, "_", " ")+" "+val)
	}
	return strings.Join(lines, "\n")
}
