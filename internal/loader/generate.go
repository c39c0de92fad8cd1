package loader

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// generatorVersion changes whenever a generator's output changes, so that
// tables loaded by an older pbenchd are not taken for current ones.
const generatorVersion = "loader/v1"

// Compile turns s (which must have passed Validate with the same others)
// into the tables [Load] fills. Row k of a table is generated from (Seed,
// table name, k, column name) alone.
func (s *Spec) Compile(others ...*Spec) ([]Table, error) {
	env := &compileEnv{tables: tableIndex(s, others)}
	s2 := s.WithDefaults()
	columns := make([]Column, len(s.Columns))
	gens := make([]func(int64, uint64) any, len(s.Columns))
	colIDs := make([]uint64, len(s.Columns))
	for i := range s.Columns {
		c := &s.Columns[i]
		k, ok := kinds[c.Kind]
		if !ok {
			return nil, fmt.Errorf("column %s: unknown kind %q", c.Name, c.Kind)
		}
		gen, err := k.compile(c, env)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.Name, err)
		}
		columns[i] = Column{Name: c.Name, Type: k.sqlType(c), NotNull: true}
		gens[i] = gen
		colIDs[i] = TableID(c.Name)
	}
	fp, err := s.fingerprint(env)
	if err != nil {
		return nil, err
	}

	names := s.Names()
	tables := make([]Table, len(names))
	for ti, name := range names {
		tid, seed := TableID(name), s.Seed
		tables[ti] = Table{
			Name:        name,
			Columns:     columns,
			Items:       s.Rows,
			PrimaryKey:  s.PrimaryKey,
			Indexes:     s.Indexes,
			Unlogged:    s.Unlogged,
			Analyze:     *s2.Analyze,
			Fingerprint: fp + " " + name,
			Rows: func(r Range) RowSource {
				return RowFunc(r, len(gens), func(k int64, row []any) {
					for j, gen := range gens {
						row[j] = gen(k, Cell(seed, tid, uint64(k), colIDs[j]))
					}
				})
			},
		}
	}
	return tables, nil
}

// LoadOptions are the [Options] s asks for; the caller adds Progress,
// Shard and Replace.
func (s *Spec) LoadOptions() Options {
	d := s.WithDefaults()
	return Options{Workers: d.Workers, Mode: d.Mode, BatchRows: d.BatchRows}
}

// fingerprint hashes everything that determines the data and the table's
// shape: the columns, rows, seed, keys, and the row counts of foreign key
// targets.
func (s *Spec) fingerprint(env *compileEnv) (string, error) {
	targets := map[string]int64{}
	for _, c := range s.Columns {
		if c.Kind == "foreign_key" {
			if t, ok := env.tables[c.Table]; ok {
				targets[c.Table] = t.Rows
			}
		}
	}
	b, err := json.Marshal(struct {
		Version    string
		Rows       int64
		Seed       uint64
		Columns    []ColumnSpec
		PrimaryKey []string
		Indexes    []string
		Targets    map[string]int64
	}{generatorVersion, s.Rows, s.Seed, s.Columns, s.PrimaryKey, s.Indexes, targets})
	if err != nil {
		return "", fmt.Errorf("fingerprint: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12]), nil
}
