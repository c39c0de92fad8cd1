package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/engine"
	"github.com/pbenchd/pbenchd/internal/guarantee"
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
	fl := newReportFlags("pbenchd report ivm", "pbenchd report", reportUsage, stderr)
	from := fl.from()
	format := fl.String("format", "table", "table, markdown, json or csv")
	if code, ok := fl.parse(args[1:], format, termui.Formats, false); !ok {
		return code
	}
	var runs []report.NamedResults
	for _, src := range sources(*from) {
		b, err := readSource(src)
		var results map[string]engine.IterationJSON
		if err == nil {
			results, err = report.ReadIVMResults(bytes.NewReader(b), src)
		}
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
		if err := report.WriteJSON(stdout, report.BuildIVMReport(runs...)); err != nil {
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

// reportFlags are the flags of a report subcommand, with the usage -h
// prints and the prefix of its error messages.
type reportFlags struct {
	*pflag.FlagSet
	prefix string
	stderr io.Writer
}

func newReportFlags(name, prefix, usage string, stderr io.Writer) *reportFlags {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintf(stderr, "%s\nFlags:\n%s", usage, fs.FlagUsages()) }
	return &reportFlags{FlagSet: fs, prefix: prefix, stderr: stderr}
}

// from adds --from: where results are read (see sources).
func (f *reportFlags) from() *[]string {
	return f.StringArray("from", nil, "a pbenchd URL, a results file from 'pbenchd once --results' or a log from 'run --results.file' (repeatable; default http://localhost:9731)")
}

// parse parses args and checks --format against formats and, unless the
// subcommand takes files, that no argument is left. When the command
// must stop there (help, a bad flag), ok is false and code its exit code.
func (f *reportFlags) parse(args []string, format *string, formats []string, files bool) (code int, ok bool) {
	if err := f.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK, false
		}
		fmt.Fprintf(f.stderr, "%s: %v\n", f.prefix, err)
		return exitUsage, false
	}
	if !files && f.NArg() > 0 {
		fmt.Fprintf(f.stderr, "%s: unexpected argument %q\n", f.prefix, f.Arg(0))
		return exitUsage, false
	}
	if !slices.Contains(formats, *format) {
		fmt.Fprintf(f.stderr, "%s: --format %q is not one of %s\n", f.prefix, *format, strings.Join(formats, ", "))
		return exitUsage, false
	}
	return exitOK, true
}

// sources are the --from values, by default the local daemon.
func sources(from []string) []string {
	if len(from) == 0 {
		return []string{"http://localhost:9731"}
	}
	return from
}

// readSource reads what a source of results holds: a daemon's
// /api/v1/results (an http:// or https:// URL, up to 64 MiB), a results
// file or a results log.
func readSource(src string) ([]byte, error) {
	if !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
		b, err := os.ReadFile(src)
		if err != nil {
			return nil, fmt.Errorf("reading results: %w", err)
		}
		return b, nil
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(strings.TrimSuffix(src, "/") + "/api/v1/results")
	if err != nil {
		return nil, fmt.Errorf("reading results from %s: %w", src, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("reading results from %s: %s", src, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading results from %s: %w", src, err)
	}
	return b, nil
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
	report.WriteComparison(w, this, base, path, cmp)
	return slices.ContainsFunc(cmp, func(c guarantee.Comparison) bool { return c.Regressed }), nil
}
