package report

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/engine"
	"github.com/pbenchd/pbenchd/internal/termui"
)

// WriteCheck prints `pbenchd check`: the warnings, then what each selected
// scenario would run.
func WriteCheck(w io.Writer, cfg *config.Config, sel []*config.Scenario, out Output) error {
	switch out.Format {
	case "json":
		plans := make([]Plan, 0, len(sel))
		for _, sc := range sel {
			plans = append(plans, PlanOf(cfg, sc))
		}
		return WriteJSON(w, struct {
			Warnings  []string `json:"warnings"`
			Scenarios []Plan   `json:"scenarios"`
		}{append([]string{}, cfg.Warnings()...), plans})
	case "csv":
		// One table of every action of every scenario, a scenario column
		// first.
		t := &termui.Table{}
		for _, sc := range sel {
			pt := PlanTable(PlanOf(cfg, sc))
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
		Describe(w, cfg, sc, out)
		fmt.Fprintln(w)
	}
	return nil
}

// WriteRun prints what `pbenchd once` prints at the end: the closing
// summary (table, markdown), the results (json) or every action's row of
// every scenario (csv).
func WriteRun(w io.Writer, its []*engine.Iteration, results engine.Results, out Output) error {
	switch out.Format {
	case "json":
		return WriteJSON(w, results)
	case "csv":
		t := &termui.Table{}
		for _, it := range its {
			rt := ResultsTable(it)
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
	return ClosingTable(its).Write(w, out.Format, out.Layout)
}

// WriteJSON writes v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
