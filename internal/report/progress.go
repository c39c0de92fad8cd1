package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/pbenchd/pbenchd/internal/engine"
	"github.com/pbenchd/pbenchd/internal/termui"
)

// ProgressLines draws a phase's progress as a few lines for a terminal: a
// heading, then a row per action.
func ProgressLines(p engine.PhaseProgress, width int) []string {
	head := fmt.Sprintf("%s/%s: %s of %s", p.Scenario, p.Phase, p.Elapsed.Round(time.Second), p.Duration)
	if p.Elapsed < p.Warmup {
		head += fmt.Sprintf(" (warming up until %s: figures start then)", p.Warmup)
	}
	t := &termui.Table{Columns: []termui.Column{
		{Title: "action", Keep: true}, {Title: "offered", Right: true}, {Title: "served", Right: true},
		{Title: "qps", Right: true}, {Title: "p50", Right: true}, {Title: "p99", Right: true},
		{Title: "errors", Right: true}, {Title: "dropped", Right: true}, {Title: "in flight", Right: true},
	}}
	for _, a := range p.Actions {
		t.Add(a.Action, a.Offered(), a.Calls, fmt.Sprintf("%.1f", a.QPS), termui.Seconds(a.SLO.P50), termui.Seconds(a.SLO.P99), a.Failed, a.Dropped, a.Inflight)
	}
	var b strings.Builder
	_ = t.Write(&b, "table", termui.Layout{Width: width})
	return append([]string{head}, strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")...)
}
