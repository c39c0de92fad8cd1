package loader

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Copier is the one method of *pgx.Conn and pgx.Tx that copying needs.
type Copier interface {
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// CopyRows copies every row of src into table with one COPY statement per
// batch of at most batchRows rows (batchRows < 1: all in one), calling
// onBatch after each with the number of rows the server accepted. Memory
// stays flat: rows are generated as pgx encodes them. It returns the rows
// copied.
func CopyRows(ctx context.Context, c Copier, table pgx.Identifier, columns []string, src RowSource, batchRows int, onBatch func(rows int64)) (int64, error) {
	b := &batchSource{src: src, limit: batchRows}
	var total int64
	for {
		// Look ahead so that a source ending on a batch boundary does not
		// cost an empty COPY.
		if !src.Next() {
			return total, nil
		}
		b.n, b.pending = 0, true
		n, err := c.CopyFrom(ctx, table, columns, b)
		total += n
		if err != nil {
			return total, fmt.Errorf("copy into %s: %w", table.Sanitize(), err)
		}
		if n > 0 && onBatch != nil {
			onBatch(n)
		}
		if b.done {
			return total, nil
		}
	}
}

// batchSource adapts a RowSource to pgx.CopyFromSource, ending each COPY
// after limit rows without consuming the row after them.
type batchSource struct {
	src   RowSource
	limit int
	n     int
	// pending: the source is already on a row that has not been sent.
	pending bool
	done    bool
}

func (b *batchSource) Next() bool {
	if b.pending {
		b.pending = false
		b.n++
		return true
	}
	if b.done || (b.limit > 0 && b.n >= b.limit) {
		return false
	}
	if !b.src.Next() {
		b.done = true
		return false
	}
	b.n++
	return true
}

func (b *batchSource) Values() ([]any, error) { return b.src.Values(), nil }

func (b *batchSource) Err() error { return nil }
