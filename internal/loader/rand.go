package loader

import (
	"hash/fnv"
	"math/bits"
)

// Mix64 is the splitmix64 finaliser: a bijection on uint64 whose output bits
// each depend on every input bit.
func Mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// golden is 2^64/φ, splitmix64's increment.
const golden = 0x9e3779b97f4a7c15

// Cell is the random 64-bit value of (seed, table, row, column): the only
// source of randomness of a generated row, so that any worker can produce
// any row and the same seed gives the same data. table is usually
// [TableID] of the table's name.
func Cell(seed, table, row, column uint64) uint64 {
	h := Mix64(seed + golden)
	h = Mix64(h ^ table)
	h = Mix64(h ^ (row + golden))
	return Mix64(h ^ (column * golden))
}

// TableID hashes a name (a table, a stream) into the table argument of [Cell].
func TableID(name string) uint64 {
	f := fnv.New64a()
	f.Write([]byte(name))
	return f.Sum64()
}

// Rand is a splitmix64 generator for cells that need more than one random
// value (strings, lists). Seed it from [Cell]; the zero value is usable.
type Rand struct {
	state uint64
}

// NewRand returns a generator whose sequence is a function of seed alone.
func NewRand(seed uint64) Rand { return Rand{state: seed} }

// Uint64 returns the next value of the sequence.
func (r *Rand) Uint64() uint64 {
	r.state += golden
	return Mix64(r.state)
}

// Below returns a value in [0, n) (n > 0) by multiply-shift; the bias, at
// most n/2^64, is negligible for the ranges generators use.
func (r *Rand) Below(n uint64) uint64 {
	hi, _ := bits.Mul64(r.Uint64(), n)
	return hi
}

// Between returns a value in [lo, hi] (lo ≤ hi).
func (r *Rand) Between(lo, hi int64) int64 {
	return lo + int64(r.Below(uint64(hi-lo)+1))
}

// Below maps the random value x onto [0, n) by multiply-shift.
func Below(x, n uint64) uint64 {
	hi, _ := bits.Mul64(x, n)
	return hi
}

// Between maps the random value x onto [lo, hi] (lo ≤ hi).
func Between(x uint64, lo, hi int64) int64 {
	return lo + int64(Below(x, uint64(hi-lo)+1))
}
