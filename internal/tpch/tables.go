package tpch

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pbenchd/pbenchd/internal/loader"
)

// generatorVersion changes whenever the generated data changes, so tables
// from an older pbenchd are reloaded rather than taken for current ones.
//
// v2: refresh orders take the keys after the loaded ones (OrderKey), so a
// data set refreshed by v1 is reloaded rather than resumed with keys v2
// would misread.
const generatorVersion = "tpch/v2"

// TableNames are the eight tables in load order: small first, so that with
// dynamic chunks the large ones are split across workers at the end.
var TableNames = [...]string{"region", "nation", "supplier", "part", "partsupp", "customer", "orders", "lineitem"}

// TableOptions shape the tables Tables returns.
type TableOptions struct {
	// Schema qualifies the table names; "" leaves them to the search_path.
	Schema string
	// Unlogged loads without WAL and sets the tables LOGGED afterwards.
	Unlogged bool
	// SkipAnalyze leaves out ANALYZE at the end.
	SkipAnalyze bool
	// SkipForeignKeys leaves out the foreign keys (ForeignKeys still lists
	// them).
	SkipForeignKeys bool
}

func (o TableOptions) name(table string) string {
	if o.Schema == "" {
		return table
	}
	return o.Schema + "." + table
}

// Tables returns the eight tables for loader.Load, with their primary keys.
// Load them with ForeignKeys(opts) as Options.After.
func (g *Generator) Tables(opts TableOptions) []loader.Table {
	dec := func(name string) loader.Column {
		return loader.Column{Name: name, Type: "numeric(15,2)", NotNull: true}
	}
	col := func(name, typ string) loader.Column { return loader.Column{Name: name, Type: typ, NotNull: true} }
	defs := map[string]struct {
		cols  []loader.Column
		items int64
		pk    []string
		rows  func(loader.Range) loader.RowSource
	}{
		"region": {
			cols:  []loader.Column{col("r_regionkey", "integer"), col("r_name", "char(25)"), col("r_comment", "varchar(152)")},
			items: int64(len(Regions)), pk: []string{"r_regionkey"}, rows: g.regionRows,
		},
		"nation": {
			cols: []loader.Column{col("n_nationkey", "integer"), col("n_name", "char(25)"), col("n_regionkey", "integer"),
				col("n_comment", "varchar(152)")},
			items: int64(len(Nations)), pk: []string{"n_nationkey"}, rows: g.nationRows,
		},
		"supplier": {
			cols: []loader.Column{col("s_suppkey", "integer"), col("s_name", "char(25)"), col("s_address", "varchar(40)"),
				col("s_nationkey", "integer"), col("s_phone", "char(15)"), dec("s_acctbal"), col("s_comment", "varchar(101)")},
			items: g.suppliers, pk: []string{"s_suppkey"}, rows: g.supplierRows,
		},
		"part": {
			cols: []loader.Column{col("p_partkey", "integer"), col("p_name", "varchar(55)"), col("p_mfgr", "char(25)"),
				col("p_brand", "char(10)"), col("p_type", "varchar(25)"), col("p_size", "integer"),
				col("p_container", "char(10)"), dec("p_retailprice"), col("p_comment", "varchar(23)")},
			items: g.parts, pk: []string{"p_partkey"}, rows: g.partRows,
		},
		"partsupp": {
			cols: []loader.Column{col("ps_partkey", "integer"), col("ps_suppkey", "integer"), col("ps_availqty", "integer"),
				dec("ps_supplycost"), col("ps_comment", "varchar(199)")},
			items: g.parts, pk: []string{"ps_partkey", "ps_suppkey"}, rows: g.partSuppRows,
		},
		"customer": {
			cols: []loader.Column{col("c_custkey", "integer"), col("c_name", "varchar(25)"), col("c_address", "varchar(40)"),
				col("c_nationkey", "integer"), col("c_phone", "char(15)"), dec("c_acctbal"),
				col("c_mktsegment", "char(10)"), col("c_comment", "varchar(117)")},
			items: g.customers, pk: []string{"c_custkey"}, rows: g.customerRows,
		},
		"orders": {
			cols:  ordersColumns,
			items: g.orders, pk: []string{"o_orderkey"}, rows: g.orderRows,
		},
		"lineitem": {
			cols:  lineitemColumns,
			items: g.orders, pk: []string{"l_orderkey", "l_linenumber"}, rows: g.lineitemRows,
		},
	}
	tables := make([]loader.Table, 0, len(TableNames))
	for _, name := range TableNames {
		d := defs[name]
		tables = append(tables, loader.Table{
			Name:        opts.name(name),
			Columns:     d.cols,
			Items:       d.items,
			Rows:        d.rows,
			PrimaryKey:  d.pk,
			Unlogged:    opts.Unlogged,
			Analyze:     !opts.SkipAnalyze,
			Fingerprint: fmt.Sprintf("%s sf=%g seed=%d fk=%t %s", generatorVersion, g.sf, g.seed, !opts.SkipForeignKeys, name),
		})
	}
	return tables
}

var ordersColumns = []loader.Column{
	{Name: "o_orderkey", Type: "bigint", NotNull: true}, {Name: "o_custkey", Type: "integer", NotNull: true},
	{Name: "o_orderstatus", Type: "char(1)", NotNull: true}, {Name: "o_totalprice", Type: "numeric(15,2)", NotNull: true},
	{Name: "o_orderdate", Type: "date", NotNull: true}, {Name: "o_orderpriority", Type: "char(15)", NotNull: true},
	{Name: "o_clerk", Type: "char(15)", NotNull: true}, {Name: "o_shippriority", Type: "integer", NotNull: true},
	{Name: "o_comment", Type: "varchar(79)", NotNull: true},
}

var lineitemColumns = []loader.Column{
	{Name: "l_orderkey", Type: "bigint", NotNull: true}, {Name: "l_partkey", Type: "integer", NotNull: true},
	{Name: "l_suppkey", Type: "integer", NotNull: true}, {Name: "l_linenumber", Type: "integer", NotNull: true},
	{Name: "l_quantity", Type: "numeric(15,2)", NotNull: true}, {Name: "l_extendedprice", Type: "numeric(15,2)", NotNull: true},
	{Name: "l_discount", Type: "numeric(15,2)", NotNull: true}, {Name: "l_tax", Type: "numeric(15,2)", NotNull: true},
	{Name: "l_returnflag", Type: "char(1)", NotNull: true}, {Name: "l_linestatus", Type: "char(1)", NotNull: true},
	{Name: "l_shipdate", Type: "date", NotNull: true}, {Name: "l_commitdate", Type: "date", NotNull: true},
	{Name: "l_receiptdate", Type: "date", NotNull: true}, {Name: "l_shipinstruct", Type: "char(25)", NotNull: true},
	{Name: "l_shipmode", Type: "char(10)", NotNull: true}, {Name: "l_comment", Type: "varchar(44)", NotNull: true},
}

// ForeignKeys are the specification's foreign keys as ALTER TABLE
// statements, for loader.Options.After (none with SkipForeignKeys).
func ForeignKeys(opts TableOptions) []string {
	if opts.SkipForeignKeys {
		return nil
	}
	fks := []struct{ table, name, cols, ref, refCols string }{
		{"nation", "nation_region_fk", "n_regionkey", "region", "r_regionkey"},
		{"supplier", "supplier_nation_fk", "s_nationkey", "nation", "n_nationkey"},
		{"customer", "customer_nation_fk", "c_nationkey", "nation", "n_nationkey"},
		{"partsupp", "partsupp_part_fk", "ps_partkey", "part", "p_partkey"},
		{"partsupp", "partsupp_supplier_fk", "ps_suppkey", "supplier", "s_suppkey"},
		{"orders", "orders_customer_fk", "o_custkey", "customer", "c_custkey"},
		{"lineitem", "lineitem_orders_fk", "l_orderkey", "orders", "o_orderkey"},
		{"lineitem", "lineitem_partsupp_fk", "l_partkey, l_suppkey", "partsupp", "ps_partkey, ps_suppkey"},
	}
	stmts := make([]string, len(fks))
	for i, fk := range fks {
		stmts[i] = fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s FOREIGN KEY (%s) REFERENCES %s (%s)",
			opts.name(fk.table), fk.name, fk.cols, opts.name(fk.ref), fk.refCols)
	}
	return stmts
}

// perItem is a RowSource over a range of items that each yield several
// rows: start prepares an item and says how many rows it has, fill writes
// its j-th.
type perItem struct {
	next, end int64
	j, n      int
	row       []any
	start     func(item int64) int
	fill      func(j int, row []any)
}

func (p *perItem) Next() bool {
	for p.j >= p.n {
		if p.next >= p.end {
			return false
		}
		p.n, p.j = p.start(p.next), 0
		p.next++
	}
	p.fill(p.j, p.row)
	p.j++
	return true
}

func (p *perItem) Values() []any { return p.row }

func (g *Generator) regionRows(r loader.Range) loader.RowSource {
	return loader.RowFunc(r, 3, func(k int64, row []any) {
		rnd := loader.NewRand(g.cell(streamRegion, k, 1))
		row[0], row[1], row[2] = int32(k), Regions[k], comment(&rnd, 31, 115)
	})
}

func (g *Generator) nationRows(r loader.Range) loader.RowSource {
	return loader.RowFunc(r, 4, func(k int64, row []any) {
		n := Nations[k]
		rnd := loader.NewRand(g.cell(streamNation, k, 1))
		row[0], row[1], row[2], row[3] = int32(n.Key), n.Name, int32(n.Region), comment(&rnd, 31, 114)
	})
}

func (g *Generator) supplierRows(r loader.Range) loader.RowSource {
	return loader.RowFunc(r, 7, func(k int64, row []any) {
		key := k + 1
		rnd := loader.NewRand(g.cell(streamSupplier, k, 1))
		nation := rnd.Between(0, 24)
		row[0] = int32(key)
		row[1] = padded("Supplier#", key, 9)
		row[2] = vstring(&rnd, 10, 40)
		row[3] = int32(nation)
		row[4] = phone(&rnd, nation)
		row[5] = loader.Decimal{Units: rnd.Between(-99999, 999999), Scale: 2}
		c := comment(&rnd, 25, 100)
		// Clause 4.2.3: 5 in 10,000 suppliers have complaints, 5 recommendations (Q16).
		if x := rnd.Below(10000); x < 10 && len(c) >= 44 {
			what := "Complaints"
			if x >= 5 {
				what = "Recommends"
			}
			c = c[:10] + "Customer " + c[10:25] + what + c[25+len("Customer ")+len(what):]
		}
		row[6] = c
	})
}

func (g *Generator) partRows(r loader.Range) loader.RowSource {
	return loader.RowFunc(r, 9, func(k int64, row []any) {
		key := k + 1
		rnd := loader.NewRand(g.cell(streamPart, k, 1))
		mfgr := rnd.Between(1, 5)
		row[0] = int32(key)
		row[1] = partName(&rnd)
		row[2] = "Manufacturer#" + strconv.FormatInt(mfgr, 10)
		row[3] = "Brand#" + strconv.FormatInt(mfgr, 10) + strconv.FormatInt(rnd.Between(1, 5), 10)
		row[4] = typeSyllable1[rnd.Below(6)] + " " + typeSyllable2[rnd.Below(5)] + " " + typeSyllable3[rnd.Below(5)]
		row[5] = int32(rnd.Between(1, 50))
		row[6] = containerSyllable1[rnd.Below(5)] + " " + containerSyllable2[rnd.Below(8)]
		row[7] = loader.Decimal{Units: RetailPrice(key), Scale: 2}
		row[8] = comment(&rnd, 5, 22)
	})
}

func (g *Generator) partSuppRows(r loader.Range) loader.RowSource {
	var part int64
	return &perItem{next: r.Start, end: r.End, row: make([]any, 5),
		start: func(k int64) int { part = k + 1; return PartSuppsPerPart },
		fill: func(j int, row []any) {
			rnd := loader.NewRand(g.cell(streamPartSupp, (part-1)*PartSuppsPerPart+int64(j), 1))
			row[0] = int32(part)
			row[1] = int32(g.PartSupplier(part, j))
			row[2] = int32(rnd.Between(1, 9999))
			row[3] = loader.Decimal{Units: rnd.Between(100, 100000), Scale: 2}
			row[4] = comment(&rnd, 49, 198)
		},
	}
}

func (g *Generator) customerRows(r loader.Range) loader.RowSource {
	return loader.RowFunc(r, 8, func(k int64, row []any) {
		key := k + 1
		rnd := loader.NewRand(g.cell(streamCustomer, k, 1))
		nation := rnd.Between(0, 24)
		row[0] = int32(key)
		row[1] = padded("Customer#", key, 9)
		row[2] = vstring(&rnd, 10, 40)
		row[3] = int32(nation)
		row[4] = phone(&rnd, nation)
		row[5] = loader.Decimal{Units: rnd.Between(-99999, 999999), Scale: 2}
		row[6] = segments[rnd.Below(5)]
		row[7] = comment(&rnd, 29, 116)
	})
}

func (g *Generator) orderRows(r loader.Range) loader.RowSource {
	var o order
	return loader.RowFunc(r, len(ordersColumns), func(k int64, row []any) {
		g.makeOrder(streamOrders, k, OrderKey(k), &o)
		g.fillOrder(&o, row)
	})
}

func (g *Generator) lineitemRows(r loader.Range) loader.RowSource {
	var o order
	return &perItem{next: r.Start, end: r.End, row: make([]any, len(lineitemColumns)),
		start: func(k int64) int { g.makeOrder(streamOrders, k, OrderKey(k), &o); return o.n },
		fill:  func(j int, row []any) { g.fillLine(&o, j, row) },
	}
}

// fillOrder writes o as an ORDERS row.
func (g *Generator) fillOrder(o *order, row []any) {
	rnd := loader.NewRand(g.cell(o.stream, o.index, cOrderComment))
	row[0] = o.key
	row[1] = int32(o.cust)
	row[2] = string(o.status)
	row[3] = loader.Decimal{Units: o.total, Scale: 2}
	row[4] = loader.EpochDate(o.date)
	row[5] = priorities[loader.Below(g.cell(o.stream, o.index, cPriority), 5)]
	row[6] = padded("Clerk#", loader.Between(g.cell(o.stream, o.index, cClerk), 1, max(scaled(g.sf, 1000), 1)), 9)
	row[7] = int32(0)
	row[8] = comment(&rnd, 19, 78)
}

// fillLine writes o's j-th line as a LINEITEM row.
func (g *Generator) fillLine(o *order, j int, row []any) {
	l := &o.lines[j]
	c := func(f uint64) uint64 { return g.cell(o.stream, o.index, lineBase+16*uint64(j)+f) }
	rnd := loader.NewRand(c(fComment))
	row[0] = o.key
	row[1] = int32(l.part)
	row[2] = int32(l.supp)
	row[3] = int32(j + 1)
	row[4] = loader.Decimal{Units: l.qty, Scale: 0}
	row[5] = loader.Decimal{Units: l.price, Scale: 2}
	row[6] = loader.Decimal{Units: l.disc, Scale: 2}
	row[7] = loader.Decimal{Units: l.tax, Scale: 2}
	row[8] = flagText[l.flag]
	row[9] = flagText[l.lineStatus]
	row[10] = loader.EpochDate(l.ship)
	row[11] = loader.EpochDate(l.commit)
	row[12] = loader.EpochDate(l.receipt)
	row[13] = instructions[loader.Below(c(fInstruct), 4)]
	row[14] = shipModes[loader.Below(c(fMode), 7)]
	row[15] = comment(&rnd, 10, 43)
}

// flagText holds the one-letter strings, so that rows do not allocate them.
var flagText = func() (t [256]string) {
	for _, c := range "RANOF" {
		t[c] = string(c)
	}
	return t
}()

// partName is five distinct colour words.
func partName(r *loader.Rand) string {
	var picked [5]int
	var b strings.Builder
	b.Grow(5 * 12)
	for i := range picked {
	again:
		w := int(r.Below(uint64(len(Colours))))
		for _, p := range picked[:i] {
			if p == w {
				goto again
			}
		}
		picked[i] = w
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(Colours[w])
	}
	return b.String()
}

// comment is text of lo to hi bytes made of the grammar's words.
func comment(r *loader.Rand, lo, hi int64) string {
	n := int(r.Between(lo, hi))
	b := make([]byte, 0, n+16)
	for len(b) < n {
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = append(b, words[r.Below(uint64(len(words)))]...)
	}
	return string(b[:n])
}

const vchars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,."

// vstring is a random string of lo to hi characters (an address).
func vstring(r *loader.Rand, lo, hi int64) string {
	b := make([]byte, r.Between(lo, hi))
	for i := range b {
		b[i] = vchars[r.Below(uint64(len(vchars)))]
	}
	return string(b)
}

// phone is a phone number whose country code is the nation key + 10.
func phone(r *loader.Rand, nation int64) string {
	b := make([]byte, 0, 15)
	b = strconv.AppendInt(b, nation+10, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, r.Between(100, 999), 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, r.Between(100, 999), 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, r.Between(1000, 9999), 10)
	return string(b)
}

// padded is prefix followed by n zero-padded to width digits.
func padded(prefix string, n int64, width int) string {
	s := strconv.FormatInt(n, 10)
	if len(s) < width {
		s = strings.Repeat("0", width-len(s)) + s
	}
	return prefix + s
}
