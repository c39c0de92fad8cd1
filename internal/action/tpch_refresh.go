package action

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/target"
	"github.com/pbenchd/pbenchd/internal/tpch"
)

func init() { Kinds.Register("tpch_refresh", tpchRefreshKind{}) }

// TPCHRefreshSpec is the settings of a `tpch_refresh` action: TPC-H's
// refresh functions as writes, each call one stream in one transaction.
type TPCHRefreshSpec struct {
	// Stream is rf1 (insert SF×1,500 new orders with their lineitems), rf2
	// (delete SF×1,500 old orders and their lineitems) or both (RF1 then
	// RF2, so the data keeps its size).
	Stream string `koanf:"stream"`
	// SF and Seed must be those the data was loaded with.
	SF   float64 `koanf:"sf"`
	Seed uint64  `koanf:"seed"`
	// Schema holds the tables; "" uses the search_path.
	Schema string `koanf:"schema"`
}

var tpchStreams = []string{"both", "rf1", "rf2"}

type tpchRefreshKind struct{}

func (tpchRefreshKind) decode(raw any, path string) (*TPCHRefreshSpec, error) {
	var s TPCHRefreshSpec
	if err := config.Decode(raw, path, &s); err != nil {
		return nil, err
	}
	var errs []error
	if !slices.Contains(tpchStreams, s.Stream) {
		errs = append(errs, fmt.Errorf("%s.stream: %q is not one of %s", path, s.Stream, strings.Join(tpchStreams, ", ")))
	}
	if _, err := tpch.New(s.SF, s.Seed); err != nil {
		errs = append(errs, fmt.Errorf("%s.sf: %w", path, err))
	}
	return &s, errors.Join(errs...)
}

func (k tpchRefreshKind) Decode(raw any, path string, t config.Target) (any, error) {
	return decodeFor(k.decode, "tpch_refresh", "postgres", raw, path, t)
}

func (tpchRefreshKind) Build(ctx context.Context, spec any, env Env) (Runner, error) {
	s := spec.(*TPCHRefreshSpec)
	g, err := tpch.New(s.SF, s.Seed)
	if err != nil {
		return nil, err
	}
	pg, err := env.Targets.Postgres(env.Target)
	if err != nil {
		return nil, err
	}
	pool, err := openPool(ctx, env, pg, max(env.Slots, 1), nil)
	if err != nil {
		return nil, err
	}
	return &tpchRefreshRunner{spec: s, pg: pg, pool: pool, ref: g.NewRefresher(s.Schema)}, nil
}

type tpchRefreshRunner struct {
	spec *TPCHRefreshSpec
	pg   *target.Postgres
	pool *pgxpool.Pool
	ref  *tpch.Refresher

	mu      sync.Mutex
	resumed bool
}

// resume continues after the streams earlier iterations or processes ran,
// so new orders never collide with existing keys. It is retried by later
// calls until it succeeds (the target may be down at first).
func (r *tpchRefreshRunner) resume(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.resumed {
		return nil
	}
	if err := r.ref.Resume(ctx, r.pool); err != nil {
		return err
	}
	r.resumed = true
	return nil
}

func (r *tpchRefreshRunner) Call(ctx context.Context) Result {
	if err := r.resume(ctx); err != nil {
		r.pg.Observe(err)
		return Result{Err: err}
	}
	var err error
	if r.spec.Stream != "rf2" {
		_, err = r.ref.RF1(ctx, r.pool)
	}
	if err == nil && r.spec.Stream != "rf1" {
		_, err = r.ref.RF2(ctx, r.pool)
	}
	r.pg.Observe(err)
	return Result{Err: err}
}

func (r *tpchRefreshRunner) Close() { r.pool.Close() }
