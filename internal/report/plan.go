package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/engine"
	"github.com/pbenchd/pbenchd/internal/loadgen"
	"github.com/pbenchd/pbenchd/internal/pace"
	"github.com/pbenchd/pbenchd/internal/probe"
	"github.com/pbenchd/pbenchd/internal/termui"
)

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
		conns := 0
		if n, key := action.Kinds.Connections(a.Kind, settings); key != "" {
			if n == 0 {
				l, why := config.CarryLatency(g), "its smallest latency guarantee"
				if l == 0 {
					l, why = config.DefaultCallLatency, "an assumed"
				}
				n = config.DefaultConnections(peak, g, capacity)
				text += fmt.Sprintf(", %s %d (default: the peak rate × %s %s)", key, n, why, l)
			} else {
				text += fmt.Sprintf(", %s %d", key, n)
			}
			conns = n
		}
		if action.Kinds.EventLoop(a.Kind, settings) {
			if n, per := loadgen.PlannedLanes(pace.MeanRate(p, 0, d), capacity, conns); n > 1 {
				text += fmt.Sprintf(", up to %d lanes (threads: one per %.0f/s of its mean rate, at most one per core and per connection; split from one when it falls behind, merged back when they idle)", n, per)
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
				d += engine.ProbeMaxDuration(ph.Probe, ph.Probe.Step.D)
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
	for _, name := range engine.ScenarioTargets(sc) {
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

// describeProbe writes what a probe phase would do, for `pbenchd check`.
func describeProbe(w io.Writer, cfg *config.Config, sc *config.Scenario, i int, p *config.ProbePhase) {
	step, warmup := p.Step.D, p.Warmup.D
	if cfg.Run.Duration.D > 0 {
		step = cfg.Run.Duration.D
	}
	if cfg.Run.Warmup != nil {
		warmup = cfg.Run.Warmup.D
	}
	c := p.Search()
	s, err := probe.New(c)
	if err != nil {
		return // reported by validation
	}
	c = s.Config()
	slo := sc.SLOOf(p)
	fmt.Fprintf(w, "  phase %s: probe of %s (%s), %s arrivals from %s up to %s (×%g while it holds), within %g%%, %s a step (%s warm-up), a broken step run %d more time(s), at most %d steps (%s), in flight ≤ %d\n",
		sc.PhaseName(i), p.Action.Name, p.Action.Kind, p.ArrivalShape(), rateText(c.Start), rateText(c.Ceiling), c.Growth, c.Precision*100,
		step, warmup, c.Confirm, c.MaxSteps, engine.ProbeMaxDuration(p, step), engine.ProbeCap(p, slo, c.Ceiling))
	fmt.Fprintf(w, "    SLO of each step: %s\n", guaranteeText(slo))
}
