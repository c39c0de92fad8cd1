package loader

import (
	"fmt"
	"sync/atomic"
)

// Cursor hands out consecutive fixed-size chunks of [0, total) to concurrent
// callers: each chunk exactly once, in order, the last one possibly short.
// It is the shared work queue of [ModeDynamic]; one atomic add per chunk, no
// lock.
type Cursor struct {
	next  atomic.Int64
	total int64
	chunk int64
}

// NewCursor returns a cursor over total items in chunks of chunk items
// (chunk < 1 counts as 1).
func NewCursor(total, chunk int64) *Cursor {
	return &Cursor{total: total, chunk: max(chunk, 1)}
}

// Next claims the next chunk; ok is false once every item has been handed out.
func (c *Cursor) Next() (r Range, ok bool) {
	end := c.next.Add(c.chunk)
	start := end - c.chunk
	if start >= c.total {
		return Range{}, false
	}
	return Range{Start: start, End: min(end, c.total)}, true
}

// Mode says how a load divides its items between workers.
type Mode string

// The modes a load can run in.
const (
	// ModeAuto chooses ModeDynamic when the load has more than one table
	// (items of uneven cost) and ModeStatic for a single table.
	ModeAuto Mode = "auto"
	// ModeStatic gives worker i the [Partition] of each table's items.
	ModeStatic Mode = "static"
	// ModeDynamic has workers pull fixed-size chunks from a shared [Cursor]
	// over the items of all tables.
	ModeDynamic Mode = "dynamic"
)

// Modes lists the valid modes, for error messages.
var Modes = []Mode{ModeAuto, ModeDynamic, ModeStatic}

// ParseMode reads a mode name; "" is ModeAuto.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case "":
		return ModeAuto, nil
	case ModeAuto, ModeStatic, ModeDynamic:
		return m, nil
	}
	return "", fmt.Errorf("mode %q is not one of auto, dynamic, static", s)
}

// resolve picks the concrete mode for a load of tables tables.
func (m Mode) resolve(tables int) Mode {
	switch m {
	case ModeStatic, ModeDynamic:
		return m
	}
	if tables > 1 {
		return ModeDynamic
	}
	return ModeStatic
}
