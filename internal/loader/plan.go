package loader

import "sort"

// unit is a range of one table's items that one worker copies.
type unit struct {
	table int
	items Range
}

// work divides a load's items between workers, statically or through a
// shared cursor. next(w) is only ever called by worker w, so per-worker state
// needs no lock; the cursor is the only shared thing.
type work struct {
	workers int

	// static: each worker's units and how far it has got.
	static [][]unit
	pos    []int

	// dynamic: the cursor over the concatenation of the tables' items,
	// where each table starts, and per worker the rest of its chunk.
	cursor  *Cursor
	offsets []int64
	ranges  []Range
	pending [][]unit
}

// plan divides this shard's items of every table in the given mode.
func plan(tables []Table, opts Options, mode Mode) *work {
	ranges := make([]Range, len(tables))
	var total int64
	for i, t := range tables {
		ranges[i] = opts.Shard.Range(t.Items)
		total += ranges[i].Len()
	}
	if mode == ModeStatic {
		w := &work{static: make([][]unit, opts.Workers)}
		for i := range opts.Workers {
			for ti, r := range ranges {
				if part := r.Split(opts.Workers, i); !part.Empty() {
					w.static[i] = append(w.static[i], unit{table: ti, items: part})
				}
			}
		}
		// Workers with nothing to do get no connection.
		w.static = compact(w.static)
		w.workers = len(w.static)
		w.pos = make([]int, w.workers)
		return w
	}

	chunk := opts.ChunkItems
	if chunk <= 0 {
		chunk = min(int64(opts.BatchRows), max(1, ceilDiv(total, int64(opts.Workers)*16)))
	}
	w := &work{
		cursor:  NewCursor(total, chunk),
		offsets: make([]int64, len(ranges)),
		ranges:  ranges,
	}
	var off int64
	for i, r := range ranges {
		w.offsets[i] = off
		off += r.Len()
	}
	w.workers = int(min(int64(opts.Workers), ceilDiv(total, chunk)))
	w.pending = make([][]unit, w.workers)
	return w
}

func compact(lists [][]unit) [][]unit {
	out := lists[:0]
	for _, l := range lists {
		if len(l) > 0 {
			out = append(out, l)
		}
	}
	return out
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// next is worker i's next unit.
func (w *work) next(i int) (unit, bool) {
	if w.cursor == nil {
		if w.pos[i] >= len(w.static[i]) {
			return unit{}, false
		}
		u := w.static[i][w.pos[i]]
		w.pos[i]++
		return u, true
	}
	if len(w.pending[i]) == 0 {
		r, ok := w.cursor.Next()
		if !ok {
			return unit{}, false
		}
		w.pending[i] = w.spans(r, w.pending[i])
	}
	u := w.pending[i][0]
	w.pending[i] = w.pending[i][1:]
	return u, true
}

// spans cuts the range g of the concatenated item space into one unit per
// table it overlaps.
func (w *work) spans(g Range, buf []unit) []unit {
	buf = buf[:0]
	// The last table starting at or before g.Start.
	t := sort.Search(len(w.offsets), func(i int) bool { return w.offsets[i] > g.Start }) - 1
	for ; t < len(w.offsets) && w.offsets[t] < g.End; t++ {
		lo := max(g.Start, w.offsets[t]) - w.offsets[t]
		hi := min(g.End, w.offsets[t]+w.ranges[t].Len()) - w.offsets[t]
		if hi > lo {
			buf = append(buf, unit{table: t, items: Range{Start: w.ranges[t].Start + lo, End: w.ranges[t].Start + hi}})
		}
	}
	return buf
}
