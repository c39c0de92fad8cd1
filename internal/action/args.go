package action

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// ArgSpec describes how to make one positional argument ($1, $2, …) of a
// statement for every call.
//
//	{kind: uniform_int, min: 1, max: 100000}  a uniform integer in [min, max]
//	{kind: sequence, start: 1}               start, start+1, … across all calls
//	{kind: string, length: 10}               random letters and digits
//	{kind: choice, values: [a, b]}           one of the values, uniformly
//	{kind: now}                              the current time
//	{kind: constant, value: 42}              always the same value
type ArgSpec struct {
	Kind   string `koanf:"kind"`
	Min    *int64 `koanf:"min"`
	Max    *int64 `koanf:"max"`
	Start  int64  `koanf:"start"`
	Length int    `koanf:"length"`
	Values []any  `koanf:"values"`
	Value  any    `koanf:"value"`
}

// argKinds lists the generators; checks and builds both use it.
var argKinds = map[string]func(a ArgSpec, path string) (func(*rand.Rand) any, []error){
	"uniform_int": func(a ArgSpec, path string) (func(*rand.Rand) any, []error) {
		var errs []error
		if a.Min == nil {
			errs = append(errs, fmt.Errorf("%s.min: missing", path))
		}
		if a.Max == nil {
			errs = append(errs, fmt.Errorf("%s.max: missing", path))
		}
		if errs != nil {
			return nil, errs
		}
		lo, hi := *a.Min, *a.Max
		if lo > hi {
			return nil, []error{fmt.Errorf("%s: min %d is greater than max %d", path, lo, hi)}
		}
		span := uint64(hi - lo + 1)
		return func(r *rand.Rand) any {
			if span == 0 { // the whole int64 range
				return int64(r.Uint64())
			}
			return lo + int64(r.Uint64N(span))
		}, nil
	},
	"sequence": func(a ArgSpec, path string) (func(*rand.Rand) any, []error) {
		var n atomic.Int64
		n.Store(a.Start - 1)
		return func(*rand.Rand) any { return n.Add(1) }, nil
	},
	"string": func(a ArgSpec, path string) (func(*rand.Rand) any, []error) {
		if a.Length < 1 || a.Length > 1<<20 {
			return nil, []error{fmt.Errorf("%s.length: %d is not between 1 and %d", path, a.Length, 1<<20)}
		}
		const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
		return func(r *rand.Rand) any {
			var b strings.Builder
			b.Grow(a.Length)
			for range a.Length {
				b.WriteByte(letters[r.IntN(len(letters))])
			}
			return b.String()
		}, nil
	},
	"choice": func(a ArgSpec, path string) (func(*rand.Rand) any, []error) {
		if len(a.Values) == 0 {
			return nil, []error{fmt.Errorf("%s.values: missing: choice needs at least one value", path)}
		}
		return func(r *rand.Rand) any { return a.Values[r.IntN(len(a.Values))] }, nil
	},
	"now": func(a ArgSpec, path string) (func(*rand.Rand) any, []error) {
		return func(*rand.Rand) any { return time.Now() }, nil
	},
	"constant": func(a ArgSpec, path string) (func(*rand.Rand) any, []error) {
		if a.Value == nil {
			return nil, []error{fmt.Errorf("%s.value: missing", path)}
		}
		return func(*rand.Rand) any { return a.Value }, nil
	},
}

func argKindNames() []string {
	var out []string
	for k := range argKinds {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// buildArgs checks the specs and returns one generator for all of them.
func buildArgs(specs []ArgSpec, path string) (func(*rand.Rand) []any, []error) {
	var errs []error
	gens := make([]func(*rand.Rand) any, len(specs))
	for i, a := range specs {
		p := fmt.Sprintf("%s[%d]", path, i)
		mk, ok := argKinds[a.Kind]
		if !ok {
			errs = append(errs, fmt.Errorf("%s.kind: %q is not one of %s", p, a.Kind, strings.Join(argKindNames(), ", ")))
			continue
		}
		g, e := mk(a, p)
		errs = append(errs, e...)
		gens[i] = g
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return func(r *rand.Rand) []any {
		out := make([]any, len(gens))
		for i, g := range gens {
			out[i] = g(r)
		}
		return out
	}, nil
}
