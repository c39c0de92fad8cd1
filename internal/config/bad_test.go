package config_test

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/pace"
)

// badCase is a bad configuration and the exact, complete error a person
// sees for it: every problem, one a line, in a fixed order.
type badCase struct {
	name string
	// files are config files under testdata/bad/, merged in order over the
	// embedded default, with the built-in catalog loaded.
	files []string
	// scenario is a scenario file under testdata/bad/scenario/, loaded
	// through scenario_files and selected to run (run.scenarios), with the
	// built-in catalog left out. Its scenario is named after the file.
	scenario string
	// kinds replaces the action kind registry (action.Kinds).
	kinds config.KindChecker
	// want is the error, one problem a line. In it, {file} is the path of
	// the scenario file, {kinds} the registered action kinds, {arrivals}
	// the arrival shapes, {catalog} the built-in scenarios and {targets}
	// the targets of the embedded default config.
	want []string
}

var badCases = []badCase{
	// Config files.
	{
		name:  "malformed YAML",
		files: []string{"malformed.yaml"},
		want:  []string{`testdata/bad/malformed.yaml: yaml: line 4: mapping values are not allowed in this context`},
	},
	{
		name:  "missing file",
		files: []string{"does_not_exist.yaml"},
		want:  []string{`testdata/bad/does_not_exist.yaml: no such file or directory`},
	},
	{
		name:  "a config file that is a list",
		files: []string{"not_a_mapping.yaml"},
		want:  []string{`testdata/bad/not_a_mapping.yaml: the top level must be a mapping of keys, not a list`},
	},
	{
		name:  "unknown key at the top level",
		files: []string{"unknown_key_top.yaml"},
		want:  []string{`testdata/bad/unknown_key_top.yaml: unknown key "scenario"`},
	},
	{
		name:  "unknown key in a target",
		files: []string{"unknown_key_target.yaml"},
		want:  []string{`testdata/bad/unknown_key_target.yaml: targets.pg: unknown key "dns"`},
	},
	{
		name:  "unknown keys in two targets",
		files: []string{"unknown_keys_targets.yaml"},
		want: []string{
			`testdata/bad/unknown_keys_targets.yaml: targets.mz: unknown key "flavour"`,
			`testdata/bad/unknown_keys_targets.yaml: targets.pg: unknown key "dns"`,
		},
	},
	{
		name:  "a DSN where a target's settings belong",
		files: []string{"scalar_for_mapping.yaml"},
		want:  []string{`testdata/bad/scalar_for_mapping.yaml: targets.pg: "postgres://localhost/bench" is not a mapping`},
	},
	{
		name:  "durations: a word, no unit, negative",
		files: []string{"run_durations.yaml"},
		want: []string{
			`testdata/bad/run_durations.yaml: run.pause: "soon" is not a duration like 120s or 500ms`,
			`testdata/bad/run_durations.yaml: run.setup_timeout: "-5m": a duration must not be negative`,
			`testdata/bad/run_durations.yaml: run.teardown_timeout: "120" is not a duration like 120s or 500ms`,
		},
	},
	{
		name:  "a target of an unknown kind",
		files: []string{"target_kind.yaml"},
		want:  []string{`targets.pg.kind: "postgresql" is not one of kafka, postgres`},
	},
	{
		name:  "run.setup",
		files: []string{"run_setup.yaml"},
		want:  []string{`run.setup: "always" is not one of iteration, once`},
	},
	{
		name:  "run.scenarios names an unknown scenario",
		files: []string{"run_unknown_scenario.yaml"},
		want:  []string{`run.scenarios[1]: "reads" is not a known scenario ({catalog})`},
	},
	{
		name:  "a bad rate in an inline scenario",
		files: []string{"inline_rate.yaml"},
		want:  []string{`scenarios[0].phases[0].load.actions[0].open.rate: "fast" is not a rate like 100/s`},
	},
	{
		name:  "a value that does not decode beside a problem validation finds",
		files: []string{"decode_and_validate.yaml"},
		want: []string{
			`scenarios[0].phases[0].load.actions[0].open.rate: "fast" is not a rate like 100/s`,
			`run.scenarios[1]: "reads" is not a known scenario ({catalog})`,
		},
	},
	{
		name:  "several problems in a config file",
		files: []string{"several.yaml"},
		want: []string{
			`targets.mz.kind: "materialise" is not one of kafka, postgres`,
			`run.setup: "always" is not one of iteration, once`,
			`run.iterations: -1 must not be negative`,
			`log.level: "verbose" is not one of debug, info, warn, error`,
			`run.scenarios[2]: "third" is not a known scenario ({catalog}, first, second)`,
			`scenarios[0].target: "crdb" is not a configured target (kafka, mz, pg)`,
			`scenarios[0].phases[0].load.warmup: 10s must be shorter than the duration 10s`,
			`scenarios[0].phases[0].load.actions[0].closed.concurrency: 20000 is not between 1 and 10000`,
			`scenarios[0].phases[0].load.actions[0].sql.conn: "shared" is not one of pooled, reuse, standalone`,
			`scenarios[1].target: missing (targets: kafka, mz, pg)`,
			`scenarios[1].phases: missing: a scenario needs at least one load phase`,
		},
	},

	// Flags, as they set config keys, are checked as the keys in a file.
	{
		name:  "warm-up not shorter than the duration, both overridden",
		files: []string{"flags_window.yaml"},
		want:  []string{`run.warmup: 20s must be shorter than run.duration 4s`},
	},
	{
		name:  "a duration override of 0",
		files: []string{"flags_duration_zero.yaml"},
		want:  []string{`run.duration: 0s must be positive (leave it out to keep each phase's duration)`},
	},
	{
		name:  "a warm-up override longer than a phase",
		files: []string{"flags_warmup_only.yaml"},
		want: []string{
			`run.warmup: 20s must be shorter than the duration 10s of scenarios[0].phases[0].load`,
			`run.warmup: 20s must be shorter than the step 15s of scenarios[0].phases[1].sweep`,
		},
	},
	{
		name:  "two files define one scenario",
		files: []string{"scenario_twice.yaml"},
		want:  []string{`testdata/bad/twice/two.yaml: name: scenario "twice" is already defined at testdata/bad/twice/one.yaml: name: rename one of them`},
	},

	// Scenario files.
	{
		name:     "unknown key in a scenario",
		scenario: "unknown_key.yaml",
		want:     []string{`{file}: unknown key "guarantee"`},
	},
	{
		name:     "unknown key in an action",
		scenario: "unknown_key_action.yaml",
		want:     []string{`{file}: phases[0].load.actions[0]: unknown key "weight" (action kinds: {kinds}; other keys: name, open, closed, target, report)`},
	},
	{
		name:     "unknown key in open",
		scenario: "unknown_key_open.yaml",
		want:     []string{`{file}: phases[0].load.actions[0].open: unknown key "burst"`},
	},
	{
		name:     "two unknown keys in open",
		scenario: "unknown_keys_open.yaml",
		want:     []string{`{file}: phases[0].load.actions[0].open: unknown keys "burst", "jitter"`},
	},
	{
		name:     "unknown key in the sql settings",
		scenario: "unknown_key_sql.yaml",
		want:     []string{`{file}: phases[0].load.actions[0].sql: unknown key "querry"`},
	},
	{
		name:     "a probe's settings",
		scenario: "probe_settings.yaml",
		want: []string{
			`{file}: phases[0].probe.action: a probed action takes no open or closed loop: the probe sets its rate`,
			`{file}: phases[0].probe.arrivals: "bursty" is not one of poisson, periodic`,
			`{file}: phases[0].probe.ceiling: 100 must be at least the start rate 500`,
			`{file}: phases[0].probe.precision: 2 must be between 0 and 1 (exclusive)`,
			`{file}: phases[0].probe.growth: 1 must be greater than 1`,
			`{file}: phases[0].probe.warmup: 5s must be shorter than the step 5s`,
			`{file}: phases[0].probe.max_drop: 1.5 is not a fraction between 0 and 1 (exclusive), like 0.2 for a 20 % drop`,
			`{file}: phases[0].probe.max_inflight: -1 is not between 1 and 10000`,
			`{file}: phases[0].probe.slo.qps: not a probe's to meet: the probe sets the rate (bound latency or error_ratio)`,
			`{file}: phases[0].probe.slo.slope: not a probe's to meet: a step is too short for a drift (bound latency or error_ratio)`,
			`{file}: phases[0].probe.slo.error_ratio: 2 is not between 0 and 1`,
		},
	},
	{
		name:     "a probe above the pacing ceiling",
		scenario: "probe_ceiling.yaml",
		want:     []string{`{file}: phases[0].probe.ceiling: 1000000/s is above the 100000/s one action can be paced at: a probe that high would measure pbenchd, not the target`},
	},
	{
		name:     "a probe with no SLO, and a phase with two bodies",
		scenario: "probe_no_slo.yaml",
		want: []string{
			`{file}: phases[0].probe.slo: missing: a probe needs a latency bound or an error_ratio, in slo: {p99: 10ms} or guarantees.q`,
			`{file}: phases[1]: has 2 of load, sweep and probe: a phase is exactly one`,
			`{file}: phases[1].probe.slo: missing: a probe needs a latency bound or an error_ratio, in slo: {p99: 10ms} or guarantees.r`,
		},
	},
	{
		name:     "open written as a rate",
		scenario: "open_not_a_mapping.yaml",
		want:     []string{`{file}: phases[0].load.actions[0].open: "100/s" is not a mapping`},
	},
	{
		name:     "a rate that is a word",
		scenario: "rate_word.yaml",
		want:     []string{`{file}: phases[0].load.actions[0].open.rate: "fast" is not a rate like 100/s`},
	},
	{
		name:     "a rate above what pbenchd can pace",
		scenario: "rate_ceiling.yaml",
		want:     []string{`{file}: phases[0].load.actions[0].open.rate: periodic 1e9/s peaks at 1e+09/s, above the 100000/s one action can be paced at (split the load over several actions or pbenchd instances)`},
	},
	{
		name:     "a cap or connections that cannot carry the rate at the guarantee's latency",
		scenario: "cannot_carry.yaml",
		want: []string{
			`{file}: phases[0].load.actions[0].open.max_inflight: 2 cannot carry 200/s at the 200ms the guarantees allow: a target meeting them keeps 40 calls in flight (rate × latency); allow at least 40`,
			`{file}: phases[0].load.actions[0].sql.pool_size: the default 2 connections cannot carry 200/s at the 200ms the guarantees allow (each serves one call at a time, so 40 are needed): set pool_size to at least 40`,
			`{file}: phases[0].load.actions[1].sql.connections: 1 cannot carry 200/s at the 200ms the guarantees allow: each connection serves one call at a time, so a target meeting them needs 40 (rate × latency)`,
			`{file}: phases[0].load.actions[2].sql.connections: the default 64 connections cannot carry 2000/s at the 50ms the guarantees allow (each serves one call at a time, so 100 are needed): set connections to at least 100`,
		},
	},
	{
		name:     "a duration that is a word",
		scenario: "duration_word.yaml",
		want:     []string{`{file}: phases[0].load.duration: "soon" is not a duration like 120s or 500ms`},
	},
	{
		name:     "a duration without a unit",
		scenario: "duration_no_unit.yaml",
		want:     []string{`{file}: phases[0].load.duration: "120" is not a duration like 120s or 500ms`},
	},
	{
		name:     "a negative duration",
		scenario: "duration_negative.yaml",
		want:     []string{`{file}: phases[0].load.warmup: "-2s": a duration must not be negative`},
	},
	{
		name:     "arrival durations: no unit, a word",
		scenario: "pace_durations.yaml",
		want: []string{
			`{file}: phases[0].load.actions[0].open.stddev: "2" is not a duration like 120s or 500ms`,
			`{file}: phases[0].load.actions[1].open.over: "soon" is not a duration like 120s or 500ms`,
		},
	},
	{
		name:     "several decoding problems",
		scenario: "decode_several.yaml",
		want: []string{
			`{file}: guarantees.q.p99: "quick" is not a duration like 120s or 500ms`,
			`{file}: guarantees.q.qps: "many" is not a number`,
			`{file}: phases[0].load.actions[0].open.max_inflight: "lots" is not an integer`,
			`{file}: phases[0].load.actions[0].open.rate: "fast" is not a rate like 100/s`,
			`{file}: phases[0].load.actions[0].report: "maybe" is not true or false`,
			`{file}: phases[0].load.duration: "soon" is not a duration like 120s or 500ms`,
			`{file}: phases[0].load.warmup: "120" is not a duration like 120s or 500ms`,
		},
	},
	{
		name:     "no target",
		scenario: "target_missing.yaml",
		want:     []string{`{file}: target: missing (targets: {targets})`},
	},
	{
		name:     "targets that are not configured",
		scenario: "target_unknown.yaml",
		want: []string{
			`{file}: target: "mz" is not a configured target ({targets})`,
			`{file}: setup[0].target: "cockroach" is not a configured target ({targets})`,
			`{file}: phases[0].load.actions[0].target: "risingwave" is not a configured target ({targets})`,
		},
	},
	{
		name:     "unknown action kind",
		scenario: "kind_unknown.yaml",
		want:     []string{`{file}: phases[0].load.actions[0]: unknown key "http" (action kinds: {kinds}; other keys: name, open, closed, target, report)`},
	},
	{
		name:     "no action kind",
		scenario: "kind_missing.yaml",
		want:     []string{`{file}: phases[0].load.actions[0]: missing an action kind (one of {kinds})`},
	},
	{
		name:     "two action kinds",
		scenario: "kind_two.yaml",
		kinds:    twoKinds{},
		want:     []string{`{file}: phases[0].load.actions[0]: has two action kinds, kafka_produce and sql: an action has exactly one`},
	},
	{
		name:     "both open and closed",
		scenario: "loop_both.yaml",
		want:     []string{`{file}: phases[0].load.actions[0]: has both open and closed: choose one loop`},
	},
	{
		name:     "neither open nor closed",
		scenario: "loop_none.yaml",
		want:     []string{`{file}: phases[0].load.actions[0]: missing a loop: add open: {rate: 100/s} or closed: {concurrency: 10}`},
	},
	{
		name:     "a guarantee on an action that does not exist",
		scenario: "guarantee_unknown_action.yaml",
		want:     []string{`{file}: guarantees.select: "select" is not an action of this scenario (select_1)`},
	},
	{
		name:     "a guarantee in a scenario without actions",
		scenario: "guarantee_no_actions.yaml",
		want: []string{
			`{file}: phases[0].load.actions: missing: a load phase needs at least one action`,
			`{file}: guarantees.select_1: "select_1" is not an action of this scenario (it has no actions)`,
		},
	},
	{
		name:     "a guarantee on an action with report: false",
		scenario: "guarantee_unreported.yaml",
		want:     []string{`{file}: guarantees.insert: action "insert" has report: false, so its guarantees would never be checked`},
	},
	{
		name:     "two actions of one name",
		scenario: "action_duplicate.yaml",
		want:     []string{`{file}: phases[1].load.actions[0].name: "q" is already the name of phases[0].load.actions[0]`},
	},
	{
		name:     "bad conn",
		scenario: "sql_conn.yaml",
		want:     []string{`{file}: phases[0].load.actions[0].sql.conn: "shared" is not one of pooled, reuse, standalone`},
	},
	{
		name:     "bad isolation",
		scenario: "sql_isolation.yaml",
		want:     []string{`{file}: phases[0].load.actions[0].sql.isolation: "snapshot" is not one of read committed, repeatable read, serializable (for other levels use set: ["SET …"])`},
	},
	{
		name:     "a scenario file named .yml",
		scenario: "sql_yml.yml",
		want:     []string{`{file}: phases[0].load.actions[0].sql.conn: "shared" is not one of pooled, reuse, standalone`},
	},
	{
		name:     "error_ratio outside 0..1",
		scenario: "error_ratio.yaml",
		want: []string{
			`{file}: guarantees.a.error_ratio: 5 is not between 0 and 1`,
			`{file}: guarantees.b.error_ratio: -0.1 is not between 0 and 1`,
		},
	},
	{
		name:     "arg generators: min > max, unknown kind",
		scenario: "args_generators.yaml",
		want: []string{
			`{file}: phases[0].load.actions[0].sql.args[0]: min 100 is greater than max 1`,
			`{file}: phases[0].load.actions[0].sql.args[1].kind: "uniform_float" is not one of choice, constant, now, sequence, string, uniform_int`,
		},
	},
	{
		name:     "a statement using $2 with one arg",
		scenario: "args_too_few.yaml",
		want:     []string{`{file}: phases[0].load.actions[0].sql.args: the statements use $2 but only 1 arg is given`},
	},
	{
		name:     "a gaussian stddev too large",
		scenario: "gaussian_stddev.yaml",
		want:     []string{`{file}: phases[0].load.actions[0].open.stddev: 20ms is more than half the 10ms between arrivals at 100/s, so truncating negative gaps would lower the rate`},
	},
	{
		name:     "unknown arrivals",
		scenario: "arrivals_unknown.yaml",
		want:     []string{`{file}: phases[0].load.actions[0].open.arrivals: "bursty" is not one of {arrivals}`},
	},
	{
		name:     "mappings where a duration belongs",
		scenario: "empty_mappings.yaml",
		want: []string{
			`{file}: guarantees.q.max: a mapping is not a duration like 120s or 500ms`,
			`{file}: guarantees.q.p99: a list is not a duration like 120s or 500ms`,
			`{file}: phases[0].load.warmup: a mapping is not a duration like 120s or 500ms`,
		},
	},
	{
		name:     "a boolean for a number, fractions for integers",
		scenario: "weak_numbers.yaml",
		want: []string{
			`{file}: guarantees.a.qps: true is not a number`,
			`{file}: phases[0].load.actions[0].open.max_inflight: 1.5 is not an integer`,
			`{file}: phases[0].load.actions[1].closed.concurrency: 1.9 is not an integer`,
			`{file}: phases[0].load.actions[1].report: 1 is not true or false`,
		},
	},
	{
		name:     "explicit zeros that would mean the default",
		scenario: "explicit_zeros.yaml",
		want: []string{
			`{file}: phases[0].load.actions[0].open.max_inflight: 0 is not between 1 and 10000 (leave it out for the default: one second of arrivals, at least 1)`,
			`{file}: phases[0].load.actions[1].closed.concurrency: 0 is not between 1 and 10000 (leave it out for the default: 1 worker)`,
			`{file}: phases[0].load.actions[1].sql.timeout: 0s would be no bound at all: give a positive duration, or leave it out for the default 30s`,
		},
	},
	{
		name:     "template references that are not closed or not references",
		scenario: "template_unclosed.yaml",
		want: []string{
			`{file}: phases[0].load.actions[0].sql: "{{ .rows" is not closed by "}}" (a reference is written {{ .name }})`,
			`{file}: phases[0].load.actions[1].sql: "{{ rows + 1 }}" is not a template reference like {{ .name }}`,
		},
	},
	{
		name:     "statements of white space",
		scenario: "sql_blank.yaml",
		want: []string{
			`{file}: phases[0].load.actions[0].sql.query: empty statement: only white space`,
			`{file}: phases[0].load.actions[1].sql.exec: empty statement: only white space`,
		},
	},
	{
		name:     "phase and swept action names",
		scenario: "phase_names.yaml",
		want: []string{
			`{file}: phases[0].name: "warm up" must be letters, digits and underscores`,
			`{file}: phases[2].name: "steady" is already the name of phases[1]`,
			`{file}: phases[2].sweep.action.name: "sweep-me" must be letters, digits and underscores`,
		},
	},
	{
		name:     "a second YAML document",
		scenario: "two_documents.yaml",
		want:     []string{`{file}: document 2 (after ---) would be ignored: a file holds one document (one scenario a file; several scenarios go in separate files or in a config's scenarios list)`},
	},
	{
		name:     "several problems in a scenario file",
		scenario: "several.yaml",
		want: []string{
			`{file}: phases[0].load.warmup: 20s must be shorter than the duration 10s`,
			`{file}: phases[0].load.actions[0].open.stddev: 10ms is more than half the 10ms between arrivals at 100/s, so truncating negative gaps would lower the rate`,
			`{file}: phases[0].load.actions[0].open.max_inflight: -1 is not between 1 and 10000`,
			`{file}: phases[0].load.actions[0].sql.conn: "shared" is not one of pooled, reuse, standalone`,
			`{file}: phases[0].load.actions[0].sql.isolation: "snapshot" is not one of read committed, repeatable read, serializable (for other levels use set: ["SET …"])`,
			`{file}: phases[0].load.actions[1].name: "q" is already the name of phases[0].load.actions[0]`,
			`{file}: guarantees.q.qps: -5 must not be negative`,
			`{file}: guarantees.q.error_ratio: 2 is not between 0 and 1`,
		},
	},
}

// TestLoadBadConfig loads each bad configuration and compares the whole
// error with the expected one. It loads each one several times: the order
// of the problems must not change from run to run.
func TestLoadBadConfig(t *testing.T) {
	def, err := config.Load(config.Options{Kinds: action.Kinds, Environ: []string{}})
	if err != nil {
		t.Fatalf("the embedded default config does not load: %v", err)
	}
	catalog := strings.Join(builtinNames(t), ", ")
	targets := strings.Join(slices.Sorted(maps.Keys(def.Targets)), ", ")
	for _, tc := range badCases {
		t.Run(tc.name, func(t *testing.T) {
			o := config.Options{Kinds: action.Kinds, Environ: []string{}}
			file := ""
			for _, f := range tc.files {
				o.Files = append(o.Files, filepath.Join("testdata/bad", f))
			}
			if tc.scenario != "" {
				file = filepath.Join("testdata/bad/scenario", tc.scenario)
				name := strings.TrimSuffix(tc.scenario, filepath.Ext(tc.scenario))
				o.NoBuiltinScenarios = true
				o.Set = map[string]any{
					"scenario_files": []string{file},
					"run.scenarios":  []string{name},
				}
			}
			if tc.kinds != nil {
				o.Kinds = tc.kinds
			}
			want := strings.NewReplacer(
				"{file}", file,
				"{kinds}", strings.Join(action.Kinds.Names(), ", "),
				"{arrivals}", strings.Join(pace.Kinds(), ", "),
				"{catalog}", catalog,
				"{targets}", targets,
			).Replace(strings.Join(tc.want, "\n"))

			first := loadErr(t, o)
			if first != want {
				t.Fatalf("error:\n%s\nwant:\n%s", first, want)
			}
			for range 10 {
				if got := loadErr(t, o); got != first {
					t.Fatalf("the error changed between two loads of the same files:\n%s\nthen:\n%s", first, got)
				}
			}
		})
	}
}

// TestBadFixturesAreUsed keeps testdata/bad/ and the table in step: a
// fixture nobody loads tests nothing.
func TestBadFixturesAreUsed(t *testing.T) {
	used := map[string]bool{}
	for _, tc := range badCases {
		for _, f := range tc.files {
			used[filepath.Join("testdata/bad", f)] = true
		}
		if tc.scenario != "" {
			used[filepath.Join("testdata/bad/scenario", tc.scenario)] = true
		}
	}
	for _, glob := range []string{"testdata/bad/*.y*ml", "testdata/bad/scenario/*.y*ml"} {
		files, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if !used[f] {
				t.Errorf("%s is not in badCases", f)
			}
		}
	}
}

// loadErr loads o and returns the error text; a load that succeeds fails
// the test.
func loadErr(t *testing.T, o config.Options) string {
	t.Helper()
	_, err := config.Load(o)
	if err == nil {
		t.Fatal("Load succeeded, want an error")
	}
	return err.Error()
}

// builtinNames returns the names of the built-in scenarios, in catalog
// order, as messages list them.
func builtinNames(t *testing.T) []string {
	t.Helper()
	cfg, err := config.Load(config.Options{Kinds: action.Kinds, Environ: []string{}})
	if err != nil {
		t.Fatalf("the embedded default config does not load: %v", err)
	}
	var names []string
	for _, sc := range cfg.Catalog {
		names = append(names, sc.Name)
	}
	return names
}

// twoKinds is a registry with a second kind beside sql, so that an action
// can name two kinds that both exist.
type twoKinds struct{}

func (twoKinds) Names() []string { return []string{"kafka_produce", "sql"} }

func (twoKinds) Decode(name string, raw any, path string, t config.Target) (any, error) {
	if name == "sql" {
		return action.Kinds.Decode(name, raw, path, t)
	}
	return nil, nil
}
