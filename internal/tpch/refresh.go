package tpch

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/pbenchd/pbenchd/internal/loader"
)

// DB is what the refresh functions need of a connection: *pgx.Conn,
// *pgxpool.Pool and pgx.Tx all have these methods.
type DB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// RefreshResult is what one refresh function changed.
type RefreshResult struct {
	// Stream is the refresh stream number the call used (from 1).
	Stream int64
	// Orders and Lineitems are the rows inserted (RF1) or deleted (RF2).
	Orders, Lineitems int64
}

// Refresher runs the refresh streams RF1 and RF2 as benchmark actions.
// Each call runs the next stream number of its kind in one transaction;
// calls may run concurrently (each gets its own stream). It is safe for
// concurrent use.
type Refresher struct {
	g      *Generator
	schema string
	rf1    atomic.Int64 // the last RF1 stream handed out
	rf2    atomic.Int64 // the last RF2 stream handed out
}

// NewRefresher returns a Refresher for the tables of schema ("" for the
// search_path) whose next streams are RF1 1 and RF2 1; call Resume to
// continue after streams an earlier process ran.
func (g *Generator) NewRefresher(schema string) *Refresher {
	return &Refresher{g: g, schema: schema}
}

// Resume sets the next stream numbers from the data: RF1 continues after
// the highest order present, RF2 at the lowest one (see OrderKey: the
// orders present are one run of indexes). Without it, a new process would
// insert keys an earlier one inserted.
func (r *Refresher) Resume(ctx context.Context, db DB) error {
	n, loaded := r.g.refreshOrders, r.g.orders
	var lo, hi *int64
	q := fmt.Sprintf("SELECT min(o_orderkey), max(o_orderkey) FROM %s", r.table("orders"))
	if err := db.QueryRow(ctx, q).Scan(&lo, &hi); err != nil {
		return fmt.Errorf("tpch: resume refresh streams: %w", err)
	}
	if lo == nil {
		// Every order deleted: RF1 starts again after the loaded ones,
		// RF2 with the first order RF1 will insert.
		r.rf1.Store(0)
		r.rf2.Store(r.loadedStreams())
		return nil
	}
	first, _ := orderIndex(*lo)
	last, _ := orderIndex(*hi)
	if last >= loaded {
		r.rf1.Store((last-loaded)/n + 1)
	} else {
		r.rf1.Store(0)
	}
	r.rf2.Store(first / n)
	return nil
}

// RF1 inserts the next stream's new orders and their lines.
func (r *Refresher) RF1(ctx context.Context, db DB) (RefreshResult, error) {
	return r.RF1Stream(ctx, db, r.rf1.Add(1))
}

// RF2 deletes the next stream's old orders and their lines.
func (r *Refresher) RF2(ctx context.Context, db DB) (RefreshResult, error) {
	return r.RF2Stream(ctx, db, r.rf2.Add(1))
}

// ErrStream is wrapped by errors about a stream number.
var ErrStream = errors.New("bad refresh stream")

// RF1Stream inserts refresh stream stream's SF × 1,500 new orders and
// their 1–7 lines each, in one transaction (clause 2.5.2). The orders are
// a function of (seed, stream); their keys follow the loaded ones in the
// same sparse pattern (OrderKey), distinct between streams, so they never
// collide with loaded orders or with other streams.
func (r *Refresher) RF1Stream(ctx context.Context, db DB, stream int64) (RefreshResult, error) {
	res := RefreshResult{Stream: stream}
	if stream < 1 {
		return res, fmt.Errorf("tpch RF1: %w %d: streams are numbered from 1", ErrStream, stream)
	}
	g, n := r.g, r.g.refreshOrders
	first := (stream - 1) * n
	items := loader.Range{Start: 0, End: n}
	tx, err := db.Begin(ctx)
	if err != nil {
		return res, fmt.Errorf("tpch RF1 stream %d: begin: %w", stream, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	var o order
	orders := loader.RowFunc(items, len(ordersColumns), func(k int64, row []any) {
		g.makeOrder(streamRefresh, first+k, g.refreshKey(first+k), &o)
		g.fillOrder(&o, row)
	})
	res.Orders, err = loader.CopyRows(ctx, tx, r.ident("orders"), columnNames(ordersColumns), orders, 0, nil)
	if err != nil {
		return res, fmt.Errorf("tpch RF1 stream %d: %w", stream, err)
	}
	lines := &perItem{next: items.Start, end: items.End, row: make([]any, len(lineitemColumns)),
		start: func(k int64) int {
			g.makeOrder(streamRefresh, first+k, g.refreshKey(first+k), &o)
			return o.n
		},
		fill: func(j int, row []any) { g.fillLine(&o, j, row) },
	}
	res.Lineitems, err = loader.CopyRows(ctx, tx, r.ident("lineitem"), columnNames(lineitemColumns), lines, 0, nil)
	if err != nil {
		return res, fmt.Errorf("tpch RF1 stream %d: %w", stream, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return res, fmt.Errorf("tpch RF1 stream %d: commit: %w", stream, err)
	}
	return res, nil
}

// RF2Stream deletes refresh stream stream's SF × 1,500 orders and their
// lines in one transaction (clause 2.5.3): the oldest orders, in key
// order, stream 1 the first SF × 1,500 loaded ones, and so on; once every
// loaded order has been deleted, the orders RF1 inserted, stream by
// stream. Paired with RF1 it keeps the number of orders constant and the
// orders present one run of consecutive indexes.
func (r *Refresher) RF2Stream(ctx context.Context, db DB, stream int64) (RefreshResult, error) {
	res := RefreshResult{Stream: stream}
	if stream < 1 {
		return res, fmt.Errorf("tpch RF2: %w %d: streams are numbered from 1", ErrStream, stream)
	}
	keys := r.deleteKeys(stream)
	tx, err := db.Begin(ctx)
	if err != nil {
		return res, fmt.Errorf("tpch RF2 stream %d: begin: %w", stream, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	tag, err := tx.Exec(ctx, fmt.Sprintf("DELETE FROM %s WHERE l_orderkey = ANY($1)", r.table("lineitem")), keys)
	if err != nil {
		return res, fmt.Errorf("tpch RF2 stream %d: delete lineitems: %w", stream, err)
	}
	res.Lineitems = tag.RowsAffected()
	tag, err = tx.Exec(ctx, fmt.Sprintf("DELETE FROM %s WHERE o_orderkey = ANY($1)", r.table("orders")), keys)
	if err != nil {
		return res, fmt.Errorf("tpch RF2 stream %d: delete orders: %w", stream, err)
	}
	res.Orders = tag.RowsAffected()
	if err := tx.Commit(ctx); err != nil {
		return res, fmt.Errorf("tpch RF2 stream %d: commit: %w", stream, err)
	}
	return res, nil
}

// loadedStreams is how many RF2 streams it takes to delete every loaded order.
func (r *Refresher) loadedStreams() int64 {
	n := r.g.refreshOrders
	return (r.g.orders + n - 1) / n
}

// deleteKeys are the order keys RF2 stream deletes: the orders of indexes
// (stream-1)·n to stream·n-1 (see OrderKey), the loaded orders first, then
// those RF1 inserted, in the order it inserted them.
func (r *Refresher) deleteKeys(stream int64) []int64 {
	n := r.g.refreshOrders
	keys := make([]int64, 0, n)
	for i := (stream - 1) * n; i < stream*n; i++ {
		keys = append(keys, OrderKey(i))
	}
	return keys
}

func (r *Refresher) table(name string) string { return r.ident(name).Sanitize() }

func (r *Refresher) ident(name string) pgx.Identifier {
	if r.schema == "" {
		return pgx.Identifier{name}
	}
	return pgx.Identifier{r.schema, name}
}

func columnNames(cols []loader.Column) []string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return names
}
