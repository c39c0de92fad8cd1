package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/spf13/pflag"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/engine"
	"github.com/pbenchd/pbenchd/internal/report"
	"github.com/pbenchd/pbenchd/internal/termui"
)

const reportUsage = `Usage: pbenchd report ivm [--from URL|FILE]... [--format table|markdown|json|csv]
       pbenchd report merge [--concurrent] [--format table|markdown|csv|json] FILE…
       pbenchd report capacity [--from URL|FILE]... [--curve] [--format table|markdown|csv|json]

Prints the TPC-H IVM evaluation from the last iteration of each ivm_tpch_*
scenario: a row per query and strategy with its scenario, verdict and view
check; direct SELECT, SELECT of the view, REFRESH and one-row update
(medians); the view's mean and p99 staleness and the refreshes that overran
their period; then write TPS and latency against connections. Each run's
scale factor, data and schema are printed with it. --from is a running
daemon (its /api/v1/results), a file written by 'pbenchd once --results',
or the daemon's log of iterations ('run --results.file'); give it twice to
put two runs side by side (e.g. SF 0.1 and SF 1).
`

// runReport is `pbenchd report`.
func runReport(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "merge" {
		return runMerge(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "capacity" {
		return runCapacity(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "ivm" {
		fmt.Fprint(stderr, reportUsage)
		return exitUsage
	}
	fs := pflag.NewFlagSet("pbenchd report ivm", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.StringArray("from", nil, "a pbenchd URL, a results file from 'pbenchd once --results' or a log from 'run --results.file' (repeatable; default http://localhost:9731)")
	format := fs.String("format", "table", "table, markdown, json or csv")
	fs.Usage = func() { fmt.Fprintf(stderr, "%s\nFlags:\n%s", reportUsage, fs.FlagUsages()) }
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "pbenchd report: %v\n", err)
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pbenchd report: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if err := termui.CheckFormat(*format); err != nil {
		fmt.Fprintf(stderr, "pbenchd report: %v\n", err)
		return exitUsage
	}
	sources := *from
	if len(sources) == 0 {
		sources = []string{"http://localhost:9731"}
	}
	var runs []report.NamedResults
	for _, src := range sources {
		results, err := readResults(src)
		if err != nil {
			fmt.Fprintf(stderr, "pbenchd report: %v\n", err)
			return exitFailed
		}
		rep := report.BuildIVMReport(report.NamedResults{Name: src, Results: results})
		if len(rep.Rows) == 0 && len(rep.Sweep) == 0 {
			fmt.Fprintf(stderr, "pbenchd report: %s has no result of an ivm_tpch_* scenario yet\n", src)
			return exitFailed
		}
		runs = append(runs, report.NamedResults{Name: src, Results: results})
	}
	if *format == "json" {
		if err := writeJSON(stdout, report.BuildIVMReport(runs...)); err != nil {
			fmt.Fprintf(stderr, "pbenchd report: %v\n", err)
			return exitRuntime
		}
		return exitOK
	}
	if err := report.WriteIVMReport(stdout, report.BuildIVMReport(runs...), *format); err != nil {
		fmt.Fprintf(stderr, "pbenchd report: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// readResults reads results from a daemon's API, a results file or a
// results log.
func readResults(from string) (map[string]engine.IterationJSON, error) {
	if strings.HasPrefix(from, "http://") || strings.HasPrefix(from, "https://") {
		c := &http.Client{Timeout: 10 * time.Second}
		resp, err := c.Get(strings.TrimSuffix(from, "/") + "/api/v1/results")
		if err != nil {
			return nil, fmt.Errorf("reading results from %s: %w", from, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("reading results from %s: %s", from, resp.Status)
		}
		return report.ReadIVMResults(resp.Body, from)
	}
	f, err := os.Open(from)
	if err != nil {
		return nil, fmt.Errorf("reading results: %w", err)
	}
	defer f.Close()
	return report.ReadIVMResults(f, from)
}

// compareBaseline prints this run against a baseline file and reports
// whether any stat regressed.
func compareBaseline(w io.Writer, cfg *config.Config, this engine.Results, path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	base, err := engine.ReadResults(f, path)
	if err != nil {
		return false, err
	}
	cmp := engine.CompareBaseline(cfg, this, base)
	if len(cmp) == 0 {
		fmt.Fprintf(w, "\nbaseline %s (%s): no action in common with this run\n", path, base.Build.Version)
		return false, nil
	}
	fmt.Fprintf(w, "\nregression check: this build %s against baseline %s (%s)\n", this.Build.Version, path, base.Build.Version)
	t := table.NewWriter()
	t.SetOutputMirror(w)
	t.SetStyle(table.StyleLight)
	t.AppendHeader(table.Row{"scenario", "action", "stat", "this", "baseline", "ratio", "limit", "verdict"})
	regressed := false
	for _, c := range cmp {
		verdict, limit := "ok", "-"
		switch {
		case c.Regressed:
			verdict, regressed = "REGRESSION", true
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
	return regressed, nil
}

func statText(stat string, v float64) string {
	if stat == "qps" {
		return fmt.Sprintf("%.1f", v)
	}
	return report.FormatSeconds(v)
}
