package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pbenchd/pbenchd/internal/engine"
)

// TestNoopAndMerge: a scenario of noop actions runs with no target; its
// results carry each action's latency distribution; `report merge` of two
// runs adds their counts, and its JSON merges again to the same figures.
func TestNoopAndMerge(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, "noop.yaml", nil)
	dir := t.TempDir()
	var files []string
	var calls [2]int64
	for i := range 2 {
		out := filepath.Join(dir, "r"+strconv.Itoa(i)+".json")
		var stdout, stderr bytes.Buffer
		if code := run([]string{"once", "--config", cfg, "--scenarios", "e2e_noop", "--results", out}, &stdout, &stderr); code != 0 {
			t.Fatalf("once: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		its, err := engine.ReadIterations(f, out)
		f.Close()
		if err != nil || len(its) != 1 || len(its[0].Actions) != 2 {
			t.Fatalf("results %s: %+v, %v", out, its, err)
		}
		for _, a := range its[0].Actions {
			if a.Calls == 0 || a.LatencyHDR == "" || !strings.HasPrefix(a.LatencyHDR, "HISTF") {
				t.Errorf("%s: %d calls, latency_hdr %q; want calls and an encoded histogram", a.Action, a.Calls, a.LatencyHDR)
			}
		}
		calls[i] = its[0].Actions[0].Calls
		files = append(files, out)
	}

	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"report", "merge", "--format", "csv"}, files...), &stdout, &stderr); code != 0 {
		t.Fatalf("report merge: exit %d\n%s", code, stderr.String())
	}
	want := "e2e_noop,open_nothing,2," + strconv.FormatInt(calls[0]+calls[1], 10) + ",0,"
	if !strings.Contains(stdout.String(), want) || !strings.Contains(stdout.String(), "e2e_noop,closed_sleep,2,") {
		t.Errorf("report merge lacks %q and closed_sleep:\n%s", want, stdout.String())
	}

	// The JSON form is a results file: merged alone, it gives itself.
	stdout.Reset()
	if code := run(append([]string{"report", "merge", "--format", "json"}, files...), &stdout, &stderr); code != 0 {
		t.Fatalf("report merge --format json: exit %d\n%s", code, stderr.String())
	}
	merged := filepath.Join(dir, "merged.json")
	if err := os.WriteFile(merged, stdout.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var first engine.Results
	if err := json.Unmarshal(stdout.Bytes(), &first); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if code := run([]string{"report", "merge", "--format", "json", merged}, &stdout, &stderr); code != 0 {
		t.Fatalf("report merge of a merge: exit %d\n%s", code, stderr.String())
	}
	var again engine.Results
	if err := json.Unmarshal(stdout.Bytes(), &again); err != nil {
		t.Fatal(err)
	}
	a, b := first.Results["e2e_noop"].Actions, again.Results["e2e_noop"].Actions
	if len(a) != 2 || len(b) != 2 || a[0].P99 != b[0].P99 || a[0].Calls != b[0].Calls || a[0].LatencyHDR != b[0].LatencyHDR {
		t.Errorf("a merge merged again changed:\n%+v\n%+v", a, b)
	}

	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"report", "merge"}, "no FILE given"},
		{[]string{"report", "merge", "--format", "html", files[0]}, `--format "html" is not one of table, markdown, csv, json`},
		{[]string{"report", "merge", filepath.Join(dir, "missing.json")}, "no such file"},
		{[]string{"report", "merge", cfg}, "neither pbenchd results nor a line of a results log"},
	} {
		stdout.Reset()
		stderr.Reset()
		if code := run(c.args, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr.String(), c.msg)
		}
	}
}
