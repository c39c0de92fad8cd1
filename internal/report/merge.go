package report

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/jedib0t/go-pretty/v6/table"

	"github.com/pbenchd/pbenchd/internal/engine"
)

// MergeFormats are the formats report merge prints in.
var MergeFormats = []string{"table", "markdown", "csv", "json"}

// WriteMerged prints merged results in a format (MergeFormats): json is a
// results document, latency_hdr included, which report merge reads again;
// the others a row per scenario and action.
func WriteMerged(w io.Writer, merged []engine.MergedAction, format string) error {
	if format == "json" {
		doc := engine.Results{Build: engine.ThisBuild(), Results: map[string]engine.IterationJSON{}}
		for _, m := range merged {
			it := doc.Results[m.Scenario]
			it.Scenario = m.Scenario
			it.Actions = append(it.Actions, m.ActionJSON)
			doc.Results[m.Scenario] = it
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	t := table.NewWriter()
	t.SetOutputMirror(w)
	t.SetStyle(table.StyleLight)
	t.AppendHeader(table.Row{"scenario", "action", "iterations", "calls", "failed", "dropped", "qps",
		"min", "p50", "p95", "p99", "max", "avg", "error ratio"})
	for _, m := range merged {
		t.AppendRow(table.Row{m.Scenario, m.Action, m.Iterations, m.Calls, m.Failed, m.Dropped,
			fmt.Sprintf("%.1f", m.QPS), FormatSeconds(float64(m.Success.Min)), FormatSeconds(float64(m.P50)),
			FormatSeconds(float64(m.P95)), FormatSeconds(float64(m.P99)), FormatSeconds(float64(m.Max)),
			FormatSeconds(float64(m.Avg)), fmt.Sprintf("%.4f", m.ErrorRatio)})
	}
	switch format {
	case "markdown":
		t.RenderMarkdown()
	case "csv":
		t.RenderCSV()
	default:
		t.Render()
	}
	return nil
}
