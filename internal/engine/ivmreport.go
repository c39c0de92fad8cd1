package engine

import (
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/jedib0t/go-pretty/v6/table"
)

// IVMReport is the IVM evaluation in the shape of the published table:
// per query, the median time of a direct SELECT, a SELECT of the view, a
// full REFRESH, a one-row update with incremental maintenance, the same
// update with no view, and the view's freshness lag; and the write
// throughput against connections per strategy.
type IVMReport struct {
	Rows  []IVMRow
	Sweep IVMSweep
}

// IVMRow is one query's line; a value is nil where no scenario measured it.
type IVMRow struct {
	Query                                    string
	Direct, View, Refresh, IVMUpdate, Update *float64 // seconds (p50)
	Freshness                                *float64 // seconds (p50)
	// FreshnessNote explains a freshness value that is not measured
	// ("0 by construction" for pg_ivm).
	FreshnessNote string
}

// IVMSweep is write throughput (calls/s) per concurrency, one column per
// scenario that ran the sweep.
type IVMSweep struct {
	Scenarios   []string
	Concurrency []int
	QPS         map[string]map[int]float64
}

// ivmStrategies are the scenario name suffixes, in the order a value is
// looked for when several scenarios measured it.
var ivmStrategies = []string{"pg_ivm", "native", "refresh"}

// BuildIVMReport reads the last iterations of the ivm_tpch_* scenarios.
func BuildIVMReport(results map[string]IterationJSON) IVMReport {
	p50 := func(scenario, action string) *float64 {
		it, ok := results[scenario]
		if !ok {
			return nil
		}
		for _, a := range it.Actions {
			if a.Action == action && a.Calls > a.Failed {
				v := a.P50
				return &v
			}
		}
		return nil
	}
	first := func(action string, scenarios ...string) *float64 {
		for _, s := range scenarios {
			if v := p50(s, action); v != nil {
				return v
			}
		}
		return nil
	}
	var rep IVMReport
	for _, q := range []string{"q01", "q09"} {
		byStrategy := func(names ...string) []string {
			var out []string
			for _, n := range names {
				out = append(out, "ivm_tpch_"+q+"_"+n)
			}
			return out
		}
		row := IVMRow{Query: strings.ToUpper(q[:1]) + q[1:]}
		row.Direct = first(q+"_direct", append([]string{"ivm_tpch_none"}, byStrategy(ivmStrategies...)...)...)
		row.View = first(q+"_view", byStrategy(ivmStrategies...)...)
		row.Refresh = first(q+"_refresh", byStrategy("refresh")...)
		row.IVMUpdate = first("lineitem_update", byStrategy("pg_ivm", "native")...)
		row.Update = first("lineitem_update", "ivm_tpch_none")
		row.Freshness = first(q+"_freshness", byStrategy("native", "refresh")...)
		if row.Freshness == nil {
			if it, ok := results["ivm_tpch_"+q+"_pg_ivm"]; ok && it.Result != Error {
				zero := 0.0
				row.Freshness, row.FreshnessNote = &zero, "pg_ivm: 0 by construction"
			}
		}
		rep.Rows = append(rep.Rows, row)
	}
	rep.Sweep.QPS = map[string]map[int]float64{}
	names := make([]string, 0, len(results))
	for n := range results {
		names = append(names, n)
	}
	sort.Strings(names)
	seen := map[int]bool{}
	for _, n := range names {
		if !strings.HasPrefix(n, "ivm_tpch_") {
			continue
		}
		for _, sw := range results[n].Sweeps {
			rep.Sweep.Scenarios = append(rep.Sweep.Scenarios, n)
			rep.Sweep.QPS[n] = map[int]float64{}
			for i, c := range sw.Concurrency {
				rep.Sweep.QPS[n][c] = sw.Steps[i].QPS
				if !seen[c] {
					seen[c] = true
					rep.Sweep.Concurrency = append(rep.Sweep.Concurrency, c)
				}
			}
			break // one sweep per scenario
		}
	}
	sort.Ints(rep.Sweep.Concurrency)
	return rep
}

// IVMFormats are the formats WriteIVMReport writes.
var IVMFormats = []string{"table", "markdown", "csv"}

// WriteIVMReport writes the report as a table, Markdown or CSV.
func WriteIVMReport(w io.Writer, rep IVMReport, format string) error {
	head := []string{"query", "SELECT query", "SELECT view", "REFRESH", "IVM (update 1 row)", "update, no view", "freshness"}
	var rows [][]string
	for _, r := range rep.Rows {
		fresh := fmtSeconds(r.Freshness)
		if r.FreshnessNote != "" {
			fresh = r.FreshnessNote
		}
		rows = append(rows, []string{r.Query, fmtSeconds(r.Direct), fmtSeconds(r.View), fmtSeconds(r.Refresh),
			fmtSeconds(r.IVMUpdate), fmtSeconds(r.Update), fresh})
	}
	sweepHead := append([]string{"connections"}, rep.Sweep.Scenarios...)
	var sweepRows [][]string
	for _, c := range rep.Sweep.Concurrency {
		row := []string{strconv.Itoa(c)}
		for _, s := range rep.Sweep.Scenarios {
			if v, ok := rep.Sweep.QPS[s][c]; ok {
				row = append(row, fmt.Sprintf("%.0f", v))
			} else {
				row = append(row, "-")
			}
		}
		sweepRows = append(sweepRows, row)
	}
	switch format {
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write(head)
		_ = cw.WriteAll(rows)
		if len(sweepRows) > 0 {
			_ = cw.Write(nil)
			_ = cw.Write(append([]string{"write TPS"}, sweepHead...))
			for _, r := range sweepRows {
				_ = cw.Write(append([]string{""}, r...))
			}
		}
		cw.Flush()
		return cw.Error()
	case "markdown", "table":
		render := func(title string, h []string, rs [][]string) {
			t := table.NewWriter()
			t.SetOutputMirror(w)
			t.SetStyle(table.StyleLight)
			if title != "" && format == "table" {
				t.SetTitle(title)
			}
			t.AppendHeader(toRow(h))
			for _, r := range rs {
				t.AppendRow(toRow(r))
			}
			if format == "markdown" {
				if title != "" {
					fmt.Fprintf(w, "%s\n\n", title)
				}
				t.RenderMarkdown()
				fmt.Fprintln(w)
				return
			}
			t.Render()
		}
		render("IVM on TPC-H (median of the last iteration)", head, rows)
		if len(sweepRows) > 0 {
			render("write TPS by connections", sweepHead, sweepRows)
		}
		return nil
	}
	return fmt.Errorf("format %q is not one of %s", format, strings.Join(IVMFormats, ", "))
}

func toRow(s []string) table.Row {
	r := make(table.Row, len(s))
	for i, v := range s {
		r[i] = v
	}
	return r
}

// FormatSeconds shows a duration in seconds with a unit that suits it.
func FormatSeconds(v float64) string { return fmtSeconds(&v) }

// fmtSeconds shows a duration in seconds with a unit that suits it.
func fmtSeconds(v *float64) string {
	switch {
	case v == nil:
		return "-"
	case *v >= 1:
		return fmt.Sprintf("%.3f s", *v)
	case *v >= 0.001:
		return fmt.Sprintf("%.3f ms", *v*1e3)
	case *v == 0:
		return "0"
	}
	return fmt.Sprintf("%.1f µs", *v*1e6)
}
