package action

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/pgtest"
	"github.com/pbenchd/pbenchd/internal/target"
)

// TestReusedReplaceUnderConcurrency: reused connections shared by an open
// loop are replaced (a call times out) while other calls are running on the
// others. Under -race this used to report a data race between the
// replacement's bookkeeping (IsClosed on every live connection) and the
// calls using them. Every call must also end either well or in a timeout:
// none may see a connection another call is using.
func TestReusedReplaceUnderConcurrency(t *testing.T) {
	targets := target.NewSet(map[string]config.Target{"pg": {Kind: "postgres", DSN: pgtest.DSN()}}, nil)
	raw := map[string]any{
		"query": "SELECT pg_sleep($1::float8)", "conn": "reuse", "connections": 4, "timeout": "50ms",
		// One call in four outlives the timeout and has its connection replaced.
		"args": []any{map[string]any{"kind": "choice", "values": []any{"0", "0", "0", "0.2"}}},
	}
	spec, err := sqlKind{}.Decode(raw, "a", config.Target{Kind: "postgres"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := sqlKind{}.Build(context.Background(), spec, Env{Scenario: "s", Action: "a", Target: "pg", Targets: targets,
		Slots: 8, Open: true, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var wg sync.WaitGroup
	var mu sync.Mutex
	classes := map[string]int{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				res := r.Call(context.Background())
				mu.Lock()
				classes[target.Classify(res.Err)]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// Connections replaced after a timeout close asynchronously (pgx
	// sends Terminate and reads until the server hangs up, which it does
	// once the sleep it was running ends): wait for those backends to go,
	// so no closing goroutine outlives the test.
	r.Close()
	c := pgtest.Connect(t)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var n int
		if err := c.QueryRow(context.Background(),
			"SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep($1::float8)' AND pid <> pg_backend_pid()").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if classes["timeout"] == 0 {
		t.Errorf("no call timed out (%v): the test did not replace any connection", classes)
	}
	for c, n := range classes {
		if c != "" && c != "timeout" {
			t.Errorf("%d calls failed with %q: want only successes and timeouts", n, c)
		}
	}
}
