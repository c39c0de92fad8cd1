package action

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/pbenchd/pbenchd/internal/target"
)

// TestRawTakeOver: a reused connection whose calls are one prepared
// statement with text arguments is taken over from pgx (on this plain TCP
// connection), GOMAXPROCS grows by one while a worker is bound to it and
// comes back when the worker releases it; a statement with a `now`
// argument stays with pgx.
func TestRawTakeOver(t *testing.T) {
	base := runtime.GOMAXPROCS(0)
	ctx := context.Background()
	r := buildReuse(t, ctx, map[string]any{"query": "SELECT $1::int", "conn": "reuse",
		"args": []any{map[string]any{"kind": "uniform_int", "min": 1, "max": 9}}}).(*sqlRunner)
	if !r.raw || len(r.live) != 1 || r.live[0].raw == nil {
		t.Fatalf("raw %v, %d connections (%+v): want one taken over", r.raw, len(r.live), r.live)
	}
	if got := runtime.GOMAXPROCS(0); got != base {
		t.Errorf("GOMAXPROCS %d with one raw connection open and no worker bound, want %d", got, base)
	}
	for range 3 {
		if res := r.Call(ctx); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	bound, release := r.Bind()
	if got := runtime.GOMAXPROCS(0); got != base+1 {
		t.Errorf("GOMAXPROCS %d with a worker bound to a raw connection, want %d", got, base+1)
	}
	if res := bound.Call(ctx); res.Err != nil {
		t.Fatal(res.Err)
	}
	release()
	if got := runtime.GOMAXPROCS(0); got != base {
		t.Errorf("GOMAXPROCS %d after the worker released it, want %d back", got, base)
	}
	r.Close()
	now := buildReuse(t, ctx, map[string]any{"query": "SELECT $1::timestamptz", "conn": "reuse",
		"args": []any{map[string]any{"kind": "now"}}}).(*sqlRunner)
	if now.raw || now.live[0].raw != nil {
		t.Errorf("a `now` argument was taken over; pgx encodes it")
	}
	if res := now.Call(ctx); res.Err != nil {
		t.Fatal(res.Err)
	}
	viaPgx := buildReuse(t, ctx, map[string]any{"query": "SELECT $1::int", "conn": "reuse", "driver": "pgx",
		"args": []any{map[string]any{"kind": "uniform_int", "min": 1, "max": 9}}}).(*sqlRunner)
	if viaPgx.raw || viaPgx.live[0].raw != nil {
		t.Errorf("driver: pgx was taken over")
	}
	if res := viaPgx.Call(ctx); res.Err != nil {
		t.Fatal(res.Err)
	}
}

// TestRawStream: on a raw connection, rows larger than its read buffer
// (100 kB) are read past, and a server error is the server's SQLSTATE
// with the connection still in step: odd calls return a large row, even
// ones divide by zero, and each call gets its own answer on the same
// connection (no reconnect).
func TestRawStream(t *testing.T) {
	ctx := context.Background()
	r := buildReuse(t, ctx, map[string]any{"conn": "reuse",
		"query": "SELECT CASE WHEN $1::int % 2 = 0 THEN (1 / ($1::int % 2))::text ELSE repeat('x', 100000) END",
		"args":  []any{map[string]any{"kind": "sequence", "start": 1}}}).(*sqlRunner)
	first := r.live[0]
	for i := 1; i <= 6; i++ {
		res := r.Call(ctx)
		want := ""
		if i%2 == 0 {
			want = "sqlstate_22012"
		}
		if got := target.Classify(res.Err); got != want {
			t.Fatalf("call %d: class %q (%v), want %q", i, got, res.Err, want)
		}
	}
	if len(r.live) != 1 || r.live[0] != first {
		t.Errorf("the connection was replaced; a server error leaves it usable")
	}
}

// TestRawContextDeadline: the end of the calls' context (the end of a
// phase's drain) cuts short a call in flight on a raw connection, which is
// then replaced: the next call works.
func TestRawContextDeadline(t *testing.T) {
	r := buildReuse(t, context.Background(), map[string]any{"conn": "reuse",
		"query": "SELECT pg_sleep(CASE WHEN $1::int = 1 THEN 5 ELSE 0 END)",
		"args":  []any{map[string]any{"kind": "sequence", "start": 1}}}).(*sqlRunner)
	first := r.live[0]
	if first.raw == nil {
		t.Fatal("not taken over")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	res := r.Call(ctx)
	if res.Err == nil || ctx.Err() == nil {
		t.Fatalf("the call ended %v after %v, before its context", res.Err, time.Since(start))
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the call took %v; its context ended after 300ms", took)
	}
	if res := r.Call(context.Background()); res.Err != nil {
		t.Fatalf("the next call: %v", res.Err)
	}
	if len(r.live) != 1 || r.live[0] == first || r.live[0].raw == nil {
		t.Errorf("the cut connection was not replaced by a new raw one")
	}
}
