package config_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
)

// TestWarnings checks what Load accepts but `pbenchd check` warns of, with
// the exact lines.
func TestWarnings(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string
		set   map[string]any
		want  []string
	}{
		{
			name:  "a user's scenario replaces a built-in one",
			files: []string{"testdata/override/pbenchd.yaml"},
			want:  []string{`testdata/override/read.yaml: name: scenario "read" replaces the built-in one of that name`},
		},
		{
			// As --duration 5s would set it: the 10s warm-up cannot be
			// kept, and ramped offers its mean over 0..5s, 10 + 100·2.5/60
			// = 14.17/s.
			name:  "a duration override shorter than a phase's warm-up",
			files: []string{"testdata/warn/unreachable.yaml"},
			set:   map[string]any{"run.duration": "5s"},
			want: []string{
				`run.duration: 5s is not longer than the warm-up 10s of scenarios[0].phases[0].load, so that phase runs without a warm-up (give run.warmup, --warmup, to set one)`,
				`scenarios[0].guarantees.ramped.qps: 75 cannot be met: scenarios[0].phases[0].load.actions[1].open offers 14.17/s on average (ramp 10/s to 110/s over 1m0s)`,
			},
		},
		{
			name:  "the older template syntax",
			files: []string{"testdata/warn/old_syntax.yaml"},
			want: []string{
				`scenarios[0].phases[0].load.actions[0].sql: {{n}} is the older template syntax; write {{ .n }}`,
				`scenarios[0].setup[0].load.indexes[0]: {{table}} is the older template syntax; write {{ .table }}`,
				`scenarios[0].setup[0].load.tables.pattern: {{i}} is the older template syntax; write {{ .i }}`,
			},
		},
		{
			// fixed offers 400/s against 390; ramped averages, over the
			// measured 10s..60s of a 10→110/s ramp, its rate at 35s:
			// 10 + 100·35/60 = 68.33/s, below 75; fine offers 100/s
			// against 99.
			name:  "a schedule that offers less than the qps guarantee",
			files: []string{"testdata/warn/unreachable.yaml"},
			want: []string{
				`scenarios[0].guarantees.ramped.qps: 75 cannot be met: scenarios[0].phases[0].load.actions[1].open offers 68.33/s on average (ramp 10/s to 110/s over 1m0s)`,
			},
		},
		{
			name:  "scenarios of one's own and the default run.scenarios",
			files: []string{"testdata/warn/unselected.yaml"},
			want: []string{
				`run.scenarios: mine, also_mine, defined in your configuration, will not run: run.scenarios is the built-in default (read, pool_read, connect_read, open_indexed_selects, inserts_selects); name them in run.scenarios or with --scenarios mine,also_mine`,
			},
		},
		{
			name:  "scenarios of one's own, one selected by --scenarios",
			files: []string{"testdata/warn/unselected.yaml"},
			set:   map[string]any{"run.scenarios": []string{"mine"}},
		},
		{
			name:  "scenarios of one's own, one left out by --exclude",
			files: []string{"testdata/warn/unselected.yaml"},
			set:   map[string]any{"run.exclude": []string{"also_mine"}},
			want: []string{
				`run.scenarios: mine, defined in your configuration, will not run: run.scenarios is the built-in default (read, pool_read, connect_read, open_indexed_selects, inserts_selects); name them in run.scenarios or with --scenarios mine`,
			},
		},
		{
			name:  "a rate override below the qps guarantee",
			files: []string{"testdata/warn/unreachable.yaml"},
			set:   map[string]any{"run.rates.unreachable.fixed": "50/s"},
			want: []string{
				`scenarios[0].guarantees.fixed.qps: 390 cannot be met: run.rates.unreachable.fixed (--rate) offers 50/s on average (periodic 50/s)`,
				`scenarios[0].guarantees.ramped.qps: 75 cannot be met: scenarios[0].phases[0].load.actions[1].open offers 68.33/s on average (ramp 10/s to 110/s over 1m0s)`,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Load(config.Options{Files: tc.files, Set: tc.set, Environ: []string{}, Kinds: action.Kinds})
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Warnings(); !slices.Equal(got, tc.want) {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestNewTemplateSyntaxInLoadSteps checks that {{ .table }} and {{ .i }}
// reach the loader as the loader's own, with no warning.
func TestNewTemplateSyntaxInLoadSteps(t *testing.T) {
	cfg, err := config.Load(config.Options{Files: []string{"testdata/warn/old_syntax.yaml"}, Environ: []string{}, Kinds: action.Kinds})
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Scenario("old_syntax").Setup[0].Load
	if got := l.Names(); !slices.Equal(got, []string{"w0", "w1"}) {
		t.Errorf("tables %v, want [w0 w1]", got)
	}
	if got, want := l.Indexes, []string{"CREATE INDEX ON {{ .table }} (id)", "CREATE INDEX ON {{ .table }} (id)"}; !slices.Equal(got, want) {
		t.Errorf("indexes %q, want %q", got, want)
	}
}
