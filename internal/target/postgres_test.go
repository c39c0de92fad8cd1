package target

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/pgtest"
)

// TestConnectCancellingWaitsForTheServer: a step's statements (a CREATE
// TABLE, then a 3 s sleep, in one implicit transaction) whose context ends
// after 200 ms return with an error, long before 3 s, and by then the
// server has ended them: the connection's backend is no longer active and
// the table was rolled back. On a connection from Connect the statement
// returns at once while the server goes on with it (checked too: that is
// what made a teardown race a setup cut by a stop).
func TestConnectCancellingWaitsForTheServer(t *testing.T) {
	pg, err := NewPostgres("pg", config.Target{Kind: "postgres", DSN: pgtest.DSN()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	look := pgtest.Connect(t)
	for _, tc := range []struct {
		name      string
		wait      time.Duration
		serverRan bool // the server still runs the statement when it returns
	}{
		{"cancelling", 5 * time.Second, false},
		{"Connect's", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			table := pgtest.Name("cancelled")
			c, err := pg.ConnectCancelling(context.Background(), tc.wait)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(context.Background())
			pid := c.PgConn().PID()
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err = c.PgConn().Exec(ctx, "CREATE TABLE "+pgx.Identifier{table}.Sanitize()+" (a int); SELECT pg_sleep(3)").ReadAll()
			took := time.Since(start)
			if err == nil || took > 2*time.Second {
				t.Fatalf("returned after %v with %v; want an error well before the 3 s sleep ends", took, err)
			}
			var active bool
			if err := look.QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active')", pid).Scan(&active); err != nil {
				t.Fatal(err)
			}
			if active != tc.serverRan {
				t.Errorf("after it returned (%v, %v), the server still ran it: %v; want %v", took, err, active, tc.serverRan)
			}
			if !tc.serverRan {
				var exists bool
				if err := look.QueryRow(context.Background(), "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists); err != nil {
					t.Fatal(err)
				}
				if exists {
					t.Errorf("table %s exists after its statement was cancelled; want it rolled back", table)
				}
			}
			// The statement left running goes, and its table with it.
			if _, err := look.Exec(context.Background(), "SELECT pg_terminate_backend($1)", pid); err != nil {
				t.Error(err)
			}
		})
	}
}
