package loader

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Connector opens a new connection to the target. Load opens one per worker
// and one to coordinate, and closes them all before it returns.
type Connector func(ctx context.Context) (*pgx.Conn, error)

// ConnectConfig returns a Connector for cfg (copied for each connection).
func ConnectConfig(cfg *pgx.ConnConfig) Connector {
	return func(ctx context.Context) (*pgx.Conn, error) {
		return pgx.ConnectConfig(ctx, cfg.Copy())
	}
}

// DefaultBatchRows is Options.BatchRows when zero.
const DefaultBatchRows = 10000

// Options tune a [Load]. The zero value loads with one worker in ModeAuto.
type Options struct {
	// Workers is the number of connections copying at once; 0 means 1.
	Workers int
	// Mode divides the items between workers; "" means ModeAuto.
	Mode Mode
	// BatchRows is the most rows one COPY statement carries, and so how
	// often Progress hears of a table; 0 means DefaultBatchRows.
	BatchRows int
	// ChunkItems is the number of items a worker claims at a time in
	// ModeDynamic; 0 means enough for about 16 chunks per worker, at most
	// BatchRows.
	ChunkItems int64
	// Shard restricts this instance to its share of every table's items.
	// The zero value is the whole load. See [Load] for what a sharded load
	// does.
	Shard Shard
	// After are statements run in the final transaction, once every table
	// has its final name: foreign keys between the tables, typically. If
	// one fails, no table of the load becomes visible.
	After []string
	// Replace allows dropping an existing table of the same name that
	// pbenchd did not load. Tables pbenchd loaded are always replaced when
	// their fingerprint differs.
	Replace bool
	// Progress hears of rows and steps; nil means nobody listens.
	Progress Progress
}

// Result describes a finished [Load].
type Result struct {
	// Skipped is true when every table was already loaded with the same
	// fingerprint, still holds the rows the load left (their count and a
	// checksum of a sample), and nothing was done.
	Skipped bool
	// Stale says why tables marked loaded with the same fingerprint were
	// loaded again: rows deleted or added, sampled rows changed.
	Stale []string
	// Mode is the mode the items were divided in.
	Mode Mode
	// Workers is the number of connections that copied.
	Workers int
	// Tables holds the rows copied per table, in the order given.
	Tables []TableResult
	// Copy, Index, Swap and Analyze are the durations of the load's
	// phases: copying, building keys and indexes, the final transaction,
	// and ANALYZE.
	Copy, Index, Swap, Analyze time.Duration
	// Elapsed is the whole load's duration.
	Elapsed time.Duration
	// Pending is true when this instance loaded its shard but others have
	// not finished theirs: the instance that finishes last makes the
	// tables appear.
	Pending bool
}

// TableResult is one table's share of a [Result].
type TableResult struct {
	// Name is the table's final name.
	Name string
	// Rows is the number of rows this instance copied into it.
	Rows int64
}

// Rows is the total number of rows copied.
func (r Result) Rows() int64 {
	var n int64
	for _, t := range r.Tables {
		n += t.Rows
	}
	return n
}

// ErrNotOwned is returned when a table to load already exists and was not
// loaded by pbenchd, and Options.Replace is false.
var ErrNotOwned = errors.New("table exists and was not loaded by pbenchd")

// commentPrefix starts the COMMENT that marks a table as completely loaded.
const commentPrefix = "pbenchd load: "

// Load creates and fills tables through COPY, one connection per worker,
// then builds their primary keys and indexes, renames them all to their
// final names in one transaction (running opts.After in it), and analyzes
// them. See the package documentation for why a load that is interrupted
// leaves no table under a final name.
//
// A rerun whose tables all exist with the same fingerprints does nothing
// (Result.Skipped). Otherwise existing tables of the same names are dropped
// first (pbenchd's own, or any with opts.Replace); a table another object
// depends on (a view) makes Load fail before anything is dropped.
//
// A sharded load (opts.Shard other than 0/1, one instance of several)
// copies this instance's share of every table into tables of its own
// (<table>__pbenchd_<i>of<n>) and marks them done. The instance that
// finds every shard done merges them into the staging tables and finishes
// as above, dropping the shard tables in the final transaction; the others
// return with Result.Pending. An interrupted shard redoes only its own share
// when rerun.
func Load(ctx context.Context, connect Connector, tables []Table, opts Options) (Result, error) {
	r := &run{tables: tables, started: time.Now(), res: Result{Tables: make([]TableResult, len(tables))}}
	for i, t := range tables {
		r.res.Tables[i].Name = t.Name
	}
	if err := check(tables, opts); err != nil {
		return r.res, err
	}
	r.opts = opts.withDefaults()
	r.rows = make([]atomic.Int64, len(tables))

	var err error
	r.ctrl, err = connect(ctx)
	if err != nil {
		return r.res, fmt.Errorf("load: connect: %w", err)
	}
	defer r.close()

	if r.opts.Shard.Whole() {
		err = r.whole(ctx, connect)
	} else {
		err = r.sharded(ctx, connect)
	}
	for i := range tables {
		r.res.Tables[i].Rows = r.rows[i].Load()
	}
	r.res.Elapsed = time.Since(r.started)
	return r.res, err
}

// run is the state of one Load.
type run struct {
	tables  []Table
	opts    Options
	started time.Time
	res     Result
	rows    []atomic.Int64
	ctrl    *pgx.Conn   // coordinates: locks, catalog checks, the final transaction
	conns   []*pgx.Conn // workers
}

func (r *run) close() {
	for _, c := range r.conns {
		closeConn(c)
	}
	closeConn(r.ctrl)
}

// whole loads every item of every table (a single instance).
func (r *run) whole(ctx context.Context, connect Connector) error {
	if err := lockTables(ctx, r.ctrl, r.tables, ""); err != nil {
		return err
	}
	current, stale, err := prepare(ctx, r.ctrl, r.tables, r.opts.Replace)
	r.res.Stale = stale
	if err != nil {
		return err
	}
	if current {
		r.skip()
		return nil
	}
	if err := r.copy(ctx, connect, stagingName); err != nil {
		return err
	}
	return r.finish(ctx, nil)
}

// skip reports that the tables are loaded already.
func (r *run) skip() {
	for _, t := range r.tables {
		r.opts.Progress.Step(t.Name, StepSkipped)
	}
	r.res.Skipped = true
}

// copy opens the workers and copies this shard's items of every table into
// the table target names.
func (r *run) copy(ctx context.Context, connect Connector, target func(string) string) error {
	mode := r.opts.Mode.resolve(len(r.tables))
	work := plan(r.tables, r.opts, mode)
	r.res.Mode, r.res.Workers = mode, work.workers
	if err := r.openWorkers(ctx, connect, max(work.workers, 1)); err != nil {
		return err
	}
	for _, t := range r.tables {
		r.opts.Progress.Step(t.Name, StepCopy)
	}
	phase := time.Now()
	defer func() { r.res.Copy = time.Since(phase) }()
	return parallel(ctx, r.conns[:work.workers], func(ctx context.Context, w int, conn *pgx.Conn) error {
		for u, ok := work.next(w); ok; u, ok = work.next(w) {
			t := &r.tables[u.table]
			_, err := CopyRows(ctx, conn, identifier(target(t.Name)), t.columnNames(), t.Rows(u.items), r.opts.BatchRows, func(n int64) {
				r.rows[u.table].Add(n)
				r.opts.Progress.Rows(t.Name, n)
			})
			if err != nil {
				return fmt.Errorf("load %s items %s: %w", t.Name, u.items, err)
			}
		}
		return nil
	})
}

// openWorkers opens up to n worker connections (keeping those already open).
func (r *run) openWorkers(ctx context.Context, connect Connector, n int) error {
	for len(r.conns) < n {
		c, err := connect(ctx)
		if err != nil {
			return fmt.Errorf("load: connect worker %d: %w", len(r.conns), err)
		}
		RegisterTypes(c)
		// Batches need no durability of their own: a crash discards the
		// staging tables, and the final transaction commits synchronously
		// after them. Servers without the setting just refuse it.
		_, _ = c.Exec(ctx, "SET synchronous_commit = off")
		r.conns = append(r.conns, c)
	}
	return nil
}

// finish builds the keys and indexes of the filled staging tables, renames
// them (running After and extra in the same transaction) and analyzes them.
func (r *run) finish(ctx context.Context, extra []string) error {
	phase := time.Now()
	if err := buildIndexes(ctx, r.conns, r.tables, r.opts.Progress); err != nil {
		return err
	}
	r.res.Index = time.Since(phase)

	phase = time.Now()
	if err := swap(ctx, r.ctrl, r.tables, append(slices.Clone(r.opts.After), extra...)); err != nil {
		return err
	}
	r.res.Swap = time.Since(phase)
	for _, t := range r.tables {
		r.opts.Progress.Step(t.Name, StepReady)
	}

	phase = time.Now()
	if err := analyze(ctx, r.conns, r.tables, r.opts.Progress); err != nil {
		return err
	}
	r.res.Analyze = time.Since(phase)
	return nil
}

func check(tables []Table, opts Options) error {
	var errs []error
	seen := make(map[string]bool, len(tables))
	for i := range tables {
		t := &tables[i]
		if err := t.check(); err != nil {
			errs = append(errs, err)
		}
		if seen[t.Name] {
			errs = append(errs, fmt.Errorf("table %q is loaded twice", t.Name))
		}
		seen[t.Name] = true
	}
	if opts.Workers < 0 {
		errs = append(errs, fmt.Errorf("workers: %d must be at least 1", opts.Workers))
	}
	if opts.BatchRows < 0 {
		errs = append(errs, fmt.Errorf("batch rows: %d must not be negative", opts.BatchRows))
	}
	if _, err := ParseMode(string(opts.Mode)); err != nil {
		errs = append(errs, err)
	}
	if err := opts.Shard.Validate("shard"); err != nil {
		errs = append(errs, err)
	} else if opts.Shard.Count > MaxShards {
		errs = append(errs, fmt.Errorf("shard %s: at most %d instances can share a load", opts.Shard, MaxShards))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Workers == 0 {
		o.Workers = 1
	}
	if o.BatchRows == 0 {
		o.BatchRows = DefaultBatchRows
	}
	if o.Mode == "" {
		o.Mode = ModeAuto
	}
	if o.Progress == nil {
		o.Progress = noProgress{}
	}
	return o
}
