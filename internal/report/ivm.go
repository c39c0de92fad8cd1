package report

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/jedib0t/go-pretty/v6/table"

	"github.com/pbenchd/pbenchd/internal/engine"
)

// IVMReport is the IVM evaluation in the shape of the published table,
// for one run or several side by side: a row per run, query and strategy,
// with the scenario that measured it, its verdict and check, the median
// time of a direct SELECT, a SELECT of the view, a full REFRESH and a
// one-row update, the view's mean and p99 staleness and how many of its
// refreshes overran their period; and the write throughput and latency
// against connections per strategy. Each run says what data it measured.
type IVMReport struct {
	Runs  []IVMRun
	Rows  []IVMRow
	Sweep []IVMSweepRow
}

// IVMRun is one set of results and what it measured.
type IVMRun struct {
	// Name is where the results came from (a file, a URL).
	Name string
	// Data says what the scenarios ran on: scale factor, seed, data
	// source, schema and foreign keys, one line per distinct setting.
	Data []string
}

// IVMRow is one query under one strategy in one run; a value is nil where
// the scenario did not measure it.
type IVMRow struct {
	Run      string
	Query    string // Q01, Q09, …
	Strategy string // none, refresh, pg_ivm, native
	Scenario string
	// Verdict is pass, fail or error (with the error).
	Verdict string
	// Check is the result of the scenario's view check, "" if it has none.
	Check string
	// Seconds (medians): direct SELECT, SELECT of the view, REFRESH, the
	// one-row update, insert and delete (with this strategy's
	// maintenance of every view of the scenario).
	Direct, View, Refresh, Update, Insert, Delete *float64
	// FreshMean and FreshP99 are the view's staleness: the lag from a
	// marker's commit until the view showed it.
	FreshMean, FreshP99 *float64
	// Refreshes and Overran count the refresher's scheduled refreshes and
	// those dropped because the previous one was still running.
	Refreshes, Overran int64
}

// IVMSweepRow is one step of one scenario's write sweep.
type IVMSweepRow struct {
	Run, Scenario, Strategy string
	// Write is the sweep's action: update_sweep, insert_sweep.
	Write       string
	Connections int
	TPS         float64
	P50, P99    float64 // seconds
	Errors      int64
}

// ivmScenario matches the IVM scenarios' names: ivm_tpch_<query>_<strategy>
// or ivm_tpch_none.
var ivmScenario = regexp.MustCompile(`^ivm_tpch_(?:(.+)_)?(none|refresh|pg_ivm|native)$`)

// ivmQueryAction matches the per-query actions: q01_direct, q09_view, …
// and lineitem_view for the single-table view.
var ivmQueryAction = regexp.MustCompile(`^(q[0-9]+|lineitem)_(direct|view|refresh|freshness)$`)

// NamedResults are the results of one run and where they came from.
type NamedResults struct {
	Name    string
	Results map[string]engine.IterationJSON
}

// BuildIVMReport reads the ivm_tpch_* scenarios of each run.
func BuildIVMReport(runs ...NamedResults) IVMReport {
	var rep IVMReport
	for _, run := range runs {
		names := make([]string, 0, len(run.Results))
		for n := range run.Results {
			if ivmScenario.MatchString(n) {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		rep.Runs = append(rep.Runs, IVMRun{Name: run.Name, Data: dataLines(run.Results, names)})
		for _, n := range names {
			it := run.Results[n]
			strategy := ivmScenario.FindStringSubmatch(n)[2]
			rep.Rows = append(rep.Rows, ivmRows(run.Name, n, strategy, it)...)
			for _, sw := range it.Sweeps {
				for i, c := range sw.Concurrency {
					st := sw.Steps[i]
					rep.Sweep = append(rep.Sweep, IVMSweepRow{Run: run.Name, Scenario: n, Strategy: strategy, Write: sw.Action,
						Connections: c, TPS: st.QPS, P50: float64(st.P50), P99: float64(st.P99), Errors: st.Failed + st.Dropped})
				}
			}
		}
	}
	// Rows of one query and strategy together, runs side by side.
	sort.SliceStable(rep.Rows, func(i, j int) bool {
		a, b := rep.Rows[i], rep.Rows[j]
		if a.Query != b.Query {
			return a.Query < b.Query
		}
		if a.Strategy != b.Strategy {
			return strategyRank(a.Strategy) < strategyRank(b.Strategy)
		}
		return a.Scenario < b.Scenario
	})
	sort.SliceStable(rep.Sweep, func(i, j int) bool {
		a, b := rep.Sweep[i], rep.Sweep[j]
		if a.Write != b.Write {
			return a.Write > b.Write // updates first, as published
		}
		if a.Scenario != b.Scenario {
			return a.Scenario < b.Scenario
		}
		return a.Connections < b.Connections
	})
	return rep
}

func strategyRank(s string) int {
	return slices.Index([]string{"none", "refresh", "pg_ivm", "native"}, s)
}

// ivmRows makes a scenario's rows: one per query it measured.
func ivmRows(run, scenario, strategy string, it engine.IterationJSON) []IVMRow {
	acts := map[string]engine.ActionJSON{}
	var queries []string
	for _, a := range it.Actions {
		acts[a.Action] = a
		if m := ivmQueryAction.FindStringSubmatch(a.Action); m != nil && !slices.Contains(queries, m[1]) {
			queries = append(queries, m[1])
		}
	}
	if m := ivmScenario.FindStringSubmatch(scenario); len(queries) == 0 && m[1] != "" {
		// Nothing measured (setup failed): the row still says so.
		queries = append(queries, m[1])
	}
	p50 := func(action string) *float64 {
		if a, ok := acts[action]; ok && a.Calls > a.Failed {
			v := float64(a.P50)
			return &v
		}
		return nil
	}
	verdict := it.Result
	if it.Error != "" {
		verdict += ": " + it.Error
	}
	var out []IVMRow
	for _, q := range queries {
		label := strings.ToUpper(q[:1]) + q[1:]
		if q == "lineitem" {
			label = "lineitem rows (single table)"
		}
		row := IVMRow{Run: run, Query: label, Strategy: strategy, Scenario: scenario,
			Verdict: verdict, Direct: p50(q + "_direct"), View: p50(q + "_view"), Refresh: p50(q + "_refresh"),
			Update: p50("lineitem_update"), Insert: p50("lineitem_insert"), Delete: p50("lineitem_delete")}
		for _, c := range it.Checks {
			if !strings.Contains(c.Name, q) {
				continue
			}
			switch {
			case c.Error != "":
				row.Check = "ERROR: " + c.Error
			case c.Match:
				row.Check = fmt.Sprintf("ok (%d rows)", c.Rows)
			default:
				row.Check = fmt.Sprintf("MISMATCH (%d rows expected, %d missing, %d extra)", c.Rows, len(c.Missing), len(c.Extra))
			}
		}
		if a, ok := acts[q+"_freshness"]; ok && a.Calls > a.Failed {
			mean, p99 := float64(a.Avg), float64(a.P99)
			row.FreshMean, row.FreshP99 = &mean, &p99
		}
		if a, ok := acts[q+"_refresher"]; ok {
			row.Refreshes, row.Overran = a.Calls+a.Dropped, a.Dropped
		}
		out = append(out, row)
	}
	return out
}

// dataLines describe the data of the scenarios named, from their vars.
func dataLines(results map[string]engine.IterationJSON, names []string) []string {
	var out []string
	for _, n := range names {
		v := results[n].Vars
		if v == nil {
			continue
		}
		fk := "on"
		if b, err := strconv.ParseBool(fmt.Sprint(v["foreign_keys"])); err == nil && !b {
			fk = "off"
		}
		line := fmt.Sprintf("SF %v, seed %v, pbenchd's TPC-H-shaped data (not dbgen), schema %v, foreign keys %s",
			v["sf"], v["seed"], v["schema"], fk)
		if !slices.Contains(out, line) {
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		out = append(out, "data not recorded (results of an older pbenchd)")
	}
	return out
}

// ReadIVMResults reads what `report ivm` takes: the results file of
// `pbenchd once --results` or of the API, or the daemon's JSON-lines log
// (`run --results.file`), of which the last iteration of each scenario
// counts.
func ReadIVMResults(rd io.Reader, name string) (map[string]engine.IterationJSON, error) {
	b, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var whole engine.Results
	if err := json.Unmarshal(b, &whole); err == nil && whole.Results != nil {
		return whole.Results, nil
	}
	out := map[string]engine.IterationJSON{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var it engine.IterationJSON
		if err := json.Unmarshal(line, &it); err != nil || it.Scenario == "" {
			return nil, fmt.Errorf("%s:%d: neither pbenchd results nor a line of a results log (run --results.file)", name, n)
		}
		out[it.Scenario] = it
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: empty: no results", name)
	}
	return out, nil
}

// IVMFormats are the formats WriteIVMReport writes.
var IVMFormats = []string{"table", "markdown", "csv"}

// WriteIVMReport writes the report as a table, Markdown or CSV.
func WriteIVMReport(w io.Writer, rep IVMReport, format string) error {
	if !slices.Contains(IVMFormats, format) {
		return fmt.Errorf("format %q is not one of %s", format, strings.Join(IVMFormats, ", "))
	}
	multi := len(rep.Runs) > 1
	head := []string{"query", "strategy", "scenario", "verdict", "check", "SELECT query", "SELECT view", "REFRESH",
		"update 1 row", "insert 1 row", "delete 1 row", "staleness mean", "staleness p99", "refreshes overran"}
	if multi {
		head = append([]string{"run"}, head...)
	}
	var rows [][]string
	for _, r := range rep.Rows {
		over := "-"
		if r.Refreshes > 0 {
			over = fmt.Sprintf("%d of %d", r.Overran, r.Refreshes)
		}
		check := r.Check
		if check == "" {
			check = "-"
		}
		row := []string{r.Query, r.Strategy, r.Scenario, r.Verdict, check, fmtSeconds(r.Direct), fmtSeconds(r.View),
			fmtSeconds(r.Refresh), fmtSeconds(r.Update), fmtSeconds(r.Insert), fmtSeconds(r.Delete), fmtSeconds(r.FreshMean), fmtSeconds(r.FreshP99), over}
		if multi {
			row = append([]string{r.Run}, row...)
		}
		rows = append(rows, row)
	}
	sweepHead := []string{"write", "scenario", "connections", "TPS", "p50", "p99", "errors"}
	if multi {
		sweepHead = append([]string{"run"}, sweepHead...)
	}
	var sweepRows [][]string
	for _, s := range rep.Sweep {
		write := strings.TrimSuffix(s.Write, "_sweep")
		row := []string{write, s.Scenario, strconv.Itoa(s.Connections), fmt.Sprintf("%.0f", s.TPS),
			FormatSeconds(s.P50), FormatSeconds(s.P99), strconv.FormatInt(s.Errors, 10)}
		if multi {
			row = append([]string{s.Run}, row...)
		}
		sweepRows = append(sweepRows, row)
	}
	var about []string
	for _, run := range rep.Runs {
		for _, d := range run.Data {
			about = append(about, fmt.Sprintf("%s: %s", run.Name, d))
		}
	}
	if format == "csv" {
		cw := csv.NewWriter(w)
		for _, a := range about {
			_ = cw.Write([]string{"# " + a})
		}
		_ = cw.Write(head)
		_ = cw.WriteAll(rows)
		if len(sweepRows) > 0 {
			_ = cw.Write(nil)
			_ = cw.Write(sweepHead)
			_ = cw.WriteAll(sweepRows)
		}
		cw.Flush()
		return cw.Error()
	}
	for _, a := range about {
		fmt.Fprintf(w, "%s\n", a)
	}
	fmt.Fprintln(w)
	render := func(title string, h []string, rs [][]string) {
		t := table.NewWriter()
		t.SetOutputMirror(w)
		t.SetStyle(table.StyleLight)
		t.AppendHeader(toRow(h))
		for _, r := range rs {
			t.AppendRow(toRow(r))
		}
		if format == "markdown" {
			fmt.Fprintf(w, "%s\n\n", title)
			t.RenderMarkdown()
			fmt.Fprintln(w)
			return
		}
		t.SetTitle(title)
		t.Render()
	}
	render("IVM on TPC-H (medians of the last iteration; staleness from a marker's commit until the view shows it)", head, rows)
	if len(sweepRows) > 0 {
		render("write throughput and latency by connections (one-row writes; errors: failed and dropped calls)", sweepHead, sweepRows)
	}
	return nil
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
	case v == nil || math.IsNaN(*v):
		return "-"
	case math.IsInf(*v, 1):
		return "∞"
	case *v >= 1:
		return fmt.Sprintf("%.3f s", *v)
	case *v >= 0.001:
		return fmt.Sprintf("%.3f ms", *v*1e3)
	case *v == 0:
		return "0"
	}
	return fmt.Sprintf("%.1f µs", *v*1e6)
}
