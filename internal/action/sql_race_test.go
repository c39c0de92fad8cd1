package action

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

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
	r, err := sqlKind{}.Build(context.Background(), raw, Env{Scenario: "s", Action: "a", Target: "pg", Targets: targets,
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
	if classes["timeout"] == 0 {
		t.Errorf("no call timed out (%v): the test did not replace any connection", classes)
	}
	for c, n := range classes {
		if c != "" && c != "timeout" {
			t.Errorf("%d calls failed with %q: want only successes and timeouts", n, c)
		}
	}
}
