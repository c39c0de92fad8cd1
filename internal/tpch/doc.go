// Package tpch generates TPC-H-shaped data and runs TPC-H's Q01, Q09 and
// refresh streams against it, for pbenchd's IVM scenarios.
//
// The data is TPC-H-shaped, not the official dbgen output: the eight tables
// have the specification's schema and cardinalities at a fractional scale
// factor, its key relationships (sparse order keys, the partsupp supplier
// formula, lineitem part/supplier pairs that exist in partsupp) and the value
// distributions the queries depend on (dates, return flags and line
// statuses, prices, discounts, taxes, part names drawn from the 92 colour
// words), so that Q01 and Q09 select and aggregate what they would on dbgen
// data. The random streams, the comment texts and hence the exact values and
// answers differ from dbgen's; results are not comparable with published
// TPC-H results, and this is not a TPC-H benchmark.
//
// Every value is a function of (seed, table, row) alone (see
// loader.Cell), so any worker or pbenchd instance can generate any range of
// any table, and two loads with the same scale factor and seed hold the same
// data. Lineitem rows are generated per order: a range of orders yields
// their lines.
package tpch
