//go:build unix

// Package bench holds the benchmarks that need a live PostgreSQL: pbenchd's
// sql action against plain pgx on pgbench's select-only query, to tell
// pbenchd's own cost per call from pgx's and the Go runtime's. They skip
// when the database is not there; bench/pgbench_compare.sh makes it:
//
//	bench/pgbench_compare.sh   # once, to create and fill pbenchd_bench
//	go test -run '^$' -bench . -benchmem ./bench/
//
// PBENCHD_BENCH_DSN overrides the connection string.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/target"
)

const query = "SELECT abalance FROM pgbench_accounts WHERE aid = $1"

func dsn() string {
	if s := os.Getenv("PBENCHD_BENCH_DSN"); s != "" {
		return s
	}
	return "host=127.0.0.1 port=5432 user=postgres dbname=pbenchd_bench sslmode=disable"
}

// accounts returns how many pgbench accounts there are, skipping the
// benchmark when the database or the table is missing.
func accounts(b *testing.B) int64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn())
	if err != nil {
		b.Skipf("no PostgreSQL at %q: %v", dsn(), err)
	}
	defer c.Close(context.Background())
	var n int64
	if err := c.QueryRow(ctx, "SELECT max(aid) FROM pgbench_accounts").Scan(&n); err != nil || n == 0 {
		b.Skipf("no pgbench_accounts (run bench/pgbench_compare.sh once): %v", err)
	}
	return n
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs f b.N times (on par goroutines when par > 0, else on this
// one) and reports, beside ns/op, the process's CPU per call: the cost of a
// call to the client machine, which is what decides throughput when client
// and server share the cores.
func measure(b *testing.B, par int, f func(worker int)) {
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	if par <= 0 {
		for i := 0; i < b.N; i++ {
			f(0)
		}
	} else {
		var wg sync.WaitGroup
		var next sync.Mutex
		left := b.N
		for w := range par {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					next.Lock()
					if left == 0 {
						next.Unlock()
						return
					}
					left--
					next.Unlock()
					f(w)
				}
			}()
		}
		wg.Wait()
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-c0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkPointSelect compares, per call of pgbench's select-only query:
//
//	pgx/background   pgx's Conn.Query with no deadline: the floor for Go+pgx
//	pgx/timeout      the same under a per-call context.WithTimeout
//	pgx/cancellable  the same under one long-lived cancellable context (pgx
//	                 watches any cancellable context with context.AfterFunc)
//	pgx/deadline     no context; the timeout as a per-call socket deadline
//	pbenchd/auto     pbenchd's sql action (reuse, prepared), each worker
//	                 bound to a connection: what the closed loop calls,
//	                 minus the loop and the Recorder (the blocking hot path)
//	pbenchd/pgx      the same with driver: pgx (pgconn and the netpoller)
//
// "serial" is one connection; "par=8" is eight connections on eight
// goroutines, as pgbench_compare.sh runs by default.
func BenchmarkPointSelect(b *testing.B) {
	max := accounts(b)
	for _, par := range []int{0, 8} {
		name := "serial"
		conns := 1
		if par > 0 {
			name, conns = fmt.Sprintf("par=%d", par), par
		}
		b.Run(name+"/pgx/background", func(b *testing.B) {
			cs := connect(b, conns)
			rngs := newRngs(conns)
			measure(b, par, func(w int) {
				pgxQuery(b, context.Background(), cs[w], 1+rngs[w].Int64N(max))
			})
		})
		b.Run(name+"/pgx/timeout", func(b *testing.B) {
			cs := connect(b, conns)
			rngs := newRngs(conns)
			measure(b, par, func(w int) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				pgxQuery(b, ctx, cs[w], 1+rngs[w].Int64N(max))
				cancel()
			})
		})
		b.Run(name+"/pgx/cancellable", func(b *testing.B) {
			cs := connect(b, conns)
			rngs := newRngs(conns)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			measure(b, par, func(w int) {
				pgxQuery(b, ctx, cs[w], 1+rngs[w].Int64N(max))
			})
		})
		b.Run(name+"/pgx/deadline", func(b *testing.B) {
			cs := connect(b, conns)
			rngs := newRngs(conns)
			measure(b, par, func(w int) {
				// The timeout as a socket deadline: no context to make or
				// watch. pgx treats a deadline that fires as fatal to the
				// connection, which a timed-out call is anyway.
				_ = cs[w].PgConn().Conn().SetDeadline(time.Now().Add(30 * time.Second))
				pgxQuery(b, context.Background(), cs[w], 1+rngs[w].Int64N(max))
			})
		})
		for _, driver := range []string{"auto", "pgx"} {
			b.Run(name+"/pbenchd/"+driver, func(b *testing.B) {
				r := runner(b, conns, max, driver)
				// Each worker bound to a connection of its own, as the
				// loops bind them.
				callers := make([]action.Caller, conns)
				for i := range callers {
					c, release := r.(action.Binder).Bind()
					callers[i] = c
					b.Cleanup(release)
				}
				ctx, cancel := context.WithCancel(context.Background()) // the loop's ctx is cancellable too
				defer cancel()
				measure(b, par, func(w int) {
					if res := callers[w].Call(ctx); res.Err != nil {
						b.Error(res.Err)
					}
				})
			})
		}
	}
}

func connect(b *testing.B, n int) []*pgx.Conn {
	b.Helper()
	cs := make([]*pgx.Conn, n)
	for i := range cs {
		c, err := pgx.Connect(context.Background(), dsn())
		if err != nil {
			b.Fatal(err)
		}
		cs[i] = c
		b.Cleanup(func() { c.Close(context.Background()) })
	}
	return cs
}

func newRngs(n int) []*rand.Rand {
	out := make([]*rand.Rand, n)
	for i := range out {
		out[i] = rand.New(rand.NewPCG(uint64(i), 42))
	}
	return out
}

func pgxQuery(b *testing.B, ctx context.Context, c *pgx.Conn, aid int64) {
	rows, err := c.Query(ctx, query, aid)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
}

// runner builds pbenchd's sql action as the engine does for a closed loop
// of slots workers.
func runner(b *testing.B, slots int, max int64, driver string) action.Runner {
	b.Helper()
	kind, ok := action.Kinds.Lookup("sql")
	if !ok {
		b.Fatal("no sql action kind")
	}
	raw := map[string]any{
		"query":  query,
		"conn":   "reuse",
		"driver": driver,
		"args":   []any{map[string]any{"kind": "uniform_int", "min": 1, "max": max}},
	}
	targets := target.NewSet(map[string]config.Target{"pg": {Kind: "postgres", DSN: dsn()}}, nil)
	env := action.Env{
		Scenario: "bench", Action: "select", Target: "pg", Targets: targets, Slots: slots,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	spec, err := kind.Decode(raw, "select", config.Target{Kind: "postgres"})
	if err != nil {
		b.Fatal(err)
	}
	r, err := kind.Build(context.Background(), spec, env)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(r.Close)
	return r
}
