package engine

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/pace"
)

// Summary writes an iteration as a table: one row per action with its
// calls, QPS, latency statistics, errors, drops and guarantee verdicts.
func Summary(w io.Writer, it *Iteration) {
	fmt.Fprintf(w, "\nscenario %s: %s (%s)\n", it.Scenario, strings.ToUpper(it.Result), it.End.Sub(it.Start).Round(time.Millisecond))
	if it.Err != nil {
		fmt.Fprintf(w, "  error: %v\n", it.Err)
	}
	if it.TeardownErr != nil {
		fmt.Fprintf(w, "  teardown failed: %v\n", it.TeardownErr)
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
	for _, sw := range it.Sweeps {
		st := table.NewWriter()
		st.SetOutputMirror(w)
		st.SetStyle(table.StyleLight)
		st.SetTitle("sweep " + sw.Phase + ": " + sw.Action)
		st.AppendHeader(table.Row{"concurrency", "calls", "qps", "p50", "p95", "p99", "max", "errors"})
		for _, s := range sw.Steps {
			r := s.Result
			st.AppendRow(table.Row{s.Concurrency, r.Calls, fmt.Sprintf("%.1f", r.QPS), latText(r, "p50"), latText(r, "p95"), latText(r, "p99"), latText(r, "max"), errorText(r)})
		}
		st.Render()
	}
	probeTables(w, it.Probes)
	if len(it.Results) == 0 {
		return
	}
	t := table.NewWriter()
	t.SetOutputMirror(w)
	t.SetStyle(table.StyleLight)
	// Latencies are over every arrival or call, a failed, dropped or
	// cut-off one slower than any limit (∞ when a statistic's rank falls on
	// one), as guarantees judge them; "ok" below is successful calls alone.
	t.AppendHeader(table.Row{"action", "calls", "offered/s", "served/s", "qps", "p50", "p95", "p99", "max", "errors", "dropped", "guarantees"})
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
		if f := r.GeneratorFault; f != "" {
			vs = append(vs, "GENERATOR AT FAULT: "+f)
		}
		offered := "-"
		if r.Open {
			offered = fmt.Sprintf("%.1f", r.OfferedQPS)
		}
		t.AppendRow(table.Row{r.Action, r.Calls, offered, fmt.Sprintf("%.1f", r.ServedQPS), fmt.Sprintf("%.1f", r.QPS),
			latText(r, "p50"), latText(r, "p95"), latText(r, "p99"), latText(r, "max"),
			errorText(r), r.Dropped + r.Missed, strings.Join(vs, "\n")})
	}
	t.Render()
}

// errorText is the count of failed calls with their classes.
func errorText(r metrics.Result) string {
	errs := fmt.Sprint(r.Failed)
	if len(r.ErrorClasses) > 0 {
		var cs []string
		for c, n := range r.ErrorClasses {
			cs = append(cs, fmt.Sprintf("%s=%d", c, n))
		}
		sort.Strings(cs)
		errs += " (" + strings.Join(cs, " ") + ")"
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

// Describe writes what a scenario would do, for `pbenchd check`: a
// summary, whatever the size of the scenario.
func Describe(w io.Writer, cfg *config.Config, sc *config.Scenario) {
	tgt := "target " + sc.Target
	if sc.Target == "" {
		tgt = "no target"
	}
	fmt.Fprintf(w, "scenario %s (%s, from %s)\n", sc.Name, tgt, sc.Source)
	if sc.Description != "" {
		fmt.Fprintf(w, "  %s\n", summaryLine(sc.Description))
	}
	if n := len(sc.Setup); n > 0 {
		fmt.Fprintf(w, "  setup: %d step(s), teardown: %d step(s)\n", n, len(sc.Teardown))
	}
	for i, ph := range sc.Phases {
		if ph.Probe != nil {
			describeProbe(w, cfg, sc, i, ph.Probe)
			continue
		}
		if sw := ph.Sweep; sw != nil {
			step := sw.Step
			if cfg.Run.Duration.D > 0 {
				step = cfg.Run.Duration
			}
			fmt.Fprintf(w, "  phase %s: sweep of %s (%s) at concurrency %v, %s each\n", sc.PhaseName(i), sw.Action.Name, sw.Action.Kind, sw.Concurrency, step)
			continue
		}
		if ph.Load == nil {
			continue
		}
		d := ph.Load.Duration
		if cfg.Run.Duration.D > 0 {
			d = cfg.Run.Duration
		}
		fmt.Fprintf(w, "  phase %s: %s", sc.PhaseName(i), d)
		warmup := ph.Load.Warmup
		if cfg.Run.Warmup != nil {
			warmup = *cfg.Run.Warmup
		}
		if warmup.D > 0 && warmup.D < d.D {
			fmt.Fprintf(w, " (warm-up %s)", warmup)
		}
		fmt.Fprintln(w)
		for j, a := range ph.Load.Actions {
			if j == maxDescribed {
				fmt.Fprintf(w, "    … and %d more actions\n", len(ph.Load.Actions)-j)
				break
			}
			fmt.Fprintf(w, "    %-24s %-5s %s", a.Name, a.Kind, loopText(cfg, sc, &a, d.D))
			if !a.Reported() {
				fmt.Fprint(w, "  (not reported)")
			}
			fmt.Fprintln(w)
		}
	}
	if len(sc.Guarantees) > 0 {
		fmt.Fprintf(w, "  guarantees: %s\n", GuaranteeText(sc))
	}
}

// GuaranteeText lists a scenario's guarantees compactly.
func GuaranteeText(sc *config.Scenario) string {
	var parts []string
	for _, an := range sc.ActionNames() {
		g, ok := sc.Guarantees[an]
		if !ok {
			continue
		}
		var p []string
		if g.QPS > 0 {
			p = append(p, fmt.Sprintf("qps≥%g", g.QPS))
		}
		for _, s := range []struct {
			n string
			d config.Duration
		}{{"p50", g.P50}, {"p95", g.P95}, {"p99", g.P99}, {"max", g.Max}, {"avg", g.Avg}} {
			if s.d.D > 0 {
				p = append(p, fmt.Sprintf("%s≤%s", s.n, s.d))
			}
		}
		if g.Slope != nil {
			p = append(p, fmt.Sprintf("slope≤%g", *g.Slope))
		}
		if g.ErrorRatio != nil {
			p = append(p, fmt.Sprintf("errors≤%g", *g.ErrorRatio))
		}
		parts = append(parts, an+" "+strings.Join(p, " "))
	}
	return strings.Join(parts, "; ")
}

func loopText(cfg *config.Config, sc *config.Scenario, a *config.Action, d time.Duration) string {
	if a.Open != nil {
		spec := a.Open.Spec
		if r, ok := cfg.Run.Rates[sc.Name][a.Name]; ok {
			spec.Rate = r
		}
		p, err := pace.New(spec)
		if err != nil {
			return "open loop, ?"
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
		if n, key := action.Kinds.Connections(a.Kind, a.Kinds[a.Kind]); key != "" {
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
		return text
	}
	return fmt.Sprintf("closed loop, %d worker(s)", max(a.Closed.Concurrency, 1))
}

// List writes the catalog: name, what it measures, target kind, duration
// of its load phases, and guarantees.
func List(w io.Writer, cfg *config.Config) {
	t := table.NewWriter()
	t.SetOutputMirror(w)
	t.SetStyle(table.StyleLight)
	t.AppendHeader(table.Row{"scenario", "measures", "target", "duration", "guarantees"})
	for _, sc := range cfg.Catalog {
		kind := "?"
		if tc, ok := cfg.Targets[sc.Target]; ok {
			kind = tc.Kind
		}
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
		t.AppendRow(table.Row{sc.Name, desc, sc.Target + " (" + kind + ")", d, strings.ReplaceAll(GuaranteeText(sc), "; ", "\n")})
	}
	t.Render()
}
