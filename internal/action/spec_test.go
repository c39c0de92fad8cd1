package action_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
)

// TestSpecKeptByValidation: config validation decodes each action's
// settings once into its kind's typed spec, defaults filled in, and keeps
// it on the action; Build builds from that spec, not from the raw
// settings, and Describe reads it too.
func TestSpecKeptByValidation(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pbenchd.yaml")
	const doc = `
targets:
  pg: { kind: postgres, dsn: "postgres://u@localhost/db" }
run:
  scenarios: [s]
scenarios:
  - name: s
    target: pg
    phases:
      - load:
          duration: 10s
          actions:
            - { name: q, closed: { concurrency: 2 }, sql: SELECT 1 }
            - { name: n, closed: { concurrency: 1 }, noop: { sleep: 1ms, concurrency: 3 } }
`
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.Options{Files: []string{file}, Environ: []string{}, Kinds: action.Kinds, NoBuiltinScenarios: true})
	if err != nil {
		t.Fatal(err)
	}
	acts := cfg.Selected()[0].Phases[0].Load.Actions
	q, ok := acts[0].Spec.(*action.SQLSpec)
	if !ok {
		t.Fatalf("sql action's spec is %T, want *action.SQLSpec", acts[0].Spec)
	}
	if q.Query != "SELECT 1" || q.Conn != "reuse" || q.Mode != "prepared" {
		t.Errorf("sql spec %+v: want query SELECT 1 with the defaults conn reuse, mode prepared", *q)
	}
	if got, want := action.Kinds.Describe(&acts[0], 2, false), "reuse, 2 connection(s), one a worker, driven by an event loop; server's isolation; prepared"; got != want {
		t.Errorf("Describe: %q, want %q", got, want)
	}
	n, ok := acts[1].Spec.(*action.NullSpec)
	if !ok {
		t.Fatalf("noop action's spec is %T, want *action.NullSpec", acts[1].Spec)
	}
	if n.Sleep.D != time.Millisecond || n.Concurrency != 3 {
		t.Errorf("noop spec %+v: want sleep 1ms, concurrency 3", *n)
	}
	// Settings that no longer decode show that Build reads the spec only.
	a := acts[1]
	a.Kinds = map[string]any{"noop": "not a mapping"}
	r, err := action.Kinds.Build(context.Background(), &a, action.Env{Scenario: "s", Action: "n", Slots: 1})
	if err != nil {
		t.Fatalf("Build from the kept spec: %v", err)
	}
	defer r.Close()
	start := time.Now()
	if res := r.Call(context.Background()); res.Err != nil {
		t.Fatalf("call: %v", res.Err)
	}
	if d := time.Since(start); d < time.Millisecond {
		t.Errorf("call took %s: the spec's sleep of 1ms was not used", d)
	}
	// An action made in code, never validated, is decoded by Build.
	a.Spec = nil
	if _, err := action.Kinds.Build(context.Background(), &a, action.Env{Scenario: "s", Action: "n"}); err == nil || err.Error() != "s.n: not a mapping is not a mapping like {sleep: 1ms}" {
		t.Errorf("Build of undecodable settings: %v", err)
	}
}
