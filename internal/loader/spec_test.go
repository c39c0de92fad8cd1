package loader

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// step is the part of a scenario's setup step that this package owns.
type step struct {
	SQL  string `koanf:"sql"`
	Load *Spec  `koanf:"load"`
}

type scenario struct {
	Setup []step `koanf:"setup"`
}

// decode reads a testdata file the way the config package does (koanf,
// YAML, koanf tags, then WithDefaults) and returns the load specs of scenario 0 with their key
// paths.
func decode(t *testing.T, name string) ([]*Spec, []string) {
	t.Helper()
	k := koanf.New(".")
	if err := k.Load(file.Provider(filepath.Join("testdata", "spec", name)), yaml.Parser()); err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	var scenarios []scenario
	if err := k.UnmarshalWithConf("scenarios", &scenarios, koanf.UnmarshalConf{Tag: "koanf"}); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	var specs []*Spec
	var paths []string
	for i, s := range scenarios[0].Setup {
		if s.Load != nil {
			*s.Load = s.Load.WithDefaults()
			specs = append(specs, s.Load)
			paths = append(paths, fmt.Sprintf("scenarios[0].setup[%d].load", i))
		}
	}
	return specs, paths
}

// validateAll validates every spec against the others of its scenario.
func validateAll(specs []*Spec, paths []string) []string {
	var msgs []string
	for i, s := range specs {
		others := slices.Delete(slices.Clone(specs), i, i+1)
		if err := s.Validate(paths[i], others...); err != nil {
			msgs = append(msgs, strings.Split(err.Error(), "\n")...)
		}
	}
	return msgs
}

func TestSpecDecodesAndValidates(t *testing.T) {
	specs, paths := decode(t, "valid.yaml")
	if msgs := validateAll(specs, paths); len(msgs) > 0 {
		t.Fatalf("valid.yaml: unexpected problems:\n%s", strings.Join(msgs, "\n"))
	}
	items := specs[1]
	at := items.Columns[6]
	if want := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC); !at.From.Day.Equal(want) {
		t.Errorf("from = %v, want %v (a YAML date)", at.From, want)
	}
	if want := time.Date(2020, 12, 31, 0, 0, 0, 0, time.UTC); !at.To.Day.Equal(want) {
		t.Errorf("to = %v, want %v (a quoted date)", at.To, want)
	}
	if items.Mode != ModeAuto || items.Workers != 4 || items.Seed != 42 || *items.Columns[2].Scale != 2 {
		t.Errorf("decoded %+v", items)
	}
	if got := specs[2].Names(); !slices.Equal(got, []string{"collection0", "collection1", "collection2"}) {
		t.Errorf("table set names = %v", got)
	}

	tables, err := items.Compile(specs[0], specs[2])
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	var types []string
	for _, c := range tables[0].Columns {
		types = append(types, c.Name+" "+c.Type)
	}
	want := []string{"id bigint", "qty bigint", "price numeric(5,2)", "note text", "memo text", "status text", "at date", "item_id bigint"}
	if !slices.Equal(types, want) {
		t.Errorf("column types = %v, want %v", types, want)
	}
}

func TestSpecValidationErrors(t *testing.T) {
	kinds := "choice, date, foreign_key, sequence, string, uniform_int, uniform_numeric"
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"bad_kind.yaml", []string{
			`scenarios[0].setup[1].load.columns[2].kind: "uuid4" is not one of ` + kinds,
		}},
		{"bad_ranges.yaml", []string{
			`scenarios[0].setup[1].load.columns[0].min: 60 is greater than max 50: the range is empty`,
			`scenarios[0].setup[1].load.columns[1].min: 1.5 is not a whole number within ±2^53`,
			`scenarios[0].setup[1].load.columns[2].min: 100 is greater than max 1: the range is empty`,
			`scenarios[0].setup[1].load.columns[3].from: 2021-01-01 is after to 2020-12-31`,
			`scenarios[0].setup[1].load.columns[4].from: "yesterday" is not a date like 2006-01-02`,
			`scenarios[0].setup[1].load.columns[5].min_length: 9 is greater than max_length 3`,
			`scenarios[0].setup[1].load.columns[6].values: empty; choice needs at least one value`,
			`scenarios[0].setup[1].load.columns[7].max: missing; uniform_int needs min and max`,
			`scenarios[0].setup[1].load.columns[8].min: is set, but kind sequence does not use it (it uses start)`,
			`scenarios[0].setup[1].load.columns[8].length: is set, but kind sequence does not use it (it uses start)`,
		}},
		{"bad_fk.yaml", []string{
			`scenarios[0].setup[1].load.columns[1].table: "missing" is not a table loaded by this scenario (loaded: items, other)`,
			`scenarios[0].setup[1].load.columns[2].column: "code" is not a sequence column of other (its sequence columns: id)`,
			`scenarios[0].setup[1].load.primary_key[1]: "nope" is not a column of this table`,
		}},
		{"bad_counts.yaml", []string{
			`scenarios[0].setup[1].load.rows: -5 must not be negative`,
			`scenarios[0].setup[1].load.workers: -1 must be at least 1`,
			`scenarios[0].setup[1].load.mode: "fast" is not one of auto, dynamic, static`,
			`scenarios[0].setup[1].load.columns[1].name: "id" is already a column of this table`,
			`scenarios[0].setup[1].load.indexes[0]: "CREATE INDEX ON items (id)" has no {{ .table }} to stand for the table`,
			`scenarios[0].setup[2].load.tables.pattern: "collection" has no {{ .i }} to number the tables by`,
			`scenarios[0].setup[2].load.tables.count: 0 must be at least 1`,
			`scenarios[0].setup[2].load.columns: no columns; a table needs at least one`,
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			specs, paths := decode(t, tc.file)
			got := validateAll(specs, paths)
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestSpecRowsAreDeterministic(t *testing.T) {
	specs, paths := decode(t, "valid.yaml")
	if msgs := validateAll(specs, paths); len(msgs) > 0 {
		t.Fatal(msgs)
	}
	compile := func() Table {
		tables, err := specs[1].Compile(specs[0])
		if err != nil {
			t.Fatal(err)
		}
		return tables[0]
	}
	rows := func(tb Table, r Range) []string {
		var out []string
		src := tb.Rows(r)
		for src.Next() {
			out = append(out, fmt.Sprint(src.Values()))
		}
		return out
	}
	a, b := compile(), compile()
	whole := rows(a, Range{0, 1000})
	// Any split gives the same rows as one pass.
	var split []string
	for i := range 7 {
		split = append(split, rows(b, Partition(1000, 7, i))...)
	}
	if !slices.Equal(whole, split) {
		t.Fatal("rows generated in 7 parts differ from one pass")
	}
	if rows(a, Range{500, 501})[0] != whole[500] {
		t.Fatal("row 500 alone differs from row 500 in a pass")
	}
	// A different seed gives different rows.
	specs[1].Seed++
	if c := compile(); slices.Equal(rows(c, Range{0, 10}), whole[:10]) {
		t.Fatal("seed does not change the rows")
	}
	if a.Fingerprint == compile().Fingerprint {
		t.Fatal("seed does not change the fingerprint")
	}
}
