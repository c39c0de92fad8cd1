package loader

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestCursorHandsOutEveryItemOnce(t *testing.T) {
	for _, tc := range []struct {
		name         string
		total, chunk int64
		workers      int
	}{
		{"chunks divide evenly", 10_000, 100, 8},
		{"short last chunk", 10_007, 64, 32},
		{"chunk larger than total", 5, 100, 4},
		{"chunk of one", 2_000, 1, 64},
		{"nothing", 0, 10, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCursor(tc.total, tc.chunk)
			seen := make([]atomic.Int32, tc.total)
			var wg sync.WaitGroup
			for range tc.workers {
				wg.Go(func() {
					for r, ok := c.Next(); ok; r, ok = c.Next() {
						if r.Len() > tc.chunk || r.Empty() {
							t.Errorf("chunk %s: want 1..%d items", r, tc.chunk)
						}
						for i := r.Start; i < r.End; i++ {
							seen[i].Add(1)
						}
					}
				})
			}
			wg.Wait()
			for i := range seen {
				if n := seen[i].Load(); n != 1 {
					t.Fatalf("item %d handed out %d times", i, n)
				}
			}
		})
	}
}

// TestWorkCoversEveryItemOnce runs the planner's workers concurrently over
// tables of uneven sizes, in both modes and across shards: every item of
// every table must be copied exactly once.
func TestWorkCoversEveryItemOnce(t *testing.T) {
	sizes := []int64{0, 1, 25, 5, 40_000, 7, 15_000, 2_000, 0, 8_000}
	tables := make([]Table, len(sizes))
	for i, n := range sizes {
		tables[i] = Table{Items: n}
	}
	for _, mode := range []Mode{ModeStatic, ModeDynamic} {
		for _, shards := range []int{1, 3} {
			for _, workers := range []int{1, 4, 64} {
				seen := make([][]atomic.Int32, len(sizes))
				for i, n := range sizes {
					seen[i] = make([]atomic.Int32, n)
				}
				for s := range shards {
					opts := Options{Workers: workers, BatchRows: 1000, Shard: Shard{s, shards}}.withDefaults()
					w := plan(tables, opts, mode)
					if w.workers > workers {
						t.Fatalf("%s: %d workers planned, want at most %d", mode, w.workers, workers)
					}
					var wg sync.WaitGroup
					for i := range w.workers {
						wg.Go(func() {
							for u, ok := w.next(i); ok; u, ok = w.next(i) {
								for k := u.items.Start; k < u.items.End; k++ {
									seen[u.table][k].Add(1)
								}
							}
						})
					}
					wg.Wait()
				}
				for ti := range seen {
					for k := range seen[ti] {
						if n := seen[ti][k].Load(); n != 1 {
							t.Fatalf("mode %s, %d shards, %d workers: table %d item %d copied %d times", mode, shards, workers, ti, k, n)
						}
					}
				}
			}
		}
	}
}

func TestModeResolve(t *testing.T) {
	for _, tc := range []struct {
		mode   Mode
		tables int
		want   Mode
	}{
		{ModeAuto, 1, ModeStatic},
		{ModeAuto, 8, ModeDynamic},
		{"", 2, ModeDynamic},
		{ModeStatic, 8, ModeStatic},
		{ModeDynamic, 1, ModeDynamic},
	} {
		if got := tc.mode.resolve(tc.tables); got != tc.want {
			t.Errorf("%q with %d tables resolves to %s, want %s", tc.mode, tc.tables, got, tc.want)
		}
	}
	if _, err := ParseMode("fast"); err == nil || err.Error() != `mode "fast" is not one of auto, dynamic, static` {
		t.Errorf("ParseMode(fast) error = %v", err)
	}
}
