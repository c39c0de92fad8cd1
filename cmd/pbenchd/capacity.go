package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/spf13/pflag"

	"github.com/pbenchd/pbenchd/internal/engine"
)

const capacityUsage = `Usage: pbenchd report capacity [--from URL|FILE]... [--curve] [--format table|markdown|csv|json]

Prints the capacity every probe phase found: one row per iteration and
probed action, oldest first, with the highest rate that held inside its
SLO, why the search ended and how many steps it took. --from is a running
daemon (its /api/v1/results: the last iteration of each scenario), a file
written by 'pbenchd once --results', or the daemon's log of iterations
('run --results.file': capacity over time); repeatable. --curve adds each
probe's steps: the rate offered, what was served, p50, p99, the error
ratio and the step's outcome.
`

var capacityFormats = []string{"table", "markdown", "csv", "json"}

// capacityRow is one probe of one iteration, as report capacity prints it.
type capacityRow struct {
	Time     time.Time              `json:"time"`
	Source   string                 `json:"source"`
	Scenario string                 `json:"scenario"`
	Result   string                 `json:"result"`
	Probe    engine.ProbeJSON       `json:"probe"`
	Steps    []engine.ProbeStepJSON `json:"-"`
}

// runCapacity is `pbenchd report capacity`.
func runCapacity(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("pbenchd report capacity", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.StringArray("from", nil, "a pbenchd URL, a results file from 'pbenchd once --results' or a log from 'run --results.file' (repeatable; default http://localhost:9731)")
	curve := fs.Bool("curve", false, "print each probe's steps too")
	format := fs.String("format", "table", strings.Join(capacityFormats, ", "))
	fs.Usage = func() { fmt.Fprintf(stderr, "%s\nFlags:\n%s", capacityUsage, fs.FlagUsages()) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "pbenchd report capacity: %v\n", err)
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pbenchd report capacity: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if !slices.Contains(capacityFormats, *format) {
		fmt.Fprintf(stderr, "pbenchd report capacity: --format %q is not one of %s\n", *format, strings.Join(capacityFormats, ", "))
		return exitUsage
	}
	sources := *from
	if len(sources) == 0 {
		sources = []string{"http://localhost:9731"}
	}
	var rows []capacityRow
	for _, src := range sources {
		its, err := readIterations(src)
		if err != nil {
			fmt.Fprintf(stderr, "pbenchd report capacity: %v\n", err)
			return exitFailed
		}
		n := len(rows)
		for _, it := range its {
			for _, p := range it.Probes {
				rows = append(rows, capacityRow{Time: it.End, Source: src, Scenario: it.Scenario, Result: it.Result, Probe: p, Steps: p.Steps})
			}
		}
		if len(rows) == n {
			fmt.Fprintf(stderr, "pbenchd report capacity: %s has no result of a probe phase\n", src)
			return exitFailed
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Time.Before(rows[j].Time) })
	if err := writeCapacity(stdout, rows, *curve, *format, len(sources) > 1); err != nil {
		fmt.Fprintf(stderr, "pbenchd report capacity: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// readIterations reads every iteration a source holds: the last one of
// each scenario from a daemon or a results file, every line of a results
// log, oldest first.
func readIterations(src string) ([]engine.IterationJSON, error) {
	var b []byte
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		c := &http.Client{Timeout: 10 * time.Second}
		resp, err := c.Get(strings.TrimSuffix(src, "/") + "/api/v1/results")
		if err != nil {
			return nil, fmt.Errorf("reading results from %s: %w", src, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("reading results from %s: %s", src, resp.Status)
		}
		if b, err = io.ReadAll(io.LimitReader(resp.Body, 64<<20)); err != nil {
			return nil, fmt.Errorf("reading results from %s: %w", src, err)
		}
	} else {
		var err error
		if b, err = os.ReadFile(src); err != nil {
			return nil, fmt.Errorf("reading results: %w", err)
		}
	}
	out, err := engine.ReadIterations(bytes.NewReader(b), src)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].End.Before(out[j].End) })
	return out, nil
}

// writeCapacity prints the rows in a format.
func writeCapacity(w io.Writer, rows []capacityRow, curve bool, format string, withSource bool) error {
	if format == "json" {
		e := json.NewEncoder(w)
		e.SetIndent("", "  ")
		if !curve {
			for i := range rows {
				rows[i].Probe.Steps = nil
			}
		}
		return e.Encode(rows)
	}
	render := func(t table.Writer) {
		switch format {
		case "markdown":
			t.RenderMarkdown()
		case "csv":
			t.RenderCSV()
		default:
			t.SetStyle(table.StyleLight)
			t.Render()
		}
	}
	t := table.NewWriter()
	t.SetOutputMirror(w)
	head := table.Row{"time", "scenario", "action", "capacity", "reason", "steps", "iteration"}
	if withSource {
		head = append(head, "source")
	}
	t.AppendHeader(head)
	for _, r := range rows {
		row := table.Row{r.Time.UTC().Format(time.RFC3339), r.Scenario, r.Probe.Action, rate(r.Probe.Capacity), r.Probe.Reason, len(r.Steps), r.Result}
		if withSource {
			row = append(row, r.Source)
		}
		t.AppendRow(row)
	}
	render(t)
	if !curve {
		return nil
	}
	for _, r := range rows {
		fmt.Fprintf(w, "\n%s %s/%s: capacity %s (%s)\n", r.Time.UTC().Format(time.RFC3339), r.Scenario, r.Probe.Action, rate(r.Probe.Capacity), r.Probe.Reason)
		c := table.NewWriter()
		c.SetOutputMirror(w)
		c.AppendHeader(table.Row{"step", "rate", "served", "p50", "p99", "error ratio", "outcome"})
		for i, st := range r.Steps {
			c.AppendRow(table.Row{i, rate(st.Rate), rate(st.Result.ServedQPS), seconds(float64(st.Result.P50)), seconds(float64(st.Result.P99)),
				strconv.FormatFloat(st.Result.ErrorRatio, 'g', 4, 64), st.Outcome})
		}
		render(c)
	}
	return nil
}

func rate(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + "/s" }

// seconds prints a latency given in seconds as a duration; ∞ for a
// latency of bad events (beyond any limit), - for none.
func seconds(s float64) string {
	switch {
	case s != s:
		return "-"
	case s > 1e300:
		return "∞"
	}
	return time.Duration(s * 1e9).Round(time.Microsecond).String()
}
