package report

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
)

// TestPlanLanes: `check` says when an open loop on the event loop may be
// dealt out over lanes (one per 30,000/s of its mean rate, at most one
// per core and per connection), and says nothing of lanes for a loop
// that stays on one.
func TestPlanLanes(t *testing.T) {
	cores := runtime.NumCPU()
	for _, tc := range []struct {
		rate  string
		conns int
		mode  string
		want  int // lanes; 1: no mention
	}{
		{"30000/s", 8, "prepared", 1},
		{"40000/s", 8, "prepared", min(2, cores)},
		{"100000/s", 8, "prepared", min(4, cores)},
		{"100000/s", 1, "prepared", 1},
		{"100000/s", 8, "simple", 1}, // not on the event loop: workers
	} {
		t.Run(fmt.Sprintf("%s_%d_%s", tc.rate, tc.conns, tc.mode), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "lanes.yaml")
			yaml := fmt.Sprintf(`targets:
  pg: {kind: postgres, dsn: "host=127.0.0.1 dbname=test"}
run: {scenarios: [lanes]}
scenarios:
  - name: lanes
    target: pg
    phases:
      - load:
          duration: 10s
          actions:
            - name: sel
              open: {rate: %s, arrivals: poisson, max_inflight: 1000}
              sql: {query: "SELECT 1", conn: reuse, mode: %s, connections: %d}
`, tc.rate, tc.mode, tc.conns)
			if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(config.Options{Files: []string{path}, Environ: []string{}, Kinds: action.Kinds, NoBuiltinScenarios: true})
			if err != nil {
				t.Fatal(err)
			}
			p := PlanOf(cfg, cfg.Scenario("lanes"))
			loop := p.Phases[0].Actions[0].Loop
			mention := fmt.Sprintf(", up to %d lanes (threads: one per 30000/s of its mean rate, at most one per core and per connection; split from one when it falls behind, merged back when they idle)", tc.want)
			if tc.want > 1 && !strings.HasSuffix(loop, mention) {
				t.Errorf("loop %q; want it to end with %q", loop, mention)
			}
			if tc.want == 1 && strings.Contains(loop, "lanes") {
				t.Errorf("loop %q mentions lanes; want one lane, unmentioned", loop)
			}
		})
	}
}
