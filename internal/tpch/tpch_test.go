package tpch

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/pbenchd/pbenchd/internal/loader"
)

func TestNewScaleFactor(t *testing.T) {
	for _, tc := range []struct {
		sf  float64
		err string
	}{
		{sf: 0.01}, {sf: 0.1}, {sf: 1}, {sf: 10}, {sf: 1000},
		{sf: 0, err: "bad TPC-H scale factor: 0 is not in (0, 1000]"},
		{sf: -1, err: "bad TPC-H scale factor: -1 is not in (0, 1000]"},
		{sf: 1000.5, err: "bad TPC-H scale factor: 1000.5 is not in (0, 1000]"},
		{sf: math.NaN(), err: "bad TPC-H scale factor: NaN is not in (0, 1000]"},
		{sf: 0.0001, err: "bad TPC-H scale factor: 0.0001 is too small: it gives 1 suppliers (at least 4 needed)"},
	} {
		t.Run(fmt.Sprint(tc.sf), func(t *testing.T) {
			_, err := New(tc.sf, 1)
			if tc.err == "" {
				if err != nil {
					t.Fatalf("New(%g) = %v", tc.sf, err)
				}
				return
			}
			if err == nil || err.Error() != tc.err || !errors.Is(err, ErrScale) {
				t.Fatalf("New(%g) error = %v, want %q wrapping ErrScale", tc.sf, err, tc.err)
			}
		})
	}
}

func TestCardinalities(t *testing.T) {
	g, err := New(0.01, 1)
	if err != nil {
		t.Fatal(err)
	}
	rows := g.Rows()
	want := map[string]int64{"region": 5, "nation": 25, "part": 2000, "supplier": 100, "partsupp": 8000, "customer": 1500, "orders": 15000}
	for table, n := range want {
		if rows[table] != n {
			t.Errorf("%s: %d rows, want %d", table, rows[table], n)
		}
	}
	// 15,000 orders of 1–7 lines: 4 on average, dbgen gives 60,175.
	if li := rows["lineitem"]; li < 58_500 || li > 61_500 {
		t.Errorf("lineitem: %d rows, want about 60,000", li)
	}
	g1, _ := New(1, 1)
	if n := g1.Orders(); n != 1_500_000 || g1.RefreshOrders() != 1500 || g1.PartSupps() != 800_000 {
		t.Errorf("SF 1: %d orders, %d refresh orders, %d partsupps", n, g1.RefreshOrders(), g1.PartSupps())
	}
}

func TestKeys(t *testing.T) {
	for i := range int64(6000) {
		k := OrderKey(i)
		if back, ok := orderIndex(k); !ok || back != i {
			t.Fatalf("orderIndex(OrderKey(%d)) = %d, %v", i, back, ok)
		}
		if i > 0 && k <= OrderKey(i-1) {
			t.Fatalf("OrderKey(%d) = %d is not above OrderKey(%d) = %d", i, k, i-1, OrderKey(i-1))
		}
	}
	// Keys used: 8 of every 32.
	if OrderKey(7) != 8 || OrderKey(8) != 33 || OrderKey(15) != 40 {
		t.Errorf("order keys 7, 8, 15 = %d, %d, %d; want 8, 33, 40", OrderKey(7), OrderKey(8), OrderKey(15))
	}
	if _, ok := orderIndex(9); ok {
		t.Error("orderIndex(9) is ok: 9 is no order key")
	}
	// Refresh orders follow the loaded ones.
	g, _ := New(0.01, 1)
	if k := g.refreshKey(0); k != OrderKey(g.Orders()) || k <= OrderKey(g.Orders()-1) {
		t.Errorf("first refresh key %d, want %d, above the last loaded key %d", k, OrderKey(g.Orders()), OrderKey(g.Orders()-1))
	}
}

func TestPartSuppliers(t *testing.T) {
	g, _ := New(0.01, 1)
	for p := int64(1); p <= g.Parts(); p++ {
		var s []int64
		for i := range PartSuppsPerPart {
			k := g.PartSupplier(p, i)
			if k < 1 || k > g.Suppliers() {
				t.Fatalf("part %d supplier %d = %d, out of 1..%d", p, i, k, g.Suppliers())
			}
			s = append(s, k)
		}
		slices.Sort(s)
		if len(slices.Compact(s)) != PartSuppsPerPart {
			t.Fatalf("part %d has repeated suppliers %v", p, s)
		}
	}
}

// rowStrings generates a table's rows for a range of items as text.
func rowStrings(tb loader.Table, r loader.Range) []string {
	var out []string
	src := tb.Rows(r)
	for src.Next() {
		out = append(out, fmt.Sprint(src.Values()))
	}
	return out
}

func TestRowsDependOnSeedAndRowOnly(t *testing.T) {
	g, _ := New(0.01, 42)
	for _, tb := range g.Tables(TableOptions{}) {
		items := min(tb.Items, 1500)
		whole := rowStrings(tb, loader.Range{Start: 0, End: items})
		var parts []string
		for i := range 5 {
			parts = append(parts, rowStrings(tb, loader.Partition(items, 5, i))...)
		}
		if !slices.Equal(whole, parts) {
			t.Errorf("%s: rows generated in 5 ranges differ from one pass", tb.Name)
		}
	}
	other, _ := New(0.01, 43)
	a := rowStrings(g.Tables(TableOptions{})[7], loader.Range{Start: 0, End: 10})
	b := rowStrings(other.Tables(TableOptions{})[7], loader.Range{Start: 0, End: 10})
	if slices.Equal(a, b) {
		t.Error("lineitem rows do not depend on the seed")
	}
}

func TestPartNamesAreFiveDistinctColours(t *testing.T) {
	g, _ := New(0.01, 1)
	part := g.Tables(TableOptions{})[3]
	src := part.Rows(loader.Range{Start: 0, End: part.Items})
	green := 0
	for src.Next() {
		name := src.Values()[1].(string)
		ws := strings.Fields(name)
		if len(ws) != 5 {
			t.Fatalf("p_name %q has %d words", name, len(ws))
		}
		for _, w := range ws {
			if !slices.Contains(Colours[:], w) {
				t.Fatalf("p_name %q has %q, not a colour", name, w)
			}
		}
		slices.Sort(ws)
		if len(slices.Compact(ws)) != 5 {
			t.Fatalf("p_name %q repeats a word", name)
		}
		if strings.Contains(name, "green") {
			green++
		}
	}
	// 5/92 = 5.4% of 2,000 parts is 109.
	if green < 80 || green > 140 {
		t.Errorf("%d of 2000 part names contain green, want about 109", green)
	}
}

func TestQueries(t *testing.T) {
	q := Q01(Q01Options{})
	if !strings.Contains(q, "interval '90' day") || strings.Contains(q, "ORDER BY") {
		t.Errorf("Q01 default:\n%s", q)
	}
	if q := Q01(Q01Options{DeltaDays: 78, Ordered: true}); !strings.Contains(q, "interval '78' day") || !strings.HasSuffix(q, "ORDER BY l_returnflag, l_linestatus") {
		t.Errorf("Q01 delta 78 ordered:\n%s", q)
	}
	q, err := Q09(Q09Options{Colour: "sandy"})
	if err != nil || !strings.Contains(q, "p_name LIKE '%sandy%'") || strings.Contains(q, "ORDER BY") {
		t.Errorf("Q09 sandy: %v\n%s", err, q)
	}
	if q, _ := Q09(Q09Options{Ordered: true}); !strings.Contains(q, "'%green%'") || !strings.HasSuffix(q, "ORDER BY nation, o_year DESC") {
		t.Errorf("Q09 default ordered:\n%s", q)
	}
	if _, err := Q09(Q09Options{Colour: "green'; DROP TABLE part; --"}); err == nil {
		t.Error("Q09 accepted a colour that is not a part name word")
	}
}

func BenchmarkGenerateLineitem(b *testing.B) {
	g, _ := New(1, 1)
	li := g.Tables(TableOptions{})[7]
	var rows int64
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		start := int64(i*1000) % g.Orders()
		src := li.Rows(loader.Range{Start: start, End: start + 1000})
		for src.Next() {
			rows++
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

func TestSpecValidate(t *testing.T) {
	no := false
	for _, tc := range []struct {
		name string
		spec Spec
		want string
	}{
		{"valid", Spec{SF: 0.01, ForeignKeys: &no}, ""},
		{"zero sf", Spec{}, "s.sf: 0 is not in (0, 1000]"},
		{"everything wrong", Spec{SF: 2000, Workers: -1, Mode: "fast", BatchRows: -2},
			"s.sf: 2000 is not in (0, 1000]\ns.workers: -1 must be at least 1\ns.mode: \"fast\" is not one of auto, dynamic, static\ns.batch_rows: -2 must not be negative"},
		{"too small", Spec{SF: 0.0001}, "s.sf: bad TPC-H scale factor: 0.0001 is too small: it gives 1 suppliers (at least 4 needed)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate("s")
			if got := fmt.Sprint(err); (tc.want == "" && err != nil) || (tc.want != "" && got != tc.want) {
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
	o := Spec{SF: 1, ForeignKeys: &no}.LoadOptions()
	if o.Workers != 4 || !o.SkipForeignKeys || o.SkipAnalyze {
		t.Errorf("LoadOptions = %+v", o)
	}
}
