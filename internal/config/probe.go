package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pbenchd/pbenchd/internal/pace"
	"github.com/pbenchd/pbenchd/internal/probe"
)

// ProbePhase searches for the highest rate at which one action, in an open
// loop, stays inside its SLO: the rate grows step by step until the SLO
// breaks, then narrows down (see internal/probe). Each step holds its rate
// for Step, the first Warmup of it excluded from the step's verdict.
type ProbePhase struct {
	// Action is the action probed; it takes no open or closed loop: the
	// probe sets its rate.
	Action Action `koanf:"action"`
	// Arrivals is the shape of each step's arrivals: poisson (default) or
	// periodic.
	Arrivals string `koanf:"arrivals"`
	// Start is the first rate tried (default 100/s).
	Start pace.Rate `koanf:"start"`
	// Ceiling is the highest rate tried (default and at most 100000/s,
	// PacingCeiling).
	Ceiling pace.Rate `koanf:"ceiling"`
	// Precision is the relative width at which the search stops (default
	// 0.05: the capacity is known within 5 %).
	Precision float64 `koanf:"precision"`
	// Growth is the factor between two rates while every step holds
	// (default 2).
	Growth float64 `koanf:"growth"`
	// Step is how long each rate holds, warm-up included.
	Step Duration `koanf:"step"`
	// Warmup at the start of each step, excluded from its verdict.
	Warmup Duration `koanf:"warmup"`
	// Confirm is how many times a step that broke is run again at its
	// rate before the probe believes it (default 1): a transient of the
	// machine or the target does not end the probe early.
	Confirm *int `koanf:"confirm"`
	// MaxInflight caps calls in flight per step; default: what the
	// ceiling needs at the SLO's latency (Little's law), at most 10000.
	MaxInflight int `koanf:"max_inflight"`
	// Seed makes poisson arrivals repeatable; 0 picks one per run.
	Seed uint64 `koanf:"seed"`
	// MaxDrop is how far the capacity may fall below its 7-day median, as
	// a fraction, before the shipped PbenchdCapacityDropped alert fires
	// (exported as pbenchd_capacity_drop_max); default 0.2.
	MaxDrop *float64 `koanf:"max_drop"`
	// SLO is what each step must meet. Empty: the action's guarantees
	// (guarantees.<action>). Only latency bounds (p50, p95, p99, max, avg)
	// and error_ratio apply: the probe sets the rate, so qps and slope
	// are not the step's to meet.
	SLO *Guarantee `koanf:"slo"`
}

// Probe defaults.
const (
	DefaultProbeArrivals = "poisson"
	DefaultProbeStart    = 100
	DefaultProbeCeiling  = 100000
	DefaultProbeConfirm  = 1
	DefaultProbeMaxDrop  = 0.2
)

var probeArrivals = []string{"poisson", "periodic"}

// Search returns the probe's search settings with defaults applied.
func (p *ProbePhase) Search() probe.Config {
	c := probe.Config{Start: DefaultProbeStart, Ceiling: DefaultProbeCeiling, Precision: p.Precision, Growth: p.Growth, Confirm: DefaultProbeConfirm}
	if p.Confirm != nil {
		c.Confirm = *p.Confirm
	}
	if !p.Start.IsZero() {
		c.Start = p.Start.PerSecond()
	}
	if !p.Ceiling.IsZero() {
		c.Ceiling = p.Ceiling.PerSecond()
	}
	return c
}

// Drop returns the capacity drop the alert allows, with the default.
func (p *ProbePhase) Drop() float64 {
	if p.MaxDrop == nil {
		return DefaultProbeMaxDrop
	}
	return *p.MaxDrop
}

// ArrivalShape returns the arrival shape of every step.
func (p *ProbePhase) ArrivalShape() string {
	if p.Arrivals == "" {
		return DefaultProbeArrivals
	}
	return p.Arrivals
}

// SLOOf returns the SLO each step of the probe is judged by: its own, or
// the action's guarantees.
func (sc *Scenario) SLOOf(p *ProbePhase) Guarantee {
	if p.SLO != nil {
		return *p.SLO
	}
	return sc.Guarantees[p.Action.Name]
}

// validateProbe checks a probe phase's own keys; the action's kind is
// checked by the caller like any other action.
func (sc *Scenario) validateProbe(c *Config, pk string, p *ProbePhase) []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", sc.Key(pk+".probe."+key), fmt.Sprintf(format, args...)))
	}
	if p.Action.Open != nil || p.Action.Closed != nil {
		bad("action", "a probed action takes no open or closed loop: the probe sets its rate")
	}
	if p.Arrivals != "" && !slices.Contains(probeArrivals, p.Arrivals) {
		bad("arrivals", "%q is not one of %s", p.Arrivals, strings.Join(probeArrivals, ", "))
	}
	if _, err := probe.New(p.Search()); err != nil {
		for _, e := range unjoin(err) {
			// probe names the field: "ceiling: 100 must be …".
			field, msg, _ := strings.Cut(e.Error(), ": ")
			bad(field, "%s", msg)
		}
	}
	if sc := p.Search(); sc.Ceiling > PacingCeiling {
		bad("ceiling", "%s is above the %d/s one action can be paced at: a probe that high would measure pbenchd, not the target", p.Ceiling, PacingCeiling)
	}
	if p.Step.D <= 0 && c.Run.Duration.D <= 0 {
		bad("step", "missing: a probe needs a positive step duration like 10s")
	}
	if p.Step.D > 0 && p.Warmup.D >= p.Step.D {
		bad("warmup", "%s must be shorter than the step %s", p.Warmup, p.Step)
	}
	if p.MaxDrop != nil && !(*p.MaxDrop > 0 && *p.MaxDrop < 1) {
		bad("max_drop", "%v is not a fraction between 0 and 1 (exclusive), like 0.2 for a 20 %% drop", *p.MaxDrop)
	}
	if p.MaxInflight < 0 || p.MaxInflight > maxInflightCeiling {
		bad("max_inflight", "%d is not between 1 and %d", p.MaxInflight, maxInflightCeiling)
	}
	slo := sc.SLOOf(p)
	sk := pk + ".probe.slo"
	if p.SLO == nil {
		sk = "guarantees." + p.Action.Name
	}
	if slo.QPS != 0 {
		errs = append(errs, fmt.Errorf("%s.qps: not a probe's to meet: the probe sets the rate (bound latency or error_ratio)", sc.Key(sk)))
	}
	if slo.Slope != nil {
		errs = append(errs, fmt.Errorf("%s.slope: not a probe's to meet: a step is too short for a drift (bound latency or error_ratio)", sc.Key(sk)))
	}
	if p.SLO != nil && p.SLO.ErrorRatio != nil && (*p.SLO.ErrorRatio < 0 || *p.SLO.ErrorRatio > 1) {
		bad("slo.error_ratio", "%v is not between 0 and 1", *p.SLO.ErrorRatio)
	}
	if slo.P50.D <= 0 && slo.P95.D <= 0 && slo.P99.D <= 0 && slo.Max.D <= 0 && slo.Avg.D <= 0 && slo.ErrorRatio == nil {
		bad("slo", "missing: a probe needs a latency bound or an error_ratio, in slo: {p99: 10ms} or guarantees.%s", p.Action.Name)
	}
	return errs
}
