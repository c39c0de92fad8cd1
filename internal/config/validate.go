package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pbenchd/pbenchd/internal/loader"
	"github.com/pbenchd/pbenchd/internal/pace"
)

// Defaults applied where the user said nothing.
const (
	DefaultListenAddress   = ":9731"
	DefaultPause           = 5 * time.Second
	DefaultTeardownTimeout = 30 * time.Second
	// DefaultTeardownStepTimeout is each teardown step's own deadline.
	DefaultTeardownStepTimeout = 10 * time.Second
	DefaultSetupTimeout        = 10 * time.Minute
	DefaultConnectTimeout      = 5 * time.Second
	DefaultDrain               = 10 * time.Second
	maxInflightCeiling         = 10000
	DefaultProgress            = 10 * time.Second
)

// regressionStats are the stats a regression threshold may name.
var regressionStats = []string{"avg", "capacity", "max", "p50", "p95", "p99", "qps"}

// TargetKinds are the kinds of system under test pbenchd can drive.
var TargetKinds = []string{"kafka", "postgres"}

// SetupModes are the allowed values of run.setup.
var SetupModes = []string{"iteration", "once"}

func (c *Config) applyDefaults() {
	if c.Web.ListenAddress == "" {
		c.Web.ListenAddress = DefaultListenAddress
	}
	if c.Run.Pause.IsZero() && c.Run.Pause.text == "" {
		c.Run.Pause = Dur(DefaultPause)
	}
	if !c.Run.Progress.Given() {
		c.Run.Progress = Dur(DefaultProgress)
	}
	if c.Run.Setup == "" {
		c.Run.Setup = "iteration"
	}
	if c.Run.TeardownTimeout.IsZero() {
		c.Run.TeardownTimeout = Dur(DefaultTeardownTimeout)
	}
	if c.Run.TeardownStepTimeout.IsZero() {
		c.Run.TeardownStepTimeout = Dur(DefaultTeardownStepTimeout)
	}
	if c.Run.SetupTimeout.IsZero() {
		c.Run.SetupTimeout = Dur(DefaultSetupTimeout)
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "logfmt"
	}
	for name, t := range c.Targets {
		if t.Flavor == "" && t.Kind == "postgres" {
			t.Flavor = "postgres"
		}
		if t.ConnectTimeout.IsZero() {
			t.ConnectTimeout = Dur(DefaultConnectTimeout)
		}
		c.Targets[name] = t
	}
}

// Validate checks everything that can be checked without connecting, and
// returns every problem at once, each naming its key path, the bad value
// and what is allowed.
func (c *Config) Validate(kinds KindChecker) error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	for _, name := range sortedKeys(c.Targets) {
		t := c.Targets[name]
		p := "targets." + name
		if !slices.Contains(TargetKinds, t.Kind) {
			bad(p+".kind", "%q is not one of %s", t.Kind, strings.Join(TargetKinds, ", "))
		}
		if t.Kind == "kafka" {
			errs = append(errs, t.validateKafka(p)...)
		}
		if t.Kind == "postgres" && t.DSN != "" {
			if _, err := pgconn.ParseConfig(t.DSN); err != nil {
				// pgconn redacts the password in its message.
				bad(p+".dsn", "cannot be parsed: %v", err)
			}
		}
		if t.PasswordFile != "" {
			if _, err := os.Stat(t.PasswordFile); err != nil {
				bad(p+".password_file", "%q cannot be read: %v", t.PasswordFile, errors.Unwrap(err))
			}
		}
	}
	if !slices.Contains(SetupModes, c.Run.Setup) {
		bad("run.setup", "%q is not one of %s", c.Run.Setup, strings.Join(SetupModes, ", "))
	}
	if c.Run.Iterations < 0 {
		bad("run.iterations", "%d must not be negative", c.Run.Iterations)
	}
	// A flag says what it means or is refused, as the same key in a file is.
	if c.Run.Duration.text != "" && c.Run.Duration.D == 0 {
		bad("run.duration", "%s must be positive (leave it out to keep each phase's duration)", c.Run.Duration)
	}
	if c.Run.Warmup != nil && c.Run.Duration.D > 0 && c.Run.Warmup.D >= c.Run.Duration.D {
		bad("run.warmup", "%s must be shorter than run.duration %s", c.Run.Warmup, c.Run.Duration)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	if !slices.Contains([]string{"logfmt", "json"}, c.Log.Format) {
		bad("log.format", "%q is not one of logfmt, json", c.Log.Format)
	}

	byName := map[string]*Scenario{}
	for _, sc := range c.Catalog {
		if sc.Name != "" {
			byName[sc.Name] = sc
		}
	}
	for i, n := range c.Run.Scenarios {
		if byName[n] == nil && !c.broken[n] {
			bad(fmt.Sprintf("run.scenarios[%d]", i), "%q is not a known scenario (%s)", n, alternatives(c.names(), "the catalog is empty"))
		}
	}
	for i, n := range c.Run.Exclude {
		if byName[n] == nil && !c.broken[n] {
			bad(fmt.Sprintf("run.exclude[%d]", i), "%q is not a known scenario (%s)", n, alternatives(c.names(), "the catalog is empty"))
		}
	}
	for _, scName := range sortedKeys(c.Vars) {
		if byName[scName] == nil && !c.broken[scName] {
			bad("vars."+scName, "%q is not a known scenario", scName)
		}
	}
	for _, name := range sortedKeys(c.Targets) {
		if f := c.Targets[name].Flavor; f != "" && !slices.Contains(Flavors, f) {
			bad("targets."+name+".flavor", "%q is not one of %s", f, strings.Join(Flavors, ", "))
		}
	}
	for _, scName := range sortedKeys(c.Run.Rates) {
		sc := byName[scName]
		if sc == nil && c.broken[scName] {
			continue
		}
		if sc == nil {
			bad("run.rates."+scName, "%q is not a known scenario (%s)", scName, alternatives(c.names(), "the catalog is empty"))
			continue
		}
		for _, an := range sortedKeys(c.Run.Rates[scName]) {
			a := sc.Action(an)
			switch {
			case a == nil:
				bad("run.rates."+scName+"."+an, "scenario %q has no action %q (%s)", scName, an, strings.Join(sc.ActionNames(), ", "))
			case a.Open == nil:
				bad("run.rates."+scName+"."+an, "action %q has no open loop of its own (closed loops and probes set no rate); only open loops have a rate", an)
			}
		}
	}

	// Only scenarios that will run must have targets that exist; the
	// catalog may hold scenarios for targets this config does not define.
	selected := map[string]bool{}
	for _, sc := range c.Selected() {
		selected[sc.Name] = true
	}
	for _, sc := range c.Catalog {
		errs = append(errs, sc.validate(c, kinds, selected[sc.Name])...)
	}
	if len(errs) == 0 {
		for _, sc := range c.Selected() {
			c.warnings = append(c.warnings, c.unreachable(sc)...)
		}
	}
	return errors.Join(errs...)
}

// unreachable warns of qps guarantees that an open loop's schedule cannot
// meet: the arrivals it offers after warm-up, on average, are fewer a
// second than the guarantee asks for. An override (--rate, --duration,
// --warmup) is the usual cause, so the warning names it.
func (c *Config) unreachable(sc *Scenario) []string {
	var out []string
	for i, ph := range sc.Phases {
		if ph.Load == nil {
			continue
		}
		d, warmup := ph.Load.Duration, ph.Load.Warmup
		if c.Run.Duration.D > 0 {
			d = c.Run.Duration
		}
		if c.Run.Warmup != nil {
			warmup = *c.Run.Warmup
		}
		if warmup.D >= d.D {
			warmup = Duration{} // as the engine runs it (and warns of)
		}
		for j, a := range ph.Load.Actions {
			g, ok := sc.Guarantees[a.Name]
			if !ok || g.QPS <= 0 || a.Open == nil || d.D <= warmup.D {
				continue
			}
			spec := a.Open.Spec
			from := sc.Key(fmt.Sprintf("phases[%d].load.actions[%d].open", i, j))
			if r, ok := c.Run.Rates[sc.Name][a.Name]; ok {
				spec.Rate = r
				from = fmt.Sprintf("run.rates.%s.%s (--rate)", sc.Name, a.Name)
			}
			p, err := pace.New(spec)
			if err != nil {
				continue
			}
			// The mean offered rate over the measured window, from 1000
			// evenly spaced samples (exact for constant shapes).
			const n = 1000
			sum := 0.0
			for k := range n {
				t := warmup.D + time.Duration(float64(d.D-warmup.D)*(float64(k)+0.5)/n)
				sum += p.Mean(t)
			}
			if mean := sum / n; mean < g.QPS {
				out = append(out, fmt.Sprintf("%s: %g cannot be met: %s offers %.4g/s on average (%s)",
					sc.Key("guarantees."+a.Name+".qps"), g.QPS, from, mean, p))
			}
		}
	}
	return out
}

func (c *Config) names() []string {
	var out []string
	for _, sc := range c.Catalog {
		out = append(out, sc.Name)
	}
	return out
}

// Selected returns the scenarios the daemon runs, in order: run.scenarios,
// or when it is empty every catalog scenario whose target is configured.
func (c *Config) Selected() []*Scenario {
	var out []*Scenario
	skip := map[string]bool{}
	for _, n := range c.Run.Exclude {
		skip[n] = true
	}
	if len(c.Run.Scenarios) == 0 {
		// The whole catalog, less the scenarios written for targets this
		// config does not define (Materialize-only ones need `mz`).
		for _, sc := range c.Catalog {
			if _, ok := c.Targets[sc.Target]; ok && !skip[sc.Name] {
				out = append(out, sc)
			}
		}
		return out
	}
	for _, n := range c.Run.Scenarios {
		if sc := c.Scenario(n); sc != nil && !skip[n] {
			out = append(out, sc)
		}
	}
	return out
}

// Selects reports whether the scenario of that name is selected to run.
func (c *Config) Selects(name string) bool {
	return slices.ContainsFunc(c.Selected(), func(sc *Scenario) bool { return sc.Name == name })
}

// Scenario returns the catalog's scenario of that name, or nil.
func (c *Config) Scenario(name string) *Scenario {
	for _, sc := range c.Catalog {
		if sc.Name == name {
			return sc
		}
	}
	return nil
}

// Action returns the scenario's action of that name, or nil.
func (sc *Scenario) Action(name string) *Action {
	for i := range sc.Phases {
		if p := sc.Phases[i].Probe; p != nil && p.Action.Name == name {
			return &p.Action
		}
		if l := sc.Phases[i].Load; l != nil {
			for j := range l.Actions {
				if l.Actions[j].Name == name {
					return &l.Actions[j]
				}
			}
		}
	}
	return nil
}

// ActionNames lists the scenario's actions in order.
func (sc *Scenario) ActionNames() []string {
	var out []string
	for _, p := range sc.Phases {
		if p.Probe != nil {
			out = append(out, p.Probe.Action.Name)
		}
		if p.Load != nil {
			for _, a := range p.Load.Actions {
				out = append(out, a.Name)
			}
		}
	}
	return out
}

// Key returns the key path of a key inside the scenario, for messages.
func (sc *Scenario) Key(sub string) string { return joinPath(sc.Path, sub) }

// TargetOf returns the target name an action uses.
func (sc *Scenario) TargetOf(a *Action) string {
	if a.Target != "" {
		return a.Target
	}
	return sc.Target
}

// PhaseName returns the label of phase i: its name, or "load" / "sweep"
// followed by its position when there are several.
func (sc *Scenario) PhaseName(i int) string {
	if n := sc.Phases[i].Name; n != "" {
		return n
	}
	kind := "load"
	switch {
	case sc.Phases[i].Sweep != nil:
		kind = "sweep"
	case sc.Phases[i].Probe != nil:
		kind = "probe"
	}
	if i == 0 {
		return kind
	}
	return fmt.Sprintf("%s%d", kind, i+1)
}

// TargetNeeder is what a KindChecker may also implement: whether actions
// of a kind talk to a target at all (a kind it does not know does).
type TargetNeeder interface {
	NeedsTarget(kind string) bool
}

// needsTarget tells whether the scenario talks to a target: any setup,
// teardown or check does, and any action of a kind that needs one; so does
// a scenario with no action (it says nothing else).
func (sc *Scenario) needsTarget(kinds KindChecker) bool {
	if len(sc.Setup) > 0 || len(sc.Teardown) > 0 || len(sc.Checks) > 0 {
		return true
	}
	tn, ok := kinds.(TargetNeeder)
	if !ok {
		return true
	}
	n := 0
	for _, ph := range sc.Phases {
		var actions []Action
		switch {
		case ph.Sweep != nil:
			actions = []Action{ph.Sweep.Action}
		case ph.Probe != nil:
			actions = []Action{ph.Probe.Action}
		case ph.Load != nil:
			actions = ph.Load.Actions
		}
		for _, a := range actions {
			n++
			if a.Target != "" {
				continue // its own target, checked with the action
			}
			for k := range a.Kinds {
				if tn.NeedsTarget(k) {
					return true
				}
			}
		}
	}
	return n == 0
}

func (sc *Scenario) validate(c *Config, kinds KindChecker, selected bool) []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", sc.Key(key), fmt.Sprintf(format, args...)))
	}
	if sc.Name == "" {
		bad("name", "missing")
	} else if !validName(sc.Name) {
		bad("name", "%q must be letters, digits and underscores", sc.Name)
	}
	targetNames := strings.Join(sortedKeys(c.Targets), ", ")
	checkTarget := func(key, name string) (Target, bool) {
		if name == "" {
			if selected {
				bad(key, "missing (targets: %s)", targetNames)
			}
			return Target{}, false
		}
		t, ok := c.Targets[name]
		if !ok && selected {
			bad(key, "%q is not a configured target (%s)", name, targetNames)
		}
		return t, ok
	}
	if sc.Target != "" || sc.needsTarget(kinds) {
		checkTarget("target", sc.Target)
	}
	errs = append(errs, sc.zeros...)
	if selected {
		for _, g := range sc.FlavorGaps {
			errs = append(errs, errors.New(g))
		}
	}
	for i, st := range append(append([]Step{}, sc.Setup...), sc.Teardown...) {
		key := fmt.Sprintf("setup[%d]", i)
		if i >= len(sc.Setup) {
			key = fmt.Sprintf("teardown[%d]", i-len(sc.Setup))
		}
		n := 0
		if len(st.SQL) > 0 {
			n++
			if strings.TrimSpace(strings.Join(st.SQL, "")) == "" {
				bad(key+".sql", "empty: a step needs SQL to run")
			}
		}
		if st.Topic != nil {
			n++
			if st.Topic.Name == "" {
				bad(key+".topic.name", "missing")
			}
			if st.Topic.Partitions < 0 || st.Topic.Replication < 0 {
				bad(key+".topic", "partitions and replication must not be negative")
			}
		}
		if st.Load != nil {
			n++
			if err := st.Load.Validate(sc.Key(key+".load"), loads(sc, st.Load)...); err != nil {
				errs = append(errs, unjoin(err)...)
			}
		}
		if st.TPCH != nil {
			n++
			if err := st.TPCH.Validate(sc.Key(key + ".tpch")); err != nil {
				errs = append(errs, unjoin(err)...)
			}
		}
		if n != 1 {
			bad(key, "needs exactly one of sql, topic, load, tpch (found %d)", n)
		}
		if st.Target != "" {
			checkTarget(key+".target", st.Target)
		}
	}
	if len(sc.Phases) == 0 {
		bad("phases", "missing: a scenario needs at least one load phase")
	}
	// seen names each action's key path, so a name used twice says where
	// the first one is.
	seen := map[string]string{}
	actionName := func(ak string, a *Action) {
		switch {
		case a.Name == "":
			bad(ak+".name", "missing")
		case !validName(a.Name):
			bad(ak+".name", "%q must be letters, digits and underscores", a.Name)
		case seen[a.Name] != "":
			bad(ak+".name", "%q is already the name of %s", a.Name, seen[a.Name])
		default:
			seen[a.Name] = ak
		}
	}
	// actionKind checks an action's own target and its kind's settings.
	actionKind := func(ak string, a *Action) []error {
		t := c.Targets[sc.TargetOf(a)]
		if a.Target != "" {
			t, _ = checkTarget(ak+".target", a.Target)
		}
		return sc.checkKind(a, ak, kinds, t)
	}
	phaseNames := map[string]string{}
	for i, ph := range sc.Phases {
		pk := fmt.Sprintf("phases[%d]", i)
		// Phase names become metric labels, as action names do.
		if ph.Name != "" && !validName(ph.Name) {
			bad(pk+".name", "%q must be letters, digits and underscores", ph.Name)
		} else if pn := sc.PhaseName(i); phaseNames[pn] != "" {
			bad(pk+".name", "%q is already the name of %s", pn, phaseNames[pn])
		} else {
			phaseNames[pn] = pk
		}
		if n := btoi(ph.Load != nil) + btoi(ph.Sweep != nil) + btoi(ph.Probe != nil); n > 1 {
			bad(pk, "has %d of load, sweep and probe: a phase is exactly one", n)
		}
		if ph.Probe != nil {
			p := ph.Probe
			a := &p.Action
			ak := pk + ".probe.action"
			actionName(ak, a)
			errs = append(errs, sc.validateProbe(c, pk, p)...)
			errs = append(errs, actionKind(ak, a)...)
			continue
		}
		if ph.Sweep != nil {
			sw := ph.Sweep
			if len(sw.Concurrency) == 0 {
				bad(pk+".sweep.concurrency", "missing: a list of worker counts like [1, 2, 4, 8]")
			}
			for j, n := range sw.Concurrency {
				if n < 1 || n > maxInflightCeiling {
					bad(fmt.Sprintf("%s.sweep.concurrency[%d]", pk, j), "%d is not between 1 and %d", n, maxInflightCeiling)
				}
			}
			if sw.Step.D <= 0 && c.Run.Duration.D <= 0 {
				bad(pk+".sweep.step", "missing: a sweep needs a positive step duration like 30s")
			}
			if sw.Step.D > 0 && sw.Warmup.D >= sw.Step.D {
				bad(pk+".sweep.warmup", "%s must be shorter than the step %s", sw.Warmup, sw.Step)
			}
			errs = append(errs, c.overrideWindow(sc, pk+".sweep", "step", sw.Step, sw.Warmup, selected)...)
			a := &sw.Action
			ak := pk + ".sweep.action"
			actionName(ak, a)
			if a.Open != nil || a.Closed != nil {
				bad(ak, "a swept action takes no open or closed loop: the sweep sets its concurrency")
			}
			errs = append(errs, actionKind(ak, a)...)
			continue
		}
		if ph.Load == nil {
			bad(pk, "missing load, sweep or probe: a phase needs a body")
			continue
		}
		l := ph.Load
		if l.Duration.D <= 0 && c.Run.Duration.D <= 0 {
			bad(pk+".load.duration", "missing: a load phase needs a positive duration like 120s")
		}
		if l.Duration.D > 0 && l.Warmup.D >= l.Duration.D {
			bad(pk+".load.warmup", "%s must be shorter than the duration %s", l.Warmup, l.Duration)
		}
		errs = append(errs, c.overrideWindow(sc, pk+".load", "duration", l.Duration, l.Warmup, selected)...)
		if len(l.Actions) == 0 {
			bad(pk+".load.actions", "missing: a load phase needs at least one action")
		}
		for j := range l.Actions {
			a := &l.Actions[j]
			ak := fmt.Sprintf("%s.load.actions[%d]", pk, j)
			var pacer pace.Pacer
			actionName(ak, a)
			switch {
			case a.Open != nil && a.Closed != nil:
				bad(ak, "has both open and closed: choose one loop")
			case a.Open == nil && a.Closed == nil:
				bad(ak, "missing a loop: add open: {rate: 100/s} or closed: {concurrency: 10}")
			case a.Open != nil:
				spec := a.Open.Spec
				if r, ok := c.Run.Rates[sc.Name][a.Name]; ok {
					spec.Rate = r
				}
				var err error
				if pacer, err = pace.New(spec); err != nil {
					for _, e := range unjoin(err) {
						// pace names the field relative to the spec.
						field, msg, ok := strings.Cut(e.Error(), ": ")
						if !ok {
							field, msg = "", e.Error()
						}
						bad(strings.TrimSuffix(ak+".open."+field, "."), "%s", msg)
					}
				}
				if a.Open.MaxInflight < 0 || a.Open.MaxInflight > maxInflightCeiling {
					bad(ak+".open.max_inflight", "%d is not between 1 and %d", a.Open.MaxInflight, maxInflightCeiling)
				}
			case a.Closed != nil:
				if a.Closed.Concurrency < 0 || a.Closed.Concurrency > maxInflightCeiling {
					bad(ak+".closed.concurrency", "%d is not between 1 and %d", a.Closed.Concurrency, maxInflightCeiling)
				}
			}
			kindErrs := actionKind(ak, a)
			errs = append(errs, kindErrs...)
			if pacer != nil && len(kindErrs) == 0 {
				errs = append(errs, c.checkCarry(sc, a, ak, pacer, kinds, l.Duration.D)...)
			}
		}
	}
	checkNames := map[string]bool{}
	for i, ch := range sc.Checks {
		ck := fmt.Sprintf("checks[%d]", i)
		switch {
		case ch.Name == "":
			bad(ck+".name", "missing")
		case !validName(ch.Name):
			bad(ck+".name", "%q must be letters, digits and underscores", ch.Name)
		case checkNames[ch.Name]:
			bad(ck+".name", "%q is used twice", ch.Name)
		}
		checkNames[ch.Name] = true
		if strings.TrimSpace(ch.Expect) == "" {
			bad(ck+".expect", "missing: the reference query")
		}
		if strings.TrimSpace(ch.Actual) == "" {
			bad(ck+".actual", "missing: the query that must agree with expect")
		}
		if ch.Target != "" {
			checkTarget(ck+".target", ch.Target)
		}
	}
	for _, an := range sortedKeys(sc.Regression) {
		rk := "regression." + an
		if sc.Action(an) == nil {
			bad(rk, "%q is not an action of this scenario (%s)", an, strings.Join(sc.ActionNames(), ", "))
			continue
		}
		for _, stat := range sortedKeys(sc.Regression[an]) {
			v := sc.Regression[an][stat]
			switch {
			case !slices.Contains(regressionStats, stat):
				bad(rk+"."+stat, "%q is not one of %s", stat, strings.Join(regressionStats, ", "))
			case v != 0 && v < 1:
				bad(rk+"."+stat, "%v must be at least 1 (a factor), or 0 to turn the check off", v)
			}
		}
	}
	for _, an := range sortedKeys(sc.Guarantees) {
		g := sc.Guarantees[an]
		gk := "guarantees." + an
		a := sc.Action(an)
		if a == nil {
			bad(gk, "%q is not an action of this scenario (%s)", an, alternatives(sc.ActionNames(), "it has no actions"))
			continue
		}
		if !a.Reported() {
			bad(gk, "action %q has report: false, so its guarantees would never be checked", an)
		}
		if g.QPS < 0 {
			bad(gk+".qps", "%v must not be negative", g.QPS)
		}
		if g.ErrorRatio != nil && (*g.ErrorRatio < 0 || *g.ErrorRatio > 1) {
			bad(gk+".error_ratio", "%v is not between 0 and 1", *g.ErrorRatio)
		}
		for _, f := range sortedKeys(g.FigureLimits()) {
			switch {
			case a.Kind != "kafka_consume":
				bad(gk+"."+f, "only kafka_consume actions measure %s (%q is a %s action)", f, an, orNone(a.Kind))
			case g.FigureLimits()[f] < 0:
				bad(gk+"."+f, "%v must not be negative", g.FigureLimits()[f])
			}
		}
	}
	return errs
}

// overrideWindow checks a phase's window once run.duration and
// run.warmup (--duration, --warmup) are applied: a warm-up given by
// run.warmup that fills the whole phase is an error, as it is in a file,
// not a warm-up of 0. A run.duration alone shorter than the phase's own
// warm-up runs the phase without one (a quick try of a catalog), which a
// warning says.
func (c *Config) overrideWindow(sc *Scenario, pk, durKey string, d, warmup Duration, selected bool) []error {
	if !selected || (c.Run.Warmup == nil && c.Run.Duration.D <= 0) {
		return nil
	}
	if c.Run.Duration.D > 0 {
		d = c.Run.Duration
	}
	if c.Run.Warmup != nil {
		warmup = *c.Run.Warmup
	}
	if d.D <= 0 || warmup.D < d.D {
		return nil
	}
	switch {
	case c.Run.Warmup != nil && c.Run.Duration.D > 0:
		return nil // reported once, at run.warmup
	case c.Run.Warmup != nil:
		return []error{fmt.Errorf("run.warmup: %s must be shorter than the %s %s of %s", warmup, durKey, d, sc.Key(pk))}
	}
	c.warnings = append(c.warnings, fmt.Sprintf("run.duration: %s is not longer than the warm-up %s of %s, so that phase runs without a warm-up (give run.warmup, --warmup, to set one)", d, warmup, sc.Key(pk)))
	return nil
}

func (sc *Scenario) checkKind(a *Action, ak string, kinds KindChecker, t Target) []error {
	if !slices.Contains(TargetKinds, t.Kind) {
		// Reported once, at targets.<name>.kind.
		t.Kind = ""
	}
	var names []string
	if kinds != nil {
		names = kinds.Names()
	}
	var found []string
	for k := range a.Kinds {
		found = append(found, k)
	}
	slices.Sort(found)
	var errs []error
	var kind string
	for _, k := range found {
		if !slices.Contains(names, k) {
			errs = append(errs, fmt.Errorf("%s: unknown key %q (action kinds: %s; other keys: name, open, closed, target, report)", sc.Key(ak), k, strings.Join(names, ", ")))
			continue
		}
		if kind != "" {
			errs = append(errs, fmt.Errorf("%s: has two action kinds, %s and %s: an action has exactly one", sc.Key(ak), kind, k))
			continue
		}
		kind = k
	}
	if kind == "" {
		if len(errs) == 0 {
			errs = append(errs, fmt.Errorf("%s: missing an action kind (one of %s)", sc.Key(ak), strings.Join(names, ", ")))
		}
		return errs
	}
	a.Kind = kind
	spec, err := kinds.Decode(kind, a.Kinds[kind], sc.Key(ak+"."+kind), t)
	if err != nil {
		return append(errs, unjoin(err)...)
	}
	a.Spec = spec
	return errs
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

func validName(s string) bool {
	for i, r := range s {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return s != ""
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Uses reports whether a selected scenario uses the target.
func (c *Config) Uses(target string) bool {
	for _, sc := range c.Selected() {
		if sc.Target == target {
			return true
		}
		for _, st := range append(append([]Step{}, sc.Setup...), sc.Teardown...) {
			if st.Target == target {
				return true
			}
		}
		for _, p := range sc.Phases {
			if p.Load != nil {
				for _, a := range p.Load.Actions {
					if a.Target == target {
						return true
					}
				}
			}
		}
	}
	return false
}

var (
	saslMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}
	acksValues     = []string{"all", "leader", "none"}
	compressions   = []string{"gzip", "lz4", "none", "snappy", "zstd"}
)

func (t Target) validateKafka(p string) []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", p, key, fmt.Sprintf(format, args...)))
	}
	for i, b := range t.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			bad(fmt.Sprintf("brokers[%d]", i), "%q is not host:port", b)
		}
	}
	if t.DSN != "" {
		bad("dsn", "a kafka target takes brokers, not a dsn")
	}
	if s := t.SASL; s != nil {
		if !slices.Contains(saslMechanisms, s.Mechanism) {
			bad("sasl.mechanism", "%q is not one of %s", s.Mechanism, strings.Join(saslMechanisms, ", "))
		}
		if s.Username == "" {
			bad("sasl.username", "missing")
		}
		if s.Password != "" && s.PasswordFile != "" {
			bad("sasl", "set password or password_file, not both")
		}
	}
	if a := t.Producer.Acks; a != "" && !slices.Contains(acksValues, a) {
		bad("producer.acks", "%q is not one of %s", a, strings.Join(acksValues, ", "))
	}
	if c := t.Producer.Compression; c != "" && !slices.Contains(compressions, c) {
		bad("producer.compression", "%q is not one of %s", c, strings.Join(compressions, ", "))
	}
	if t.Producer.Idempotent != nil && *t.Producer.Idempotent && t.Producer.Acks != "" && t.Producer.Acks != "all" {
		bad("producer.idempotent", "an idempotent producer needs acks: all (acks is %q)", t.Producer.Acks)
	}
	return errs
}

// alternatives lists names in a message, or says there are none.
func alternatives(names []string, none string) string {
	if len(names) == 0 {
		return none
	}
	return strings.Join(names, ", ")
}

// loads returns the scenario's load steps other than self: the tables a
// load's foreign keys may point at.
func loads(sc *Scenario, self *loader.Spec) []*loader.Spec {
	var out []*loader.Spec
	for _, st := range sc.Setup {
		if st.Load != nil && st.Load != self {
			out = append(out, st.Load)
		}
	}
	return out
}

// Loads is loads for the engine.
func (sc *Scenario) Loads(self *loader.Spec) []*loader.Spec { return loads(sc, self) }

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ConnectionCounter is implemented by a KindChecker that can tell how many
// connections an action's calls share, so that check can refuse a count
// that cannot carry the rate.
type ConnectionCounter interface {
	// Connections returns the connections an open-loop action of kind
	// name holds as its spec (Action.Spec) says, and the settings key that
	// sets them; 0 when the kind holds none or the spec leaves it to the
	// default.
	Connections(name string, spec any) (n int, key string)
}

// checkCarry refuses an open loop that pbenchd cannot pace (a peak above
// PacingCeiling) or whose cap or connections cannot carry its peak rate at
// the latency its guarantees allow (Little's law: a target meeting them
// could keep rate × latency calls in flight, and pbenchd would drop or
// queue arrivals that target served in time; see CarryLatency).
func (c *Config) checkCarry(sc *Scenario, a *Action, ak string, p pace.Pacer, kinds KindChecker, d time.Duration) []error {
	if c.Run.Duration.D > 0 {
		d = c.Run.Duration.D
	}
	if d <= 0 {
		return nil
	}
	var errs []error
	peak := pace.Peak(p, d)
	if peak > PacingCeiling {
		errs = append(errs, fmt.Errorf("%s: %s peaks at %.4g/s, above the %d/s one action can be paced at (split the load over several actions or pbenchd instances)",
			sc.Key(ak+".open.rate"), p, peak, PacingCeiling))
		return errs
	}
	g := sc.Guarantees[a.Name]
	l := CarryLatency(g)
	if l <= 0 {
		return nil
	}
	need := InFlightNeeded(peak, l)
	capacity, capKey := a.Open.MaxInflight, sc.Key(ak+".open.max_inflight")
	if capacity == 0 {
		capacity = DefaultMaxInflight(peak, g)
	}
	if capacity < need {
		what := fmt.Sprintf("%d", capacity)
		if a.Open.MaxInflight == 0 {
			what = fmt.Sprintf("the default %d (its most)", capacity)
		}
		errs = append(errs, fmt.Errorf("%s: %s cannot carry %.4g/s at the %s the guarantees allow: a target meeting them keeps %d calls in flight (rate × latency); allow at least %d",
			capKey, what, peak, l, need, need))
	}
	cc, ok := kinds.(ConnectionCounter)
	if !ok || a.Kind == "" {
		return errs
	}
	n, key := cc.Connections(a.Kind, a.Spec)
	if key == "" {
		return errs
	}
	path := sc.Key(ak + "." + a.Kind + "." + key)
	if n == 0 {
		n = DefaultConnections(peak, g, capacity)
		if n < need {
			errs = append(errs, fmt.Errorf("%s: the default %d connections cannot carry %.4g/s at the %s the guarantees allow (each serves one call at a time, so %d are needed): set %s to at least %d",
				path, n, peak, l, need, key, need))
		}
		return errs
	}
	if n < need {
		errs = append(errs, fmt.Errorf("%s: %d cannot carry %.4g/s at the %s the guarantees allow: each connection serves one call at a time, so a target meeting them needs %d (rate × latency)",
			path, n, peak, l, need))
	}
	return errs
}
