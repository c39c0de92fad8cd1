package config_test

import (
	"testing"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/probe"
)

// TestProbePhaseLoads reads a probe phase: its search settings with
// defaults, its SLO taken from the action's guarantees, its phase label,
// and its action found by name like any other.
func TestProbePhaseLoads(t *testing.T) {
	cfg, err := config.Load(config.Options{
		Kinds: action.Kinds, Environ: []string{}, NoBuiltinScenarios: true,
		Set: map[string]any{
			"scenario_files": []string{"testdata/good/probe.yaml"},
			"run.scenarios":  []string{"probe_point_select"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	sc := cfg.Scenario("probe_point_select")
	p := sc.Phases[0].Probe
	if p == nil {
		t.Fatalf("phase 0 is not a probe: %+v", sc.Phases[0])
	}
	if got, want := p.Search(), (probe.Config{Start: 50, Ceiling: 5000, Precision: 0.1, Confirm: 1}); got != want {
		t.Errorf("search %+v, want %+v", got, want)
	}
	if p.ArrivalShape() != "poisson" || p.Step.String() != "8s" || p.Warmup.String() != "2s" {
		t.Errorf("arrivals %q step %s warmup %s, want poisson 8s 2s", p.ArrivalShape(), p.Step, p.Warmup)
	}
	slo := sc.SLOOf(p)
	if slo.P99.String() != "10ms" || slo.ErrorRatio == nil || *slo.ErrorRatio != 0.01 {
		t.Errorf("SLO %+v, want the action's guarantees p99 10ms, error_ratio 0.01", slo)
	}
	if sc.PhaseName(0) != "probe" {
		t.Errorf("phase label %q, want probe", sc.PhaseName(0))
	}
	if a := sc.Action("select_1"); a != &p.Action || a.Kind != "sql" {
		t.Errorf("Action(select_1) = %+v, want the probe's sql action", a)
	}
}
