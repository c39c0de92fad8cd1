package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/engine"
	"github.com/pbenchd/pbenchd/internal/report"
	"github.com/pbenchd/pbenchd/internal/termui"
)

// writeCheck prints `pbenchd check`: the warnings, then what each selected
// scenario would run.
func writeCheck(w io.Writer, cfg *config.Config, sel []*config.Scenario, out report.Output) error {
	switch out.Format {
	case "json":
		plans := make([]report.Plan, 0, len(sel))
		for _, sc := range sel {
			plans = append(plans, report.PlanOf(cfg, sc))
		}
		return writeJSON(w, struct {
			Warnings  []string      `json:"warnings"`
			Scenarios []report.Plan `json:"scenarios"`
		}{append([]string{}, cfg.Warnings()...), plans})
	case "csv":
		// One table of every action of every scenario, a scenario column
		// first.
		t := &termui.Table{}
		for _, sc := range sel {
			pt := report.PlanTable(report.PlanOf(cfg, sc))
			if t.Columns == nil {
				t.Columns = append([]termui.Column{{Title: "scenario"}}, pt.Columns...)
			}
			for _, r := range pt.Rows {
				t.Rows = append(t.Rows, append([]string{sc.Name}, r...))
			}
		}
		return t.Write(w, "csv", out.Layout)
	}
	fmt.Fprintf(w, "configuration ok: %d scenario(s) would run, in this order\n\n", len(sel))
	if ws := cfg.Warnings(); len(ws) > 0 {
		for _, warn := range ws {
			fmt.Fprintf(w, "warning: %s\n", warn)
		}
		fmt.Fprintln(w)
	}
	for _, sc := range sel {
		report.Describe(w, cfg, sc, out)
		fmt.Fprintln(w)
	}
	return nil
}

// writeRun prints what `pbenchd once` prints at the end: the closing
// summary (table, markdown), the results (json) or every action's row of
// every scenario (csv).
func writeRun(w io.Writer, its []*engine.Iteration, results engine.Results, out report.Output) error {
	switch out.Format {
	case "json":
		return writeJSON(w, results)
	case "csv":
		t := &termui.Table{}
		for _, it := range its {
			rt := report.ResultsTable(it)
			if t.Columns == nil {
				t.Columns = append([]termui.Column{{Title: "scenario"}, {Title: "result"}}, rt.Columns...)
			}
			for _, r := range rt.Rows {
				t.Rows = append(t.Rows, append([]string{it.Scenario, it.Result}, r...))
			}
		}
		if t.Columns == nil {
			t.Columns = []termui.Column{{Title: "scenario"}, {Title: "result"}}
		}
		return t.Write(w, "csv", out.Layout)
	}
	if len(its) < 2 {
		return nil
	}
	fmt.Fprintln(w)
	return report.ClosingTable(its).Write(w, out.Format, out.Layout)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
