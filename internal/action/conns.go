package action

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/target"
)

// Connections are made before a phase starts, never inside a measured
// call: a kind opens them in Build, all at once, under run.setup_timeout,
// with the action's set: statements run on each. A connection made during
// the phase (a broken one replaced) is a reconnect, counted in
// pbenchd_action_reconnects_total, and made before the call's service
// time starts. A connection that cannot be made before the phase is left
// for the calls to retry (and to fail as connect errors): a target that is
// down is data, not a crash.

// setupCtx bounds the opening of connections by env.SetupTimeout.
func setupCtx(ctx context.Context, env Env) (context.Context, context.CancelFunc) {
	if env.SetupTimeout > 0 {
		return context.WithTimeout(ctx, env.SetupTimeout)
	}
	return context.WithCancel(ctx)
}

// reconnected counts a connection made again during the phase. The series
// is made at the first one, so actions that never reconnect export none.
func reconnected(env Env) {
	if env.Metrics != nil {
		env.Metrics.Reconnects.WithLabelValues(env.Scenario, env.Action).Inc()
	}
}

// openPool opens a pool of at most size connections for the action and,
// before the phase (see above), as many as its load needs: an open loop's
// env.Connections (its peak rate at its guarantees' latency), a closed
// loop's slots; a pool_size far above that does not take a server's
// connection slots for nothing. Connections the pool makes after that (a
// broken one replaced, growth past what the load was sized for) are
// counted as reconnects.
func openPool(ctx context.Context, env Env, pg *target.Postgres, size int, setup []string) (*pgxpool.Pool, error) {
	var filled atomic.Bool
	pool, err := pg.Pool(ctx, size, setup, func() {
		if filled.Load() {
			reconnected(env)
		}
	})
	if err != nil {
		return nil, err
	}
	fctx, cancel := setupCtx(ctx, env)
	defer cancel()
	n := min(size, max(env.Slots, 1))
	if env.Open && env.Connections > 0 {
		n = min(size, env.Connections)
	}
	if err := target.Fill(fctx, pool, max(n, 1)); err != nil && env.Log != nil {
		env.Log.Warn("connections not ready at start", "action", env.Action, "target", pg.Name, "err", err)
	}
	filled.Store(true)
	return pool, nil
}

// connectAll opens n connections at once, with the setup statements run on
// each, under env.SetupTimeout. A connection that could not be made is nil
// (its first call makes it).
func connectAll(ctx context.Context, env Env, pg *target.Postgres, n int, setup []string) []*pgx.Conn {
	fctx, cancel := setupCtx(ctx, env)
	defer cancel()
	conns := make([]*pgx.Conn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conns[i], errs[i] = pg.Connect(fctx, setup)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && env.Log != nil {
			env.Log.Warn("connections not ready at start", "action", env.Action, "target", pg.Name, "err", err)
			break
		}
	}
	return conns
}

// warmKafka makes a Kafka client's first broker connection before the
// phase (a metadata request), under env.SetupTimeout, so the first
// produce does not pay for it. A cluster that is down is left to the
// calls to find.
func warmKafka(ctx context.Context, env Env, cl *kgo.Client) {
	if cl == nil {
		return
	}
	fctx, cancel := setupCtx(ctx, env)
	defer cancel()
	// Never longer than a connect may take: the broker may accept and
	// never answer.
	fctx, cancel2 := context.WithTimeout(fctx, config.DefaultConnectTimeout)
	defer cancel2()
	if err := cl.Ping(fctx); err != nil && env.Log != nil {
		env.Log.Warn("Kafka not ready at start", "action", env.Action, "err", err)
	}
}
