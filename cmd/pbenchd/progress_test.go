package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestProgressLines runs `once` off a terminal with --progress 1s: the
// 4s phase logs an info line a second with each action's figures so far,
// served counts that never go down, and none with --progress 0.
func TestProgressLines(t *testing.T) {
	t.Parallel()
	table := uniqueTable()
	dropTable(t, table)
	cfg := writeConfig(t, "once.yaml", map[string]string{"DSN": testDSN(), "Table": table})
	line := regexp.MustCompile(`msg="phase progress" scenario=e2e_once_pass phase=load elapsed=(\d+)s of=4s select_1.offered=(\d+) select_1.served=(\d+) select_1.qps=\S+ select_1.p50=\S+ select_1.p99=\S+ select_1.errors=0 select_1.dropped=0 select_1.inflight=[01]\n`)
	p := startProc(t, nil, "once", "--config", cfg, "--scenarios", "e2e_once_pass", "--duration", "4s", "--warmup", "0s", "--progress", "1s")
	if code := p.exitCode(t, 60*time.Second); code != 0 {
		t.Fatalf("exit code %d\n%s", code, p.stderr.String())
	}
	ms := line.FindAllStringSubmatch(p.stderr.String(), -1)
	// Ticks at 1s, 2s and 3s fall inside a 4s phase; the one at 4s may
	// race its end. A loaded machine can delay a tick but not drop it.
	if len(ms) < 3 || len(ms) > 4 {
		t.Fatalf("%d progress lines, want 3 or 4:\n%s", len(ms), p.stderr.String())
	}
	prev := -1
	for i, m := range ms {
		offered, _ := strconv.Atoi(m[2])
		served, _ := strconv.Atoi(m[3])
		if offered != served || served < prev {
			t.Errorf("line %d: offered %d, served %d after %d: a closed loop offers what it serves, and counts only grow", i, offered, served, prev)
		}
		prev = served
	}
	p = startProc(t, nil, "once", "--config", cfg, "--scenarios", "e2e_once_pass", "--duration", "2s", "--warmup", "0s", "--progress", "0s")
	if code := p.exitCode(t, 60*time.Second); code != 0 {
		t.Fatalf("exit code %d\n%s", code, p.stderr.String())
	}
	if strings.Contains(p.stderr.String(), "phase progress") {
		t.Errorf("--progress 0s still logs progress:\n%s", p.stderr.String())
	}
}
