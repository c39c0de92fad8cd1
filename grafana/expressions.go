package grafana

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Kind says what an expression is in the file it comes from.
type Kind string

// The kinds of expressions.
const (
	Panel    Kind = "panel"    // the expr of a dashboard panel's target
	Variable Kind = "variable" // the PromQL inside a dashboard variable's query, e.g. the series of label_values(series, label)
	Record   Kind = "record"   // a recording rule
	Alert    Kind = "alert"    // an alerting rule
)

// Expr is one PromQL expression shipped in a dashboard or a rule file.
type Expr struct {
	// Source says where it is, for messages: the file relative to the
	// directory given to Expressions, and the panel and target, variable, or
	// rule, e.g. `dashboards/pbenchd-overview.json: panel "Targets" target A`.
	Source string
	Kind   Kind
	// Raw is the expression as written, Grafana template variables and all.
	Raw string
	// Query is Raw with the template variables replaced by DefaultVars:
	// PromQL that Prometheus can evaluate.
	Query string
	// Instant is true for a panel target that Grafana runs as an instant
	// query (tables, stats); false for range queries, variables and rules.
	Instant bool
}

// With returns Raw with the template variables replaced by vars (names
// without "$", e.g. {"scenario": "pool_read"}), and by DefaultVars for
// the others. It fails on a variable that neither names.
func (e Expr) With(vars map[string]string) (string, error) {
	all := DefaultVars()
	maps.Copy(all, vars)
	return substitute(e.Raw, all)
}

// DefaultVars returns realistic values for the template variables of the
// shipped dashboards and Grafana's built-in interval variables: the default
// scrape job, listen port and one of the built-in scenarios. A single value
// works both where a dashboard matches with = and with =~.
func DefaultVars() map[string]string {
	return map[string]string{
		"datasource":         "prometheus",
		"job":                "pbenchd",
		"instance":           "localhost:9731",
		"scenario":           "open_indexed_selects",
		"action":             "select_t4",
		"__interval":         "30s",
		"__interval_ms":      "30000",
		"__rate_interval":    "1m",
		"__rate_interval_ms": "60000",
		"__range":            "1h",
		"__range_s":          "3600",
		"__range_ms":         "3600000",
	}
}

// Expressions returns every PromQL expression in the dashboards
// (dir/dashboards/*.json: panel targets and variable queries) and rule
// files (dir/alerts/*.rules.yml) under dir, the grafana directory of the
// repository, in file order. Query has the dashboards' template variables
// replaced by DefaultVars; use Expr.With for other values.
func Expressions(dir string) ([]Expr, error) {
	dashboards, err := filepath.Glob(filepath.Join(dir, "dashboards", "*.json"))
	if err != nil {
		return nil, err
	}
	rules, err := filepath.Glob(filepath.Join(dir, "alerts", "*.rules.yml"))
	if err != nil {
		return nil, err
	}
	if len(dashboards) == 0 || len(rules) == 0 {
		return nil, fmt.Errorf("%s: no dashboards/*.json or alerts/*.rules.yml: not the grafana directory of pbenchd", dir)
	}
	var out []Expr
	var errs []error
	for _, path := range dashboards {
		exprs, err := dashboardExpressions(dir, path)
		out = append(out, exprs...)
		errs = append(errs, err)
	}
	for _, path := range rules {
		exprs, err := ruleExpressions(dir, path)
		out = append(out, exprs...)
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

type dashboardFile struct {
	Templating struct {
		List []dashboardVariable `json:"list"`
	} `json:"templating"`
	Panels []dashboardPanel `json:"panels"`
}

type dashboardVariable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Definition string          `json:"definition"`
	Query      json.RawMessage `json:"query"`
}

type dashboardPanel struct {
	Title   string `json:"title"`
	Targets []struct {
		RefID   string `json:"refId"`
		Expr    string `json:"expr"`
		Instant bool   `json:"instant"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"` // of a collapsed row
}

func dashboardExpressions(dir, path string) ([]Expr, error) {
	rel := relPath(dir, path)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d dashboardFile
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	var out []Expr
	var errs []error
	add := func(source string, kind Kind, raw string, instant bool) {
		q, err := substitute(raw, DefaultVars())
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", source, err))
			return
		}
		out = append(out, Expr{Source: source, Kind: kind, Raw: raw, Query: q, Instant: instant})
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		source := fmt.Sprintf("%s: variable %q", rel, v.Name)
		q, err := variableQuery(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", source, err))
			continue
		}
		expr, err := variableExpr(q)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", source, err))
			continue
		}
		if expr != "" {
			add(source, Variable, expr, false)
		}
	}
	var walk func(panels []dashboardPanel)
	walk = func(panels []dashboardPanel) {
		for _, p := range panels {
			for _, t := range p.Targets {
				if strings.TrimSpace(t.Expr) == "" {
					continue
				}
				add(fmt.Sprintf("%s: panel %q target %s", rel, p.Title, t.RefID), Panel, t.Expr, t.Instant)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out, errors.Join(errs...)
}

// variableQuery returns the query of a query variable, written either as a
// string or, since Grafana 10, as {"query": …, "qryType": …}.
func variableQuery(v dashboardVariable) (string, error) {
	var s string
	if err := json.Unmarshal(v.Query, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(v.Query, &obj); err != nil {
		return "", fmt.Errorf("query is neither a string nor an object with a query: %w", err)
	}
	if v.Definition != "" && v.Definition != obj.Query {
		return "", fmt.Errorf("definition %q differs from query %q", v.Definition, obj.Query)
	}
	return obj.Query, nil
}

var labelName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// variableExpr returns the PromQL inside a query of Grafana's Prometheus
// datasource: the series of label_values(series, label) and the expression
// of query_result(expr). It returns "" for the forms without one
// (label_values(label), label_names(), metrics(regex)).
func variableExpr(q string) (string, error) {
	q = strings.TrimSpace(q)
	fn, args, ok := strings.Cut(q, "(")
	if !ok || !strings.HasSuffix(args, ")") {
		return "", fmt.Errorf("query %q is not one of label_values(…), query_result(…), label_names(…), metrics(…)", q)
	}
	args = strings.TrimSpace(strings.TrimSuffix(args, ")"))
	switch strings.TrimSpace(fn) {
	case "label_values":
		i := lastTopLevelComma(args)
		if i < 0 {
			if !labelName.MatchString(args) {
				return "", fmt.Errorf("label_values(%s): not a label name", args)
			}
			return "", nil
		}
		if label := strings.TrimSpace(args[i+1:]); !labelName.MatchString(label) {
			return "", fmt.Errorf("label_values(…, %s): not a label name", label)
		}
		return strings.TrimSpace(args[:i]), nil
	case "query_result":
		return args, nil
	case "label_names", "metrics":
		return "", nil
	}
	return "", fmt.Errorf("query %q: unknown function %q", q, fn)
}

// lastTopLevelComma returns the index of the last comma in s outside
// brackets and quotes, or -1.
func lastTopLevelComma(s string) int {
	depth, last := 0, -1
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote != '`' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '(' || c == '{' || c == '[':
			depth++
		case c == ')' || c == '}' || c == ']':
			depth--
		case c == ',' && depth == 0:
			last = i
		}
	}
	return last
}

// varRef matches Grafana's variable syntaxes: ${name}, ${name:format},
// [[name]], [[name:format]] and $name. A name starts with a letter or "_",
// so regex back-references such as "$1" in label_replace are left alone.
var varRef = regexp.MustCompile(`\$\{([A-Za-z_]\w*)(?::[^}]*)?\}|\[\[([A-Za-z_]\w*)(?::[^\]]*)?\]\]|\$([A-Za-z_]\w*)`)

// varNames returns the names of the template variables s refers to.
func varNames(s string) []string {
	var names []string
	for _, m := range varRef.FindAllStringSubmatch(s, -1) {
		names = append(names, m[1]+m[2]+m[3])
	}
	return names
}

// substitute replaces the template variables in s by their values in vars.
func substitute(s string, vars map[string]string) (string, error) {
	var unknown []string
	out := varRef.ReplaceAllStringFunc(s, func(ref string) string {
		m := varRef.FindStringSubmatch(ref)
		name := m[1] + m[2] + m[3]
		v, ok := vars[name]
		if !ok {
			unknown = append(unknown, ref)
			return ref
		}
		return v
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("unknown template variables %s in %q", strings.Join(unknown, ", "), s)
	}
	return out, nil
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record string `yaml:"record"`
			Alert  string `yaml:"alert"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func ruleExpressions(dir, path string) ([]Expr, error) {
	rel := relPath(dir, path)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f ruleFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	var out []Expr
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			kind, name := Record, r.Record
			if r.Alert != "" {
				kind, name = Alert, r.Alert
			}
			out = append(out, Expr{
				Source: fmt.Sprintf("%s: group %q %s %s", rel, g.Name, kind, name),
				Kind:   kind,
				Raw:    r.Expr,
				Query:  r.Expr,
			})
		}
	}
	return out, nil
}

func relPath(dir, path string) string {
	if rel, err := filepath.Rel(dir, path); err == nil {
		return filepath.ToSlash(rel)
	}
	return path
}
