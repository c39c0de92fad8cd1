// Package report owns what pbenchd prints of its runs for a person or a
// program, apart from the iteration lifecycle that produces them (package
// engine): an iteration's results and its sweeps and probes, and the
// closing summary (once); what check and list show of the scenarios; a
// phase's live progress and the loader's progress bars; the regression
// check against a baseline; and the report subcommands' output: the
// TPC-H IVM evaluation, merged results and probe capacity. The tables of
// once, check and list are termui tables, so that every --format shows
// the same figures.
package report

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/engine"
	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/termui"
)

// Output says how a command prints: the --format and the terminal's
// layout.
type Output struct {
	// Format is table, markdown, json or csv (termui.Formats).
	Format string
	// Layout is the table layout (width, boxed on a terminal).
	Layout termui.Layout
}

// SummaryTo writes an iteration in out's format (table or markdown; json
// and csv are written once for the whole run, by the command): its
// errors and checks, its sweeps and probes, then a row per action with
// its calls, QPS, latency statistics, errors, retries, drops and
// guarantee verdicts.
func SummaryTo(w io.Writer, it *engine.Iteration, out Output) {
	md := out.Format == "markdown"
	heading := fmt.Sprintf("scenario %s: %s (%s)", it.Scenario, strings.ToUpper(it.Result), it.End.Sub(it.Start).Round(time.Millisecond))
	if md {
		heading = "### " + heading
	}
	fmt.Fprintf(w, "\n%s\n", heading)
	if md {
		fmt.Fprintln(w)
	}
	if it.Err != nil {
		para(w, out.Layout.Width, "  ", "error: "+it.Err.Error())
	}
	if it.TeardownErr != nil {
		para(w, out.Layout.Width, "  ", "teardown failed: "+it.TeardownErr.Error())
	}
	for _, c := range it.Checks {
		switch {
		case c.Err != nil:
			fmt.Fprintf(w, "  check %s: ERROR %v\n", c.Name, c.Err)
		case c.Match:
			fmt.Fprintf(w, "  check %s: ok (%d rows agree)\n", c.Name, c.Rows)
		default:
			fmt.Fprintf(w, "  check %s: MISMATCH (%d rows expected)\n", c.Name, c.Rows)
			for _, r := range c.Missing {
				fmt.Fprintf(w, "    missing %s\n", r)
			}
			for _, r := range c.Extra {
				fmt.Fprintf(w, "    extra   %s\n", r)
			}
		}
	}
	for _, sw := range SweepTables(it) {
		_ = sw.Write(w, out.Format, out.Layout)
	}
	probeTables(w, it.Probes)
	// Messages of actions without a row below (swept, probed) come here.
	for _, m := range it.Messages {
		if !slices.ContainsFunc(it.Results, func(r metrics.Result) bool { return r.Action == m.Action }) {
			para(w, out.Layout.Width, "  ", fmt.Sprintf("%s %s: %s", m.Action, m.Class, m.Message))
		}
	}
	if len(it.Results) == 0 {
		return
	}
	_ = ResultsTable(it).Write(w, out.Format, out.Layout)
}

// para writes text indented, wrapped to width (0: no limit), the lines
// after the first indented two more.
func para(w io.Writer, width int, indent, text string) {
	if width <= 0 {
		fmt.Fprintf(w, "%s%s\n", indent, text)
		return
	}
	for i, l := range termui.Wrap(text, max(width-len(indent)-2, 20)) {
		if i > 0 {
			l = "  " + l
		}
		fmt.Fprintf(w, "%s%s\n", indent, l)
	}
}

// SweepTables are an iteration's sweep phases, one table each.
func SweepTables(it *engine.Iteration) []*termui.Table {
	var out []*termui.Table
	for _, sw := range it.Sweeps {
		st := &termui.Table{
			Title: "sweep " + sw.Phase + ": " + sw.Action,
			Columns: []termui.Column{{Title: "concurrency", Right: true}, {Title: "calls", Right: true}, {Title: "qps", Right: true},
				{Title: "p50", Right: true}, {Title: "p95", Right: true}, {Title: "p99", Right: true}, {Title: "max", Right: true}, {Title: "errors"}},
		}
		for _, s := range sw.Steps {
			r := s.Result
			st.Add(s.Concurrency, r.Calls, fmt.Sprintf("%.1f", r.QPS), latText(r, "p50"), latText(r, "p95"), latText(r, "p99"), latText(r, "max"), errorText(r))
		}
		out = append(out, st)
	}
	return out
}

// ResultsTable is an iteration's results, a row per action. Columns are
// data: a figure added to the results is a column added here, and every
// format shows it.
func ResultsTable(it *engine.Iteration) *termui.Table {
	// On a narrow terminal the latencies, then the counts (calls, qps,
	// retries, dropped) stack into one column each.
	lat := func(title string) termui.Column {
		return termui.Column{Title: title, Right: true, Group: "latency", Collapse: 1}
	}
	// Latencies are over every arrival or call, a failed, dropped or
	// cut-off one slower than any limit (∞ when a statistic's rank falls on
	// one), as guarantees judge them; "ok" below is successful calls alone.
	t := &termui.Table{Columns: []termui.Column{
		{Title: "action", Keep: true},
		{Title: "calls", Right: true, Group: "counts", Collapse: 2},
		{Title: "offered/s", Right: true, Group: "counts", Collapse: 2},
		{Title: "served/s", Right: true, Group: "counts", Collapse: 2},
		{Title: "qps", Right: true, Group: "counts", Collapse: 2},
		lat("avg"), lat("p50"), lat("p95"), lat("p99"), lat("max"),
		{Title: "errors", Min: 12},
		{Title: "retries", Right: true, Group: "counts", Collapse: 2},
		{Title: "dropped", Right: true, Group: "counts", Collapse: 2},
		{Title: "guarantees", Min: 11},
	}}
	// An action kind's own figures (Kafka's end-to-end latency and
	// counts) get a column when there are any.
	figs := len(it.Figures) > 0
	if figs {
		last := t.Columns[len(t.Columns)-1]
		t.Columns = append(t.Columns[:len(t.Columns)-1], termui.Column{Title: "figures", Min: 12}, last)
	}
	n := 0 // footnotes: the first server message of each error class
	for _, r := range it.Results {
		var vs []string
		for _, v := range it.Verdicts {
			if v.Action == r.Action {
				vs = append(vs, v.String())
			}
		}
		if !it.Reported[r.Action] {
			vs = append(vs, "(not reported)")
		}
		// A class's line points at the footnote with its first message.
		lines := strings.Split(errorText(r), "\n")
		for _, m := range it.Messages {
			if m.Action != r.Action {
				continue
			}
			n++
			t.Notes = append(t.Notes, fmt.Sprintf("[%d] %s %s: %s", n, m.Action, m.Class, m.Message))
			for i, l := range lines {
				if strings.HasPrefix(l, m.Class+"=") {
					lines[i] += fmt.Sprintf(" [%d]", n)
				}
			}
		}
		errs := strings.Join(lines, "\n")
		if f := r.GeneratorFault; f != "" {
			vs = append(vs, "GENERATOR AT FAULT: "+f)
		}
		offered := "-"
		if r.Open {
			offered = fmt.Sprintf("%.1f", r.OfferedQPS)
		}
		cells := []any{r.Action, r.Calls, offered, fmt.Sprintf("%.1f", r.ServedQPS), fmt.Sprintf("%.1f", r.QPS),
			latText(r, "avg"), latText(r, "p50"), latText(r, "p95"), latText(r, "p99"), latText(r, "max"),
			errs, r.Retries, r.Dropped + r.Missed}
		if figs {
			cells = append(cells, figuresText(it.Figures[r.Action]))
		}
		t.Add(append(cells, strings.Join(vs, "\n"))...)
	}
	return t
}

// ClosingTable sums up a run of several scenarios: a row each, with its
// result, time and the guarantees it broke.
func ClosingTable(its []*engine.Iteration) *termui.Table {
	t := &termui.Table{
		Title: "summary",
		Columns: []termui.Column{{Title: "scenario", Keep: true}, {Title: "result"}, {Title: "time", Right: true},
			{Title: "actions", Right: true}, {Title: "broken / error", Key: "broken", Min: 14}},
	}
	counts := map[string]int{}
	for _, it := range its {
		result := it.Result
		if it.Stopped {
			result = "stopped"
		}
		counts[result]++
		var why []string
		for _, v := range it.Verdicts {
			if !v.OK {
				why = append(why, v.Action+": "+v.String())
			}
		}
		if it.Err != nil {
			why = append(why, it.Err.Error())
		}
		t.Add(it.Scenario, strings.ToUpper(result), it.End.Sub(it.Start).Round(time.Second), len(it.Results), strings.Join(why, "\n"))
	}
	var parts []string
	for _, r := range []string{engine.Pass, engine.Fail, engine.Error, "stopped"} {
		if counts[r] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[r], r))
		}
	}
	t.Notes = []string{fmt.Sprintf("%d scenario(s): %s", len(its), strings.Join(parts, ", "))}
	return t
}

// errorText is the count of failed calls, then a line per class.
func errorText(r metrics.Result) string {
	errs := fmt.Sprint(r.Failed)
	if len(r.ErrorClasses) > 0 {
		var cs []string
		for c, n := range r.ErrorClasses {
			cs = append(cs, fmt.Sprintf("%s=%d", c, n))
		}
		sort.Strings(cs)
		errs += "\n" + strings.Join(cs, "\n")
	}
	return errs
}

// latText shows a latency statistic as judged and, when bad events make
// it differ, the successful calls' own figure under it.
func latText(r metrics.Result, stat string) string {
	slo, ok := r.SLO.Stat(stat), r.Success.Stat(stat)
	s := termui.Seconds(slo)
	if slo != ok && !(math.IsNaN(slo) && math.IsNaN(ok)) {
		s += "\nok " + termui.Seconds(ok)
	}
	return s
}

// figuresText is an action's figures for a table cell, a line each.
func figuresText(figs []action.Figure) string {
	var lines []string
	for _, f := range figs {
		val := fmt.Sprintf("%g", f.Value)
		if f.Seconds {
			val = termui.Duration(time.Duration(f.Value * 1e9))
		}
		lines = append(lines, strings.ReplaceAll(f.Name, "_", " ")+" "+val)
	}
	return strings.Join(lines, "\n")
}

// probeTables writes each probe's curve and capacity, for `once`.
func probeTables(w io.Writer, ps []engine.Probe) {
	for _, p := range ps {
		t := table.NewWriter()
		t.SetOutputMirror(w)
		t.SetStyle(table.StyleLight)
		t.SetTitle(fmt.Sprintf("probe %s: %s, capacity %s (%s)", p.Phase, p.Action, rateText(p.Capacity), p.Reason))
		t.AppendHeader(table.Row{"step", "rate", "served", "p50", "p99", "errors", "dropped", "outcome"})
		for i, st := range p.Steps {
			r := st.Result
			t.AppendRow(table.Row{i, fmt.Sprintf("%.1f", st.Rate), fmt.Sprintf("%.1f", r.ServedQPS), latText(r, "p50"), latText(r, "p99"), errorText(r), r.Dropped, st.Outcome})
		}
		t.Render()
	}
}

// rateText prints a rate in arrivals per second with as many digits as a
// person needs: 200000/s, 141.4/s.
func rateText(v float64) string {
	if v >= 1000 || v == math.Trunc(v) {
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64) + "/s"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + "/s"
}
