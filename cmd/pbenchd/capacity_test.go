package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pbenchd/pbenchd/internal/engine"
	"github.com/pbenchd/pbenchd/internal/report"
)

// TestReportCapacity: two `once` runs of a probe write their results;
// `report capacity` reads both and prints one row each, oldest first, with
// the capacity each file holds, in every format, the curve with --curve.
func TestReportCapacity(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, "probe_noop.yaml", nil)
	dir := t.TempDir()
	var files []string
	var want []engine.ProbeJSON
	for i := range 2 {
		out := filepath.Join(dir, "r"+strconv.Itoa(i)+".json")
		var stdout, stderr bytes.Buffer
		code := run([]string{"once", "--config", cfg, "--scenarios", "e2e_probe", "--results", out}, &stdout, &stderr)
		f, err := os.Open(out)
		if err != nil {
			t.Fatalf("once: exit %d, no results: %v\n%s\n%s", code, err, stdout.String(), stderr.String())
		}
		its, err := engine.ReadIterations(f, out)
		f.Close()
		if err != nil || len(its) != 1 || len(its[0].Probes) != 1 {
			t.Fatalf("results %s: %+v, %v", out, its, err)
		}
		p := its[0].Probes[0]
		if len(p.Steps) == 0 || !strings.Contains(stdout.String(), "probe probe: null_probe, capacity") {
			t.Fatalf("once printed no probe table or the probe has no steps (%+v):\n%s", p, stdout.String())
		}
		want = append(want, p)
		files = append(files, out)
	}

	var stdout, stderr bytes.Buffer
	if code := run([]string{"report", "capacity", "--from", files[0], "--from", files[1], "--format", "csv"}, &stdout, &stderr); code != 0 {
		t.Fatalf("report capacity: exit %d\n%s", code, stderr.String())
	}
	recs, err := csv.NewReader(strings.NewReader(stdout.String())).ReadAll()
	if err != nil || len(recs) != 3 {
		t.Fatalf("csv: %v, %d records, want a header and 2 rows:\n%s", err, len(recs), stdout.String())
	}
	for i, r := range recs[1:] {
		// time, scenario, action, capacity, reason, steps, iteration, source
		if r[1] != "e2e_probe" || r[2] != "null_probe" || r[3] != strconv.FormatFloat(want[i].Capacity, 'f', 1, 64)+"/s" ||
			r[4] != want[i].Reason || r[5] != strconv.Itoa(len(want[i].Steps)) || r[7] != files[i] {
			t.Errorf("row %d: %q, want capacity %v (%s) in %d steps from %s", i, r, want[i].Capacity, want[i].Reason, len(want[i].Steps), files[i])
		}
	}

	stdout.Reset()
	if code := run([]string{"report", "capacity", "--from", files[1], "--format", "json", "--curve"}, &stdout, &stderr); code != 0 {
		t.Fatalf("report capacity --format json: exit %d\n%s", code, stderr.String())
	}
	var rows []report.CapacityRow
	if err := json.Unmarshal(stdout.Bytes(), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("json: %v, %d rows:\n%s", err, len(rows), stdout.String())
	}
	if got := rows[0].Probe; got.Capacity != want[1].Capacity || len(got.Steps) != len(want[1].Steps) {
		t.Errorf("json row %+v, want capacity %v with %d steps", got, want[1].Capacity, len(want[1].Steps))
	}

	stdout.Reset()
	if code := run([]string{"report", "capacity", "--from", files[0], "--curve"}, &stdout, &stderr); code != 0 {
		t.Fatalf("report capacity --curve: exit %d\n%s", code, stderr.String())
	}
	for _, st := range want[0].Steps {
		if rate := strconv.FormatFloat(st.Rate, 'f', 1, 64) + "/s"; !strings.Contains(stdout.String(), rate) {
			t.Errorf("the curve lacks the step at %s:\n%s", rate, stdout.String())
		}
	}

	// A file without probes is an error that says so.
	noop := filepath.Join(dir, "noop.json")
	if code := run([]string{"once", "--config", writeConfig(t, "noop.yaml", nil), "--scenarios", "e2e_noop", "--results", noop}, &stdout, &stderr); code != 0 {
		t.Fatalf("once noop: exit %d\n%s", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"report", "capacity", "--from", noop}, &stdout, &stderr); code != exitFailed || !strings.Contains(stderr.String(), "has no result of a probe phase") {
		t.Errorf("report capacity of a file without probes: exit %d, %q", code, stderr.String())
	}
}
