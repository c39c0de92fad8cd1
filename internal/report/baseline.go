package report

import (
	"fmt"
	"io"

	"github.com/jedib0t/go-pretty/v6/table"

	"github.com/pbenchd/pbenchd/internal/engine"
	"github.com/pbenchd/pbenchd/internal/guarantee"
)

// WriteComparison prints a run's regression check against a baseline
// read from path: a row per stat compared (engine.CompareBaseline), or a
// line saying the two have no action in common.
func WriteComparison(w io.Writer, this, base engine.Results, path string, cmp []guarantee.Comparison) {
	if len(cmp) == 0 {
		fmt.Fprintf(w, "\nbaseline %s (%s): no action in common with this run\n", path, base.Build.Version)
		return
	}
	fmt.Fprintf(w, "\nregression check: this build %s against baseline %s (%s)\n", this.Build.Version, path, base.Build.Version)
	t := table.NewWriter()
	t.SetOutputMirror(w)
	t.SetStyle(table.StyleLight)
	t.AppendHeader(table.Row{"scenario", "action", "stat", "this", "baseline", "ratio", "limit", "verdict"})
	for _, c := range cmp {
		verdict, limit := "ok", "-"
		switch {
		case c.Regressed:
			verdict = "REGRESSION"
		case c.Threshold == 0:
			verdict = "not gated"
		}
		if c.Threshold > 0 {
			limit = fmt.Sprintf("×%.2f", c.Threshold)
		}
		t.AppendRow(table.Row{c.Scenario, c.Action, c.Stat, statText(c.Stat, c.This), statText(c.Stat, c.Baseline),
			fmt.Sprintf("×%.2f", c.Ratio), limit, verdict})
	}
	t.Render()
}

// statText shows a compared stat: qps as a rate, the others as latencies.
func statText(stat string, v float64) string {
	if stat == "qps" {
		return fmt.Sprintf("%.1f", v)
	}
	return FormatSeconds(v)
}
