package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pbenchd/pbenchd/internal/metrics"
)

// TestOnceResultsAndBaseline: `once --results` writes the results with the
// build; `once --baseline` passes against a slower baseline and fails,
// printing this vs baseline vs ratio, against a faster one.
func TestOnceResultsAndBaseline(t *testing.T) {
	t.Parallel()
	table := uniqueTable()
	dropTable(t, table)
	cfg := writeConfig(t, "once.yaml", map[string]string{"DSN": testDSN(), "Table": table})
	dir := t.TempDir()
	out := filepath.Join(dir, "out.json")
	args := []string{"once", "--config", cfg, "--scenarios", "e2e_once_pass", "--duration", "2s", "--warmup", "0s"}

	var stdout, stderr bytes.Buffer
	if code := run(append(args, "--results", out), &stdout, &stderr); code != 0 {
		t.Fatalf("once --results: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	var doc map[string]any
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("results file is not JSON: %v\n%s", err, b)
	}
	build, _ := doc["build"].(map[string]any)
	// In process, the version is the package's (the test binary is not
	// linked with a version).
	if build["version"] != metrics.Version || build["goversion"] == "" {
		t.Errorf("results build = %v, want version %s and a Go version", build, metrics.Version)
	}
	results, _ := doc["results"].(map[string]any)
	sc, _ := results["e2e_once_pass"].(map[string]any)
	actions, _ := sc["actions"].([]any)
	if len(actions) != 1 {
		t.Fatalf("results: %d actions of e2e_once_pass, want 1:\n%s", len(actions), b)
	}
	a := actions[0].(map[string]any)
	for _, k := range []string{"calls", "qps", "p50", "p95", "p99", "max", "avg", "error_ratio"} {
		if _, ok := a[k]; !ok {
			t.Errorf("results action has no %q: %v", k, a)
		}
	}

	// A baseline 10× slower: this run is better, no regression.
	scale := func(f float64) string {
		qps := a["qps"].(float64)
		cp := map[string]any{}
		for k, v := range a {
			cp[k] = v
		}
		cp["qps"] = qps * f
		for _, k := range []string{"p50", "p95", "p99", "max", "avg"} {
			cp[k] = a[k].(float64) / f
		}
		sc["actions"] = []any{cp}
		nb, _ := json.Marshal(doc)
		path := filepath.Join(dir, "base.json")
		if err := os.WriteFile(path, nb, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	stdout.Reset()
	stderr.Reset()
	if code := run(append(args, "--baseline", scale(0.1)), &stdout, &stderr); code != 0 {
		t.Errorf("once --baseline against a slower baseline: exit %d, want 0\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "regression check") || strings.Contains(stdout.String(), "REGRESSION") {
		t.Errorf("once --baseline (slower baseline) printed:\n%s", stdout.String())
	}

	// A baseline 10× faster: QPS, avg, p50 and p95 regress.
	stdout.Reset()
	stderr.Reset()
	if code := run(append(args, "--baseline", scale(10)), &stdout, &stderr); code != 1 {
		t.Errorf("once --baseline against a faster baseline: exit %d, want 1\n%s\n%s", code, stdout.String(), stderr.String())
	}
	for _, stat := range []string{"qps", "avg", "p50", "p95"} {
		found := false
		for _, line := range strings.Split(stdout.String(), "\n") {
			if strings.Contains(line, " "+stat+" ") && strings.Contains(line, "REGRESSION") {
				found = true
			}
		}
		if !found {
			t.Errorf("no REGRESSION line for %s:\n%s", stat, stdout.String())
		}
	}
	if !strings.Contains(stdout.String(), "not gated") {
		t.Errorf("p99 and max are not gated by default; the table should say so:\n%s", stdout.String())
	}

	// A baseline that is not a results file is a usage error.
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(bad, []byte(`{"x": 1}`), 0o644)
	stdout.Reset()
	stderr.Reset()
	if code := run(append(args, "--baseline", bad), &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "not pbenchd results") {
		t.Errorf("once --baseline with a bad file: exit %d, stderr %q; want 2 and a message", code, stderr.String())
	}
}

// TestRunResultsLog: the daemon appends one JSON line per iteration, with
// the build, to --results.file; POST /-/reload needs --web.enable-lifecycle.
func TestRunResultsLog(t *testing.T) {
	t.Parallel()
	table := uniqueTable()
	dropTable(t, table)
	cfg := writeConfig(t, "once.yaml", map[string]string{"DSN": testDSN(), "Table": table})
	log := filepath.Join(t.TempDir(), "results.jsonl")
	d := startDaemon(t, testDSN(), "--config", cfg, "--scenarios", "e2e_once_pass", "--duration", "1s",
		"--warmup", "0s", "--pause", "0s", "--results.file", log)

	if code, _, body := d.do(t, http.MethodPost, "/-/reload"); code != http.StatusForbidden {
		t.Errorf("POST /-/reload without --web.enable-lifecycle: %d %s, want 403", code, body)
	}
	lines := func() []map[string]any {
		f, err := os.Open(log)
		if err != nil {
			return nil
		}
		defer f.Close()
		var out []map[string]any
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("results log line is not JSON: %v: %s", err, sc.Text())
			}
			out = append(out, m)
		}
		return out
	}
	eventually(t, 30*time.Second, "two iterations in the results log", func() (bool, string) {
		n := len(lines())
		return n >= 2, "lines: " + strings.Repeat("x", n)
	})
	for _, l := range lines()[:2] {
		build, _ := l["build"].(map[string]any)
		if l["scenario"] != "e2e_once_pass" || l["result"] != "pass" || build["version"] != testVersion {
			t.Errorf("results log line: scenario %v, result %v, build %v", l["scenario"], l["result"], build)
		}
	}
	d.stop(t)
}
