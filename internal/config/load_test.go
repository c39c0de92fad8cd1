package config_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
)

// builtinSelected is what the embedded default config runs, in order.
var builtinSelected = []string{"read", "pool_read", "connect_read", "open_indexed_selects", "inserts_selects"}

// daemonFlags parses args with the flags of cmd/pbenchd that map to
// config keys, declared the same way (same defaults), so that a flag left
// at its default is seen not to override anything.
func daemonFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("pbenchd run", pflag.ContinueOnError)
	fs.StringArray("config", nil, "")
	fs.String("web.listen-address", config.DefaultListenAddress, "")
	fs.String("web.config.file", "", "")
	fs.String("log.level", "info", "")
	fs.String("log.format", "logfmt", "")
	fs.StringSlice("scenarios", nil, "")
	fs.StringSlice("exclude", nil, "")
	fs.String("duration", "", "")
	fs.String("warmup", "", "")
	fs.String("pause", "", "")
	fs.Int("iterations", 0, "")
	fs.StringArray("rate", nil, "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

// flagKey maps flags to config keys as cmd/pbenchd does.
func flagKey(f *pflag.Flag) string {
	switch f.Name {
	case "web.listen-address":
		return "web.listen_address"
	case "web.config.file":
		return "web.config_file"
	case "log.level", "log.format":
		return f.Name
	case "scenarios", "exclude", "duration", "warmup", "pause", "iterations":
		return "run." + f.Name
	}
	return ""
}

// loaded is what TestLoadOrder checks of a Config, durations and rates as
// they print.
type loaded struct {
	Pause, TeardownTimeout, SetupTimeout string
	Listen, Level, Format                string
	DSN, ConnectTimeout                  string
	Iterations                           int
	Selected                             []string
	Rates                                map[string]string // scenario.action → rate
}

func summarize(cfg *config.Config) loaded {
	l := loaded{
		Pause:           cfg.Run.Pause.String(),
		TeardownTimeout: cfg.Run.TeardownTimeout.String(),
		SetupTimeout:    cfg.Run.SetupTimeout.String(),
		Listen:          cfg.Web.ListenAddress,
		Level:           cfg.Log.Level,
		Format:          cfg.Log.Format,
		DSN:             cfg.Targets["pg"].DSN,
		ConnectTimeout:  cfg.Targets["pg"].ConnectTimeout.String(),
		Iterations:      cfg.Run.Iterations,
		Rates:           map[string]string{},
	}
	for _, sc := range cfg.Selected() {
		l.Selected = append(l.Selected, sc.Name)
	}
	for sc, as := range cfg.Run.Rates {
		for a, r := range as {
			l.Rates[sc+"."+a] = r.String()
		}
	}
	return l
}

// TestLoadOrder checks the precedence defaults < files (in order) <
// environment < flags, and that durations and rates print back exactly as
// they were written ("90s" stays "90s", not Go's "1m30s").
func TestLoadOrder(t *testing.T) {
	files := []string{"testdata/good/base.yaml", "testdata/good/override.yaml"}
	env := []string{
		"HOME=/root", // not pbenchd's: ignored
		"PBENCHD_RUN__PAUSE=7s",
		"PBENCHD_TARGETS__PG__DSN=postgres://env@db.example/bench",
		"PBENCHD_RUN__SCENARIOS=read,pool_read",
	}
	defaults := loaded{
		Pause: "5s", TeardownTimeout: "30s", SetupTimeout: "10m0s",
		Listen: ":9731", Level: "info", Format: "logfmt",
		DSN: "", ConnectTimeout: "5s",
		Selected: builtinSelected,
		Rates:    map[string]string{},
	}
	base := defaults
	base.Pause, base.TeardownTimeout = "90s", "45s"
	base.Listen, base.Level = ":9000", "debug"
	base.DSN = "postgres://base@localhost/base"
	base.Iterations = 3

	// override.yaml changes some keys of base.yaml and keeps the others,
	// also inside one target.
	both := base
	both.TeardownTimeout = "1m"
	both.Format = "json"
	both.ConnectTimeout = "2s"
	both.Rates = map[string]string{"pool_read.select_1": "5/m", "open_indexed_selects.select_t4": "250"}

	withEnv := both
	withEnv.Pause = "7s"
	withEnv.DSN = "postgres://env@db.example/bench"
	withEnv.Selected = []string{"read", "pool_read"}

	withFlags := withEnv
	withFlags.Pause = "2m30s"
	withFlags.Listen = "127.0.0.1:9999"
	withFlags.Iterations = 1

	withScenarioFlag := withEnv
	withScenarioFlag.Selected = []string{"connect_read", "read"}

	tests := []struct {
		name  string
		files []string
		env   []string
		args  []string
		want  loaded
	}{
		{name: "embedded default", want: defaults},
		{name: "one file over the default", files: files[:1], want: base},
		{name: "a second file over the first", files: files, want: both},
		{name: "environment over files", files: files, env: env, want: withEnv},
		{
			name: "flags over environment", files: files, env: env,
			args: []string{"--pause", "2m30s", "--web.listen-address", "127.0.0.1:9999", "--iterations=1"},
			want: withFlags,
		},
		{
			name: "a list flag over a list in the environment", files: files, env: env,
			args: []string{"--scenarios", "connect_read,read"},
			want: withScenarioFlag,
		},
		{
			name: "flags left at their defaults override nothing", files: files, env: env,
			args: []string{"--config", "ignored.yaml"},
			want: withEnv,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := config.Options{Files: tc.files, Environ: tc.env, Kinds: action.Kinds}
			if o.Environ == nil {
				o.Environ = []string{}
			}
			if tc.args != nil {
				o.Flags, o.FlagKey = daemonFlags(t, tc.args...), flagKey
			}
			cfg, err := config.Load(o)
			if err != nil {
				t.Fatal(err)
			}
			if got := summarize(cfg); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestLoadRateOverrides checks run.rates overrides given as Options.Set
// (cmd/pbenchd's --rate scenario.action=RATE): they replace the rate of
// the files and are validated with the scenario they name.
func TestLoadRateOverrides(t *testing.T) {
	catalog := strings.Join(builtinNames(t), ", ")
	files := []string{"testdata/good/base.yaml", "testdata/good/override.yaml"}
	tests := []struct {
		name string
		set  map[string]any
		// scenarioFiles are loaded too, and selected after the built-ins.
		scenarioFiles []string
		// want is the rate of each override, as it prints, or the error.
		want    map[string]string
		wantErr []string
	}{
		{
			name: "an override replaces the rate of the files",
			set:  map[string]any{"run.rates.pool_read.select_1": "250/s"},
			want: map[string]string{"pool_read.select_1": "250/s", "open_indexed_selects.select_t4": "250"},
		},
		{
			name: "an override adds a rate",
			set:  map[string]any{"run.rates.inserts_selects.insert": "0.5/s"},
			want: map[string]string{"pool_read.select_1": "5/m", "open_indexed_selects.select_t4": "250", "inserts_selects.insert": "0.5/s"},
		},
		{
			name:    "unknown scenario",
			set:     map[string]any{"run.rates.reads.select_1": "10/s"},
			wantErr: []string{`run.rates.reads: "reads" is not a known scenario ({catalog})`},
		},
		{
			name:    "unknown action",
			set:     map[string]any{"run.rates.pool_read.select_2": "10/s"},
			wantErr: []string{`run.rates.pool_read.select_2: scenario "pool_read" has no action "select_2" (select_1)`},
		},
		{
			name:    "closed-loop action",
			set:     map[string]any{"run.rates.read.select_1": "10/s"},
			wantErr: []string{`run.rates.read.select_1: action "select_1" has no open loop of its own (closed loops and probes set no rate); only open loops have a rate`},
		},
		{
			name:    "not a rate",
			set:     map[string]any{"run.rates.pool_read.select_1": "fast"},
			wantErr: []string{`run.rates.pool_read.select_1: "fast" is not a rate like 100/s`},
		},
		{
			name:          "an override is checked with the arrival shape",
			set:           map[string]any{"run.rates.beta.select_1": "200/s"},
			scenarioFiles: []string{"testdata/good/scenarios/beta.yaml"},
			wantErr: []string{
				`testdata/good/scenarios/beta.yaml: phases[0].load.actions[0].open.stddev: 4ms is more than half the 5ms between arrivals at 200/s, so truncating negative gaps would lower the rate`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := map[string]any{}
			for k, v := range tc.set {
				set[k] = v
			}
			if tc.scenarioFiles != nil {
				set["scenario_files"] = tc.scenarioFiles
			}
			cfg, err := config.Load(config.Options{Files: files, Environ: []string{}, Kinds: action.Kinds, Set: set})
			if tc.wantErr != nil {
				want := strings.ReplaceAll(strings.Join(tc.wantErr, "\n"), "{catalog}", catalog)
				if err == nil || err.Error() != want {
					t.Fatalf("error:\n%v\nwant:\n%s", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := summarize(cfg).Rates; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("rates %v, want %v", got, tc.want)
			}
		})
	}
}

// TestLoadRateOverrideValue checks that an override is parsed into the
// rate the engine uses, not kept as text.
func TestLoadRateOverrideValue(t *testing.T) {
	cfg, err := config.Load(config.Options{
		Environ: []string{}, Kinds: action.Kinds,
		Set: map[string]any{"run.rates.pool_read.select_1": "90/m"},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Run.Rates["pool_read"]["select_1"]
	if r.String() != "90/m" || r.PerSecond() != 1.5 {
		t.Errorf("rate %v = %v/s, want 90/m = 1.5/s", r, r.PerSecond())
	}
}

// TestBuiltinCatalog checks that the embedded default config and catalog
// load cleanly and select the PostgreSQL scenarios in order.
func TestBuiltinCatalog(t *testing.T) {
	cfg, err := config.Load(config.Options{Environ: []string{}, Kinds: action.Kinds})
	if err != nil {
		t.Fatal(err)
	}
	var selected []string
	for _, sc := range cfg.Selected() {
		selected = append(selected, sc.Name)
	}
	if !slices.Equal(selected, builtinSelected) {
		t.Errorf("selected %v, want %v", selected, builtinSelected)
	}
	for _, sc := range cfg.Catalog {
		if want := "builtin:scenarios/" + sc.Name + ".yaml"; sc.Source != want {
			t.Errorf("scenario %s comes from %s, want %s (one scenario a file, named after it)", sc.Name, sc.Source, want)
		}
		if sc.Description == "" {
			t.Errorf("scenario %s has no description", sc.Name)
		}
	}
}

// TestBuiltinScenariosValidate selects every built-in scenario on its own,
// so that each is validated as one that runs (targets included).
func TestBuiltinScenariosValidate(t *testing.T) {
	for _, name := range builtinNames(t) {
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Load(config.Options{
				Environ: []string{}, Kinds: action.Kinds,
				// Scenarios written for Materialize alone name a target mz.
				Set: map[string]any{"run.scenarios": []string{name}, "targets.mz.kind": "postgres", "targets.mz.flavor": "materialize"},
			})
			if err != nil {
				t.Fatal(err)
			}
			sc := cfg.Selected()[0]
			for _, a := range sc.ActionNames() {
				if k := sc.Action(a).Kind; k == "" {
					t.Errorf("action %s: validation did not set its kind", a)
				}
			}
		})
	}
}

// TestUserScenarioReplacesBuiltin checks that a user's scenario file of
// the same name as a built-in scenario replaces it.
func TestUserScenarioReplacesBuiltin(t *testing.T) {
	cfg, err := config.Load(config.Options{
		Files:   []string{"testdata/override/pbenchd.yaml"},
		Environ: []string{}, Kinds: action.Kinds,
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, sc := range cfg.Catalog {
		if sc.Name == "read" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the catalog holds %d scenarios named read, want 1", n)
	}
	sc := cfg.Scenario("read")
	if sc.Source != "testdata/override/read.yaml" {
		t.Errorf("read comes from %s, want testdata/override/read.yaml", sc.Source)
	}
	a := sc.Action("select_1")
	if a == nil || a.Closed == nil || a.Closed.Concurrency != 3 || sc.Phases[0].Load.Duration.String() != "30s" {
		t.Errorf("read is not the user's scenario: %+v", sc)
	}
	var selected []string
	for _, s := range cfg.Selected() {
		selected = append(selected, s.Name)
	}
	if !slices.Equal(selected, builtinSelected) {
		t.Errorf("selected %v, want %v (run.scenarios unchanged)", selected, builtinSelected)
	}
}

// TestScenarioFiles checks how scenario_files globs are resolved: relative
// to the config file that names them, accumulating across files, relative
// to the working directory from the environment; a glob that matches
// nothing is an error.
func TestScenarioFiles(t *testing.T) {
	tests := []struct {
		name    string
		files   []string
		env     []string
		catalog []string // name ← source
		run     []string
		wantErr string
	}{
		{
			name:    "relative to the config file's directory",
			files:   []string{"testdata/good/pbenchd.yaml"},
			catalog: []string{"alpha ← testdata/good/scenarios/alpha.yaml", "beta ← testdata/good/scenarios/beta.yaml"},
			run:     []string{"beta", "alpha"},
		},
		{
			name:  "globs of two files add up, each relative to its file",
			files: []string{"testdata/good/pbenchd.yaml", "testdata/good/more/pbenchd.yaml"},
			catalog: []string{
				"alpha ← testdata/good/scenarios/alpha.yaml",
				"beta ← testdata/good/scenarios/beta.yaml",
				"gamma ← testdata/good/more/scenarios/gamma.yaml",
			},
			run: []string{"gamma", "alpha"},
		},
		{
			name:    "from the environment, relative to the working directory",
			env:     []string{"PBENCHD_SCENARIO_FILES=testdata/good/scenarios/beta.yaml", "PBENCHD_RUN__SCENARIOS=beta"},
			catalog: []string{"beta ← testdata/good/scenarios/beta.yaml"},
			run:     []string{"beta"},
		},
		{
			name:    "one glob written as a string",
			files:   []string{"testdata/good/string_glob.yaml"},
			catalog: []string{"alpha ← testdata/good/scenarios/alpha.yaml"},
			run:     []string{"alpha"},
		},
		{
			name:    "a glob that matches nothing",
			files:   []string{"testdata/bad/globs/nothing.yaml"},
			wantErr: `scenario_files: "testdata/bad/globs/nothing/*.yaml" matches no file`,
		},
		{
			name:    "a glob that is not a glob",
			files:   []string{"testdata/bad/globs/invalid.yaml"},
			wantErr: `scenario_files: "testdata/bad/globs/[a-" is not a valid glob: syntax error in pattern`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := tc.env
			if env == nil {
				env = []string{}
			}
			cfg, err := config.Load(config.Options{Files: tc.files, Environ: env, Kinds: action.Kinds, NoBuiltinScenarios: true})
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error:\n%v\nwant:\n%s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var catalog, run []string
			for _, sc := range cfg.Catalog {
				catalog = append(catalog, fmt.Sprintf("%s ← %s", sc.Name, sc.Source))
			}
			for _, sc := range cfg.Selected() {
				run = append(run, sc.Name)
			}
			if !slices.Equal(catalog, tc.catalog) {
				t.Errorf("catalog %q, want %q", catalog, tc.catalog)
			}
			if !slices.Equal(run, tc.run) {
				t.Errorf("selected %q, want %q", run, tc.run)
			}
		})
	}
}

// TestInlineScenariosFromTwoFiles checks that inline scenarios of two
// config files add up, as their scenario_files globs do, rather than the
// second file's list replacing the first's.
func TestInlineScenariosFromTwoFiles(t *testing.T) {
	cfg, err := config.Load(config.Options{
		Files:   []string{"testdata/good/inline_a.yaml", "testdata/good/inline_b.yaml"},
		Environ: []string{}, Kinds: action.Kinds, NoBuiltinScenarios: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sc := range cfg.Catalog {
		names = append(names, sc.Name)
	}
	if want := []string{"inline_a", "inline_b"}; !slices.Equal(names, want) {
		t.Errorf("catalog %q, want %q", names, want)
	}
}
