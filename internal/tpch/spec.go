package tpch

import (
	"errors"
	"fmt"
	"math"

	"github.com/pbenchd/pbenchd/internal/loader"
)

// Spec is a `tpch` setup step of a scenario, decoded with koanf:
//
//	tpch: {sf: 0.1, seed: 1, workers: 4}
type Spec struct {
	// SF is the scale factor, 0 < SF ≤ 1000 (0.01 is 86,000 rows, 1 is
	// 8.7 million).
	SF float64 `koanf:"sf"`
	// Seed selects the data: the same seed gives the same rows.
	Seed uint64 `koanf:"seed"`
	// Workers is the number of connections copying at once; 0 means 4.
	Workers int `koanf:"workers"`
	// Mode: auto (dynamic over the eight tables), static or dynamic.
	Mode loader.Mode `koanf:"mode"`
	// BatchRows is the most rows per COPY statement; 0 means
	// loader.DefaultBatchRows.
	BatchRows int `koanf:"batch_rows"`
	// Schema qualifies the table names; "" uses the search_path.
	Schema string `koanf:"schema"`
	// Unlogged loads without WAL and sets the tables LOGGED afterwards.
	Unlogged bool `koanf:"unlogged"`
	// ForeignKeys adds the specification's foreign keys; nil means true.
	ForeignKeys *bool `koanf:"foreign_keys"`
	// Analyze runs ANALYZE at the end; nil means true.
	Analyze *bool `koanf:"analyze"`
}

// Validate returns every problem of s at once, each naming its key under
// path (e.g. "scenarios[0].setup[0].tpch").
func (s Spec) Validate(path string) error {
	var errs []error
	if math.IsNaN(s.SF) || s.SF <= 0 || s.SF > MaxSF {
		errs = append(errs, fmt.Errorf("%s.sf: %g is not in (0, %d]", path, s.SF, MaxSF))
	} else if _, err := New(s.SF, s.Seed); err != nil {
		errs = append(errs, fmt.Errorf("%s.sf: %w", path, err))
	}
	if s.Workers < 0 {
		errs = append(errs, fmt.Errorf("%s.workers: %d must be at least 1", path, s.Workers))
	}
	if _, err := loader.ParseMode(string(s.Mode)); err != nil {
		errs = append(errs, fmt.Errorf("%s.mode: %q is not one of auto, dynamic, static", path, string(s.Mode)))
	}
	if s.BatchRows < 0 {
		errs = append(errs, fmt.Errorf("%s.batch_rows: %d must not be negative", path, s.BatchRows))
	}
	return errors.Join(errs...)
}

// Generator returns the generator of s's data.
func (s Spec) Generator() (*Generator, error) { return New(s.SF, s.Seed) }

// LoadOptions are the options s asks for; the caller adds Progress, Shard
// and Replace.
func (s Spec) LoadOptions() LoadOptions {
	workers := s.Workers
	if workers == 0 {
		workers = 4
	}
	return LoadOptions{
		TableOptions: TableOptions{
			Schema:          s.Schema,
			Unlogged:        s.Unlogged,
			SkipForeignKeys: s.ForeignKeys != nil && !*s.ForeignKeys,
			SkipAnalyze:     s.Analyze != nil && !*s.Analyze,
		},
		Workers:   workers,
		Mode:      s.Mode,
		BatchRows: s.BatchRows,
	}
}
