package tpch

import (
	"context"
	"fmt"

	"github.com/pbenchd/pbenchd/internal/loader"
)

// LoadOptions tune Load.
type LoadOptions struct {
	TableOptions
	// Workers is the number of connections copying at once; 0 means 1.
	Workers int
	// Mode divides the work; "" (auto) means dynamic: chunks of all eight
	// tables from a shared cursor, so the big tables are split across
	// workers and the small ones do not hold any worker back.
	Mode loader.Mode
	// BatchRows and ChunkItems: see loader.Options (ChunkItems counts
	// parts for partsupp and orders for lineitem).
	BatchRows  int
	ChunkItems int64
	// Shard restricts this instance to its share (see loader.Options).
	Shard loader.Shard
	// Replace allows dropping tables of the same names pbenchd did not load.
	Replace bool
	// Progress hears of rows and steps per table.
	Progress loader.Progress
}

// Load creates and fills the eight tables through loader.Load: COPY from
// opts.Workers connections, primary keys after the data, then the foreign
// keys in the transaction that makes the tables visible, then ANALYZE. A
// rerun with the same scale factor, seed and options finds the tables
// loaded and returns at once (Result.Skipped).
func (g *Generator) Load(ctx context.Context, connect loader.Connector, opts LoadOptions) (loader.Result, error) {
	res, err := loader.Load(ctx, connect, g.Tables(opts.TableOptions), loader.Options{
		Workers:    opts.Workers,
		Mode:       opts.Mode,
		BatchRows:  opts.BatchRows,
		ChunkItems: opts.ChunkItems,
		Shard:      opts.Shard,
		After:      ForeignKeys(opts.TableOptions),
		Replace:    opts.Replace,
		Progress:   opts.Progress,
	})
	if err != nil {
		return res, fmt.Errorf("tpch sf %g: %w", g.sf, err)
	}
	return res, nil
}
