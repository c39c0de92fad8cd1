package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/spf13/pflag"

	"github.com/pbenchd/pbenchd/internal/engine"
	"github.com/pbenchd/pbenchd/internal/report"
)

const mergeUsage = `Usage: pbenchd report merge [--concurrent] [--format table|markdown|csv|json] FILE…

Merges the results of several iterations, and of several pbenchd, exactly:
each FILE is a results file ('pbenchd once --results', /api/v1/results) or
a results log ('--results.file', one iteration a line). Counts add up and
the latency distributions (HdrHistogram, kept with every result) are
summed, so p50, p95, p99 and max are those of all the calls together, as if
one iteration had made them. QPS is the successful calls over the sum of
the measured windows; with --concurrent (the files were measured at the
same time, by several pbenchd against one target) it is the sum of the
QPS. --format json prints the merged results as a results file,
latency_hdr included, so that merges merge again.
`

var mergeFormats = []string{"table", "markdown", "csv", "json"}

// runMerge is `pbenchd report merge`.
func runMerge(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("pbenchd report merge", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	concurrent := fs.Bool("concurrent", false, "the files were measured at the same time: QPS adds up")
	format := fs.String("format", "table", strings.Join(mergeFormats, ", "))
	fs.Usage = func() { fmt.Fprintf(stderr, "%s\nFlags:\n%s", mergeUsage, fs.FlagUsages()) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "pbenchd report merge: %v\n", err)
		return exitUsage
	}
	if !slices.Contains(mergeFormats, *format) {
		fmt.Fprintf(stderr, "pbenchd report merge: --format %q is not one of %s\n", *format, strings.Join(mergeFormats, ", "))
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintf(stderr, "pbenchd report merge: no FILE given\n\n%s", mergeUsage)
		return exitUsage
	}
	var its []engine.IterationJSON
	for _, path := range fs.Args() {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintf(stderr, "pbenchd report merge: %v\n", err)
			return exitUsage
		}
		got, err := engine.ReadIterations(f, path)
		f.Close()
		if err != nil {
			fmt.Fprintf(stderr, "pbenchd report merge: %v\n", err)
			return exitUsage
		}
		its = append(its, got...)
	}
	merged, err := engine.MergeIterations(its, *concurrent)
	if err != nil {
		fmt.Fprintf(stderr, "pbenchd report merge: %v\n", err)
		return exitUsage
	}
	if *format == "json" {
		// A results document, which report merge reads again.
		doc := engine.Results{Build: engine.ThisBuild(), Results: map[string]engine.IterationJSON{}}
		for _, m := range merged {
			it := doc.Results[m.Scenario]
			it.Scenario = m.Scenario
			it.Actions = append(it.Actions, m.ActionJSON)
			doc.Results[m.Scenario] = it
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			fmt.Fprintf(stderr, "pbenchd report merge: %v\n", err)
			return exitFailed
		}
		return exitOK
	}
	t := table.NewWriter()
	t.SetOutputMirror(stdout)
	t.SetStyle(table.StyleLight)
	t.AppendHeader(table.Row{"scenario", "action", "iterations", "calls", "failed", "dropped", "qps",
		"min", "p50", "p95", "p99", "max", "avg", "error ratio"})
	for _, m := range merged {
		t.AppendRow(table.Row{m.Scenario, m.Action, m.Iterations, m.Calls, m.Failed, m.Dropped,
			fmt.Sprintf("%.1f", m.QPS), report.FormatSeconds(float64(m.Success.Min)), report.FormatSeconds(float64(m.P50)),
			report.FormatSeconds(float64(m.P95)), report.FormatSeconds(float64(m.P99)), report.FormatSeconds(float64(m.Max)),
			report.FormatSeconds(float64(m.Avg)), fmt.Sprintf("%.4f", m.ErrorRatio)})
	}
	switch *format {
	case "markdown":
		t.RenderMarkdown()
	case "csv":
		t.RenderCSV()
	default:
		t.Render()
	}
	return exitOK
}
