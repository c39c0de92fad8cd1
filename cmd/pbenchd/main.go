// Command pbenchd runs database and streaming benchmark scenarios forever
// and exports what it measures to Prometheus.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/engine"
	"github.com/pbenchd/pbenchd/internal/logfold"
	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/report"
	"github.com/pbenchd/pbenchd/internal/server"
	"github.com/pbenchd/pbenchd/internal/target"
	"github.com/pbenchd/pbenchd/internal/termui"
)

// Exit codes, for scripts and CI to branch on. When several apply, the
// highest in this order wins: interrupted, error, failed.
const (
	exitOK       = 0   // every scenario ran and met its guarantees
	exitFailed   = 1   // a guarantee failed, or a regression against --baseline
	exitUsage    = 2   // bad usage or config
	exitRuntime  = 3   // could not start (port in use, results file not writable…)
	exitError    = 4   // an iteration could not be judged: target down, setup failed, generator at fault
	exitNothing  = 5   // no scenario selected: nothing ran
	exitInterrup = 130 // stopped by SIGINT or SIGTERM before every scenario ran (as shells report ^C)
)

// exitCodes is the table --help and the README print.
const exitCodes = `Exit codes:
  0    ok: every scenario ran and met its guarantees
  1    a guarantee failed, or a regression against --baseline (once)
  2    bad usage or configuration (nothing ran)
  3    could not start (the listen address is taken, a file cannot be written),
       or a stop overran its deadline
  4    an iteration error: a target down, setup failed, the generator at fault
  5    nothing selected: no scenario to run (check, once, run)
  130  interrupted by SIGINT or SIGTERM (once; the daemon exits 0 on SIGTERM);
       128+N when a third signal N ends the process at once
When several apply, 130 wins over 4, and 4 over 1.
`

const usage = `pbenchd runs benchmark scenarios against databases and Kafka, and exports
what it measures to Prometheus.

Usage:
  pbenchd run     [flags]   loop the scenarios until SIGTERM (the daemon)
  pbenchd once    [flags]   run every scenario once, print a summary; exit 1 if a guarantee fails
  pbenchd check   [flags]   validate the config and scenarios, print what would run
  pbenchd list    [flags]   list the scenario catalog
  pbenchd load    --scenario NAME [--shard i/N] [flags]
                            run only the data load of a scenario
  pbenchd report ivm [--from URL|FILE] [--format table|markdown|json|csv]
                            the TPC-H IVM evaluation from the last results
  pbenchd report merge FILE…
                            merge results of several iterations or pbenchd exactly
  pbenchd version           print the version

Run 'pbenchd COMMAND --help' for the flags of a command.

` + exitCodes

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "version", "--version":
		fmt.Fprintf(stdout, "pbenchd %s (revision %s, %s)\n", metrics.Version, metrics.Revision(), runtime.Version())
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "report":
		return runReport(rest, stdout, stderr)
	case "run", "once", "check", "list", "load":
	default:
		fmt.Fprintf(stderr, "pbenchd: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}

	fs := pflag.NewFlagSet("pbenchd "+cmd, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	files := fs.StringArray("config", nil, "config file, merged over the built-in default (repeatable, in order)")
	fs.String("web.listen-address", config.DefaultListenAddress, "address to serve /metrics on")
	fs.String("web.config.file", "", "exporter-toolkit web config file (TLS, basic auth)")
	fs.Bool("web.enable-lifecycle", false, "allow POST /-/reload (SIGHUP always reloads)")
	fs.String("log.level", "info", "debug, info, warn or error")
	fs.String("log.format", "logfmt", "logfmt or json")
	fs.StringSlice("scenarios", nil, "scenarios to run, in order (default: the config's run.scenarios)")
	fs.StringSlice("exclude", nil, "scenarios to leave out")
	fs.String("duration", "", "duration of every load phase (overrides the scenarios)")
	fs.String("warmup", "", "warm-up of every load phase (overrides the scenarios)")
	fs.String("pause", "", "pause between two scenarios")
	fs.String("progress", "", "how often a running phase shows its figures so far: a block redrawn on a terminal (once), else an info line (default 10s; 0 = off)")
	fs.Int("iterations", 0, "stop after this many passes (run only; 0 = forever)")
	rates := fs.StringArray("rate", nil, "override an open loop's rate: scenario.action=100/s (repeatable)")
	sets := fs.StringArray("set", nil, "override a scenario variable: scenario.var=value (repeatable)")
	format := new(string)
	if cmd == "list" || cmd == "check" || cmd == "once" {
		format = fs.String("format", "table", "output: table (sized to the terminal), markdown, json or csv")
	}
	var loadScenario, shardText, resultsFile, baselineFile *string
	if cmd == "once" {
		resultsFile = fs.String("results", "", "write the results as JSON to this file (for --baseline and 'pbenchd report')")
		baselineFile = fs.String("baseline", "", "compare with the results of an earlier run; exit 1 on a regression")
	}
	if cmd == "run" {
		fs.String("results.file", "", "append every iteration's results as a JSON line to this file")
	}
	if cmd == "load" {
		loadScenario = fs.String("scenario", "", "the scenario whose load and tpch setup steps run")
		shardText = fs.String("shard", "0/1", "load only this instance's share: i/N, i from 0")
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: pbenchd %s [flags]\n\nFlags:\n%s\n%s", cmd, fs.FlagUsages(), exitCodes)
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "pbenchd %s: %v (see pbenchd %s --help)\n", cmd, err, cmd)
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pbenchd %s: unexpected argument %q\n", cmd, fs.Arg(0))
		return exitUsage
	}
	if *format != "" {
		if err := termui.CheckFormat(*format); err != nil {
			fmt.Fprintf(stderr, "pbenchd %s: %v\n", cmd, err)
			return exitUsage
		}
	}
	out := report.Output{Format: *format, Layout: termui.Detect(stdout, os.Getenv).Layout()}
	set := map[string]any{}
	for _, o := range []struct {
		flag, key, example string
		vals               []string
	}{
		{"rate", "run.rates.", "read.select_1=100/s", *rates},
		{"set", "vars.", "cqrs.rows=1000", *sets},
	} {
		for _, r := range o.vals {
			key, val, ok := strings.Cut(r, "=")
			scen, name, ok2 := strings.Cut(key, ".")
			if !ok || !ok2 || scen == "" || name == "" || strings.Contains(name, ".") {
				fmt.Fprintf(stderr, "pbenchd: --%s %q is not scenario.name=VALUE (like %s)\n", o.flag, r, o.example)
				return exitUsage
			}
			set[o.key+scen+"."+name] = val
		}
	}
	opts := config.Options{
		Files:   *files,
		Environ: os.Environ(),
		Flags:   fs,
		FlagKey: flagKey,
		Kinds:   action.Kinds,
		Set:     set,
	}
	load := func() (*config.Config, error) { return config.Load(opts) }
	cfg, err := load()
	if err != nil {
		fmt.Fprintf(stderr, "pbenchd: invalid configuration:\n%s\n", indent(err.Error()))
		return exitUsage
	}
	log := newLogger(stderr, cfg.Log)
	if cmd != "check" {
		for _, w := range cfg.Warnings() {
			log.Warn("configuration accepted with a warning", "warning", w)
		}
	}
	// An embedded Kafka cluster outlives reloads; it stops with the process.
	defer target.CloseEmbedded()

	switch cmd {
	case "check":
		sel := cfg.Selected()
		if len(sel) == 0 {
			fmt.Fprintf(stderr, "pbenchd check: %s\n", nothingSelected(cfg))
			return exitNothing
		}
		if err := report.WriteCheck(stdout, cfg, sel, out); err != nil {
			log.Error("cannot write the plan", "err", err)
			return exitRuntime
		}
		return exitOK
	case "list":
		if err := report.List(stdout, cfg, out); err != nil {
			log.Error("cannot write the list", "err", err)
			return exitRuntime
		}
		return exitOK
	}

	if cmd == "load" {
		return runLoad(cfg, log, *loadScenario, *shardText, stderr)
	}
	if len(cfg.Selected()) == 0 {
		fmt.Fprintf(stderr, "pbenchd %s: %s\n", cmd, nothingSelected(cfg))
		return exitNothing
	}

	stop := newStopper(log)
	defer stop.finished()
	ctx := stop.ctx
	// SIGHUP is caught from here on, so a reload sent while the daemon
	// starts is not fatal; it is acted on once the daemon runs.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)

	if cmd == "once" {
		eng := engine.New(cfg, m, log)
		stop.use(eng.StopDeadline, eng.Activity().String)
		// On a terminal, a block redrawn every 2s during each phase; off
		// one, the engine's info line at run.progress.
		var live *termui.Live
		if errTerm := termui.Detect(stderr, os.Getenv); errTerm.TTY && cfg.Run.Progress.D > 0 {
			live = termui.NewLive(stderr)
			eng.SetProgress(min(cfg.Run.Progress.D, 2*time.Second), func(p engine.PhaseProgress) {
				live.Draw(report.ProgressLines(p, errTerm.Width))
			})
		}
		var its []*engine.Iteration
		its = engine.Once(ctx, eng, func(it *engine.Iteration) {
			if live != nil {
				live.Clear()
			}
			if out.Format == "table" || out.Format == "markdown" {
				report.SummaryTo(stdout, it, out)
			}
		})
		results := engine.NewResults(its)
		if err := report.WriteRun(stdout, its, results, out); err != nil {
			log.Error("cannot write the results", "err", err)
			return exitRuntime
		}
		if *resultsFile != "" {
			if err := results.WriteFile(*resultsFile); err != nil {
				log.Error("cannot write the results file", "file", *resultsFile, "err", err)
				return exitRuntime
			}
		}
		regressed := false
		if *baselineFile != "" {
			r, err := compareBaseline(stdout, cfg, results, *baselineFile)
			if err != nil {
				fmt.Fprintf(stderr, "pbenchd once: --baseline: %v\n", err)
				return exitUsage
			}
			regressed = r
		}
		return onceCode(its, len(cfg.Selected()), regressed, ctx.Err() != nil)
	}

	d := engine.NewDaemon(cfg, load, m, log)
	stop.use(d.StopDeadline, d.Activity().String)
	if cfg.Results.File != "" {
		rl, err := engine.OpenResultsLog(cfg.Results.File)
		if err != nil {
			log.Error("cannot open the results file", "file", cfg.Results.File, "err", err)
			return exitRuntime
		}
		defer rl.Close()
		if rl.Torn > 0 {
			log.Warn("removed a torn last line from the results file (the process was killed while writing it)",
				"file", cfg.Results.File, "bytes", rl.Torn)
		}
		d.OnIteration = func(it *engine.Iteration) {
			if it.Stopped {
				return
			}
			if err := rl.Append(it); err != nil {
				log.Error("cannot append to the results file", "file", cfg.Results.File, "err", err)
			}
		}
	}
	srv, err := server.Serve(ctx, cfg.Web.ListenAddress, cfg.WebSnapshot(), server.Handler(reg, m.Consistent(reg), d, metrics.Version, cfg.Web.EnableLifecycle), log)
	if err != nil {
		log.Error("cannot serve HTTP", "address", cfg.Web.ListenAddress, "err", err)
		return exitRuntime
	}
	addr := srv.Addr
	// The web config is part of the config: a reload that validates
	// replaces it, one that does not leaves the running one in force.
	d.OnReload = func(c *config.Config) { srv.Use(c.WebSnapshot()) }
	log.Info("pbenchd started", "version", metrics.Version, "listen", addr.String(), "scenarios", len(cfg.Selected()))
	_, _ = sddaemon.SdNotify(false, sddaemon.SdNotifyReady)
	go watchdog(ctx)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				_ = d.Reload()
			}
		}
	}()
	_ = d.Run(ctx)
	_, _ = sddaemon.SdNotify(false, sddaemon.SdNotifyStopping)
	log.Info("pbenchd stopped")
	return exitOK
}

// flagKey maps command-line flags to config keys.
func flagKey(f *pflag.Flag) string {
	switch f.Name {
	case "web.listen-address":
		return "web.listen_address"
	case "web.config.file":
		return "web.config_file"
	case "web.enable-lifecycle":
		return "web.enable_lifecycle"
	case "results.file":
		return "results.file"
	case "log.level", "log.format":
		return f.Name
	case "scenarios", "exclude", "duration", "warmup", "pause", "iterations", "progress":
		return "run." + f.Name
	}
	return ""
}

// watchdog pets systemd's watchdog while the process is alive.
func watchdog(ctx context.Context) {
	every, err := sddaemon.SdWatchdogEnabled(false)
	if err != nil || every == 0 {
		return
	}
	t := time.NewTicker(every / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = sddaemon.SdNotify(false, sddaemon.SdNotifyWatchdog)
		}
	}
}

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	o := &slog.HandlerOptions{Level: lvl}
	// Identical repeated warnings and errors are folded into one line
	// with a count (see logfold).
	if c.Format == "json" {
		// Durations as people and parsers read them ("1.5s"), not
		// nanoseconds.
		o.ReplaceAttr = func(_ []string, a slog.Attr) slog.Attr {
			if a.Value.Kind() == slog.KindDuration {
				a.Value = slog.StringValue(a.Value.Duration().String())
			}
			return a
		}
		return slog.New(logfold.New(slog.NewJSONHandler(w, o)))
	}
	return slog.New(logfold.New(slog.NewTextHandler(w, o)))
}

// onceCode is the exit code of `pbenchd once`: interrupted (a stop came
// before every selected scenario finished) over an iteration error over a
// broken guarantee or regression. An iteration a stop cut short says
// nothing either way; one that finished before the stop still counts.
func onceCode(its []*engine.Iteration, selected int, regressed, stopped bool) int {
	failed, errored := regressed, false
	finished := 0
	for _, it := range its {
		if it.Stopped {
			continue
		}
		finished++
		switch it.Result {
		case engine.Pass:
		case engine.Fail:
			failed = true
		default:
			errored = true
		}
	}
	switch {
	case stopped && finished < selected:
		return exitInterrup
	case errored:
		return exitError
	case failed:
		return exitFailed
	}
	return exitOK
}

// nothingSelected says why no scenario would run.
func nothingSelected(cfg *config.Config) string {
	switch {
	case len(cfg.Catalog) == 0:
		return "nothing selected: the catalog has no scenario"
	case len(cfg.Run.Scenarios) > 0:
		return fmt.Sprintf("nothing selected: run.scenarios (--scenarios) %s, less run.exclude (--exclude) %s, leaves no scenario",
			strings.Join(cfg.Run.Scenarios, ","), strings.Join(cfg.Run.Exclude, ","))
	case len(cfg.Run.Exclude) > 0:
		return fmt.Sprintf("nothing selected: run.exclude (--exclude) %s leaves no scenario whose target is configured", strings.Join(cfg.Run.Exclude, ","))
	}
	return "nothing selected: no scenario of the catalog has a configured target (see pbenchd list)"
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}
