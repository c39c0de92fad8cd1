package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

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

// readResults reads a results map from a daemon's API or a file.
func readResults(from string) (map[string]engine.IterationJSON, error) {
	var body io.Reader
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
		body = resp.Body
	} else {
		f, err := os.Open(from)
		if err != nil {
			return nil, fmt.Errorf("reading results: %w", err)
		}
		defer f.Close()
		body = f
	}
	var out map[string]engine.IterationJSON
	if err := json.NewDecoder(body).Decode(&out); err != nil {
		return nil, fmt.Errorf("%s: not pbenchd results: %w", from, err)
	}
	return out, nil
}

// writeResults saves iterations as the API shows them, for report.
func writeResults(path string, its []*engine.Iteration) error {
	out := map[string]engine.IterationJSON{}
	for _, it := range its {
		if !it.Stopped {
			out[it.Scenario] = it.JSON()
		}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
