package loader

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// WriteCSV writes every row of src to w in the CSV format of PostgreSQL's
// COPY … WITH (FORMAT csv): the same rows a Load copies, for tools that
// read files (psql's \copy, other databases' bulk loaders). Text is always
// quoted, so an empty string is not read back as NULL.
func WriteCSV(w io.Writer, src RowSource) (rows int64, err error) {
	b := bufio.NewWriterSize(w, 1<<16)
	for src.Next() {
		for i, v := range src.Values() {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeCSVValue(b, v); err != nil {
				return rows, fmt.Errorf("csv row %d column %d: %w", rows, i, err)
			}
		}
		b.WriteByte('\n')
		rows++
	}
	if err := b.Flush(); err != nil {
		return rows, fmt.Errorf("csv: %w", err)
	}
	return rows, nil
}

func writeCSVValue(b *bufio.Writer, v any) error {
	var buf [32]byte
	switch x := v.(type) {
	case nil:
	case int64:
		b.Write(strconv.AppendInt(buf[:0], x, 10))
	case int32:
		b.Write(strconv.AppendInt(buf[:0], int64(x), 10))
	case int:
		b.Write(strconv.AppendInt(buf[:0], int64(x), 10))
	case string:
		writeQuoted(b, x)
	case []byte:
		writeQuoted(b, string(x))
	case Decimal:
		b.WriteString(x.String())
	case pgtype.Date:
		b.WriteString(x.Time.Format(time.DateOnly))
	case time.Time:
		b.WriteString(x.Format(time.RFC3339Nano))
	case fmt.Stringer:
		writeQuoted(b, x.String())
	default:
		return fmt.Errorf("no CSV form for %T", v)
	}
	return nil
}

func writeQuoted(b *bufio.Writer, s string) {
	b.WriteByte('"')
	b.WriteString(strings.ReplaceAll(s, `"`, `""`))
	b.WriteByte('"')
}

// CreateSQL is the CREATE TABLE statement for t under name (its Name when
// empty), as Load runs it for the staging table.
func (t *Table) CreateSQL(name string) string {
	if name == "" {
		name = t.Name
	}
	return t.createSQL(name)
}
