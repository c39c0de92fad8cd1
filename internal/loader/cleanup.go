package loader

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// CleanStaging drops the staging tables (<table>__pbenchd_staging) that
// interrupted loads left in the connection's database, so that a load
// killed mid-way (SIGKILL, a crash, a lost server) leaves its debris only
// until pbenchd next starts, not until the same load runs again. A staging
// table whose load holds its lock (another pbenchd loading it now) is left
// alone. It returns the tables dropped. Shard tables are kept: a rerun of
// a sharded load resumes from them.
func CleanStaging(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	rows, err := conn.Query(ctx, `
		SELECT n.nspname, c.relname, n.nspname = ANY (current_schemas(false))
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND c.relname LIKE '%' || $1
		ORDER BY 1, 2`, strings.ReplaceAll(StagingSuffix, "_", `\_`))
	if err != nil {
		return nil, fmt.Errorf("list staging tables: %w", err)
	}
	type staged struct {
		schema, table string
		onPath        bool
	}
	var found []staged
	for rows.Next() {
		var s staged
		if err := rows.Scan(&s.schema, &s.table, &s.onPath); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list staging tables: %w", err)
		}
		found = append(found, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list staging tables: %w", err)
	}
	var dropped []string
	for _, s := range found {
		base := strings.TrimSuffix(s.table, StagingSuffix)
		// The load's lock is named as the config names the table: with its
		// schema, or without when the schema is on the search path.
		names := []string{s.schema + "." + base}
		if s.onPath {
			names = append(names, base)
		}
		free, err := tryLocks(ctx, conn, names)
		if err != nil {
			return dropped, err
		}
		if !free {
			continue // being loaded right now
		}
		q := pgx.Identifier{s.schema, s.table}.Sanitize()
		_, err = conn.Exec(ctx, "DROP TABLE IF EXISTS "+q+" CASCADE")
		unlock(ctx, conn, names)
		if err != nil {
			return dropped, fmt.Errorf("drop %s: %w", q, err)
		}
		dropped = append(dropped, s.schema+"."+s.table)
	}
	return dropped, nil
}

// tryLocks takes the load locks of the names without waiting; false (and
// none held) when one is taken.
func tryLocks(ctx context.Context, conn *pgx.Conn, names []string) (bool, error) {
	for i, n := range names {
		var ok bool
		err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", int64(TableID("pbenchd load "+n))).Scan(&ok)
		if err != nil {
			unlock(ctx, conn, names[:i])
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && (pgErr.Code == "42883" || pgErr.Code == "0A000") {
				return true, nil // no advisory locks on this server
			}
			return false, fmt.Errorf("lock %s: %w", n, err)
		}
		if !ok {
			unlock(ctx, conn, names[:i])
			return false, nil
		}
	}
	return true, nil
}

func unlock(ctx context.Context, conn *pgx.Conn, names []string) {
	for _, n := range names {
		_, _ = conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", int64(TableID("pbenchd load "+n)))
	}
}
