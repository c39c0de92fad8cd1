package engine

import (
	"slices"

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
