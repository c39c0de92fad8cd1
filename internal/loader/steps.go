package loader

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// lockTables takes a session advisory lock per table and scope, in name
// order, so that two pbenchd instances loading the same tables take turns;
// the second then finds them loaded and skips. The locks go with the
// connection. A server without advisory locks (some PostgreSQL-wire
// databases) is loaded without them.
func lockTables(ctx context.Context, conn *pgx.Conn, tables []Table, scope string) error {
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.Name
	}
	slices.Sort(names)
	for _, name := range names {
		key := int64(TableID("pbenchd load " + scope + name))
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && (pgErr.Code == "42883" || pgErr.Code == "0A000") {
				return nil // undefined_function, feature_not_supported
			}
			return fmt.Errorf("load: lock %s: %w", name, err)
		}
	}
	return nil
}

// inspect reports whether every table is already loaded with its
// fingerprint, and lists the existing tables a reload must drop. A table
// pbenchd did not load is an error unless replace.
func inspect(ctx context.Context, conn *pgx.Conn, tables []Table, replace bool) (current bool, old, stale []string, err error) {
	current = true
	for _, t := range tables {
		var exists bool
		var comment string
		err := conn.QueryRow(ctx,
			"SELECT to_regclass($1) IS NOT NULL, coalesce(obj_description(to_regclass($1), 'pg_class'), '')",
			identifier(t.Name).Sanitize()).Scan(&exists, &comment)
		if err != nil {
			return false, nil, nil, fmt.Errorf("load: look up %s: %w", t.Name, err)
		}
		if !exists {
			current = false
			continue
		}
		if !strings.HasPrefix(comment, commentPrefix) && !replace {
			return false, nil, nil, fmt.Errorf("load %s: %w; drop it, rename it, or set replace", t.Name, ErrNotOwned)
		}
		switch m, ok := parseMark(comment); {
		case t.Fingerprint == "" || m.fingerprint != t.Fingerprint:
			current = false
		case !ok:
			current = false
			stale = append(stale, t.Name+": loaded without a row count to check it by")
		case current:
			// The comment says loaded: check that the data still is
			// what the load left, since anything may have changed it.
			why, err := verify(ctx, conn, t.Name, m)
			if err != nil {
				return false, nil, nil, fmt.Errorf("load: check %s: %w", t.Name, err)
			}
			if why != "" {
				current = false
				stale = append(stale, why)
			}
		}
		old = append(old, identifier(t.Name).Sanitize())
	}
	return current, old, stale, nil
}

// prepare reports whether every table is already loaded with its
// fingerprint; if not, it drops stale staging tables and the old tables,
// and creates the staging tables, in one transaction.
func prepare(ctx context.Context, conn *pgx.Conn, tables []Table, replace bool) (current bool, stale []string, err error) {
	current, old, stale, err := inspect(ctx, conn, tables, replace)
	if err != nil || current {
		return current, stale, err
	}

	tx, err := conn.Begin(ctx)
	if err != nil {
		return false, stale, fmt.Errorf("load: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	staging := make([]string, len(tables))
	for i, t := range tables {
		staging[i] = identifier(stagingName(t.Name)).Sanitize()
	}
	if _, err := tx.Exec(ctx, "DROP TABLE IF EXISTS "+strings.Join(staging, ", ")+" CASCADE"); err != nil {
		return false, stale, fmt.Errorf("load: drop stale staging tables: %w", err)
	}
	if len(old) > 0 {
		if _, err := tx.Exec(ctx, "DROP TABLE "+strings.Join(old, ", ")); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "2BP01" {
				return false, stale, fmt.Errorf("load: drop the previous %s to reload: %w (drop the views or constraints that depend on it first)", strings.Join(old, ", "), err)
			}
			return false, stale, fmt.Errorf("load: drop the previous %s: %w", strings.Join(old, ", "), err)
		}
	}
	for _, t := range tables {
		if _, err := tx.Exec(ctx, t.createSQL(stagingName(t.Name))); err != nil {
			return false, stale, fmt.Errorf("load: create %s: %w", stagingName(t.Name), err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return false, stale, fmt.Errorf("load: commit staging tables: %w", err)
	}
	return false, stale, nil
}

// buildIndexes sets unlogged tables logged and builds primary keys and
// indexes on the staging tables, largest tables first, one table per
// connection at a time.
func buildIndexes(ctx context.Context, conns []*pgx.Conn, tables []Table, p Progress) error {
	order := bySize(tables)
	cur := NewCursor(int64(len(order)), 1)
	return parallel(ctx, conns[:min(len(conns), len(order))], func(ctx context.Context, _ int, conn *pgx.Conn) error {
		for r, ok := cur.Next(); ok; r, ok = cur.Next() {
			t := &tables[order[r.Start]]
			p.Step(t.Name, StepIndex)
			stage := identifier(stagingName(t.Name)).Sanitize()
			var stmts []string
			if t.Unlogged {
				stmts = append(stmts, "ALTER TABLE "+stage+" SET LOGGED")
			}
			if len(t.PrimaryKey) > 0 {
				cols := make([]string, len(t.PrimaryKey))
				for i, c := range t.PrimaryKey {
					cols[i] = pgx.Identifier{c}.Sanitize()
				}
				stmts = append(stmts, "ALTER TABLE "+stage+" ADD PRIMARY KEY ("+strings.Join(cols, ", ")+")")
			}
			for _, ix := range t.Indexes {
				stmts = append(stmts, Expand(ix, stagingName(t.Name)))
			}
			for _, s := range stmts {
				if _, err := conn.Exec(ctx, s); err != nil {
					return fmt.Errorf("load %s: %s: %w", t.Name, s, err)
				}
			}
		}
		return nil
	})
}

// swap gives every staging table its final name, and its automatically
// named indexes theirs, marks each as loaded, and runs after: one
// transaction, so either all tables appear, complete, or none does.
func swap(ctx context.Context, conn *pgx.Conn, tables []Table, after []string) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("load: begin final transaction: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	for _, t := range tables {
		stage := stagingName(t.Name)
		type index struct{ qualified, name string }
		var indexes []index
		rows, err := tx.Query(ctx, `
			SELECT format('%I.%I', n.nspname, c.relname), c.relname
			FROM pg_index x
			JOIN pg_class c ON c.oid = x.indexrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE x.indrelid = to_regclass($1)`, identifier(stage).Sanitize())
		if err != nil {
			return fmt.Errorf("load: list indexes of %s: %w", stage, err)
		}
		for rows.Next() {
			var ix index
			if err := rows.Scan(&ix.qualified, &ix.name); err != nil {
				rows.Close()
				return fmt.Errorf("load: list indexes of %s: %w", stage, err)
			}
			indexes = append(indexes, ix)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("load: list indexes of %s: %w", stage, err)
		}

		final := pgx.Identifier{baseName(t.Name)}.Sanitize()
		if _, err := tx.Exec(ctx, "ALTER TABLE "+identifier(stage).Sanitize()+" RENAME TO "+final); err != nil {
			return fmt.Errorf("load: rename %s to %s: %w", stage, t.Name, err)
		}
		prefix := baseName(stage)
		for _, ix := range indexes {
			rest, ok := strings.CutPrefix(ix.name, prefix)
			if !ok {
				continue
			}
			to := pgx.Identifier{baseName(t.Name) + rest}.Sanitize()
			if _, err := tx.Exec(ctx, "ALTER INDEX "+ix.qualified+" RENAME TO "+to); err != nil {
				return fmt.Errorf("load: rename index %s to %s: %w", ix.qualified, to, err)
			}
		}
		m, err := markOf(ctx, tx, t.Name, t.Fingerprint)
		if err != nil {
			return fmt.Errorf("load: mark %s loaded: %w", t.Name, err)
		}
		if _, err := tx.Exec(ctx, "COMMENT ON TABLE "+identifier(t.Name).Sanitize()+" IS "+quoteLiteral(m.String())); err != nil {
			return fmt.Errorf("load: mark %s loaded: %w", t.Name, err)
		}
	}
	for _, s := range after {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("load: %s: %w", s, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("load: commit final transaction: %w", err)
	}
	return nil
}

// analyze runs ANALYZE on the tables that ask for it, in parallel.
func analyze(ctx context.Context, conns []*pgx.Conn, tables []Table, p Progress) error {
	order := bySize(tables)
	cur := NewCursor(int64(len(order)), 1)
	return parallel(ctx, conns[:min(len(conns), len(order))], func(ctx context.Context, _ int, conn *pgx.Conn) error {
		for r, ok := cur.Next(); ok; r, ok = cur.Next() {
			t := &tables[order[r.Start]]
			if t.Analyze {
				p.Step(t.Name, StepAnalyze)
				if _, err := conn.Exec(ctx, "ANALYZE "+identifier(t.Name).Sanitize()); err != nil {
					return fmt.Errorf("load: analyze %s: %w", t.Name, err)
				}
			}
			p.Step(t.Name, StepDone)
		}
		return nil
	})
}

// bySize lists table indexes, most items first.
func bySize(tables []Table) []int {
	order := make([]int, len(tables))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(tables[b].Items, tables[a].Items) })
	return order
}

func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func closeConn(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Close(ctx)
}

// parallel runs fn once per connection and waits; the first error cancels
// the others' context and is returned.
func parallel(ctx context.Context, conns []*pgx.Conn, fn func(ctx context.Context, w int, conn *pgx.Conn) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for w, c := range conns {
		wg.Go(func() {
			if err := fn(ctx, w, c); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}
