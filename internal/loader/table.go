package loader

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Table is one table a [Load] creates and fills: its shape, its size in
// items, a generator for any range of items, and what to build after the
// data. An item is the unit that workers divide: usually a row, but a table
// may produce several rows per item (TPC-H lineitem: an order's lines).
type Table struct {
	// Name is the final table name, optionally schema-qualified ("s.t").
	// Unqualified names resolve through the connection's search_path.
	Name string
	// Columns are created in order and copied in order.
	Columns []Column
	// Items is the number of items [0, Items) that Rows can generate.
	Items int64
	// Rows returns the rows of items r, in order. It is called from many
	// goroutines at once, each call with its own range, so the returned
	// sources must not share mutable state.
	Rows func(r Range) RowSource
	// PrimaryKey names the primary key's columns; empty means none.
	PrimaryKey []string
	// Indexes are statements run after the data, in order, with {{ .table }}
	// replaced by the quoted (staging) table name, e.g.
	// "CREATE INDEX ON {{ .table }} (qty)". Indexes named automatically by
	// PostgreSQL are renamed with the table.
	Indexes []string
	// Unlogged loads into an UNLOGGED table (no WAL for the data) and sets it
	// LOGGED before the indexes are built.
	Unlogged bool
	// Analyze runs ANALYZE on the table once it has its final name.
	Analyze bool
	// Fingerprint identifies the table's contents: equal fingerprints mean
	// identical data (spec, seed, rows). A rerun that finds every table of a
	// load present with its fingerprint skips the load.
	Fingerprint string
}

// Column is one column of a [Table].
type Column struct {
	// Name is the column name, quoted as needed.
	Name string
	// Type is the PostgreSQL type as written in CREATE TABLE, e.g.
	// "bigint", "numeric(15,2)", "char(25)".
	Type string
	// NotNull adds NOT NULL.
	NotNull bool
}

// RowSource yields rows one at a time: a lazy iterator, so a load's memory
// does not grow with its size.
type RowSource interface {
	// Next advances to the next row and reports whether there is one.
	Next() bool
	// Values returns the current row, one value per column, in a form pgx
	// encodes (int64, string, []byte, [Decimal], pgtype.Date…). The slice and
	// anything it refers to may be reused after the next call to Next.
	Values() []any
}

// RowFunc adapts a function that fills a row for one item to a RowSource
// over a range: a table with exactly one row per item.
func RowFunc(r Range, columns int, fill func(item int64, row []any)) RowSource {
	return &rowFunc{next: r.Start, end: r.End, fill: fill, row: make([]any, columns)}
}

type rowFunc struct {
	next, end int64
	fill      func(int64, []any)
	row       []any
}

func (f *rowFunc) Next() bool {
	if f.next >= f.end {
		return false
	}
	f.fill(f.next, f.row)
	f.next++
	return true
}

func (f *rowFunc) Values() []any { return f.row }

// identifier splits a possibly schema-qualified name into a pgx.Identifier.
func identifier(name string) pgx.Identifier {
	if schema, table, ok := strings.Cut(name, "."); ok {
		return pgx.Identifier{schema, table}
	}
	return pgx.Identifier{name}
}

// baseName is the table part of a possibly schema-qualified name.
func baseName(name string) string {
	if _, table, ok := strings.Cut(name, "."); ok {
		return table
	}
	return name
}

// StagingSuffix is appended to a table's name while it is being loaded.
const StagingSuffix = "__pbenchd_staging"

// maxIdentifier is PostgreSQL's NAMEDATALEN-1: longer names are truncated,
// which would make staging names collide.
const maxIdentifier = 63

// stagingName is the name t is loaded under.
func stagingName(name string) string { return name + StagingSuffix }

// check reports what makes t unloadable.
func (t *Table) check() error {
	if t.Name == "" {
		return fmt.Errorf("table has no name")
	}
	if n := len(baseName(t.Name)) + len(StagingSuffix); n > maxIdentifier {
		return fmt.Errorf("table %q: name too long: with the staging suffix %q it has %d bytes, PostgreSQL keeps %d", t.Name, StagingSuffix, n, maxIdentifier)
	}
	if len(t.Columns) == 0 {
		return fmt.Errorf("table %q has no columns", t.Name)
	}
	if t.Items < 0 {
		return fmt.Errorf("table %q: %d items must not be negative", t.Name, t.Items)
	}
	if t.Rows == nil && t.Items > 0 {
		return fmt.Errorf("table %q has items but no row generator", t.Name)
	}
	return nil
}

// createSQL is the CREATE TABLE statement for t under name.
func (t *Table) createSQL(name string) string {
	var b strings.Builder
	b.WriteString("CREATE ")
	if t.Unlogged {
		b.WriteString("UNLOGGED ")
	}
	b.WriteString("TABLE ")
	b.WriteString(identifier(name).Sanitize())
	b.WriteString(" (")
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(pgx.Identifier{c.Name}.Sanitize())
		b.WriteByte(' ')
		b.WriteString(c.Type)
		if c.NotNull {
			b.WriteString(" NOT NULL")
		}
	}
	b.WriteString(")")
	return b.String()
}

// columnNames lists t's column names for COPY.
func (t *Table) columnNames() []string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return names
}

// tableRef and numberRef are the loader's placeholders, {{ .table }} and
// {{ .i }}; the older {{ .table }} and {{i}} are read too.
var (
	tableRef  = regexp.MustCompile(`\{\{\s*\.?table\s*\}\}`)
	numberRef = regexp.MustCompile(`\{\{\s*\.?i\s*\}\}`)
)

// Expand replaces {{ .table }} in stmt by the quoted name.
func Expand(stmt, name string) string {
	return tableRef.ReplaceAllLiteralString(stmt, identifier(name).Sanitize())
}
