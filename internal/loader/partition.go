package loader

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Range is the half-open interval of item numbers [Start, End).
type Range struct {
	Start, End int64
}

// Len is the number of items in r.
func (r Range) Len() int64 { return r.End - r.Start }

// Empty reports whether r holds no items.
func (r Range) Empty() bool { return r.End <= r.Start }

// String prints r as [start, end).
func (r Range) String() string { return fmt.Sprintf("[%d, %d)", r.Start, r.End) }

// Split is worker i's share of r when r is divided over n workers: the
// [Partition] of r.Len() items, shifted to start at r.Start. It composes
// partitions: Partition(m, s, j).Split(n, i) is worker i's range inside
// shard j.
func (r Range) Split(n, i int) Range {
	p := Partition(r.Len(), n, i)
	return Range{Start: r.Start + p.Start, End: r.Start + p.End}
}

// Partition is worker i's contiguous share of m items divided over n workers
// (0 ≤ i < n): floor(m/n) items each, plus one for each of the first m mod n
// workers, so no share exceeds ceil(m/n) and the n ranges tile [0, m) in
// order. Worker i starts at i·floor(m/n) + min(i, m mod n).
//
// It panics if n < 1, i is outside [0, n) or m < 0: those are programming
// mistakes, rejected earlier by [ParseShard] and the spec's Validate.
func Partition(m int64, n, i int) Range {
	if n < 1 || i < 0 || i >= n || m < 0 {
		panic(fmt.Sprintf("loader.Partition(%d, %d, %d): need m ≥ 0 and 0 ≤ i < n", m, n, i))
	}
	q, rem := m/int64(n), m%int64(n)
	i64 := int64(i)
	start := i64*q + min(i64, rem)
	size := q
	if i64 < rem {
		size++
	}
	return Range{Start: start, End: start + size}
}

// Shard is one pbenchd instance's place in a load split over Count instances
// (`--shard Index/Count`). Shards are numbered from 0, like workers; the zero
// value is treated as the whole load (0/1).
type Shard struct {
	Index, Count int
}

// ErrBadShard is wrapped by every error [ParseShard] returns.
var ErrBadShard = errors.New("bad shard")

// ParseShard parses "i/N" (0 ≤ i < N), e.g. "2/8" for the third of eight
// instances.
func ParseShard(s string) (Shard, error) {
	idx, cnt, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Shard{}, fmt.Errorf("%w %q: want INDEX/COUNT like 2/8 (shards are numbered from 0)", ErrBadShard, s)
	}
	n, err := strconv.Atoi(strings.TrimSpace(cnt))
	if err != nil {
		return Shard{}, fmt.Errorf("%w %q: count %q is not a whole number", ErrBadShard, s, cnt)
	}
	if n < 1 {
		return Shard{}, fmt.Errorf("%w %q: count %d must be at least 1", ErrBadShard, s, n)
	}
	i, err := strconv.Atoi(strings.TrimSpace(idx))
	if err != nil {
		return Shard{}, fmt.Errorf("%w %q: index %q is not a whole number", ErrBadShard, s, idx)
	}
	if i < 0 || i >= n {
		return Shard{}, fmt.Errorf("%w %q: index %d is outside 0..%d (shards are numbered from 0)", ErrBadShard, s, i, n-1)
	}
	return Shard{Index: i, Count: n}, nil
}

// normal maps the zero Shard to 0/1.
func (s Shard) normal() Shard {
	if s.Count == 0 {
		return Shard{Index: 0, Count: 1}
	}
	return s
}

// Whole reports whether s covers the whole load (a single instance).
func (s Shard) Whole() bool { return s.normal().Count == 1 }

// Range is this shard's share of m items.
func (s Shard) Range(m int64) Range {
	s = s.normal()
	return Partition(m, s.Count, s.Index)
}

// String prints s as "index/count", the form [ParseShard] reads.
func (s Shard) String() string {
	s = s.normal()
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Validate reports whether s is usable (0 ≤ Index < Count), naming path.
func (s Shard) Validate(path string) error {
	s = s.normal()
	if s.Count < 1 || s.Index < 0 || s.Index >= s.Count {
		return fmt.Errorf("%s: %q is not a shard INDEX/COUNT with 0 ≤ INDEX < COUNT", path, fmt.Sprintf("%d/%d", s.Index, s.Count))
	}
	return nil
}
