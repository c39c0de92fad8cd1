package engine

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/pace"
	"github.com/pbenchd/pbenchd/internal/termui"
)

// Output says how a command prints: the --format and the terminal's
// layout.
type Output struct {
	// Format is table, markdown, json or csv (termui.Formats).
	Format string
	// Layout is the table layout (width, boxed on a terminal).
	Layout termui.Layout
}

// Summary writes an iteration as a plain table: one row per action with
// its calls, QPS, latency statistics, errors, retries, drops and
// guarantee verdicts.
func Summary(w io.Writer, it *Iteration) { SummaryTo(w, it, Output{Format: "table"}) }

// SummaryTo writes an iteration in out's format (table or markdown; json
// and csv are written once for the whole run, by WriteRun).
func SummaryTo(w io.Writer, it *Iteration, out Output) {
	md := out.Format == "markdown"
	heading := fmt.Sprintf("scenario %s: %s (%s)", it.Scenario, strings.ToUpper(it.Result), it.End.Sub(it.Start).Round(time.Millisecond))
	if md {
		heading = "### " + heading
	}
	fmt.Fprintf(w, "\n%s\n", heading)
	if md {
		fmt.Fprintln(w)
	}
	if it.Err != nil {
		para(w, out.Layout.Width, "  ", "error: "+it.Err.Error())
	}
	if it.TeardownErr != nil {
		para(w, out.Layout.Width, "  ", "teardown failed: "+it.TeardownErr.Error())
	}
	for _, c := range it.Checks {
		switch {
		case c.Err != nil:
			fmt.Fprintf(w, "  check %s: ERROR %v\n", c.Name, c.Err)
		case c.Match:
			fmt.Fprintf(w, "  check %s: ok (%d rows agree)\n", c.Name, c.Rows)
		default:
			fmt.Fprintf(w, "  check %s: MISMATCH (%d rows expected)\n", c.Name, c.Rows)
			for _, r := range c.Missing {
				fmt.Fprintf(w, "    missing %s\n", r)
			}
			for _, r := range c.Extra {
				fmt.Fprintf(w, "    extra   %s\n", r)
			}
		}
	}
	for _, sw := range SweepTables(it) {
		_ = sw.Write(w, out.Format, out.Layout)
	}
	probeTables(w, it.Probes)
	// Messages of actions without a row below (swept, probed) come here.
	for _, m := range it.Messages {
		if !slices.ContainsFunc(it.Results, func(r metrics.Result) bool { return r.Action == m.Action }) {
			para(w, out.Layout.Width, "  ", fmt.Sprintf("%s %s: %s", m.Action, m.Class, m.Message))
		}
	}
	if len(it.Results) == 0 {
		return
	}
	_ = ResultsTable(it).Write(w, out.Format, out.Layout)
}

// para writes text indented, wrapped to width (0: no limit), the lines
// after the first indented two more.
func para(w io.Writer, width int, indent, text string) {
	if width <= 0 {
		fmt.Fprintf(w, "%s%s\n", indent, text)
		return
	}
	for i, l := range termui.Wrap(text, max(width-len(indent)-2, 20)) {
		if i > 0 {
			l = "  " + l
		}
		fmt.Fprintf(w, "%s%s\n", indent, l)
	}
}

// SweepTables are an iteration's sweep phases, one table each.
func SweepTables(it *Iteration) []*termui.Table {
	var out []*termui.Table
	for _, sw := range it.Sweeps {
		st := &termui.Table{
			Title: "sweep " + sw.Phase + ": " + sw.Action,
			Columns: []termui.Column{{Title: "concurrency", Right: true}, {Title: "calls", Right: true}, {Title: "qps", Right: true},
				{Title: "p50", Right: true}, {Title: "p95", Right: true}, {Title: "p99", Right: true}, {Title: "max", Right: true}, {Title: "errors"}},
		}
		for _, s := range sw.Steps {
			r := s.Result
			st.Add(s.Concurrency, r.Calls, fmt.Sprintf("%.1f", r.QPS), latText(r, "p50"), latText(r, "p95"), latText(r, "p99"), latText(r, "max"), errorText(r))
		}
		out = append(out, st)
	}
	return out
}

// ResultsTable is an iteration's results, a row per action. Columns are
// data: a figure added to the results is a column added here, and every
// format shows it.
func ResultsTable(it *Iteration) *termui.Table {
	// On a narrow terminal the latencies, then the counts (calls, qps,
	// retries, dropped) stack into one column each.
	lat := func(title string) termui.Column {
		return termui.Column{Title: title, Right: true, Group: "latency", Collapse: 1}
	}
	// Latencies are over every arrival or call, a failed, dropped or
	// cut-off one slower than any limit (∞ when a statistic's rank falls on
	// one), as guarantees judge them; "ok" below is successful calls alone.
	t := &termui.Table{Columns: []termui.Column{
		{Title: "action", Keep: true},
		{Title: "calls", Right: true, Group: "counts", Collapse: 2},
		{Title: "offered/s", Right: true, Group: "counts", Collapse: 2},
		{Title: "served/s", Right: true, Group: "counts", Collapse: 2},
		{Title: "qps", Right: true, Group: "counts", Collapse: 2},
		lat("avg"), lat("p50"), lat("p95"), lat("p99"), lat("max"),
		{Title: "errors", Min: 12},
		{Title: "retries", Right: true, Group: "counts", Collapse: 2},
		{Title: "dropped", Right: true, Group: "counts", Collapse: 2},
		{Title: "guarantees", Min: 11},
	}}
	// An action kind's own figures (Kafka's end-to-end latency and
	// counts) get a column when there are any.
	figs := len(it.Figures) > 0
	if figs {
		last := t.Columns[len(t.Columns)-1]
		t.Columns = append(t.Columns[:len(t.Columns)-1], termui.Column{Title: "figures", Min: 12}, last)
	}
	n := 0 // footnotes: the first server message of each error class
	for _, r := range it.Results {
		var vs []string
		for _, v := range it.Verdicts {
			if v.Action == r.Action {
				vs = append(vs, v.String())
			}
		}
		if !it.Reported[r.Action] {
			vs = append(vs, "(not reported)")
		}
		// A class's line points at the footnote with its first message.
		lines := strings.Split(errorText(r), "\n")
		for _, m := range it.Messages {
			if m.Action != r.Action {
				continue
			}
			n++
			t.Notes = append(t.Notes, fmt.Sprintf("[%d] %s %s: %s", n, m.Action, m.Class, m.Message))
			for i, l := range lines {
				if strings.HasPrefix(l, m.Class+"=") {
					lines[i] += fmt.Sprintf(" [%d]", n)
				}
			}
		}
		errs := strings.Join(lines, "\n")
		if f := r.GeneratorFault; f != "" {
			vs = append(vs, "GENERATOR AT FAULT: "+f)
		}
		offered := "-"
		if r.Open {
			offered = fmt.Sprintf("%.1f", r.OfferedQPS)
		}
		cells := []any{r.Action, r.Calls, offered, fmt.Sprintf("%.1f", r.ServedQPS), fmt.Sprintf("%.1f", r.QPS),
			latText(r, "avg"), latText(r, "p50"), latText(r, "p95"), latText(r, "p99"), latText(r, "max"),
			errs, r.Retries, r.Dropped + r.Missed}
		if figs {
			cells = append(cells, figuresText(it.Figures[r.Action]))
		}
		t.Add(append(cells, strings.Join(vs, "\n"))...)
	}
	return t
}

// ClosingTable sums up a run of several scenarios: a row each, with its
// result, time and the guarantees it broke.
func ClosingTable(its []*Iteration) *termui.Table {
	t := &termui.Table{
		Title: "summary",
		Columns: []termui.Column{{Title: "scenario", Keep: true}, {Title: "result"}, {Title: "time", Right: true},
			{Title: "actions", Right: true}, {Title: "broken / error", Key: "broken", Min: 14}},
	}
	counts := map[string]int{}
	for _, it := range its {
		result := it.Result
		if it.Stopped {
			result = "stopped"
		}
		counts[result]++
		var why []string
		for _, v := range it.Verdicts {
			if !v.OK {
				why = append(why, v.Action+": "+v.String())
			}
		}
		if it.Err != nil {
			why = append(why, it.Err.Error())
		}
		t.Add(it.Scenario, strings.ToUpper(result), it.End.Sub(it.Start).Round(time.Second), len(it.Results), strings.Join(why, "\n"))
	}
	var parts []string
	for _, r := range []string{Pass, Fail, Error, "stopped"} {
		if counts[r] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[r], r))
		}
	}
	t.Notes = []string{fmt.Sprintf("%d scenario(s): %s", len(its), strings.Join(parts, ", "))}
	return t
}

// errorText is the count of failed calls, then a line per class.
func errorText(r metrics.Result) string {
	errs := fmt.Sprint(r.Failed)
	if len(r.ErrorClasses) > 0 {
		var cs []string
		for c, n := range r.ErrorClasses {
			cs = append(cs, fmt.Sprintf("%s=%d", c, n))
		}
		sort.Strings(cs)
		errs += "\n" + strings.Join(cs, "\n")
	}
	return errs
}

// latText shows a latency statistic as judged and, when bad events make
// it differ, the successful calls' own figure under it.
func latText(r metrics.Result, stat string) string {
	slo, ok := r.SLO.Stat(stat), r.Success.Stat(stat)
	s := fmtSec(slo)
	if slo != ok && !(math.IsNaN(slo) && math.IsNaN(ok)) {
		s += "\nok " + fmtSec(ok)
	}
	return s
}

func fmtSec(sec float64) string {
	switch {
	case math.IsInf(sec, 1):
		return "∞"
	case math.IsNaN(sec):
		return "-"
	}
	return fmtDur(time.Duration(sec * 1e9))
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// maxDescribed is how many actions of a phase Describe lists; check
// prints a summary, never a whole scenario file.
const maxDescribed = 20

// summaryLine is a description on one line, at most 240 characters.
func summaryLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 240 {
		return string(r[:239]) + "…"
	}
	return s
}

// Plan is what `pbenchd check` shows of a scenario: what would run, with
// the overrides applied.
type Plan struct {
	Scenario    string   `json:"scenario"`
	Description string   `json:"description,omitempty"`
	Source      string   `json:"source"`
	Targets     []string `json:"targets"`
	// Data are the setup steps' data sizes: tables and rows of loads,
	// TPC-H scale factors.
	Data       []string    `json:"data,omitempty"`
	Setup      int         `json:"setup_steps"`
	Teardown   int         `json:"teardown_steps"`
	Phases     []PhasePlan `json:"phases"`
	Checks     []string    `json:"checks,omitempty"`
	Guarantees string      `json:"guarantees,omitempty"`
}

// PhasePlan is one phase of a Plan.
type PhasePlan struct {
	Name string `json:"name"`
	// Duration and Warmup are the effective ones (--duration, --warmup).
	Duration string       `json:"duration"`
	Warmup   string       `json:"warmup,omitempty"`
	Sweep    string       `json:"sweep,omitempty"`
	Actions  []ActionPlan `json:"actions"`
	// More counts the actions beyond the first maxDescribed, not listed.
	More int `json:"more_actions,omitempty"`
}

// ActionPlan is one action of a phase.
type ActionPlan struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Loop is the open or closed loop, as it would run.
	Loop string `json:"loop"`
	// Settings are the kind's own: connection model, pool size,
	// isolation, protocol.
	Settings string `json:"settings,omitempty"`
	Target   string `json:"target"`
	Reported bool   `json:"reported"`
}

// PlanOf works out a scenario's plan.
func PlanOf(cfg *config.Config, sc *config.Scenario) Plan {
	p := Plan{
		Scenario: sc.Name, Description: summaryLine(sc.Description), Source: sc.Source,
		Targets: targetsText(cfg, sc), Setup: len(sc.Setup), Teardown: len(sc.Teardown),
		Guarantees: GuaranteeText(sc),
	}
	for _, st := range sc.Setup {
		switch {
		case st.Load != nil:
			names := st.Load.Names()
			tables := strings.Join(names, ", ")
			if len(names) > 3 {
				tables = fmt.Sprintf("%s … %s (%d tables)", names[0], names[len(names)-1], len(names))
			}
			p.Data = append(p.Data, fmt.Sprintf("load %s: %d rows each", tables, st.Load.Rows))
		case st.TPCH != nil:
			p.Data = append(p.Data, fmt.Sprintf("tpch scale factor %g", st.TPCH.SF))
		}
	}
	for _, c := range sc.Checks {
		p.Checks = append(p.Checks, c.Name)
	}
	for i, ph := range sc.Phases {
		pp := PhasePlan{Name: sc.PhaseName(i)}
		if sw := ph.Sweep; sw != nil {
			step := sw.Step
			if cfg.Run.Duration.D > 0 {
				step = cfg.Run.Duration
			}
			pp.Duration = fmt.Sprintf("%s × %d", step, len(sw.Concurrency))
			pp.Sweep = fmt.Sprintf("concurrency %v, %s each", sw.Concurrency, step)
			a := sw.Action
			pp.Actions = append(pp.Actions, ActionPlan{
				Name: a.Name, Kind: a.Kind, Loop: fmt.Sprintf("closed loop, swept over %v worker(s)", sw.Concurrency),
				Settings: action.Kinds.Describe(&a, slices.Max(append([]int{1}, sw.Concurrency...)), false),
				Target:   sc.TargetOf(&a), Reported: a.Reported(),
			})
			p.Phases = append(p.Phases, pp)
			continue
		}
		if pr := ph.Probe; pr != nil {
			a := pr.Action
			// The probe's own account: its search, steps and SLO.
			var b strings.Builder
			describeProbe(&b, cfg, sc, i, pr)
			text := strings.Join(strings.Fields(b.String()), " ")
			text = strings.TrimPrefix(text, "phase "+pp.Name+": ")
			pp.Duration = "capacity search"
			pp.Sweep = text
			pp.Actions = append(pp.Actions, ActionPlan{
				Name: a.Name, Kind: a.Kind, Loop: text,
				Target: sc.TargetOf(&a), Reported: a.Reported(),
			})
			p.Phases = append(p.Phases, pp)
			continue
		}
		if ph.Load == nil {
			continue
		}
		d := ph.Load.Duration
		if cfg.Run.Duration.D > 0 {
			d = cfg.Run.Duration
		}
		pp.Duration = d.String()
		warmup := ph.Load.Warmup
		if cfg.Run.Warmup != nil {
			warmup = *cfg.Run.Warmup
		}
		if warmup.D > 0 && warmup.D < d.D {
			pp.Warmup = warmup.String()
		}
		for j, a := range ph.Load.Actions {
			if j == maxDescribed {
				pp.More = len(ph.Load.Actions) - j
				break
			}
			loop, slots := loopText(cfg, sc, &a, d.D)
			pp.Actions = append(pp.Actions, ActionPlan{
				Name: a.Name, Kind: a.Kind, Loop: loop,
				Settings: action.Kinds.Describe(&a, slots, a.Open != nil),
				Target:   sc.TargetOf(&a), Reported: a.Reported(),
			})
		}
		p.Phases = append(p.Phases, pp)
	}
	return p
}

// Describe writes what a scenario would do, for `pbenchd check`.
func Describe(w io.Writer, cfg *config.Config, sc *config.Scenario, out Output) {
	p := PlanOf(cfg, sc)
	md := out.Format == "markdown"
	tgt := strings.Join(p.Targets, ", ")
	if tgt == "" {
		tgt = "no target"
	}
	head := fmt.Sprintf("scenario %s (%s, from %s)", p.Scenario, tgt, p.Source)
	if md {
		head = "### " + head + "\n"
	}
	fmt.Fprintln(w, head)
	var lines []string
	if p.Description != "" {
		lines = append(lines, p.Description)
	}
	if p.Setup > 0 || p.Teardown > 0 {
		lines = append(lines, fmt.Sprintf("setup: %d step(s), teardown: %d step(s)", p.Setup, p.Teardown))
	}
	for _, d := range p.Data {
		lines = append(lines, "data: "+d)
	}
	if len(p.Checks) > 0 {
		lines = append(lines, "checks: "+strings.Join(p.Checks, ", "))
	}
	if p.Guarantees != "" {
		lines = append(lines, "guarantees: "+p.Guarantees)
	}
	width := out.Layout.Width
	for _, l := range lines {
		if md {
			fmt.Fprintf(w, "- %s\n", l)
			continue
		}
		wl := []string{l}
		if width > 0 {
			wl = termui.Wrap(l, max(width-2, 20))
		}
		for _, wl := range wl {
			fmt.Fprintf(w, "  %s\n", wl)
		}
	}
	if md {
		fmt.Fprintln(w)
	}
	_ = PlanTable(p).Write(w, out.Format, out.Layout)
}

// PlanTable is a plan's phases and actions, a row per action.
func PlanTable(p Plan) *termui.Table {
	t := &termui.Table{Columns: []termui.Column{
		{Title: "phase", Keep: true},
		{Title: "duration", Min: 8},
		{Title: "action", Keep: true},
		{Title: "kind"},
		{Title: "loop", Min: 14},
		{Title: "connections", Key: "settings", Min: 14},
	}}
	for _, ph := range p.Phases {
		d := ph.Duration
		if ph.Warmup != "" {
			d += "\n(warm-up " + ph.Warmup + ")"
		}
		for _, a := range ph.Actions {
			name := a.Name
			if !a.Reported {
				name += "\n(not reported)"
			}
			t.Add(ph.Name, d, name, a.Kind, a.Loop, a.Settings)
		}
		if ph.More > 0 {
			t.Add(ph.Name, d, fmt.Sprintf("… and %d more actions", ph.More), "", "", "")
		}
	}
	return t
}

// GuaranteeText lists a scenario's guarantees compactly.
func GuaranteeText(sc *config.Scenario) string {
	var parts []string
	for _, an := range sc.ActionNames() {
		if g, ok := sc.Guarantees[an]; ok {
			parts = append(parts, an+" "+guaranteeText(g))
		}
	}
	return strings.Join(parts, "; ")
}

// guaranteeText lists one action's guarantees compactly: "p99≤10ms errors≤0.001".
func guaranteeText(g config.Guarantee) string {
	var p []string
	if g.QPS > 0 {
		p = append(p, fmt.Sprintf("qps≥%g", g.QPS))
	}
	type nd struct {
		n string
		d config.Duration
	}
	durations := func(ds ...nd) {
		for _, s := range ds {
			if s.d.D > 0 {
				p = append(p, fmt.Sprintf("%s≤%s", s.n, s.d))
			}
		}
	}
	durations(nd{"p50", g.P50}, nd{"p95", g.P95}, nd{"p99", g.P99}, nd{"max", g.Max}, nd{"avg", g.Avg})
	if g.Slope != nil {
		p = append(p, fmt.Sprintf("slope≤%g", *g.Slope))
	}
	if g.ErrorRatio != nil {
		p = append(p, fmt.Sprintf("errors≤%g", *g.ErrorRatio))
	}
	durations(nd{"e2e_p50", g.E2EP50}, nd{"e2e_p99", g.E2EP99}, nd{"e2e_max", g.E2EMax})
	for _, s := range []struct {
		n string
		v *float64
	}{{"missing", g.Missing}, {"duplicate", g.Duplicate}, {"foreign", g.Foreign}} {
		if s.v != nil {
			p = append(p, fmt.Sprintf("%s≤%g", s.n, *s.v))
		}
	}
	return strings.Join(p, " ")
}

// loopText describes an action's loop as it would run over a phase of
// d, and returns its slots: workers, or the cap on calls in flight.
func loopText(cfg *config.Config, sc *config.Scenario, a *config.Action, d time.Duration) (string, int) {
	if a.Open != nil {
		spec := a.Open.Spec
		if r, ok := cfg.Run.Rates[sc.Name][a.Name]; ok {
			spec.Rate = r
		}
		p, err := pace.New(spec)
		if err != nil {
			return "open loop, ?", 0
		}
		g := sc.Guarantees[a.Name]
		peak := pace.Peak(p, d)
		text := fmt.Sprintf("open loop, %s (peak %.4g/s)", p, peak)
		capacity := a.Open.MaxInflight
		if capacity == 0 {
			capacity = config.DefaultMaxInflight(peak, g)
			text += fmt.Sprintf(", max in flight %d (default: the peak rate × max(1s, 2 × the largest latency guarantee))", capacity)
		} else {
			text += fmt.Sprintf(", max in flight %d", capacity)
		}
		settings, _ := action.Kinds.Spec(a, "")
		if n, key := action.Kinds.Connections(a.Kind, settings); key != "" {
			if n == 0 {
				l, why := config.CarryLatency(g), "its smallest latency guarantee"
				if l == 0 {
					l, why = config.DefaultCallLatency, "an assumed"
				}
				text += fmt.Sprintf(", %s %d (default: the peak rate × %s %s)", key, config.DefaultConnections(peak, g, capacity), why, l)
			} else {
				text += fmt.Sprintf(", %s %d", key, n)
			}
		}
		return text, capacity
	}
	n := max(a.Closed.Concurrency, 1)
	return fmt.Sprintf("closed loop, %d worker(s)", n), n
}

// List writes the catalog: name, what it measures, targets, duration
// of its phases, and guarantees.
func List(w io.Writer, cfg *config.Config, out Output) error {
	return ListTable(cfg).Write(w, out.Format, out.Layout)
}

// ListTable is the catalog as a table.
func ListTable(cfg *config.Config) *termui.Table {
	t := &termui.Table{Columns: []termui.Column{
		{Title: "scenario", Keep: true},
		{Title: "measures", Elide: true, Min: 12},
		{Title: "targets", Min: 10},
		{Title: "duration", Right: true},
		{Title: "guarantees", Min: 16},
	}}
	for _, sc := range cfg.Catalog {
		var d time.Duration
		for _, ph := range sc.Phases {
			switch {
			case ph.Load != nil:
				d += ph.Load.Duration.D
			case ph.Sweep != nil:
				d += ph.Sweep.Step.D * time.Duration(len(ph.Sweep.Concurrency))
			case ph.Probe != nil:
				d += probeMaxDuration(ph.Probe, ph.Probe.Step.D)
			}
		}
		desc := strings.TrimSpace(sc.Description)
		if i := strings.IndexAny(desc, ".\n"); i > 0 {
			desc = desc[:i]
		}
		t.Add(sc.Name, desc, strings.Join(targetsText(cfg, sc), "\n"), d, strings.ReplaceAll(GuaranteeText(sc), "; ", "\n"))
	}
	return t
}

// targetsText lists the targets a scenario uses: each name, with the
// flavour or kind when the name does not say it, or ": not configured" when
// this config has no target of that name.
func targetsText(cfg *config.Config, sc *config.Scenario) []string {
	var out []string
	for _, name := range ScenarioTargets(sc) {
		tc, ok := cfg.Targets[name]
		switch {
		case !ok:
			out = append(out, name+": not configured")
		case tc.Kind == "postgres" && tc.Flavor != "" && tc.Flavor != "postgres":
			out = append(out, name+" ("+tc.Flavor+")")
		case tc.Kind != name && tc.Kind != "postgres":
			out = append(out, name+" ("+tc.Kind+")")
		default:
			out = append(out, name)
		}
	}
	return out
}
