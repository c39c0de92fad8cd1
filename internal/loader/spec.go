package loader

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Spec is the `load` setup step of a scenario: one table, or a set of
// tables of the same shape, filled with generated rows. Decode it with koanf
// (the `koanf` tags), call WithDefaults, then Validate; Compile turns it into
// what [Load] takes.
//
//	load:
//	  table: items            # or tables: {pattern: "collection{{ .i }}", count: 100}
//	  rows: 1000000
//	  workers: 4
//	  mode: auto
//	  columns:
//	    - {name: id, kind: sequence}
//	    - {name: qty, kind: uniform_int, min: 1, max: 50}
//	  primary_key: [id]
//	  indexes: ["CREATE INDEX ON {{ .table }} (qty)"]
type Spec struct {
	// Table is the table's name, optionally schema-qualified. Exactly one
	// of Table and Tables is set.
	Table string `koanf:"table"`
	// Tables is a set of tables of the same shape.
	Tables *TableSet `koanf:"tables"`
	// Rows is the number of rows of each table.
	Rows int64 `koanf:"rows"`
	// Workers is the number of connections that copy at once; at least 1
	// (WithDefaults turns 0 into DefaultWorkers).
	Workers int `koanf:"workers"`
	// Mode divides the rows between the workers: static, dynamic or auto
	// (the default: dynamic for a set of tables, static for one).
	Mode Mode `koanf:"mode"`
	// BatchRows is the most rows per COPY statement; 0 means
	// DefaultBatchRows.
	BatchRows int `koanf:"batch_rows"`
	// Seed selects the data: the same seed gives the same rows.
	Seed uint64 `koanf:"seed"`
	// Columns are the table's columns, in order.
	Columns []ColumnSpec `koanf:"columns"`
	// PrimaryKey names the primary key's columns, built after the data.
	PrimaryKey []string `koanf:"primary_key"`
	// Indexes are statements run after the data, with {{ .table }} standing
	// for the table.
	Indexes []string `koanf:"indexes"`
	// Unlogged loads the data without WAL and sets the table LOGGED after.
	Unlogged bool `koanf:"unlogged"`
	// Analyze runs ANALYZE at the end; nil means true.
	Analyze *bool `koanf:"analyze"`
}

// TableSet names Count tables by Pattern, with {{ .i }} replaced by Start,
// Start+1, … Start+Count-1.
type TableSet struct {
	// Pattern is the table name with {{ .i }} standing for the number.
	Pattern string `koanf:"pattern"`
	// Count is the number of tables, at least 1.
	Count int `koanf:"count"`
	// Start is the first number; 0 by default.
	Start int `koanf:"start"`
}

// ColumnSpec is one generated column. Kind selects the generator; which
// other fields it reads is listed with each kind (see KindNames).
type ColumnSpec struct {
	// Name is the column's name.
	Name string `koanf:"name"`
	// Kind is one of KindNames(): choice, date, foreign_key, sequence,
	// string, uniform_int, uniform_numeric.
	Kind string `koanf:"kind"`
	// Start is the value of row 0 of a sequence; nil means 1.
	Start *int64 `koanf:"start"`
	// Min and Max bound uniform_int and uniform_numeric, inclusive.
	Min *float64 `koanf:"min"`
	Max *float64 `koanf:"max"`
	// Scale is uniform_numeric's digits after the point; nil means 2.
	Scale *int `koanf:"scale"`
	// Length fixes a string's length; MinLength and MaxLength give a
	// range instead.
	Length    int `koanf:"length"`
	MinLength int `koanf:"min_length"`
	MaxLength int `koanf:"max_length"`
	// Values are choice's values, picked uniformly.
	Values []string `koanf:"values"`
	// From and To bound a date, inclusive.
	From Date `koanf:"from"`
	To   Date `koanf:"to"`
	// Table and Column name a foreign key's target: a sequence column of
	// a table loaded by the same set of specs.
	Table  string `koanf:"table"`
	Column string `koanf:"column"`
}

// DefaultWorkers is Spec.Workers after WithDefaults when it was 0.
const DefaultWorkers = 4

// WithDefaults returns s with zero fields that have a default filled in:
// Workers, Mode, BatchRows and Analyze.
func (s Spec) WithDefaults() Spec {
	if s.Workers == 0 {
		s.Workers = DefaultWorkers
	}
	if s.Mode == "" {
		s.Mode = ModeAuto
	}
	if s.BatchRows == 0 {
		s.BatchRows = DefaultBatchRows
	}
	if s.Analyze == nil {
		t := true
		s.Analyze = &t
	}
	return s
}

// Names lists the tables s loads, in order.
func (s *Spec) Names() []string {
	if s.Tables == nil {
		if s.Table == "" {
			return nil
		}
		return []string{s.Table}
	}
	names := make([]string, 0, max(s.Tables.Count, 0))
	for i := range max(s.Tables.Count, 0) {
		names = append(names, numberRef.ReplaceAllLiteralString(s.Tables.Pattern, fmt.Sprint(s.Tables.Start+i)))
	}
	return names
}

// column finds a column by name.
func (s *Spec) column(name string) *ColumnSpec {
	for i := range s.Columns {
		if s.Columns[i].Name == name {
			return &s.Columns[i]
		}
	}
	return nil
}

// Validate returns every problem of s at once (errors.Join), each naming
// the key under path (e.g. "scenarios[0].setup[1].load"), the bad value and
// what is allowed. A foreign key may refer to a table of s itself or of one
// of others, the other load steps of the same scenario.
func (s *Spec) Validate(path string, others ...*Spec) error {
	v := &validator{}
	at := func(key string) string { return path + "." + key }

	switch {
	case s.Table == "" && s.Tables == nil:
		v.add("%s: no table; set table: NAME or tables: {pattern: ..., count: N}", path)
	case s.Table != "" && s.Tables != nil:
		v.add("%s: both table %q and tables are set; set one", path, s.Table)
	case s.Tables != nil:
		if !numberRef.MatchString(s.Tables.Pattern) {
			v.add("%s: %q has no {{ .i }} to number the tables by", at("tables.pattern"), s.Tables.Pattern)
		}
		if s.Tables.Count < 1 {
			v.add("%s: %d must be at least 1", at("tables.count"), s.Tables.Count)
		}
	}
	for _, name := range s.Names() {
		if n := len(baseName(name)) + len(StagingSuffix); n > maxIdentifier {
			key := "table"
			if s.Tables != nil {
				key = "tables.pattern"
			}
			v.add("%s: %q is too long: table names may have at most %d bytes", at(key), name, maxIdentifier-len(StagingSuffix))
			break
		}
	}
	if s.Rows < 0 {
		v.add("%s: %d must not be negative", at("rows"), s.Rows)
	}
	if s.Workers < 1 {
		v.add("%s: %d must be at least 1", at("workers"), s.Workers)
	}
	if s.Mode != "" {
		if _, err := ParseMode(string(s.Mode)); err != nil {
			v.add("%s: %q is not one of auto, dynamic, static", at("mode"), string(s.Mode))
		}
	}
	if s.BatchRows < 0 {
		v.add("%s: %d must not be negative", at("batch_rows"), s.BatchRows)
	}

	if len(s.Columns) == 0 {
		v.add("%s: no columns; a table needs at least one", at("columns"))
	}
	env := &checkEnv{self: s, tables: tableIndex(s, others)}
	seen := map[string]bool{}
	for i := range s.Columns {
		c := &s.Columns[i]
		cpath := fmt.Sprintf("%s.columns[%d]", path, i)
		if c.Name == "" {
			v.add("%s.name: \"\" must not be empty", cpath)
		} else if seen[c.Name] {
			v.add("%s.name: %q is already a column of this table", cpath, c.Name)
		}
		seen[c.Name] = true
		k, ok := kinds[c.Kind]
		if !ok {
			v.add("%s.kind: %q is not one of %s", cpath, c.Kind, strings.Join(KindNames(), ", "))
			continue
		}
		for _, key := range c.setKeys() {
			if !slices.Contains(k.uses, key) {
				v.add("%s.%s: is set, but kind %s does not use it (it uses %s)", cpath, key, c.Kind, strings.Join(k.uses, ", "))
			}
		}
		k.check(c, cpath, env, v)
	}
	for i, name := range s.PrimaryKey {
		if s.column(name) == nil {
			v.add("%s[%d]: %q is not a column of this table", at("primary_key"), i, name)
		}
	}
	for i, ix := range s.Indexes {
		if !tableRef.MatchString(ix) {
			v.add("%s[%d]: %q has no {{ .table }} to stand for the table", at("indexes"), i, ix)
		}
	}
	return v.err()
}

// validator collects problems.
type validator struct{ errs []error }

func (v *validator) add(format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf(format, args...))
}

func (v *validator) err() error { return errors.Join(v.errs...) }

// tableIndex maps every table name of s and others to its spec.
func tableIndex(s *Spec, others []*Spec) map[string]*Spec {
	m := map[string]*Spec{}
	for _, o := range append([]*Spec{s}, others...) {
		if o == nil {
			continue
		}
		for _, name := range o.Names() {
			if _, dup := m[name]; !dup {
				m[name] = o
			}
		}
	}
	return m
}

// Date is a calendar day written 2006-01-02. It decodes from a YAML date
// (which the YAML parser turns into a time.Time) or a string; a value that
// is not a date is kept as written for Validate to report.
type Date struct {
	// Day is midnight UTC of the day; zero when unset or not a date.
	Day time.Time
	// Raw is the value as written, when it was not a date.
	Raw string
}

// DateLayout is how a Date is written.
const DateLayout = "2006-01-02"

// ParseDate reads a date like 2020-01-31.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(DateLayout, strings.TrimSpace(s))
	if err != nil {
		return Date{Raw: s}, fmt.Errorf("%q is not a date like 2006-01-02", s)
	}
	return Date{Day: t}, nil
}

// UnmarshalMapstructure implements mapstructure.Unmarshaler.
func (d *Date) UnmarshalMapstructure(v any) error {
	switch x := v.(type) {
	case time.Time:
		if x.Equal(x.Truncate(24*time.Hour)) && x.Location() == time.UTC {
			*d = Date{Day: x}
		} else {
			*d = Date{Raw: x.Format(time.RFC3339)}
		}
	case string:
		*d, _ = ParseDate(x)
	case Date:
		*d = x
	case *Date:
		*d = *x
	default:
		*d = Date{Raw: fmt.Sprint(v)}
	}
	return nil
}

// IsZero reports whether d was never set.
func (d Date) IsZero() bool { return d.Day.IsZero() && d.Raw == "" }

// String prints d as written.
func (d Date) String() string {
	if d.Raw != "" || d.Day.IsZero() {
		return d.Raw
	}
	return d.Day.Format(DateLayout)
}
