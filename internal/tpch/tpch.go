package tpch

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/pbenchd/pbenchd/internal/loader"
)

// Rows per unit of scale factor (clause 4.2.5).
const (
	PartsPerSF     = 200_000
	SuppliersPerSF = 10_000
	CustomersPerSF = 150_000
	OrdersPerSF    = 1_500_000
	// PartSuppsPerPart suppliers supply each part.
	PartSuppsPerPart = 4
	// RefreshOrdersPerSF orders are inserted by RF1 and deleted by RF2.
	RefreshOrdersPerSF = 1_500
)

// MaxSF is the largest scale factor New accepts.
const MaxSF = 1000

// ErrScale is wrapped by New's errors about the scale factor.
var ErrScale = errors.New("bad TPC-H scale factor")

// The dates of clause 4.2.3, in days since 1970-01-01.
var (
	StartDate   = epochDays(1992, 1, 1)
	CurrentDate = epochDays(1995, 6, 17)
	EndDate     = epochDays(1998, 12, 31)
)

func epochDays(y int, m time.Month, d int) int64 {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// Generator produces the TPC-H-shaped tables at one scale factor and seed.
// It is immutable and safe for concurrent use.
type Generator struct {
	sf   float64
	seed uint64

	parts, suppliers, customers, orders int64
	// customersWithOrders: O_CUSTKEY is never a multiple of 3.
	customersWithOrders int64
	refreshOrders       int64
}

// New returns the generator for scale factor sf (0 < sf ≤ 1000; 1 is about
// 1 GB: 6 million lineitems) and seed.
func New(sf float64, seed uint64) (*Generator, error) {
	if math.IsNaN(sf) || sf <= 0 || sf > MaxSF {
		return nil, fmt.Errorf("%w: %g is not in (0, %d]", ErrScale, sf, MaxSF)
	}
	g := &Generator{
		sf:            sf,
		seed:          seed,
		parts:         scaled(sf, PartsPerSF),
		suppliers:     scaled(sf, SuppliersPerSF),
		customers:     scaled(sf, CustomersPerSF),
		orders:        scaled(sf, OrdersPerSF),
		refreshOrders: max(scaled(sf, RefreshOrdersPerSF), 1),
	}
	g.customersWithOrders = g.customers - g.customers/3
	if g.suppliers < PartSuppsPerPart || g.customersWithOrders < 1 || g.parts < 1 {
		return nil, fmt.Errorf("%w: %g is too small: it gives %d suppliers (at least %d needed)", ErrScale, sf, g.suppliers, PartSuppsPerPart)
	}
	// The partsupp formula must give each part four different suppliers,
	// or its primary key would fail; at odd small scale factors it may not.
	for x := int64(0); x <= (g.parts-1)/g.suppliers; x++ {
		step := g.suppliers/4 + x
		for d := int64(1); d < PartSuppsPerPart; d++ {
			if d*step%g.suppliers == 0 {
				return nil, fmt.Errorf("%w: %g gives %d suppliers, with which the partsupp formula repeats a supplier for a part; use a scale factor such as 0.01, 0.1 or 1", ErrScale, sf, g.suppliers)
			}
		}
	}
	return g, nil
}

func scaled(sf float64, perSF int64) int64 { return int64(math.Round(sf * float64(perSF))) }

// SF is the scale factor.
func (g *Generator) SF() float64 { return g.sf }

// Seed is the seed.
func (g *Generator) Seed() uint64 { return g.seed }

// Parts is the number of PART rows.
func (g *Generator) Parts() int64 { return g.parts }

// Suppliers is the number of SUPPLIER rows.
func (g *Generator) Suppliers() int64 { return g.suppliers }

// PartSupps is the number of PARTSUPP rows.
func (g *Generator) PartSupps() int64 { return g.parts * PartSuppsPerPart }

// Customers is the number of CUSTOMER rows.
func (g *Generator) Customers() int64 { return g.customers }

// Orders is the number of ORDERS rows as loaded.
func (g *Generator) Orders() int64 { return g.orders }

// RefreshOrders is the number of orders one RF1 inserts and one RF2
// deletes: SF × 1,500, at least 1.
func (g *Generator) RefreshOrders() int64 { return g.refreshOrders }

// LineitemRows is the number of LINEITEM rows as loaded: the sum over the
// orders of their 1–7 lines (about 4 × Orders). It generates every order's
// line count, so it takes a moment at large scale factors.
func (g *Generator) LineitemRows() int64 {
	var n int64
	for i := range g.orders {
		n += int64(g.lineCount(streamOrders, i))
	}
	return n
}

// Rows returns the number of rows of every table as loaded, by name.
func (g *Generator) Rows() map[string]int64 {
	return map[string]int64{
		"region": int64(len(Regions)), "nation": int64(len(Nations)),
		"part": g.parts, "supplier": g.suppliers, "partsupp": g.PartSupps(),
		"customer": g.customers, "orders": g.orders, "lineitem": g.LineitemRows(),
	}
}

// OrderKey is the key of the i-th order (from 0): keys are sparse, using
// the first 8 of every 32 values (1–8, 33–40, …). Orders 0 to Orders()-1
// are the loaded ones; the j-th order refresh streams insert is order
// Orders()+j, so new orders take the keys after the loaded ones.
//
// With that numbering the orders present are always one run of
// consecutive indexes: RF1 appends at the top, RF2 deletes from the bottom
// (the oldest loaded orders first, then the oldest inserted ones), so
// after any number of paired streams every index between the lowest and
// the highest present is present. A key drawn uniformly from that run
// (RandomOrderSQL) hits every order present equally often, however many
// streams ran, with no gap whose next order would take the gap's share.
func OrderKey(i int64) int64 { return i/8*32 + i%8 + 1 }

// orderIndex inverts OrderKey; ok is false for the key values OrderKey
// never gives.
func orderIndex(key int64) (i int64, ok bool) {
	slot := (key - 1) % 32
	return (key-1)/32*8 + slot, slot < 8
}

// refreshKey is the key of the j-th order refresh streams insert (from 0).
func (g *Generator) refreshKey(j int64) int64 { return OrderKey(g.orders + j) }

// OrderIndexSQL is orderIndex as an SQL expression of the key expression
// key, for key values OrderKey gives.
func OrderIndexSQL(key string) string {
	return fmt.Sprintf("((%[1]s) - 1) / 32 * 8 + ((%[1]s) - 1) %% 32", key)
}

// OrderKeySQL is OrderKey as an SQL expression of the index expression i.
func OrderKeySQL(i string) string {
	return fmt.Sprintf("(%[1]s) / 8 * 32 + (%[1]s) %% 8 + 1", i)
}

// RetailPrice is P_RETAILPRICE of part key p in cents (clause 4.2.3):
// (90000 + (p/10 mod 20001) + 100·(p mod 1000)) / 100 dollars.
func RetailPrice(p int64) int64 { return 90000 + (p/10)%20001 + 100*(p%1000) }

// PartSupplier is the i-th (0–3) supplier of part key p (clause 4.2.3):
// (p + i·(S/4 + (p-1)/S)) mod S + 1, S being the number of suppliers.
func (g *Generator) PartSupplier(p int64, i int) int64 {
	s := g.suppliers
	return (p+int64(i)*(s/4+(p-1)/s))%s + 1
}

// Random streams: the table argument of loader.Cell for each table, and for
// the orders refresh streams insert.
var (
	streamRegion   = loader.TableID("tpch.region")
	streamNation   = loader.TableID("tpch.nation")
	streamPart     = loader.TableID("tpch.part")
	streamSupplier = loader.TableID("tpch.supplier")
	streamPartSupp = loader.TableID("tpch.partsupp")
	streamCustomer = loader.TableID("tpch.customer")
	streamOrders   = loader.TableID("tpch.orders")
	streamRefresh  = loader.TableID("tpch.refresh")
)

// Column numbers for loader.Cell within an order's stream. Lines use
// lineBase + 16·line + field.
const (
	cCust = iota + 1
	cDate
	cLines
	cPriority
	cClerk
	cOrderComment
	lineBase = 100
)

const (
	fPart = iota
	fSupp
	fQty
	fDisc
	fTax
	fShip
	fCommit
	fReceipt
	fFlag
	fInstruct
	fMode
	fComment
)

// line is one lineitem, numerically; text is generated when it is emitted.
type line struct {
	part, supp, qty  int64
	price            int64 // cents: qty × retail price
	disc, tax        int64 // hundredths
	ship, commit     int64 // days since 1970-01-01
	receipt          int64
	flag, lineStatus byte
}

// order is one order and its lines, numerically.
type order struct {
	stream     uint64 // streamOrders or streamRefresh
	index, key int64
	cust, date int64
	total      int64 // cents
	status     byte
	n          int
	lines      [7]line
}

func (g *Generator) cell(stream uint64, row int64, col uint64) uint64 {
	return loader.Cell(g.seed, stream, uint64(row), col)
}

func (g *Generator) lineCount(stream uint64, i int64) int {
	return int(loader.Between(g.cell(stream, i, cLines), 1, 7))
}

// makeOrder generates order i of stream (loaded orders or refresh orders)
// with the key given, and its lines (clause 4.2.3).
func (g *Generator) makeOrder(stream uint64, i, key int64, o *order) {
	o.stream, o.index, o.key = stream, i, key
	r := int64(loader.Below(g.cell(stream, i, cCust), uint64(g.customersWithOrders)))
	o.cust = r + r/2 + 1 // the r-th key that is not a multiple of 3
	o.date = loader.Between(g.cell(stream, i, cDate), StartDate, EndDate-151)
	o.n = g.lineCount(stream, i)
	o.total = 0
	var open, shipped int
	for j := range o.n {
		l := &o.lines[j]
		c := func(f uint64) uint64 { return g.cell(stream, i, lineBase+16*uint64(j)+f) }
		l.part = loader.Between(c(fPart), 1, g.parts)
		l.supp = g.PartSupplier(l.part, int(loader.Below(c(fSupp), PartSuppsPerPart)))
		l.qty = loader.Between(c(fQty), 1, 50)
		l.price = l.qty * RetailPrice(l.part)
		l.disc = loader.Between(c(fDisc), 0, 10)
		l.tax = loader.Between(c(fTax), 0, 8)
		l.ship = o.date + loader.Between(c(fShip), 1, 121)
		l.commit = o.date + loader.Between(c(fCommit), 30, 90)
		l.receipt = l.ship + loader.Between(c(fReceipt), 1, 30)
		switch {
		case l.receipt > CurrentDate:
			l.flag = 'N'
		case c(fFlag)&1 == 0:
			l.flag = 'R'
		default:
			l.flag = 'A'
		}
		if l.ship > CurrentDate {
			l.lineStatus = 'O'
			open++
		} else {
			l.lineStatus = 'F'
			shipped++
		}
		// extendedprice × (1 + tax) × (1 - discount), rounded to the cent.
		o.total += (l.price*(100+l.tax)*(100-l.disc) + 5000) / 10000
	}
	switch {
	case open == 0:
		o.status = 'F'
	case shipped == 0:
		o.status = 'O'
	default:
		o.status = 'P'
	}
}
