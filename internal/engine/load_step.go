package engine

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/loader"
)

// ProgressFactory makes the progress reporter of one load: totals are the
// rows expected per table (final names). The default logs periodically;
// `pbenchd load` on a terminal draws bars instead.
type ProgressFactory func(scenario string, totals map[string]int64) loader.Progress

// SetLoadProgress replaces how loads report progress.
func (e *Engine) SetLoadProgress(f ProgressFactory) { e.progress = f }

// SetShard restricts loads to one instance's share (`--shard i/N`).
func (e *Engine) SetShard(s loader.Shard) { e.shard = s }

// loadStep bulk-loads generated tables or TPC-H data into a target.
func (e *Engine) loadStep(ctx context.Context, sc *config.Scenario, target string, st config.Step) error {
	pg, err := e.targets.Postgres(target)
	if err != nil {
		return err
	}
	connect := loader.ConnectConfig(pg.ConnConfig())
	var res loader.Result
	switch {
	case st.TPCH != nil:
		g, err := st.TPCH.Generator()
		if err != nil {
			return err
		}
		o := st.TPCH.LoadOptions()
		if o.Schema != "" {
			if err := e.step(ctx, sc, config.Step{Target: target, SQL: []string{"CREATE SCHEMA IF NOT EXISTS " + pgx.Identifier{o.Schema}.Sanitize()}}, StopGrace); err != nil {
				return fmt.Errorf("tpch schema: %w", err)
			}
		}
		totals := map[string]int64{}
		for t, n := range g.Rows() {
			totals[qualify(o.Schema, t)] = n
		}
		o.Progress, o.Shard = e.newProgress(sc.Name, totals), e.shard
		res, err = g.Load(ctx, connect, o)
		closeProgress(o.Progress)
		if err != nil {
			return fmt.Errorf("tpch load: %w", err)
		}
	default:
		s := st.Load.WithDefaults()
		tables, err := s.Compile(sc.Loads(st.Load)...)
		if err != nil {
			return err
		}
		totals := map[string]int64{}
		for _, t := range tables {
			totals[t.Name] = t.Items
		}
		o := s.LoadOptions()
		o.Progress, o.Shard = e.newProgress(sc.Name, totals), e.shard
		res, err = loader.Load(ctx, connect, tables, o)
		closeProgress(o.Progress)
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
	}
	if len(res.Stale) > 0 {
		e.log.Warn("tables marked loaded no longer held what the load left; loaded them again",
			"scenario", sc.Name, "why", strings.Join(res.Stale, "; "))
	}
	switch {
	case res.Skipped:
		e.log.Info("load skipped: the tables are already loaded with the same data", "scenario", sc.Name)
	case res.Pending:
		e.log.Info("load shard done; other shards pending", "scenario", sc.Name, "rows", res.Rows(), "took", res.Elapsed.Round(time.Millisecond))
	default:
		e.log.Info("load done", "scenario", sc.Name, "rows", res.Rows(), "workers", res.Workers, "mode", res.Mode,
			"copy", res.Copy.Round(time.Millisecond), "index", res.Index.Round(time.Millisecond),
			"analyze", res.Analyze.Round(time.Millisecond), "took", res.Elapsed.Round(time.Millisecond))
	}
	return nil
}

func qualify(schema, t string) string {
	if schema == "" {
		return t
	}
	return schema + "." + t
}

// Load runs only the data loads (load and tpch steps) of a scenario's
// setup, for `pbenchd load`.
func (e *Engine) Load(ctx context.Context, sc *config.Scenario) error {
	n := 0
	for i, st := range sc.Setup {
		if st.Load == nil && st.TPCH == nil {
			continue
		}
		n++
		name := st.Target
		if name == "" {
			name = sc.Target
		}
		if err := e.loadStep(ctx, sc, name, st); err != nil {
			return fmt.Errorf("setup[%d]: %w", i, err)
		}
	}
	if n == 0 {
		return fmt.Errorf("scenario %s has no load or tpch step in its setup", sc.Name)
	}
	return nil
}

func (e *Engine) newProgress(scenario string, totals map[string]int64) loader.Progress {
	counter := func(table string, rows int64) {
		e.m.LoaderRows.WithLabelValues(scenario, table).Add(float64(rows))
	}
	var p loader.Progress
	if e.progress != nil {
		p = e.progress(scenario, totals)
	} else {
		p = NewLogProgress(e.log.With("scenario", scenario), totals, 10*time.Second)
	}
	return countingProgress{Progress: p, count: counter}
}

// closeProgress stops a reporter that draws (bars) once its load is over.
func closeProgress(p loader.Progress) {
	if c, ok := p.(countingProgress); ok {
		p = c.Progress
	}
	if c, ok := p.(interface{ Close() }); ok {
		c.Close()
	}
}

type countingProgress struct {
	loader.Progress
	count func(table string, rows int64)
}

func (c countingProgress) Rows(table string, rows int64) {
	c.count(table, rows)
	c.Progress.Rows(table, rows)
}

// LogProgress reports a load in log lines: each table's rows, rate and
// estimated time left, at most once per interval, and each step change.
type LogProgress struct {
	log    *slog.Logger
	every  time.Duration
	start  time.Time
	mu     sync.Mutex
	totals map[string]int64
	done   map[string]int64
	last   time.Time
}

// NewLogProgress makes a LogProgress.
func NewLogProgress(log *slog.Logger, totals map[string]int64, every time.Duration) *LogProgress {
	return &LogProgress{log: log, every: every, start: time.Now(), last: time.Now(), totals: totals, done: map[string]int64{}}
}

// Rows implements loader.Progress.
func (p *LogProgress) Rows(table string, rows int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done[table] += rows
	if time.Since(p.last) < p.every {
		return
	}
	p.last = time.Now()
	el := time.Since(p.start).Seconds()
	var names []string
	for t := range p.done {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		n, total := p.done[t], p.totals[t]
		rate := float64(n) / el
		attrs := []any{"table", t, "rows", n, "of", total, "rows_per_s", int64(rate)}
		if rate > 0 && total > n {
			attrs = append(attrs, "eta", time.Duration(float64(total-n)/rate*1e9).Round(time.Second))
		}
		p.log.Info("loading", attrs...)
	}
}

// Step implements loader.Progress.
func (p *LogProgress) Step(table string, step loader.Step) {
	p.log.Debug("load step", "table", table, "step", string(step))
}

// CleanStaging drops, on every target a selected scenario loads into, the
// staging tables interrupted loads left (see loader.CleanStaging). The
// daemon and `once` call it when they start; a target that is down is
// skipped (its staging tables go at a later start, or when the same load
// runs again).
func (e *Engine) CleanStaging(ctx context.Context) {
	var names []string
	for _, sc := range e.cfg.Selected() {
		for _, st := range sc.Setup {
			if st.Load == nil && st.TPCH == nil {
				continue
			}
			n := st.Target
			if n == "" {
				n = sc.Target
			}
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	for _, n := range names {
		pg, err := e.targets.Postgres(n)
		if err != nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		c, err := pg.Connect(cctx, nil)
		if err != nil {
			cancel()
			e.log.Debug("staging tables not checked: the target does not answer", "target", n, "err", err)
			continue
		}
		dropped, err := loader.CleanStaging(cctx, c)
		_ = c.Close(context.Background())
		cancel()
		if len(dropped) > 0 {
			e.log.Info("removed the staging tables of interrupted loads", "target", n, "tables", strings.Join(dropped, ","))
		}
		if err != nil {
			e.log.Warn("cannot remove the staging tables of interrupted loads", "target", n, "err", err)
		}
	}
}
