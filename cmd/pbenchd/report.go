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
)

const reportUsage = `Usage: pbenchd report ivm [--from URL|FILE] [--format table|markdown|csv]

Prints the TPC-H IVM evaluation from the last iteration of each ivm_tpch_*
scenario: direct SELECT, SELECT of the view, REFRESH, one-row update with
incremental maintenance and without a view, freshness lag, and write TPS
against connections. --from is a running daemon (its /api/v1/results) or a
file written by 'pbenchd once --results-file'.
`

// runReport is `pbenchd report`.
func runReport(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "ivm" {
		fmt.Fprint(stderr, reportUsage)
		return exitUsage
	}
	fs := pflag.NewFlagSet("pbenchd report ivm", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "http://localhost:9731", "a pbenchd URL, or a results file from 'pbenchd once --results-file'")
	format := fs.String("format", "table", "table, markdown or csv")
	fs.Usage = func() { fmt.Fprintf(stderr, "%s\nFlags:\n%s", reportUsage, fs.FlagUsages()) }
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "pbenchd report: %v\n", err)
		return exitUsage
	}
	switch *format {
	case "table", "markdown", "csv":
	default:
		fmt.Fprintf(stderr, "pbenchd report: --format %q is not one of %s\n", *format, strings.Join(engine.IVMFormats, ", "))
		return exitUsage
	}
	results, err := readResults(*from)
	if err != nil {
		fmt.Fprintf(stderr, "pbenchd report: %v\n", err)
		return exitFailed
	}
	rep := engine.BuildIVMReport(results)
	if len(rep.Sweep.Scenarios) == 0 && !anyIVM(rep) {
		fmt.Fprintf(stderr, "pbenchd report: %s has no result of an ivm_tpch_* scenario yet\n", *from)
		return exitFailed
	}
	if err := engine.WriteIVMReport(stdout, rep, *format); err != nil {
		fmt.Fprintf(stderr, "pbenchd report: %v\n", err)
		return exitFailed
	}
	return exitOK
}

func anyIVM(rep engine.IVMReport) bool {
	for _, r := range rep.Rows {
		if r.Direct != nil || r.View != nil || r.Refresh != nil || r.IVMUpdate != nil || r.Update != nil {
			return true
		}
	}
	return false
}

// readResults reads results from a daemon's API or a file.
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
		r, err := engine.ReadResults(resp.Body, from)
		return r.Results, err
	}
	f, err := os.Open(from)
	if err != nil {
		return nil, fmt.Errorf("reading results: %w", err)
	}
	defer f.Close()
	r, err := engine.ReadResults(f, from)
	return r.Results, err
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
	return engine.FormatSeconds(v)
}
