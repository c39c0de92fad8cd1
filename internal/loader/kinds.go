package loader

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// kind is one column kind of a [Spec]: how its fields are checked, the
// PostgreSQL type it creates, and its generator. The kinds map is the only
// list of kinds: validation, error messages and generation all read it, so
// adding a kind is one registerKind call.
type kind struct {
	// fields documents which ColumnSpec fields the kind reads.
	fields string
	// uses lists the keys of those fields, so that Validate can reject the
	// others.
	uses []string
	// check reports problems of c, whose key path is path.
	check func(c *ColumnSpec, path string, env *checkEnv, v *validator)
	// sqlType is the column's type in CREATE TABLE.
	sqlType func(c *ColumnSpec) string
	// compile returns the generator of the column's value for row k from
	// x, the row's random cell for this column. It runs only on a spec
	// that passed Validate.
	compile func(c *ColumnSpec, env *compileEnv) (func(k int64, x uint64) any, error)
}

var kinds = map[string]kind{}

// registerKind adds a kind; a duplicate name is a programming mistake.
func registerKind(name string, k kind) {
	if _, dup := kinds[name]; dup {
		panic("loader: column kind " + name + " registered twice")
	}
	kinds[name] = k
}

// KindNames lists the column kinds, sorted.
func KindNames() []string {
	names := make([]string, 0, len(kinds))
	for name := range kinds {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// KindFields says which fields a column kind reads ("" for an unknown kind).
func KindFields(name string) string { return kinds[name].fields }

// checkEnv is what a kind's check may consult.
type checkEnv struct {
	self   *Spec
	tables map[string]*Spec // every table loaded by the scenario
}

// compileEnv is what a kind's compile may consult.
type compileEnv struct {
	tables map[string]*Spec
}

// maxExact is the largest integer a float64 holds exactly.
const maxExact = 1 << 53

func init() {
	registerKind("sequence", kind{
		uses:    []string{"start"},
		fields:  "start (default 1): row k gets start+k",
		check:   func(*ColumnSpec, string, *checkEnv, *validator) {},
		sqlType: func(*ColumnSpec) string { return "bigint" },
		compile: func(c *ColumnSpec, _ *compileEnv) (func(int64, uint64) any, error) {
			start := c.sequenceStart()
			return func(k int64, _ uint64) any { return start + k }, nil
		},
	})

	registerKind("uniform_int", kind{
		uses:   []string{"min", "max"},
		fields: "min, max: whole numbers, inclusive",
		check: func(c *ColumnSpec, path string, _ *checkEnv, v *validator) {
			checkBounds(c, path, v, func(f float64) string {
				if f != math.Trunc(f) || math.Abs(f) > maxExact {
					return "is not a whole number within ±2^53"
				}
				return ""
			})
		},
		sqlType: func(*ColumnSpec) string { return "bigint" },
		compile: func(c *ColumnSpec, _ *compileEnv) (func(int64, uint64) any, error) {
			lo, hi := int64(*c.Min), int64(*c.Max)
			return func(_ int64, x uint64) any { return Between(x, lo, hi) }, nil
		},
	})

	registerKind("uniform_numeric", kind{
		uses:   []string{"min", "max", "scale"},
		fields: "min, max: inclusive; scale: digits after the point (default 2, at most 9)",
		check: func(c *ColumnSpec, path string, _ *checkEnv, v *validator) {
			scale := c.scale()
			if scale < 0 || scale > 9 {
				v.add("%s.scale: %d is not between 0 and 9", path, scale)
				scale = 0
			}
			checkBounds(c, path, v, func(f float64) string {
				if math.Abs(f)*float64(pow10[scale]) > maxExact {
					return fmt.Sprintf("is too large for scale %d (at most %g)", scale, maxExact/float64(pow10[scale]))
				}
				return ""
			})
		},
		sqlType: func(c *ColumnSpec) string {
			lo, hi := c.numericUnits()
			digits := len(fmt.Sprint(max(abs(lo), abs(hi))))
			return fmt.Sprintf("numeric(%d,%d)", max(digits, c.scale()+1), c.scale())
		},
		compile: func(c *ColumnSpec, _ *compileEnv) (func(int64, uint64) any, error) {
			lo, hi := c.numericUnits()
			scale := int16(c.scale())
			return func(_ int64, x uint64) any { return Decimal{Units: Between(x, lo, hi), Scale: scale} }, nil
		},
	})

	registerKind("string", kind{
		uses:   []string{"length", "min_length", "max_length"},
		fields: "length, or min_length and max_length: letters and digits",
		check: func(c *ColumnSpec, path string, _ *checkEnv, v *validator) {
			const most = 1 << 20
			switch {
			case c.Length != 0 && (c.MinLength != 0 || c.MaxLength != 0):
				v.add("%s.length: %d is set with min_length/max_length; set one or the other", path, c.Length)
			case c.Length < 0 || c.Length > most:
				v.add("%s.length: %d is not between 1 and %d", path, c.Length, most)
			case c.Length == 0 && c.MaxLength == 0:
				v.add("%s.length: missing; string needs length, or min_length and max_length", path)
			case c.Length == 0 && (c.MinLength < 0 || c.MaxLength > most):
				v.add("%s.min_length: %d..%d is not within 0..%d", path, c.MinLength, c.MaxLength, most)
			case c.Length == 0 && c.MinLength > c.MaxLength:
				v.add("%s.min_length: %d is greater than max_length %d", path, c.MinLength, c.MaxLength)
			}
		},
		sqlType: func(*ColumnSpec) string { return "text" },
		compile: func(c *ColumnSpec, _ *compileEnv) (func(int64, uint64) any, error) {
			lo, hi := int64(c.MinLength), int64(c.MaxLength)
			if c.Length > 0 {
				lo, hi = int64(c.Length), int64(c.Length)
			}
			return func(_ int64, x uint64) any {
				r := NewRand(x)
				b := make([]byte, r.Between(lo, hi))
				for i := range b {
					b[i] = alphanumeric[r.Below(uint64(len(alphanumeric)))]
				}
				return string(b)
			}, nil
		},
	})

	registerKind("choice", kind{
		uses:   []string{"values"},
		fields: "values: a list, picked uniformly",
		check: func(c *ColumnSpec, path string, _ *checkEnv, v *validator) {
			if len(c.Values) == 0 {
				v.add("%s.values: empty; choice needs at least one value", path)
			}
		},
		sqlType: func(*ColumnSpec) string { return "text" },
		compile: func(c *ColumnSpec, _ *compileEnv) (func(int64, uint64) any, error) {
			values := slices.Clone(c.Values)
			n := uint64(len(values))
			return func(_ int64, x uint64) any { return values[Below(x, n)] }, nil
		},
	})

	registerKind("date", kind{
		uses:   []string{"from", "to"},
		fields: "from, to: dates like 2020-01-31, inclusive",
		check: func(c *ColumnSpec, path string, _ *checkEnv, v *validator) {
			ok := true
			for _, f := range []struct {
				key string
				d   Date
			}{{"from", c.From}, {"to", c.To}} {
				switch {
				case f.d.IsZero():
					v.add("%s.%s: missing; date needs from and to", path, f.key)
					ok = false
				case f.d.Day.IsZero():
					v.add("%s.%s: %q is not a date like 2006-01-02", path, f.key, f.d.Raw)
					ok = false
				}
			}
			if ok && c.From.Day.After(c.To.Day) {
				v.add("%s.from: %s is after to %s", path, c.From, c.To)
			}
		},
		sqlType: func(*ColumnSpec) string { return "date" },
		compile: func(c *ColumnSpec, _ *compileEnv) (func(int64, uint64) any, error) {
			from := c.From.Day.Unix() / 86400
			days := c.To.Day.Unix()/86400 - from
			return func(_ int64, x uint64) any { return EpochDate(from + Between(x, 0, days)) }, nil
		},
	})

	registerKind("foreign_key", kind{
		uses:   []string{"table", "column"},
		fields: "table, column: a sequence column of a table this scenario loads; values are uniform over its rows",
		check: func(c *ColumnSpec, path string, env *checkEnv, v *validator) {
			target, ok := env.tables[c.Table]
			if !ok {
				names := make([]string, 0, len(env.tables))
				for name := range env.tables {
					names = append(names, name)
				}
				slices.Sort(names)
				v.add("%s.table: %q is not a table loaded by this scenario (loaded: %s)", path, c.Table, strings.Join(names, ", "))
				return
			}
			tc := target.column(c.Column)
			if tc == nil || tc.Kind != "sequence" {
				var seqs []string
				for _, col := range target.Columns {
					if col.Kind == "sequence" {
						seqs = append(seqs, col.Name)
					}
				}
				v.add("%s.column: %q is not a sequence column of %s (its sequence columns: %s)", path, c.Column, c.Table, strings.Join(seqs, ", "))
				return
			}
			if target.Rows < 1 && env.self.Rows > 0 {
				v.add("%s.table: %s has %d rows; a foreign key needs rows to point at", path, c.Table, target.Rows)
			}
		},
		sqlType: func(*ColumnSpec) string { return "bigint" },
		compile: func(c *ColumnSpec, env *compileEnv) (func(int64, uint64) any, error) {
			target, ok := env.tables[c.Table]
			if !ok {
				return nil, fmt.Errorf("foreign key %s: table %q is not loaded", c.Name, c.Table)
			}
			start := target.column(c.Column).sequenceStart()
			hi := start + target.Rows - 1
			return func(_ int64, x uint64) any { return Between(x, start, hi) }, nil
		},
	})
}

const alphanumeric = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// checkBounds reports a missing min or max, a value bad says is wrong, and
// min > max.
func checkBounds(c *ColumnSpec, path string, v *validator, bad func(float64) string) {
	ok := true
	for _, f := range []struct {
		key string
		val *float64
	}{{"min", c.Min}, {"max", c.Max}} {
		if f.val == nil {
			v.add("%s.%s: missing; %s needs min and max", path, f.key, c.Kind)
			ok = false
			continue
		}
		if msg := bad(*f.val); msg != "" {
			v.add("%s.%s: %g %s", path, f.key, *f.val, msg)
			ok = false
		}
	}
	if ok && *c.Min > *c.Max {
		v.add("%s.min: %g is greater than max %g: the range is empty", path, *c.Min, *c.Max)
	}
}

// setKeys lists the keys of the kind-specific fields c sets.
func (c *ColumnSpec) setKeys() []string {
	var keys []string
	for _, f := range []struct {
		key string
		set bool
	}{
		{"start", c.Start != nil}, {"min", c.Min != nil}, {"max", c.Max != nil}, {"scale", c.Scale != nil},
		{"length", c.Length != 0}, {"min_length", c.MinLength != 0}, {"max_length", c.MaxLength != 0},
		{"values", c.Values != nil}, {"from", !c.From.IsZero()}, {"to", !c.To.IsZero()},
		{"table", c.Table != ""}, {"column", c.Column != ""},
	} {
		if f.set {
			keys = append(keys, f.key)
		}
	}
	return keys
}

func (c *ColumnSpec) sequenceStart() int64 {
	if c.Start == nil {
		return 1
	}
	return *c.Start
}

func (c *ColumnSpec) scale() int {
	if c.Scale == nil {
		return 2
	}
	return *c.Scale
}

// numericUnits are min and max in units of 10^-scale.
func (c *ColumnSpec) numericUnits() (lo, hi int64) {
	p := float64(pow10[min(max(c.scale(), 0), 9)])
	var fmin, fmax float64
	if c.Min != nil {
		fmin = *c.Min
	}
	if c.Max != nil {
		fmax = *c.Max
	}
	return int64(math.Round(fmin * p)), int64(math.Round(fmax * p))
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// EpochDate is the date days after 1970-01-01, as pgx encodes it.
func EpochDate(days int64) pgtype.Date {
	return pgtype.Date{Time: time.Unix(days*86400, 0).UTC(), Valid: true}
}
