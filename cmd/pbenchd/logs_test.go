package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestJSONLogs runs the daemon for one pass of a scenario that breaks two
// guarantees, with JSON logs: durations are text ("2s"), not nanoseconds,
// and each broken guarantee is a field of its own.
func TestJSONLogs(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, "once.yaml", map[string]string{"DSN": testDSN(), "Table": uniqueTable()})
	p := startProc(t, nil, "run", "--config", cfg, "--scenarios", "e2e_once_fail", "--duration", "2s", "--warmup", "0s",
		"--iterations", "1", "--pause", "0s", "--progress", "0s", "--log.format", "json", "--web.listen-address", "127.0.0.1:0")
	if code := p.exitCode(t, 60*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	var started, broke map[string]any
	for _, line := range strings.Split(strings.TrimSpace(p.stderr.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("a log line is not JSON: %q: %v", line, err)
		}
		switch m["msg"] {
		case "phase started":
			started = m
		case "iteration broke guarantees":
			broke = m
		}
	}
	if started == nil || started["duration"] != "2s" || started["warmup"] != "0s" {
		t.Errorf("phase started: %v, want duration \"2s\" and warmup \"0s\"", started)
	}
	b, _ := broke["broken"].(map[string]any)
	if broke == nil || broke["took"] == nil || len(b) != 2 || b["select_1.qps"] == nil || b["select_1.p99"] == nil {
		t.Errorf("iteration broke guarantees: %v, want broken.select_1.qps and broken.select_1.p99 apart", broke)
	}
	if _, isText := broke["took"].(string); !isText {
		t.Errorf("took is %v (%T), want text", broke["took"], broke["took"])
	}
}
