package report

import (
	"bytes"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/engine"
	"github.com/pbenchd/pbenchd/internal/guarantee"
	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/termui"
)

var update = flag.Bool("update", false, "rewrite the golden files of the report tests")

// goldenLayouts are the terminals the tables are drawn for: 80 and 120
// columns, boxed (a terminal) and plain (a pipe that set COLUMNS).
var goldenLayouts = []struct {
	name   string
	layout termui.Layout
}{
	{"80", termui.Layout{Width: 80, Boxed: true}},
	{"120", termui.Layout{Width: 120, Boxed: true}},
	{"80_plain", termui.Layout{Width: 80}},
	{"120_plain", termui.Layout{Width: 120}},
}

// TestGoldenTables draws list, check and once's summary at each width
// and compares them with testdata/golden/ (go test -run Golden -update
// rewrites them). Every line must fit the width.
func TestGoldenTables(t *testing.T) {
	cfg, err := config.Load(config.Options{Files: []string{"testdata/report.yaml"}, Environ: []string{}, Kinds: action.Kinds, NoBuiltinScenarios: true})
	if err != nil {
		t.Fatal(err)
	}
	its := goldenIterations()
	for _, l := range goldenLayouts {
		out := Output{Format: "table", Layout: l.layout}
		for _, g := range []struct {
			name  string
			write func(*bytes.Buffer)
		}{
			{"list", func(b *bytes.Buffer) { _ = List(b, cfg, out) }},
			{"check", func(b *bytes.Buffer) {
				for _, sc := range cfg.Selected() {
					Describe(b, cfg, sc, out)
				}
			}},
			{"once", func(b *bytes.Buffer) {
				for _, it := range its {
					SummaryTo(b, it, out)
				}
				_ = ClosingTable(its).Write(b, "table", l.layout)
			}},
		} {
			t.Run(g.name+"_"+l.name, func(t *testing.T) {
				var b bytes.Buffer
				g.write(&b)
				golden(t, filepath.Join("testdata/golden", g.name+"_"+l.name+".txt"), b.Bytes())
				for i, line := range bytes.Split(b.Bytes(), []byte("\n")) {
					if n := len([]rune(string(line))); n > l.layout.Width {
						t.Errorf("line %d is %d columns wide, more than %d:\n%s", i+1, n, l.layout.Width, line)
					}
				}
			})
		}
	}
}

// goldenIterations are two finished iterations with every column filled:
// error classes, retries, drops, broken guarantees, an error.
func goldenIterations() []*engine.Iteration {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	pass := &engine.Iteration{
		Scenario: "reads_under_a_rather_long_scenario_name", Start: start, End: start.Add(2*time.Minute + 1500*time.Millisecond),
		Result:   engine.Fail,
		Reported: map[string]bool{"select_by_primary_key": true, "update_one_row": true},
		Results: []metrics.Result{
			{Action: "select_by_primary_key", Calls: 44000, OK: 43990, Failed: 10, Dropped: 3, QPS: 399.9,
				Open: true, OfferedQPS: 400, ServedQPS: 399.9,
				SLO:          metrics.Latency{Avg: 0.0013, P50: 0.0009, P95: 0.003, P99: 0.012, Max: math.Inf(1)},
				Success:      metrics.Latency{Avg: 0.0012, P50: 0.0009, P95: 0.003, P99: 0.012, Max: 0.31},
				ErrorClasses: map[string]int64{"sqlstate_42P01": 7, "timeout": 3}},
			{Action: "update_one_row", Calls: 5000, OK: 5000, Retries: 107, QPS: 45.5,
				ServedQPS: 45.5,
				SLO:       metrics.Latency{Avg: 0.08, P50: 0.07, P95: 0.19, P99: 0.26, Max: 1.9},
				Success:   metrics.Latency{Avg: 0.08, P50: 0.07, P95: 0.19, P99: 0.26, Max: 1.9}},
		},
		Messages: []engine.Message{
			{Action: "select_by_primary_key", Class: "sqlstate_42P01", Message: `ERROR: relation "golden_items" does not exist (SQLSTATE 42P01)`},
			{Action: "select_by_primary_key", Class: "timeout", Message: "timeout: context deadline exceeded"},
		},
		Verdicts: []guarantee.Verdict{
			{Action: "select_by_primary_key", Stat: "qps", Limit: 390, Value: 399.9, OK: true},
			{Action: "select_by_primary_key", Stat: "p99", Limit: 0.1, Value: 0.012, OK: true},
			{Action: "select_by_primary_key", Stat: "error_ratio", Limit: 0.001, Value: 0.0003, OK: true},
			{Action: "update_one_row", Stat: "p99", Limit: 0.25, Value: 0.26, OK: false},
			{Action: "update_one_row", Stat: "max", Limit: 2, Value: 1.9, OK: true},
		},
	}
	errored := &engine.Iteration{
		Scenario: "kafka_mix", Start: start, End: start.Add(3 * time.Second), Result: engine.Error,
		Err: errors.New("setup[0]: target kafka: dial tcp 127.0.0.1:9092: connect: connection refused"),
	}
	kafka := &engine.Iteration{
		Scenario: "kafka_mix", Start: start, End: start.Add(30 * time.Second), Result: engine.Pass,
		Reported: map[string]bool{"consume": true},
		Results: []metrics.Result{{Action: "consume", Calls: 300, OK: 300, QPS: 10,
			ServedQPS: 10,
			SLO:       metrics.Latency{Avg: 0.1, P50: 0.1, P95: 0.1, P99: 0.101, Max: 0.102},
			Success:   metrics.Latency{Avg: 0.1, P50: 0.1, P95: 0.1, P99: 0.101, Max: 0.102}}},
		Figures: map[string][]action.Figure{"consume": {
			{Name: "records", Value: 3000}, {Name: "e2e_p50", Value: 0.0021, Seconds: true}, {Name: "e2e_p99", Value: 0.0093, Seconds: true},
			{Name: "e2e_max", Value: 0.04, Seconds: true}, {Name: "missing", Value: 0}, {Name: "duplicate", Value: 0}, {Name: "foreign", Value: 0},
		}},
		Verdicts: []guarantee.Verdict{
			{Action: "consume", Stat: "e2e_p99", Limit: 1, Value: 0.0093, OK: true},
			{Action: "consume", Stat: "missing", Limit: 0, Value: 0, OK: true},
		},
	}
	return []*engine.Iteration{pass, errored, kafka}
}

// golden compares got with the file, or rewrites it under -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what is drawn now (go test -run Golden -update rewrites it):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
