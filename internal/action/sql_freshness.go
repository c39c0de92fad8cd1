package action

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/target"
)

func init() { Kinds.Register("sql_freshness", sqlFreshnessKind{}) }

// SQLFreshnessSpec is the settings of a `sql_freshness` action: each call
// waits a random time within Spread, writes a marker and polls until a view
// shows it. The time from the write's commit to the first read that sees
// the marker is the view's freshness lag, recorded in
// pbenchd_freshness_lag_seconds and as the call's latency (the wait and
// the write are not part of it), so the action's mean and p99 are the
// view's mean and p99 staleness.
type SQLFreshnessSpec struct {
	// Write makes a new marker, $1, visible in the tables.
	Write string `koanf:"write"`
	// Read returns at least one row once marker $1 shows in the view.
	Read string `koanf:"read"`
	// ReadTarget runs Read on another target (a replica, a streaming
	// database fed from the written one); default the action's target.
	ReadTarget string `koanf:"read_target"`
	// View labels the lag; default the action's name.
	View string `koanf:"view"`
	// Marker generates $1; default a sequence from 1.
	Marker *ArgSpec `koanf:"marker"`
	// Spread: before each marker, wait a time drawn uniformly from
	// [0, Spread). Set it to the refresh period of a periodically
	// refreshed view, so that markers fall at uniformly random points of
	// the period as real writes do, and the mean lag is half the period
	// plus the refresh time. 0 writes each marker as soon as the last one
	// was seen: just after a refresh, the worst case of a whole period.
	Spread config.Duration `koanf:"spread"`
	// Interval between two reads; default 5ms.
	Interval config.Duration `koanf:"interval"`
	// Timeout gives up on a marker (an error of class timeout); default 60s.
	Timeout config.Duration `koanf:"timeout"`
}

type sqlFreshnessKind struct{}

func (sqlFreshnessKind) decode(raw any, path string) (*SQLFreshnessSpec, error) {
	var s SQLFreshnessSpec
	if err := config.Decode(raw, path, &s); err != nil {
		return nil, err
	}
	var errs []error
	if s.Write == "" {
		errs = append(errs, fmt.Errorf("%s.write: missing: the statement that writes marker $1", path))
	}
	if s.Read == "" {
		errs = append(errs, fmt.Errorf("%s.read: missing: the query that returns a row once marker $1 is visible", path))
	}
	if s.Marker == nil {
		s.Marker = &ArgSpec{Kind: "sequence", Start: 1}
	}
	if _, e := buildArgs([]ArgSpec{*s.Marker}, path+".marker"); e != nil {
		errs = append(errs, e...)
	}
	if s.Interval.D <= 0 {
		s.Interval = config.Dur(5 * time.Millisecond)
	}
	if s.Timeout.D <= 0 {
		s.Timeout = config.Dur(time.Minute)
	}
	return &s, errors.Join(errs...)
}

func (k sqlFreshnessKind) Decode(raw any, path string, t config.Target) (any, error) {
	return decodeFor(k.decode, "sql_freshness", "postgres", raw, path, t)
}

func (sqlFreshnessKind) Build(ctx context.Context, spec any, env Env) (Runner, error) {
	s := spec.(*SQLFreshnessSpec)
	wpg, err := env.Targets.Postgres(env.Target)
	if err != nil {
		return nil, err
	}
	rpg := wpg
	if s.ReadTarget != "" {
		if rpg, err = env.Targets.Postgres(s.ReadTarget); err != nil {
			return nil, err
		}
	}
	r := &freshnessRunner{spec: s, wpg: wpg, rpg: rpg}
	r.marker, _ = buildArgs([]ArgSpec{*s.Marker}, "marker")
	if r.wpool, err = openPool(ctx, env, wpg, max(env.Slots, 1), nil); err != nil {
		return nil, err
	}
	if r.rpool, err = openPool(ctx, env, rpg, max(env.Slots, 1), nil); err != nil {
		r.wpool.Close()
		return nil, err
	}
	view := s.View
	if view == "" {
		view = env.Action
	}
	if env.Metrics != nil {
		r.lag = env.Metrics.FreshnessLag.WithLabelValues(env.Scenario, view)
	}
	return r, nil
}

type freshnessRunner struct {
	spec         *SQLFreshnessSpec
	wpg, rpg     *target.Postgres
	wpool, rpool *pgxpool.Pool
	marker       func(*rand.Rand) []any
	lag          prometheus.Observer
}

func (r *freshnessRunner) Call(ctx context.Context) Result {
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	if s := r.spec.Spread.D; s > 0 {
		wait := time.NewTimer(time.Duration(rng.Int64N(int64(s))))
		select {
		case <-ctx.Done():
			// Cut off before it wrote anything: no probe was made.
			wait.Stop()
			return Result{Err: ctx.Err(), Censored: true}
		case <-wait.C:
		}
	}
	phase := ctx
	ctx, cancel := context.WithTimeout(ctx, r.spec.Timeout.D)
	defer cancel()
	m := r.marker(rng)
	if _, err := r.wpool.Exec(ctx, r.spec.Write, m...); err != nil {
		r.wpg.Observe(err)
		return Result{Err: err, Censored: phase.Err() != nil}
	}
	// The write has committed (autocommit): the lag runs from here.
	written := time.Now()
	tick := time.NewTicker(r.spec.Interval.D)
	defer tick.Stop()
	for {
		rows, err := r.rpool.Query(ctx, r.spec.Read, m...)
		if err == nil {
			seen := rows.Next()
			rows.Close()
			err = rows.Err()
			if err == nil && seen {
				if r.lag != nil {
					r.lag.Observe(time.Since(written).Seconds())
				}
				return Result{From: written}
			}
		}
		if err != nil {
			r.rpg.Observe(err)
			// A read cut off by the end of the phase is censored like a
			// wait (below).
			return Result{From: written, Err: err, Censored: phase.Err() != nil}
		}
		select {
		case <-ctx.Done():
			// Cut off by the end of the phase (not by its own timeout),
			// the marker's lag is unknown: the refreshes that would show
			// it stopped with the phase.
			return Result{From: written, Err: ctx.Err(), Censored: phase.Err() != nil}
		case <-tick.C:
		}
	}
}

func (r *freshnessRunner) Close() {
	r.wpool.Close()
	r.rpool.Close()
}
