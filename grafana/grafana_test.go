package grafana

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

const (
	rulesFile        = "alerts/pbenchd.rules.yml"
	rulesTestFile    = "alerts/pbenchd.rules.test.yml"
	runbookFile      = "alerts/README.md"
	alertmanagerFile = "alerts/alertmanager.yml"
)

// contract is the metric contract of DESIGN.md: each pbenchd metric with
// its labels. Histograms are listed by the series they expose in the classic
// form (_bucket, _sum, _count); the bare histogram name is a native
// histogram, which Prometheus 2.42 does not ingest by default.
var contract = func() map[string][]string {
	sa := []string{"scenario", "action"}
	with := func(base []string, more ...string) []string { return append(slices.Clone(base), more...) }
	m := map[string][]string{
		"pbenchd_action_errors_total":                          with(sa, "class"),
		"pbenchd_action_retries_total":                         with(sa, "reason"),
		"pbenchd_action_dropped_total":                         sa,
		"pbenchd_action_calls_total":                           with(sa, "outcome"),
		"pbenchd_action_inflight":                              sa,
		"pbenchd_action_inflight_max":                          sa,
		"pbenchd_result_qps":                                   sa,
		"pbenchd_result_latency_seconds":                       with(sa, "stat"),
		"pbenchd_result_latency_slope":                         sa,
		"pbenchd_result_error_ratio":                           sa,
		"pbenchd_result_calls":                                 sa,
		"pbenchd_result_dropped":                               sa,
		"pbenchd_result_events":                                sa,
		"pbenchd_result_served_qps":                            sa,
		"pbenchd_result_offered_qps":                           sa,
		"pbenchd_result_success_latency_seconds":               with(sa, "stat"),
		"pbenchd_result_success_latency_slope":                 sa,
		"pbenchd_result_generator_lag_seconds":                 with(sa, "stat"),
		"pbenchd_generator_fault":                              sa,
		"pbenchd_generator_lanes":                              sa,
		"pbenchd_action_reconnects_total":                      sa,
		"pbenchd_guarantee_qps_min":                            sa,
		"pbenchd_guarantee_latency_seconds_max":                with(sa, "stat"),
		"pbenchd_guarantee_latency_slope_max":                  sa,
		"pbenchd_guarantee_error_ratio_max":                    sa,
		"pbenchd_guarantee_ok":                                 with(sa, "stat"),
		"pbenchd_iterations_total":                             {"scenario", "result"},
		"pbenchd_last_iteration_timestamp_seconds":             {"scenario"},
		"pbenchd_last_judged_iteration_timestamp_seconds":      {"scenario"},
		"pbenchd_cycle_expected_seconds":                       nil,
		"pbenchd_slo_good_total":                               with(sa, "stat"),
		"pbenchd_slo_bad_total":                                with(sa, "stat"),
		"pbenchd_slo_error_budget_ratio":                       with(sa, "stat"),
		"pbenchd_iteration_duration_seconds":                   {"scenario"},
		"pbenchd_phase_active":                                 {"scenario", "phase"},
		"pbenchd_target_up":                                    {"target"},
		"pbenchd_view_mismatch_total":                          {"scenario", "view"},
		"pbenchd_loader_rows_total":                            {"scenario", "table"},
		"pbenchd_sweep_qps":                                    with(sa, "step"),
		"pbenchd_sweep_latency_seconds":                        with(sa, "step", "stat"),
		"pbenchd_capacity_qps":                                 sa,
		"pbenchd_capacity_curve":                               with(sa, "step", "stat"),
		"pbenchd_capacity_drop_max":                            sa,
		"pbenchd_teardown_failures_total":                      {"scenario"},
		"pbenchd_kafka_missing_total":                          sa,
		"pbenchd_kafka_duplicate_total":                        sa,
		"pbenchd_kafka_foreign_total":                          sa,
		"pbenchd_config_last_reload_successful":                nil,
		"pbenchd_config_last_reload_success_timestamp_seconds": nil,
		"pbenchd_build_info":                                   {"version", "revision", "goversion"},
	}
	for name, ls := range map[string][]string{
		"pbenchd_action_latency_seconds":    with(sa, "outcome"),
		"pbenchd_action_service_seconds":    sa,
		"pbenchd_schedule_lag_seconds":      sa,
		"pbenchd_generator_lag_seconds":     sa,
		"pbenchd_freshness_lag_seconds":     {"scenario", "view"},
		"pbenchd_kafka_e2e_latency_seconds": sa,
	} {
		m[name+"_bucket"] = with(ls, "le")
		m[name+"_sum"] = ls
		m[name+"_count"] = ls
	}
	return m
}()

// targetLabels are added by Prometheus to every scraped series.
var targetLabels = []string{"job", "instance"}

// nonPbenchdName reports whether name is one of the other series a pbenchd
// scrape gives: the Go and process collectors and Prometheus's own.
func nonPbenchdName(name string) bool {
	return name == "up" || strings.HasPrefix(name, "go_") ||
		strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "scrape_")
}

// nativeOnly are functions that need native histograms.
var nativeOnly = []string{"histogram_count", "histogram_sum", "histogram_avg", "histogram_fraction",
	"histogram_stddev", "histogram_stdvar"}

func TestPromtoolCheckRules(t *testing.T) {
	out := promtool(t, ".", "check", "rules", rulesFile)
	if strings.Contains(out, "WARN") {
		t.Errorf("promtool check rules %s warned:\n%s", rulesFile, out)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	promtool(t, filepath.Dir(rulesTestFile), "test", "rules", filepath.Base(rulesTestFile))
}

// promtool runs promtool with args in dir and returns its output; the test
// fails if it is missing or fails.
func promtool(t *testing.T, dir string, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is not on PATH: run `make test-deps` "+
			"(apt-get install -y --no-install-recommends prometheus): %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestExpressionsParseAndUseContractMetrics(t *testing.T) {
	exprs, err := Expressions(".")
	if err != nil {
		t.Fatal(err)
	}
	records := recordNames(t)
	count := map[string]int{}
	queries := make([]string, len(exprs))
	for i, e := range exprs {
		queries[i] = e.Query
	}
	unparsed := parseWithPromtool(t, queries)
	for i, e := range exprs {
		count[strings.SplitN(e.Source, ":", 2)[0]]++
		if msg, bad := unparsed[i]; bad {
			t.Errorf("%s: %q does not parse: %s", e.Source, e.Query, msg)
			continue
		}
		sels, err := selectors(e.Query)
		if err != nil {
			t.Errorf("%s: %q: %v", e.Source, e.Query, err)
			continue
		}
		for _, problem := range checkExpr(e.Query, sels, e.Kind, records) {
			t.Errorf("%s: %s\n\t%s", e.Source, problem, e.Query)
		}
	}
	for _, f := range []string{"dashboards/pbenchd-overview.json", "dashboards/pbenchd-scenario.json",
		"dashboards/pbenchd-health.json", rulesFile} {
		if count[f] == 0 {
			t.Errorf("no expressions found in %s", f)
		}
	}
}

// histograms are the native histograms of the contract, by name: their
// classic form is name_bucket, _sum and _count.
var histograms = func() map[string]bool {
	m := map[string]bool{}
	for name := range contract {
		if base, ok := strings.CutSuffix(name, "_bucket"); ok {
			m[base] = true
		}
	}
	return m
}()

// checkExpr returns what is wrong with an expression's selectors: series
// outside the metric contract, labels a pbenchd metric does not have, a
// histogram read only in one form (a native histogram must be read with
// its classic _bucket fallback, `<native> or <classic>`, so the expression
// works with native histograms on or off). Rules may also read the series
// that rules record.
func checkExpr(query string, sels []selector, kind Kind, records map[string]bool) []string {
	var problems []string
	for _, fn := range nativeOnly {
		if regexp.MustCompile(`\b` + fn + `\s*\(`).MatchString(query) {
			problems = append(problems, fn+" works on native histograms only; use histogram_quantile on the native histogram or the classic _bucket series")
		}
	}
	read := map[string]bool{}
	for _, s := range sels {
		read[s.Name] = true
	}
	for _, s := range sels {
		problems = append(problems, checkSelector(s.Name, s.Matchers, kind, records, s.InQuantile)...)
		switch {
		case histograms[s.Name] && !read[s.Name+"_bucket"]:
			problems = append(problems, fmt.Sprintf("reads the native histogram %s without the classic %s_bucket fallback", s.Name, s.Name))
		case strings.HasSuffix(s.Name, "_bucket") && histograms[strings.TrimSuffix(s.Name, "_bucket")] && s.InQuantile && !read[strings.TrimSuffix(s.Name, "_bucket")]:
			problems = append(problems, fmt.Sprintf("reads %s without the native histogram %s first: empty where Prometheus ingests native histograms", s.Name, strings.TrimSuffix(s.Name, "_bucket")))
		}
	}
	return problems
}

func checkSelector(name string, matchers []matcher, kind Kind, records map[string]bool, inQuantile bool) []string {
	var problems []string
	ls, inContract := contract[name]
	switch {
	case histograms[name]:
		ls, inContract = contract[name+"_count"], true
	}
	switch {
	case inContract:
		for _, m := range matchers {
			if m.Name != "__name__" && !slices.Contains(ls, m.Name) && !slices.Contains(targetLabels, m.Name) {
				problems = append(problems, fmt.Sprintf("%s has no label %q (it has %s)", name, m.Name, strings.Join(ls, ", ")))
			}
		}
	case nonPbenchdName(name):
	case (kind == Record || kind == Alert) && records[name]:
	default:
		problems = append(problems, fmt.Sprintf("series %q is not in the metric contract", name))
	}
	if inQuantile && !strings.HasSuffix(name, "_bucket") && !histograms[name] {
		problems = append(problems, fmt.Sprintf("histogram_quantile reads %q, not a histogram", name))
	}
	return problems
}

// recordNames returns the names recorded by the rules file.
func recordNames(t *testing.T) map[string]bool {
	t.Helper()
	records := map[string]bool{}
	for _, r := range readRules(t) {
		if r.Record != "" {
			records[r.Record] = true
		}
	}
	return records
}

type rule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func readRules(t *testing.T) []rule {
	t.Helper()
	var f struct {
		Groups []struct {
			Rules []rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, rulesFile, &f)
	var rules []rule
	for _, g := range f.Groups {
		rules = append(rules, g.Rules...)
	}
	return rules
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestAlertsHaveRunbooksAndLabels(t *testing.T) {
	readme, err := os.ReadFile(runbookFile)
	if err != nil {
		t.Fatal(err)
	}
	anchors := markdownAnchors(string(readme))
	const base = "https://github.com/pbenchd/pbenchd/blob/main/grafana/alerts/README.md#"
	for _, r := range readRules(t) {
		if r.Alert == "" {
			continue
		}
		if s := r.Labels["severity"]; s != "critical" && s != "warning" {
			t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
		}
		du := r.Annotations["dashboard_url"]
		if m := regexp.MustCompile(`/d/([\w-]+)/[\w-]+\?`).FindStringSubmatch(du); m == nil || !dashboardUIDs(t)[m[1]] {
			t.Errorf("%s: dashboard_url %q does not link a shipped dashboard (/d/<uid>/<slug>?…)", r.Alert, du)
		} else if !strings.Contains(du, "var-instance=") && r.Alert != "PbenchdDown" {
			t.Errorf("%s: dashboard_url %q does not set the instance", r.Alert, du)
		}
		for _, a := range []string{"summary", "description", "runbook_url", "dashboard_url"} {
			if r.Annotations[a] == "" {
				t.Errorf("%s: no %s annotation", r.Alert, a)
			}
		}
		url := r.Annotations["runbook_url"]
		anchor, ok := strings.CutPrefix(url, base)
		switch {
		case !ok:
			t.Errorf("%s: runbook_url %q does not start with %s", r.Alert, url, base)
		case anchor != strings.ToLower(r.Alert):
			t.Errorf("%s: runbook_url anchor %q, want %q", r.Alert, anchor, strings.ToLower(r.Alert))
		case !anchors[anchor]:
			t.Errorf("%s: %s has no heading with anchor #%s", r.Alert, runbookFile, anchor)
		}
	}
}

// markdownAnchors returns the anchors GitHub generates for the headings of
// a Markdown document: lower case, punctuation dropped, spaces to hyphens.
func markdownAnchors(md string) map[string]bool {
	anchors := map[string]bool{}
	drop := regexp.MustCompile(`[^\p{L}\p{N}\- _]`)
	inFence := false
	for line := range strings.SplitSeq(md, "\n") {
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
		}
		if inFence || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		anchor := strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(title), ""), " ", "-")
		anchors[anchor] = true
	}
	return anchors
}

func TestEveryRuleIsTestedBothWays(t *testing.T) {
	var f struct {
		Tests []struct {
			PromQL []struct {
				Expr    string `yaml:"expr"`
				Samples []any  `yaml:"exp_samples"`
			} `yaml:"promql_expr_test"`
			Alerts []struct {
				Name   string `yaml:"alertname"`
				Alerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	readYAML(t, rulesTestFile, &f)
	// [0]: a case where it does not fire (no sample); [1]: one where it does.
	tested := map[string]*[2]bool{}
	mark := func(name string, fires bool) {
		if tested[name] == nil {
			tested[name] = new([2]bool)
		}
		tested[name][map[bool]int{false: 0, true: 1}[fires]] = true
	}
	for _, group := range f.Tests {
		for _, c := range group.PromQL {
			if name := selectorName(c.Expr); name != "" {
				mark(name, len(c.Samples) > 0)
			}
		}
		for _, c := range group.Alerts {
			mark(c.Name, len(c.Alerts) > 0)
		}
	}
	for _, r := range readRules(t) {
		name := r.Alert + r.Record
		got := tested[name]
		if got == nil {
			got = new([2]bool)
		}
		if !got[1] {
			t.Errorf("%s: %s has no case where it gives a result", name, rulesTestFile)
		}
		if !got[0] {
			t.Errorf("%s: %s has no case where it gives none", name, rulesTestFile)
		}
	}
}

// dashboard is what TestDashboards checks in a dashboard file.
type dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Definition string          `json:"definition"`
			Datasource *datasourceRef  `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *datasourceRef `json:"datasource"`
	Targets    []struct {
		RefID      string         `json:"refId"`
		Expr       string         `json:"expr"`
		Datasource *datasourceRef `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

func TestDashboards(t *testing.T) {
	paths, err := filepath.Glob("dashboards/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 {
		t.Errorf("dashboards: %v, want overview, scenario and health", paths)
	}
	uids := map[string]string{}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var top map[string]json.RawMessage
			if err := json.Unmarshal(data, &top); err != nil {
				t.Fatal(err)
			}
			if _, ok := top["id"]; ok {
				t.Error(`has a top-level "id": Grafana would try to overwrite that dashboard; leave it out`)
			}
			var d dashboard
			dec := json.NewDecoder(bytes.NewReader(data))
			if err := dec.Decode(&d); err != nil {
				t.Fatal(err)
			}
			if d.UID == "" || d.Title == "" {
				t.Errorf("uid %q, title %q: both must be set", d.UID, d.Title)
			}
			if other, dup := uids[d.UID]; dup {
				t.Errorf("uid %q is also the uid of %s", d.UID, other)
			}
			uids[d.UID] = path
			if d.SchemaVersion < 36 || d.SchemaVersion > 41 {
				t.Errorf("schemaVersion %d, want about 39", d.SchemaVersion)
			}

			declared := map[string]bool{}
			for _, v := range d.Templating.List {
				declared[v.Name] = true
				switch v.Name {
				case "datasource":
					var q string
					if v.Type != "datasource" || json.Unmarshal(v.Query, &q) != nil || q != "prometheus" {
						t.Errorf("variable datasource: type %q query %s, want a prometheus datasource variable", v.Type, v.Query)
					}
				case "scenario", "action":
					if v.Type != "query" || !strings.HasPrefix(v.Definition, "label_values(") {
						t.Errorf("variable %s: type %q definition %q, want a label_values query", v.Name, v.Type, v.Definition)
					}
				}
				if v.Type == "query" {
					checkDatasource(t, "variable "+v.Name, v.Datasource)
				}
			}
			for _, name := range []string{"datasource", "scenario", "action"} {
				if !declared[name] {
					t.Errorf("no %q variable", name)
				}
			}

			ids := map[int]bool{}
			var walk func([]panel)
			walk = func(panels []panel) {
				for _, p := range panels {
					if ids[p.ID] {
						t.Errorf("panel %q: id %d is used twice", p.Title, p.ID)
					}
					ids[p.ID] = true
					if p.Type != "row" {
						checkDatasource(t, "panel "+p.Title, p.Datasource)
						if len(p.Targets) == 0 {
							t.Errorf("panel %q has no targets", p.Title)
						}
					}
					for _, tg := range p.Targets {
						checkDatasource(t, fmt.Sprintf("panel %q target %s", p.Title, tg.RefID), tg.Datasource)
						for _, name := range varNames(tg.Expr) {
							if !declared[name] && !strings.HasPrefix(name, "__") {
								t.Errorf("panel %q target %s uses $%s, which the dashboard does not declare", p.Title, tg.RefID, name)
							}
						}
					}
					walk(p.Panels)
				}
			}
			walk(d.Panels)
		})
	}
}

func checkDatasource(t *testing.T, what string, ds *datasourceRef) {
	t.Helper()
	if ds == nil || ds.Type != "prometheus" || (ds.UID != "${datasource}" && ds.UID != "$datasource") {
		t.Errorf("%s: datasource %+v, want the prometheus ${datasource} variable", what, ds)
	}
}

func TestVariableExpr(t *testing.T) {
	for _, tc := range []struct {
		name, query, want string
		wantErr           bool
	}{
		{"series and label", `label_values(pbenchd_build_info, job)`, `pbenchd_build_info`, false},
		{"selector with commas", `label_values(up{job=~"a,b", instance="x"}, instance)`, `up{job=~"a,b", instance="x"}`, false},
		{"label only", `label_values(job)`, ``, false},
		{"query_result", `query_result(topk(5, up))`, `topk(5, up)`, false},
		{"metrics", `metrics(pbenchd_.*)`, ``, false},
		{"bad label", `label_values(up, 1abc)`, ``, true},
		{"unknown function", `series(up)`, ``, true},
		{"no call", `up`, ``, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := variableExpr(tc.query)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("variableExpr(%q) = %q, %v; want %q, error %v", tc.query, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestSubstitute(t *testing.T) {
	vars := map[string]string{"scenario": "s1", "__rate_interval": "1m", "__range_s": "3600"}
	for _, tc := range []struct {
		name, in, want string
		wantErr        bool
	}{
		{"plain", `x{scenario=~"$scenario"}[$__rate_interval]`, `x{scenario=~"s1"}[1m]`, false},
		{"braces and format", `x{scenario=~"${scenario}",b="${scenario:regex}"}`, `x{scenario=~"s1",b="s1"}`, false},
		{"brackets", `x{scenario="[[scenario]]"}`, `x{scenario="s1"}`, false},
		{"longest name wins", `$__range_s`, `3600`, false},
		{"regex back-reference kept", `label_replace(x, "a", "$1", "b", "(.*)")`, `label_replace(x, "a", "$1", "b", "(.*)")`, false},
		{"unknown", `x{a="$nope"}`, ``, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := substitute(tc.in, vars)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("substitute(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestExprWith(t *testing.T) {
	e := Expr{Raw: `pbenchd_result_qps{scenario=~"$scenario",action=~"$action"}`}
	got, err := e.With(map[string]string{"scenario": "pool_read"})
	if want := `pbenchd_result_qps{scenario=~"pool_read",action=~"select_t4"}`; err != nil || got != want {
		t.Errorf("With = %q, %v; want %q", got, err, want)
	}
}

func TestExpressionsWrongDir(t *testing.T) {
	if _, err := Expressions(t.TempDir()); err == nil {
		t.Error("Expressions of an empty directory: no error")
	}
}

// TestAlertmanagerConfig checks the shipped Alertmanager example with
// Alertmanager's own tool, and that its inhibit rules name only alerts the
// rules file has.
func TestAlertmanagerConfig(t *testing.T) {
	bin, err := exec.LookPath("amtool")
	if err != nil {
		t.Fatalf("amtool is not on PATH: run `make test-deps` (apt-get install -y --no-install-recommends prometheus-alertmanager): %v", err)
	}
	if out, err := exec.Command(bin, "check-config", alertmanagerFile).CombinedOutput(); err != nil {
		t.Fatalf("amtool check-config %s: %v\n%s", alertmanagerFile, err, out)
	}
	data, err := os.ReadFile(alertmanagerFile)
	if err != nil {
		t.Fatal(err)
	}
	alerts := map[string]bool{}
	for _, r := range readRules(t) {
		if r.Alert != "" {
			alerts[r.Alert] = true
		}
	}
	names := regexp.MustCompile(`Pbenchd[A-Za-z]+`)
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.Contains(line, "alertname") {
			continue
		}
		// Expand the (a|b) groups of the regexes into names.
		for _, m := range names.FindAllString(expandAlternatives(line), -1) {
			if !alerts[m] {
				t.Errorf("%s names alert %s, which %s does not have: %s", alertmanagerFile, m, rulesFile, strings.TrimSpace(line))
			}
		}
	}
}

// expandAlternatives turns each "Prefix(a|b)Suffix" of s into
// "PrefixaSuffix PrefixbSuffix", innermost first.
func expandAlternatives(s string) string {
	re := regexp.MustCompile(`(\w*)\(([\w|]+)\)(\w*)`)
	for re.MatchString(s) {
		s = re.ReplaceAllStringFunc(s, func(m string) string {
			p := re.FindStringSubmatch(m)
			var out []string
			for _, alt := range strings.Split(p[2], "|") {
				out = append(out, p[1]+alt+p[3])
			}
			return strings.Join(out, " ")
		})
	}
	return s
}

// TestDashboardsNavigable checks what an on-call needs to find their way:
// the scenario variable comes from a series every configured scenario has
// (pbenchd_iterations_total exists from the start, even for a scenario that
// never made a call), scenario and action have an All value, legends of
// panels name the instance, links carry the variables, counting panels do
// not depend on $__interval exceeding the scrape interval, and panels of
// seconds show time units.
func TestDashboardsNavigable(t *testing.T) {
	paths, err := filepath.Glob("dashboards/*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no dashboards: %v", err)
	}
	type fieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
		Overrides []struct {
			Properties []struct {
				ID    string `json:"id"`
				Value any    `json:"value"`
			} `json:"properties"`
		} `json:"overrides"`
	}
	type navPanel struct {
		Type        string      `json:"type"`
		Title       string      `json:"title"`
		FieldConfig fieldConfig `json:"fieldConfig"`
		Targets     []struct {
			Expr         string `json:"expr"`
			LegendFormat string `json:"legendFormat"`
		} `json:"targets"`
		Panels []navPanel `json:"panels"`
	}
	var d struct {
		Links []struct {
			Type        string `json:"type"`
			IncludeVars bool   `json:"includeVars"`
			KeepTime    bool   `json:"keepTime"`
		} `json:"links"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
				IncludeAll bool   `json:"includeAll"`
			} `json:"list"`
		} `json:"templating"`
		Panels []navPanel `json:"panels"`
	}
	seconds := regexp.MustCompile(`pbenchd_\w*_seconds`)
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &d); err != nil {
				t.Fatal(err)
			}
			for _, v := range d.Templating.List {
				switch v.Name {
				case "scenario":
					if !strings.HasPrefix(v.Definition, "label_values(pbenchd_iterations_total") {
						t.Errorf("variable scenario: %q, want label_values(pbenchd_iterations_total…, scenario): every configured scenario has that series", v.Definition)
					}
					fallthrough
				case "action", "instance":
					if !v.IncludeAll {
						t.Errorf("variable %s has no All value", v.Name)
					}
				}
			}
			if len(d.Links) == 0 {
				t.Error("no links to the other dashboards")
			}
			for _, l := range d.Links {
				if !l.IncludeVars || !l.KeepTime {
					t.Errorf("link %+v does not carry the variables and the time range", l)
				}
			}
			var walk func([]navPanel)
			walk = func(ps []navPanel) {
				for _, p := range ps {
					timeUnit := p.FieldConfig.Defaults.Unit == "s" || p.FieldConfig.Defaults.Unit == "ms"
					for _, o := range p.FieldConfig.Overrides {
						for _, pr := range o.Properties {
							if pr.ID == "unit" && (pr.Value == "s" || pr.Value == "ms") {
								timeUnit = true
							}
						}
					}
					for _, tg := range p.Targets {
						if strings.Contains(tg.Expr, "[$__interval]") && strings.Contains(tg.Expr, "increase(") {
							t.Errorf("panel %q: increase(…[$__interval]) is empty when the interval is the scrape interval: %s", p.Title, tg.Expr)
						}
						if p.Type != "table" && strings.Contains(tg.LegendFormat, "{{") && !strings.Contains(tg.LegendFormat, "{{instance}}") &&
							(strings.Contains(tg.LegendFormat, "{{scenario}}") || strings.Contains(tg.LegendFormat, "{{action}}") ||
								strings.Contains(tg.LegendFormat, "{{view}}") || strings.Contains(tg.LegendFormat, "{{result}}")) {
							t.Errorf("panel %q: legend %q does not name the instance", p.Title, tg.LegendFormat)
						}
						if seconds.MatchString(tg.Expr) && !strings.Contains(tg.Expr, "timestamp_seconds") &&
							!strings.Contains(tg.Expr, "cycle_expected_seconds") && !strings.Contains(tg.Expr, "_count") && !timeUnit && p.Type != "heatmap" {
							t.Errorf("panel %q reads %s but shows no time unit", p.Title, seconds.FindString(tg.Expr))
						}
					}
					walk(p.Panels)
				}
			}
			walk(d.Panels)
		})
	}
}

// dashboardUIDs returns the uids of the shipped dashboards.
func dashboardUIDs(t *testing.T) map[string]bool {
	t.Helper()
	paths, err := filepath.Glob("dashboards/*.json")
	if err != nil {
		t.Fatal(err)
	}
	uids := map[string]bool{}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			UID string `json:"uid"`
		}
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatal(err)
		}
		uids[d.UID] = true
	}
	return uids
}
