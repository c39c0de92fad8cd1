package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Flavors are the engines behind the PostgreSQL wire protocol that
// scenarios may write flavour-specific statements for.
var Flavors = []string{"cockroach", "materialize", "postgres", "risingwave", "yugabyte"}

// byFlavorKey marks a mapping that is replaced by its entry for the
// target's flavour (or its `default` entry):
//
//	sql:
//	  by_flavor:
//	    postgres: CREATE INDEX ON t (k)
//	    materialize: CREATE DEFAULT INDEX ON t
//
// An entry of null removes the list element that holds it, so a step or an
// action can exist for one flavour only.
const byFlavorKey = "by_flavor"

// varRef matches a variable reference: {{ .name }}.
var varRef = regexp.MustCompile(`\{\{\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// oldRef matches the older syntax without the dot, {{name}}, accepted
// with a warning.
var oldRef = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// templateStart matches what begins a template reference, "{{" then a
// name or a dot, so that an unclosed or malformed one is an error at load
// time rather than a syntax error from the server. "{{1,2},{3,4}}" (a
// PostgreSQL array literal) and JSON do not look like one.
var templateStart = regexp.MustCompile(`\{\{\s*[.A-Za-z_]`)

// loadStep matches the key path of a load step: its {{ .table }} and
// {{ .i }} belong to the loader (the table and its number), not to the
// scenario's variables.
var loadStep = regexp.MustCompile(`(^|[ .])(setup|teardown)\[\d+\]\.load(\.|$)`)

// loaderVars are the names the loader fills in a load step.
var loaderVars = []string{"i", "table"}

// expandScenario resolves variables and flavours in a scenario's raw YAML
// before it is decoded. Variables come from the scenario's `vars` with
// overrides applied; a reference to an undeclared variable, or an override
// of one, is an error naming it.
func expandScenario(raw map[string]any, prefix string, targets map[string]Target, overrides map[string]any) (map[string]any, []string, []string, []error) {
	var errs []error
	vars := map[string]any{}
	if v, ok := raw["vars"]; ok {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, nil, nil, []error{fmt.Errorf("%s: %s is not a mapping of variable names to values", joinPath(prefix, "vars"), show(v))}
		}
		for k, val := range m {
			vars[k] = val
		}
	}
	names := sortedKeys(vars)
	for _, k := range sortedKeys(overrides) {
		if _, ok := vars[k]; !ok {
			name, _ := raw["name"].(string)
			errs = append(errs, fmt.Errorf("vars.%s.%s: scenario %q has no variable %q (vars: %s)", name, k, name, k, listOrNone(names)))
			continue
		}
		vars[k] = overrides[k]
	}
	// Variables may use other variables' values only as written; they are
	// not expanded recursively.
	flavor := ""
	if tn, ok := raw["target"].(string); ok {
		flavor = targets[tn].Flavor
		if flavor == "" && targets[tn].Kind == "postgres" {
			flavor = "postgres"
		}
	}
	x := &expander{vars: vars, names: names, targets: targets, warned: map[string]bool{}}
	out := map[string]any{}
	for _, k := range sortedKeys(raw) {
		if k == "vars" {
			out[k] = vars
			continue
		}
		v, keep := x.walk(raw[k], joinPath(prefix, k), flavor)
		if keep {
			out[k] = v
		}
	}
	return out, x.gaps, x.warns, append(errs, x.errs...)
}

type expander struct {
	vars    map[string]any
	names   []string
	targets map[string]Target
	errs    []error
	gaps    []string
	warns   []string
	warned  map[string]bool // old-syntax warnings given, by path
}

// walk returns the expanded value and whether it is kept (false for a
// by_flavor entry of null).
func (x *expander) walk(v any, path, flavor string) (any, bool) {
	switch v := v.(type) {
	case string:
		return x.subst(v, path), true
	case []any:
		out := make([]any, 0, len(v))
		for i, e := range v {
			if e, keep := x.walk(e, fmt.Sprintf("%s[%d]", path, i), flavor); keep {
				out = append(out, e)
			}
		}
		return out, true
	case map[string]any:
		if fv, ok := v[byFlavorKey]; ok && len(v) == 1 {
			return x.pick(fv, path+"."+byFlavorKey, flavor)
		}
		// A step or an action naming its own target takes that target's
		// flavour for what it holds.
		if tn, ok := v["target"].(string); ok {
			if s, ok := x.subst(tn, path+".target").(string); ok {
				tn = s
			}
			if t, ok := x.targets[tn]; ok && t.Flavor != "" {
				flavor = t.Flavor
			}
		}
		out := make(map[string]any, len(v))
		for _, k := range sortedKeys(v) {
			if e, keep := x.walk(v[k], path+"."+k, flavor); keep {
				out[k] = e
			}
		}
		return out, true
	}
	return v, true
}

func (x *expander) pick(fv any, path, flavor string) (any, bool) {
	m, ok := fv.(map[string]any)
	if !ok {
		x.errs = append(x.errs, fmt.Errorf("%s: %s is not a mapping of flavours (%s, default) to values", path, show(fv), strings.Join(Flavors, ", ")))
		return nil, false
	}
	for _, k := range sortedKeys(m) {
		if k != "default" && !slices.Contains(Flavors, k) {
			x.errs = append(x.errs, fmt.Errorf("%s: %q is not a flavour (%s, default)", path, k, strings.Join(Flavors, ", ")))
		}
	}
	key := flavor
	e, ok := m[key]
	if !ok {
		key = "default"
		e, ok = m[key]
	}
	if !ok {
		// Nothing for this flavour: the scenario cannot run on the target,
		// which validation reports if the scenario is selected.
		x.gaps = append(x.gaps, fmt.Sprintf("%s: nothing for flavour %s (has: %s)", path, orNone(flavor), strings.Join(sortedKeys(m), ", ")))
		return nil, false
	}
	if e == nil {
		return nil, false
	}
	return x.walk(e, path+"."+key, flavor)
}

// subst replaces {{ .name }} references. A string that is one reference
// and nothing else takes the variable's value with its type (a number
// stays a number). The older {{name}} is read the same way, with a
// warning; anything else that starts like a reference is an error.
func (x *expander) subst(s, path string) any {
	if !strings.Contains(s, "{{") {
		return s
	}
	inLoad := loadStep.MatchString(path)
	// The older syntax becomes the current one first, once warned about.
	s = oldRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := oldRef.FindStringSubmatch(ref)[1]
		if !x.warned[path] {
			x.warned[path] = true
			x.warns = append(x.warns, fmt.Sprintf("%s: %s is the older template syntax; write {{ .%s }}", path, ref, name))
		}
		return "{{ ." + name + " }}"
	})
	if m := varRef.FindStringSubmatch(s); m != nil && m[0] == strings.TrimSpace(s) {
		if v, ok := x.vars[m[1]]; ok {
			return v
		}
	}
	out := varRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := varRef.FindStringSubmatch(ref)[1]
		if inLoad && slices.Contains(loaderVars, name) {
			if _, ok := x.vars[name]; !ok {
				return ref // the loader's own
			}
		}
		v, ok := x.vars[name]
		if !ok {
			x.errs = append(x.errs, fmt.Errorf("%s: %s: unknown variable %q (vars: %s)", path, ref, name, listOrNone(x.names)))
			return ref
		}
		return fmt.Sprint(v)
	})
	// What is left that starts like a reference is not one.
	rest := varRef.ReplaceAllString(s, "")
	if loc := templateStart.FindStringIndex(rest); loc != nil {
		frag := rest[loc[0]:]
		if end := strings.Index(frag, "}}"); end >= 0 {
			frag = frag[:end+2]
			x.errs = append(x.errs, fmt.Errorf("%s: %q is not a template reference like {{ .name }}", path, elide(frag, 40)))
		} else {
			x.errs = append(x.errs, fmt.Errorf("%s: %q is not closed by \"}}\" (a reference is written {{ .name }})", path, elide(strings.TrimRight(frag, " \n"), 40)))
		}
	}
	return out
}

// elide shortens s to at most n runes, marking the cut with "…".
func elide(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none declared"
	}
	return strings.Join(s, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
