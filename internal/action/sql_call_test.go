package action

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/pgtest"
	"github.com/pbenchd/pbenchd/internal/target"
)

func buildReuse(t *testing.T, ctx context.Context, raw map[string]any) Runner {
	t.Helper()
	targets := target.NewSet(map[string]config.Target{"pg": {Kind: "postgres", DSN: pgtest.DSN()}}, nil)
	spec, err := sqlKind{}.Decode(raw, "a", config.Target{Kind: "postgres"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := sqlKind{}.Build(ctx, spec, Env{Scenario: "s", Action: "a", Target: "pg", Targets: targets, Slots: 1,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// TestReusedCallTimeout: a call on a reused connection that outlives its
// timeout ends at the timeout as class timeout, and the connection is
// replaced, so the next call works.
func TestReusedCallTimeout(t *testing.T) {
	r := buildReuse(t, context.Background(), map[string]any{
		"query": "SELECT pg_sleep($1::float8)", "conn": "reuse", "timeout": "200ms",
		"args": []any{map[string]any{"kind": "choice", "values": []any{"0.6"}}},
	})
	start := time.Now()
	res := r.Call(context.Background())
	took := time.Since(start)
	if got := target.Classify(res.Err); got != "timeout" {
		t.Fatalf("class %q (%v), want timeout", got, res.Err)
	}
	if took < 190*time.Millisecond || took > 500*time.Millisecond {
		t.Errorf("the call took %v, want about the 200ms timeout", took)
	}
	ok := buildReuse(t, context.Background(), map[string]any{"query": "SELECT 1", "conn": "reuse", "timeout": "200ms"})
	if res := ok.Call(context.Background()); res.Err != nil {
		t.Errorf("a fast call: %v", res.Err)
	}
	// The runner's own next call gets a new connection, and times out again
	// on its own clock rather than failing at once.
	start = time.Now()
	res = r.Call(context.Background())
	if target.Classify(res.Err) != "timeout" || time.Since(start) < 190*time.Millisecond {
		t.Errorf("second call: %v after %v, want a timeout after about 200ms", res.Err, time.Since(start))
	}
}

// TestReusedCallStop: a stop (the context the runner was built with is
// cancelled) cuts short a call in flight on a reused connection.
func TestReusedCallStop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := buildReuse(t, ctx, map[string]any{"query": "SELECT pg_sleep(5)", "conn": "reuse"})
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	res := r.Call(ctx)
	if res.Err == nil {
		t.Fatal("the call succeeded; want it cut short")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the call took %v after the stop", took)
	}
}
