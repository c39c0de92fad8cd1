package main

import (
	"fmt"
	"io"
	"os"
	"strings"

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

// runMerge is `pbenchd report merge`.
func runMerge(args []string, stdout, stderr io.Writer) int {
	fl := newReportFlags("pbenchd report merge", "pbenchd report merge", mergeUsage, stderr)
	concurrent := fl.Bool("concurrent", false, "the files were measured at the same time: QPS adds up")
	format := fl.String("format", "table", strings.Join(report.MergeFormats, ", "))
	if code, ok := fl.parse(args, format, report.MergeFormats, true); !ok {
		return code
	}
	if fl.NArg() == 0 {
		fmt.Fprintf(stderr, "pbenchd report merge: no FILE given\n\n%s", mergeUsage)
		return exitUsage
	}
	var its []engine.IterationJSON
	for _, path := range fl.Args() {
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
	if err := report.WriteMerged(stdout, merged, *format); err != nil {
		fmt.Fprintf(stderr, "pbenchd report merge: %v\n", err)
		return exitFailed
	}
	return exitOK
}
