package tpch

import (
	"fmt"
	"slices"
	"strings"
)

// Q01Options parameterise Q01, the pricing summary report.
type Q01Options struct {
	// DeltaDays: shipments up to 1998-12-01 minus this many days count;
	// 0 means 90, the validation value (the specification draws 60–120).
	DeltaDays int
	// Ordered adds ORDER BY; leave it false for a view definition, which
	// must not have one (pg_ivm).
	Ordered bool
}

// Q01 is TPC-H query 1: one pass over lineitem aggregated into the four
// (return flag, line status) groups A/F, N/F, N/O and R/F.
func Q01(opts Q01Options) string {
	delta := opts.DeltaDays
	if delta == 0 {
		delta = 90
	}
	q := fmt.Sprintf(`SELECT
    l_returnflag,
    l_linestatus,
    sum(l_quantity) AS sum_qty,
    sum(l_extendedprice) AS sum_base_price,
    sum(l_extendedprice * (1 - l_discount)) AS sum_disc_price,
    sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS sum_charge,
    avg(l_quantity) AS avg_qty,
    avg(l_extendedprice) AS avg_price,
    avg(l_discount) AS avg_disc,
    count(*) AS count_order
FROM lineitem
WHERE l_shipdate <= date '1998-12-01' - interval '%d' day
GROUP BY l_returnflag, l_linestatus`, delta)
	if opts.Ordered {
		q += "\nORDER BY l_returnflag, l_linestatus"
	}
	return q
}

// Q09Options parameterise Q09, the product type profit measure.
type Q09Options struct {
	// Colour selects the parts whose name contains it: one of Colours; ""
	// means "green", the validation value.
	Colour string
	// Ordered adds ORDER BY; leave it false for a view definition.
	Ordered bool
}

// Q09 is TPC-H query 9: a six-table join of the parts of one colour,
// profit summed per supplier nation and order year (25 nations × 7 years).
// The colour must be one of Colours: it is written into the text.
func Q09(opts Q09Options) (string, error) {
	colour := opts.Colour
	if colour == "" {
		colour = "green"
	}
	if !slices.Contains(Colours[:], colour) {
		return "", fmt.Errorf("q09 colour %q is not one of the %d part name words (%s, …)", colour, len(Colours), strings.Join(Colours[:5], ", "))
	}
	q := fmt.Sprintf(`SELECT
    nation,
    o_year,
    sum(amount) AS sum_profit
FROM (
    SELECT
        n_name AS nation,
        extract(year FROM o_orderdate) AS o_year,
        l_extendedprice * (1 - l_discount) - ps_supplycost * l_quantity AS amount
    FROM part, supplier, lineitem, partsupp, orders, nation
    WHERE s_suppkey = l_suppkey
      AND ps_suppkey = l_suppkey
      AND ps_partkey = l_partkey
      AND p_partkey = l_partkey
      AND o_orderkey = l_orderkey
      AND s_nationkey = n_nationkey
      AND p_name LIKE '%%%s%%'
) AS profit
GROUP BY nation, o_year`, colour)
	if opts.Ordered {
		q += "\nORDER BY nation, o_year DESC"
	}
	return q, nil
}
