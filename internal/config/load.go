package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	builtin "github.com/pbenchd/pbenchd/config"
)

// EnvPrefix starts every environment variable that sets a config key:
// PBENCHD_RUN__PAUSE=10s sets run.pause (a double underscore separates
// levels, since keys contain single underscores).
const EnvPrefix = "PBENCHD_"

// Options says where Load reads from, lowest precedence first: the
// embedded default, Files in order, the environment, then Flags.
type Options struct {
	// Files are config files merged in order over the embedded default.
	Files []string
	// Environ is the environment (os.Environ() in the daemon).
	Environ []string
	// Flags, when set, override everything; only flags for which FlagKey
	// returns a key take part.
	Flags *pflag.FlagSet
	// FlagKey maps a flag to its config key ("" to ignore the flag).
	FlagKey func(f *pflag.Flag) string
	// Kinds validates action kinds; nil accepts none.
	Kinds KindChecker
	// Set holds values by key path, applied last (flags that fill nested
	// keys, such as --rate scenario.action=N/s).
	Set map[string]any
	// NoBuiltinScenarios leaves the embedded catalog out (tests).
	NoBuiltinScenarios bool
}

// KindChecker is the registry of action kinds, as config validation sees it.
type KindChecker interface {
	// Names lists the registered kinds, sorted.
	Names() []string
	// Decode validates the settings of one action of kind name, given the
	// kind of its target, and returns them as the kind's typed spec, which
	// validation keeps in Action.Spec. Every problem is returned, prefixed
	// by path.
	Decode(name string, raw any, path string, target Target) (spec any, err error)
}

// listKeys are keys whose environment value is a comma-separated list.
var listKeys = map[string]bool{"run.scenarios": true, "run.exclude": true, "scenario_files": true}

// Load reads, merges, decodes and validates the configuration. The error,
// if any, lists every problem found, one a line, each with its key path.
func Load(o Options) (*Config, error) {
	ko := koanf.New(".")
	def, err := builtin.FS.ReadFile("pbenchd.yaml")
	if err != nil {
		return nil, fmt.Errorf("reading the embedded default config: %w", err)
	}
	if err := ko.Load(bytesProvider(def), yamlParser{}); err != nil {
		return nil, fmt.Errorf("embedded default config: %w", err)
	}
	defaultRun := ko.Strings("run.scenarios")
	var errs []error
	type fileGlobs struct {
		dir   string
		globs []string
	}
	var globs []fileGlobs
	var inline []any
	for _, f := range o.Files {
		fk := koanf.New(".")
		b, err := ReadFileLimited(f, MaxConfigFileSize, "config file")
		if err == nil {
			err = fk.Load(bytesProvider(b), yamlParser{})
		}
		if err != nil {
			// The file name leads the line already.
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
			continue
		}
		// Decode each file on its own too, so that a problem of type or
		// an unknown key is reported with the file it is in.
		if err := Decode(fk.Raw(), f+":", &Config{}); err != nil {
			errs = append(errs, err)
			continue
		}
		// Scenario globs accumulate across files and resolve relative to
		// the file that names them.
		if g := globsOf(fk); len(g) > 0 {
			globs = append(globs, fileGlobs{dir: filepath.Dir(f), globs: g})
			fk.Delete("scenario_files")
		}
		// Inline scenarios accumulate too: merging would let a later
		// file's list replace an earlier one's.
		if list, ok := fk.Get("scenarios").([]any); ok {
			inline = append(inline, list...)
			fk.Delete("scenarios")
		}
		if err := ko.Merge(fk); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
		}
	}
	if err := ko.Load(env.Provider(".", env.Opt{
		Prefix:        EnvPrefix,
		EnvironFunc:   func() []string { return o.Environ },
		TransformFunc: envKey,
	}), nil); err != nil {
		errs = append(errs, fmt.Errorf("environment: %w", err))
	}
	if o.Flags != nil && o.FlagKey != nil {
		if err := ko.Load(posflag.ProviderWithFlag(o.Flags, ".", nil, func(f *pflag.Flag) (string, any) {
			if !f.Changed {
				return "", nil
			}
			key := o.FlagKey(f)
			if key == "" {
				return "", nil
			}
			return key, posflag.FlagVal(o.Flags, f)
		}), nil); err != nil {
			errs = append(errs, fmt.Errorf("flags: %w", err))
		}
	}
	for _, k := range sortedKeys(o.Set) {
		if err := ko.Set(k, o.Set[k]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	cfg := &Config{}
	if err := decode(ko, "", cfg); err != nil {
		return nil, err
	}
	cfg.applyDefaults()
	// A scenario that does not decode is left out of the catalog, but its
	// name stays known, and the rest is still validated: every problem
	// is reported at once.
	var scErrs []error
	cfg.broken = map[string]bool{}

	if !o.NoBuiltinScenarios {
		entries, err := fs.Glob(builtin.FS, "scenarios/*.yaml")
		if err != nil {
			return nil, fmt.Errorf("embedded scenarios: %w", err)
		}
		sort.Strings(entries)
		for _, e := range entries {
			b, err := builtin.FS.ReadFile(e)
			if err != nil {
				return nil, fmt.Errorf("embedded scenario %s: %w", e, err)
			}
			sc, err := decodeScenario(b, "builtin:"+e, path.Base(e)+":", cfg)
			if err != nil {
				scErrs = append(scErrs, err)
				cfg.broken[sc.Name] = true
				continue
			}
			cfg.Catalog = append(cfg.Catalog, sc)
		}
	}
	if g := globsOf(ko); len(g) > 0 {
		globs = append(globs, fileGlobs{dir: ".", globs: g})
	}
	for _, fg := range globs {
		for _, g := range fg.globs {
			if !filepath.IsAbs(g) {
				g = filepath.Join(fg.dir, g)
			}
			matches, err := filepath.Glob(g)
			if err != nil {
				errs = append(errs, fmt.Errorf("scenario_files: %q is not a valid glob: %w", g, err))
				continue
			}
			if len(matches) == 0 {
				errs = append(errs, fmt.Errorf("scenario_files: %q matches no file", g))
			}
			sort.Strings(matches)
			for _, m := range matches {
				b, err := ReadFileLimited(m, MaxScenarioFileSize, "scenario file")
				if err != nil {
					var pe *fs.PathError
					if !errors.As(err, &pe) {
						err = fmt.Errorf("%s: %w", m, err)
					}
					errs = append(errs, fmt.Errorf("scenario_files: %w", err))
					continue
				}
				sc, err := decodeScenario(b, m, m+":", cfg)
				if err != nil {
					scErrs = append(scErrs, err)
					cfg.broken[sc.Name] = true
					continue
				}
				cfg.Catalog = append(cfg.Catalog, sc)
			}
		}
	}
	if more, ok := ko.Get("scenarios").([]any); ok {
		inline = append(inline, more...)
	}
	{
		for i, r := range inline {
			p := fmt.Sprintf("scenarios[%d]", i)
			m, ok := r.(map[string]any)
			if !ok {
				errs = append(errs, fmt.Errorf("%s: %s is not a mapping", p, show(r)))
				continue
			}
			sc, err := expandAndDecode(m, "config", p, cfg)
			if err != nil {
				scErrs = append(scErrs, err)
				cfg.broken[sc.Name] = true
				continue
			}
			cfg.Catalog = append(cfg.Catalog, sc)
		}
	}
	// A scenario defined again (in a user file or inline) replaces the
	// earlier definition of the same name, so a user can override a
	// built-in scenario without renaming it.
	var dupErrs []error
	cfg.Catalog, dupErrs, cfg.warnings = dedupe(cfg.Catalog)
	cfg.warnings = append(cfg.warnings, unselected(cfg, defaultRun)...)
	errs = append(errs, dupErrs...)
	if len(errs) > 0 {
		return nil, errors.Join(append(errs, scErrs...)...)
	}
	err = cfg.Validate(o.Kinds)
	webErrs := cfg.validateWeb()
	if err != nil || len(scErrs) > 0 || len(webErrs) > 0 {
		return nil, errors.Join(append(append(scErrs, err), webErrs...)...)
	}
	return cfg, nil
}

// envRoots are the top-level keys the environment may set. Other
// PBENCHD_ variables (PBENCHD_ARGS for the systemd unit, PBENCHD_TEST_DSN
// for tests) belong to other tools and are left alone.
var envRoots = map[string]bool{"targets": true, "run": true, "web": true, "log": true, "vars": true, "scenario_files": true, "results": true}

// envKey maps PBENCHD_RUN__PAUSE to run.pause.
func envKey(k, v string) (string, any) {
	key := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(k, EnvPrefix), "__", "."))
	if root, _, _ := strings.Cut(key, "."); !envRoots[root] {
		return "", nil
	}
	if listKeys[key] {
		var out []string
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return key, out
	}
	return key, v
}

// unselected warns of the scenarios a user defined that will not run
// because run.scenarios is still the built-in default's list (which
// names built-in scenarios only): a configuration that adds a scenario
// and runs the defaults instead would otherwise do so without a word.
// A list the user gave, or an exclusion, is taken as meant.
func unselected(cfg *Config, defaultRun []string) []string {
	if len(cfg.Run.Scenarios) == 0 || !slices.Equal(cfg.Run.Scenarios, defaultRun) {
		return nil
	}
	var left []string
	for _, sc := range cfg.Catalog {
		if sc.Name == "" || strings.HasPrefix(sc.Source, "builtin:") ||
			slices.Contains(cfg.Run.Scenarios, sc.Name) || slices.Contains(cfg.Run.Exclude, sc.Name) {
			continue
		}
		left = append(left, sc.Name)
	}
	if len(left) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("run.scenarios: %s, defined in your configuration, will not run: run.scenarios is the built-in default (%s); name them in run.scenarios or with --scenarios %s",
		strings.Join(left, ", "), strings.Join(defaultRun, ", "), strings.Join(left, ","))}
}

// dedupe keeps the last definition of each scenario name. A user's
// scenario may replace a built-in one of the same name (a warning says
// so); two definitions from the user's own files are an error, since one
// of them would be lost without a word.
func dedupe(in []*Scenario) ([]*Scenario, []error, []string) {
	last := map[string]int{}
	var errs []error
	var warns []string
	for i, sc := range in {
		if sc.Name == "" {
			continue
		}
		if j, ok := last[sc.Name]; ok {
			prev := in[j]
			if strings.HasPrefix(prev.Source, "builtin:") && !strings.HasPrefix(sc.Source, "builtin:") {
				warns = append(warns, fmt.Sprintf("%s: scenario %q replaces the built-in one of that name", sc.Key("name"), sc.Name))
			} else {
				errs = append(errs, fmt.Errorf("%s: scenario %q is already defined at %s: rename one of them", sc.Key("name"), sc.Name, prev.Key("name")))
			}
		}
		last[sc.Name] = i
	}
	var out []*Scenario
	for i, sc := range in {
		if last[sc.Name] == i || sc.Name == "" {
			out = append(out, sc)
		}
	}
	return out, errs, warns
}

func decodeScenario(b []byte, source, prefix string, cfg *Config) (*Scenario, error) {
	ko := koanf.New(".")
	if err := ko.Load(bytesProvider(b), yamlParser{}); err != nil {
		// The name, if it can be read, keeps the scenario known, so that
		// run.scenarios naming it is not a second problem.
		var head struct {
			Name string `yaml:"name"`
		}
		_ = yaml.NewDecoder(bytes.NewReader(b)).Decode(&head)
		return &Scenario{Name: head.Name}, fmt.Errorf("%s: %w", joinPath(prefix, ""), err)
	}
	return expandAndDecode(ko.Raw(), source, prefix, cfg)
}

// expandAndDecode resolves a scenario's variables and flavours, then
// decodes it.
func expandAndDecode(raw map[string]any, source, prefix string, cfg *Config) (*Scenario, error) {
	name, _ := raw["name"].(string)
	raw, gaps, warns, errs := expandScenario(raw, prefix, cfg.Targets, cfg.Vars[name])
	if len(errs) > 0 {
		return &Scenario{Name: name}, errors.Join(errs...)
	}
	sc := &Scenario{}
	if err := Decode(raw, prefix, sc); err != nil {
		return &Scenario{Name: name}, err
	}
	sc.Source = source
	sc.Path = prefix
	sc.FlavorGaps = gaps
	sc.Warnings = warns
	sc.zeros = explicitZeros(raw, prefix)
	return sc, nil
}

// explicitZeros finds the settings whose zero value would silently mean
// "the default" (decoding cannot tell 0 from absent): concurrency and
// max_inflight. Writing 0 is an error, not a request for the default.
func explicitZeros(raw map[string]any, prefix string) []error {
	var errs []error
	phases, _ := raw["phases"].([]any)
	for i, p := range phases {
		pm, _ := p.(map[string]any)
		load, _ := pm["load"].(map[string]any)
		actions, _ := load["actions"].([]any)
		for j, a := range actions {
			am, _ := a.(map[string]any)
			for _, z := range []struct{ loop, key, dflt string }{
				{"closed", "concurrency", "1 worker"},
				{"open", "max_inflight", "one second of arrivals, at least 1"},
			} {
				lm, _ := am[z.loop].(map[string]any)
				if v, ok := lm[z.key]; ok && isZero(v) {
					key := fmt.Sprintf("phases[%d].load.actions[%d].%s.%s", i, j, z.loop, z.key)
					errs = append(errs, fmt.Errorf("%s: 0 is not between 1 and %d (leave it out for the default: %s)", joinPath(prefix, key), maxInflightCeiling, z.dflt))
				}
			}
		}
	}
	return errs
}

func isZero(v any) bool {
	switch v := v.(type) {
	case int:
		return v == 0
	case int64:
		return v == 0
	case uint64:
		return v == 0
	case float64:
		return v == 0
	case string:
		return strings.TrimSpace(v) == "0"
	}
	return false
}

// decode unmarshals strictly (unknown keys are errors) and rewrites the
// decoder's errors as "key.path: problem" lines.
func decode(ko *koanf.Koanf, prefix string, out any) error {
	return Decode(ko.Raw(), prefix, out)
}

// Decode decodes raw YAML-shaped data (maps, lists, scalars) into out the
// way every config key is decoded: `koanf` tags, unknown keys rejected,
// durations, rates and other text types parsed. Problems come back as one
// "prefix.key: problem" error a line. Action kinds use it for their
// settings.
func Decode(raw any, prefix string, out any) error {
	dc := &mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			strictScalars,
			mappingOnly,
			numberAsText,
			mapstructure.TextUnmarshallerHookFunc(),
			durationText,
		),
		ErrorUnused:      true,
		WeaklyTypedInput: true,
		TagName:          "koanf",
		Result:           out,
	}
	d, err := mapstructure.NewDecoder(dc)
	if err != nil {
		return err
	}
	if err = d.Decode(raw); err == nil {
		return nil
	}
	var lines []error
	flattenDecodeErr(err, prefix, reflect.TypeOf(out).Elem().String(), &lines)
	// The decoder visits map entries (targets, rates, guarantees) in Go's
	// random map order: sort, so that a file always gives the same error.
	slices.SortStableFunc(lines, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(lines...)
}

// strictScalars refuses the conversions the weakly typed decoder would
// make silently: a mapping or list where text (a duration, a rate) belongs
// (`max: {}` would be no limit), true or false where a number belongs
// (`qps: true` would be 1), a fraction where an integer belongs
// (`concurrency: 1.9` would be 1) and a number where true or false
// belongs. Text from the environment ("2", "true") still converts.
func strictScalars(from, to reflect.Type, data any) (any, error) {
	if data == nil {
		return data, nil
	}
	fk, tk := from.Kind(), to.Kind()
	if reflect.PointerTo(to).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		switch fk {
		case reflect.Map, reflect.Slice, reflect.Bool:
			return nil, fmt.Errorf("%s is not %s", show(data), textWord(to))
		}
		return data, nil
	}
	switch {
	case isInt(tk) && fk == reflect.Bool, isFloat(tk) && fk == reflect.Bool:
		return nil, fmt.Errorf("%v is not %s", data, kindWord(to))
	case isInt(tk) && isFloat(fk):
		f := reflect.ValueOf(data).Float()
		if f != math.Trunc(f) {
			return nil, fmt.Errorf("%v is not an integer", data)
		}
	case tk == reflect.Bool && (isInt(fk) || isFloat(fk)):
		return nil, fmt.Errorf("%v is not true or false", data)
	}
	return data, nil
}

func isInt(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

func isFloat(k reflect.Kind) bool { return k == reflect.Float32 || k == reflect.Float64 }

// textWord names what a text type expects, for messages: its own
// message for a value that is no text at all, without the value.
func textWord(t reflect.Type) string {
	u := reflect.New(t).Interface().(encoding.TextUnmarshaler)
	err := u.UnmarshalText([]byte("\x00"))
	if err == nil {
		return "text"
	}
	// The types say `"x" is not a duration like 120s…`: keep what follows.
	if _, rest, ok := strings.Cut(err.Error(), " is not "); ok {
		return rest
	}
	return "text"
}

// numberAsText lets a text type (a rate, a duration) be written as a bare
// YAML number: `rate: 250` reads as "250".
func numberAsText(from, to reflect.Type, data any) (any, error) {
	if !reflect.PointerTo(to).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return data, nil
	}
	switch from.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Float64, reflect.Float32:
		return fmt.Sprint(data), nil
	}
	return data, nil
}

// flattenDecodeErr turns the decoder's error tree into one error a
// problem. root is the decoder's name for the top level (the type's name).
func flattenDecodeErr(err error, prefix, root string, out *[]error) {
	switch e := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range e.Unwrap() {
			flattenDecodeErr(e, prefix, root, out)
		}
		return
	case *mapstructure.DecodeError:
		inner := e.Unwrap()
		if _, ok := inner.(interface{ Unwrap() []error }); ok {
			flattenDecodeErr(inner, prefix, root, out)
			return
		}
		name := e.Name()
		if name == root {
			name = ""
		}
		*out = append(*out, fmt.Errorf("%s: %s", joinPath(prefix, dotted(name)), describe(inner)))
		return
	}
	// mapstructure wraps the joined problems in an error of its own.
	if inner := errors.Unwrap(err); inner != nil {
		flattenDecodeErr(inner, prefix, root, out)
		return
	}
	*out = append(*out, fmt.Errorf("%s: %w", joinPath(prefix, ""), err))
}

// mapKey matches a map entry in the decoder's key paths, targets[pg], as
// opposed to a list index, phases[0].
var mapKey = regexp.MustCompile(`\[([^\]]*[^\]0-9][^\]]*)\]`)

// dotted writes map entries the way validation does: targets.pg.
func dotted(name string) string { return mapKey.ReplaceAllString(name, ".$1") }

// mappingOnly reports a scalar or a list where a mapping of settings
// belongs, with the value, rather than the decoder's Go kinds.
func mappingOnly(from, to reflect.Type, data any) (any, error) {
	if to.Kind() != reflect.Struct || data == nil || from.Kind() == reflect.Map || from.Kind() == reflect.Struct ||
		reflect.PointerTo(to).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return data, nil
	}
	return nil, fmt.Errorf("%s is not a mapping", show(data))
}

// durationText decodes a time.Duration (the arrival settings of pace) as
// Duration does: a bare number has no unit and is an error, not
// nanoseconds.
func durationText(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeFor[time.Duration]() || from == to {
		return data, nil
	}
	s := fmt.Sprint(data)
	d, err := time.ParseDuration(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a duration like 120s or 500ms", s)
	}
	return d, nil
}

// globsOf returns scenario_files as a list, also when it is one string.
func globsOf(k *koanf.Koanf) []string {
	if s, ok := k.Get("scenario_files").(string); ok {
		return []string{s}
	}
	return k.Strings("scenario_files")
}

// yamlParser is koanf's YAML parser, with a message for a document whose
// top level is not a mapping.
type yamlParser struct{}

func (yamlParser) Unmarshal(b []byte) (map[string]any, error) {
	var v any
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&v); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	// A second document would be ignored: one file is one document. An
	// empty one (a trailing ---) holds nothing to lose.
	for n := 2; ; n++ {
		var more any
		err := dec.Decode(&more)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if more != nil {
			return nil, fmt.Errorf("document %d (after ---) would be ignored: a file holds one document (one scenario a file; several scenarios go in separate files or in a config's scenarios list)", n)
		}
	}
	switch v := v.(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return v, nil
	}
	return nil, fmt.Errorf("the top level must be a mapping of keys, not %s", show(v))
}

func (yamlParser) Marshal(o map[string]any) ([]byte, error) { return yaml.Marshal(o) }

// describe turns a decoder error into words for a person.
func describe(err error) string {
	var ue *mapstructure.UnconvertibleTypeError
	if errors.As(err, &ue) {
		return fmt.Sprintf("%s is not %s", show(ue.Value), kindWord(ue.Expected.Type()))
	}
	var pe *mapstructure.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s is not %s", show(pe.Value), kindWord(pe.Expected.Type()))
	}
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "has invalid keys: "); ok {
		keys := strings.Split(rest, ", ")
		sort.Strings(keys)
		if len(keys) == 1 {
			return fmt.Sprintf("unknown key %q", keys[0])
		}
		for i, k := range keys {
			keys[i] = strconv.Quote(k)
		}
		return "unknown keys " + strings.Join(keys, ", ")
	}
	return msg
}

func show(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	return fmt.Sprint(v)
}

func kindWord(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Uint32:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return "a " + t.String()
}

// joinPath joins a key path prefix and a key. A prefix that ends in ":"
// is a file name: "read.yaml:" and "phases[0]" give "read.yaml: phases[0]".
func joinPath(prefix, name string) string {
	file, isFile := strings.CutSuffix(prefix, ":")
	switch {
	case isFile && name == "":
		return file
	case isFile:
		return file + ": " + name
	case prefix == "":
		return orRoot(name)
	case name == "":
		return prefix
	}
	return prefix + "." + name
}

func orRoot(s string) string {
	if s == "" {
		return "(top level)"
	}
	return s
}

// bytesProvider is a koanf provider over bytes already in memory.
type bytesProvider []byte

func (b bytesProvider) ReadBytes() ([]byte, error) { return b, nil }

func (b bytesProvider) Read() (map[string]any, error) {
	return nil, errors.New("bytesProvider needs a parser")
}
