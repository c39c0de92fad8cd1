package loader

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// MaxShards is the most instances a sharded load can be split over: shard
// table names must fit PostgreSQL's 63 bytes as staging names do.
const MaxShards = 99

// shardMarkPrefix starts the COMMENT that marks a shard table as complete.
const shardMarkPrefix = "pbenchd shard: "

// shardName is the table shard i of n of name is loaded into.
func shardName(name string, i, n int) string {
	return fmt.Sprintf("%s__pbenchd_%dof%d", name, i, n)
}

// sharded loads this instance's share, then finishes the load if every
// shard is done. See Load.
func (r *run) sharded(ctx context.Context, connect Connector) error {
	s := r.opts.Shard
	current, _, stale, err := inspect(ctx, r.ctrl, r.tables, r.opts.Replace)
	r.res.Stale = stale
	if err != nil {
		return err
	}
	if current {
		r.skip()
		return nil
	}

	// One instance per shard at a time.
	if err := lockTables(ctx, r.ctrl, r.tables, "shard "+s.String()+" "); err != nil {
		return err
	}
	own := func(name string) string { return shardName(name, s.Index, s.Count) }
	done, err := shardsDone(ctx, r.ctrl, r.tables, s, []int{s.Index})
	if err != nil {
		return err
	}
	if !done {
		if err := r.createShard(ctx, own); err != nil {
			return err
		}
		if err := r.copy(ctx, connect, own); err != nil {
			return err
		}
		if err := r.markShard(ctx, own); err != nil {
			return err
		}
	}

	// Finishing: one instance at a time, the same lock as a whole load.
	if err := lockTables(ctx, r.ctrl, r.tables, ""); err != nil {
		return err
	}
	current, _, _, err = inspect(ctx, r.ctrl, r.tables, r.opts.Replace)
	if err != nil || current {
		return err // another instance finished the load
	}
	all := make([]int, s.Count)
	for i := range all {
		all[i] = i
	}
	if done, err := shardsDone(ctx, r.ctrl, r.tables, s, all); err != nil || !done {
		if err == nil {
			r.res.Pending = true
			for _, t := range r.tables {
				r.opts.Progress.Step(t.Name, StepPending)
			}
		}
		return err
	}
	if _, _, err := prepare(ctx, r.ctrl, r.tables, r.opts.Replace); err != nil {
		return err
	}
	if err := r.merge(ctx, connect); err != nil {
		return err
	}
	var shards []string
	for _, t := range r.tables {
		for i := range s.Count {
			shards = append(shards, identifier(shardName(t.Name, i, s.Count)).Sanitize())
		}
	}
	return r.finish(ctx, []string{"DROP TABLE " + strings.Join(shards, ", ")})
}

// createShard (re)creates this shard's tables, dropping a partial earlier
// attempt. They are always logged: an unlogged table is emptied by crash
// recovery, but its done mark would survive.
func (r *run) createShard(ctx context.Context, own func(string) string) error {
	tx, err := r.ctrl.Begin(ctx)
	if err != nil {
		return fmt.Errorf("load: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	for _, t := range r.tables {
		logged := t
		logged.Unlogged = false
		name := own(t.Name)
		if _, err := tx.Exec(ctx, "DROP TABLE IF EXISTS "+identifier(name).Sanitize()); err != nil {
			return fmt.Errorf("load: drop stale %s: %w", name, err)
		}
		if _, err := tx.Exec(ctx, logged.createSQL(name)); err != nil {
			return fmt.Errorf("load: create %s: %w", name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("load: commit shard tables: %w", err)
	}
	return nil
}

// markShard records that this shard's tables are complete.
func (r *run) markShard(ctx context.Context, own func(string) string) error {
	tx, err := r.ctrl.Begin(ctx)
	if err != nil {
		return fmt.Errorf("load: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	for _, t := range r.tables {
		name := own(t.Name)
		if _, err := tx.Exec(ctx, "COMMENT ON TABLE "+identifier(name).Sanitize()+" IS "+quoteLiteral(shardMarkPrefix+t.Fingerprint)); err != nil {
			return fmt.Errorf("load: mark %s done: %w", name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("load: commit shard marks: %w", err)
	}
	return nil
}

// shardsDone reports whether the given shards of every table are complete
// (their table carries the done mark with the table's fingerprint).
func shardsDone(ctx context.Context, conn *pgx.Conn, tables []Table, s Shard, shards []int) (bool, error) {
	var names, marks []string
	for _, t := range tables {
		for _, i := range shards {
			names = append(names, identifier(shardName(t.Name, i, s.Count)).Sanitize())
			marks = append(marks, shardMarkPrefix+t.Fingerprint)
		}
	}
	var n int
	err := conn.QueryRow(ctx, `
		SELECT count(*) FROM unnest($1::text[], $2::text[]) AS s(name, mark)
		WHERE obj_description(to_regclass(name), 'pg_class') = mark`, names, marks).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("load: check shards: %w", err)
	}
	return n == len(names), nil
}

// merge copies every shard table into its staging table, server-side, in
// parallel over (table, shard) pairs.
func (r *run) merge(ctx context.Context, connect Connector) error {
	n := r.opts.Shard.Count
	units := int64(len(r.tables) * n)
	if err := r.openWorkers(ctx, connect, int(min(int64(r.opts.Workers), units))); err != nil {
		return err
	}
	for _, t := range r.tables {
		r.opts.Progress.Step(t.Name, StepMerge)
	}
	cur := NewCursor(units, 1)
	return parallel(ctx, r.conns, func(ctx context.Context, _ int, conn *pgx.Conn) error {
		for u, ok := cur.Next(); ok; u, ok = cur.Next() {
			t := &r.tables[u.Start/int64(n)]
			from := shardName(t.Name, int(u.Start%int64(n)), n)
			q := "INSERT INTO " + identifier(stagingName(t.Name)).Sanitize() + " SELECT * FROM " + identifier(from).Sanitize()
			if _, err := conn.Exec(ctx, q); err != nil {
				return fmt.Errorf("load: merge %s into %s: %w", from, stagingName(t.Name), err)
			}
		}
		return nil
	})
}
