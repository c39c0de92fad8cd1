package main

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/pbenchd/pbenchd/internal/engine"
	"github.com/pbenchd/pbenchd/internal/report"
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

// runCapacity is `pbenchd report capacity`.
func runCapacity(args []string, stdout, stderr io.Writer) int {
	fl := newReportFlags("pbenchd report capacity", "pbenchd report capacity", capacityUsage, stderr)
	from := fl.from()
	curve := fl.Bool("curve", false, "print each probe's steps too")
	format := fl.String("format", "table", strings.Join(report.CapacityFormats, ", "))
	if code, ok := fl.parse(args, format, report.CapacityFormats, false); !ok {
		return code
	}
	srcs := sources(*from)
	var rows []report.CapacityRow
	for _, src := range srcs {
		its, err := readIterations(src)
		if err != nil {
			fmt.Fprintf(stderr, "pbenchd report capacity: %v\n", err)
			return exitFailed
		}
		n := len(rows)
		for _, it := range its {
			for _, p := range it.Probes {
				rows = append(rows, report.CapacityRow{Time: it.End, Source: src, Scenario: it.Scenario, Result: it.Result, Probe: p, Steps: p.Steps})
			}
		}
		if len(rows) == n {
			fmt.Fprintf(stderr, "pbenchd report capacity: %s has no result of a probe phase\n", src)
			return exitFailed
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Time.Before(rows[j].Time) })
	if err := report.WriteCapacity(stdout, rows, *curve, *format, len(srcs) > 1); err != nil {
		fmt.Fprintf(stderr, "pbenchd report capacity: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// readIterations reads every iteration a source holds: the last one of
// each scenario from a daemon or a results file, every line of a results
// log, oldest first.
func readIterations(src string) ([]engine.IterationJSON, error) {
	b, err := readSource(src)
	if err != nil {
		return nil, err
	}
	out, err := engine.ReadIterations(bytes.NewReader(b), src)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].End.Before(out[j].End) })
	return out, nil
}
