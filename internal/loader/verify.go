package loader

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// sampleRows is about how many rows the checksum of a loaded table reads:
// a few pages, so checking a table costs its count(*) and little more.
const sampleRows = 1000

// loadMark is what the COMMENT of a loaded table says: the fingerprint of
// the data set, the rows the load left and a checksum of a sample of them.
type loadMark struct {
	fingerprint string
	rows        int64
	pct         float64 // TABLESAMPLE SYSTEM percentage; 0: no sample
	sum         string
}

func (m loadMark) String() string {
	return fmt.Sprintf("%s%s rows=%d sample=%s:%s", commentPrefix, m.fingerprint, m.rows,
		strconv.FormatFloat(m.pct, 'g', -1, 64), m.sum)
}

// parseMark reads a comment that starts with commentPrefix; ok is false
// for one without rows and sample (written before they were).
func parseMark(comment string) (m loadMark, ok bool) {
	rest := strings.TrimPrefix(comment, commentPrefix)
	// The fingerprint may hold spaces: rows and sample are the last two
	// fields.
	i := strings.LastIndex(rest, " rows=")
	if i < 0 {
		m.fingerprint = rest
		return m, false
	}
	m.fingerprint = rest[:i]
	rows, sample, ok1 := strings.Cut(rest[i+len(" rows="):], " sample=")
	pct, sum, ok2 := strings.Cut(sample, ":")
	var err1, err2 error
	m.rows, err1 = strconv.ParseInt(rows, 10, 64)
	m.pct, err2 = strconv.ParseFloat(pct, 64)
	m.sum = sum
	return m, ok1 && ok2 && err1 == nil && err2 == nil
}

// markOf counts the table's rows and sums a sample of them.
func markOf(ctx context.Context, q querier, table, fingerprint string) (loadMark, error) {
	m := loadMark{fingerprint: fingerprint}
	name := identifier(table).Sanitize()
	if err := q.QueryRow(ctx, "SELECT count(*) FROM "+name).Scan(&m.rows); err != nil {
		return m, fmt.Errorf("count the rows of %s: %w", table, err)
	}
	m.pct = 100
	if m.rows > sampleRows {
		// Rounded, so that the comment prints it back exactly.
		p, _ := strconv.ParseFloat(strconv.FormatFloat(100*float64(sampleRows)/float64(m.rows), 'g', 3, 64), 64)
		m.pct = max(p, 0.0001)
	}
	sum, err := sampleSum(ctx, q, table, m.pct)
	if err != nil {
		// A PostgreSQL-wire server without TABLESAMPLE: the count alone.
		m.pct, sum = 0, "-"
	}
	m.sum = sum
	return m, nil
}

// sampleSum is an md5 over the rows of a repeatable block sample, in an
// order of their own (not their physical one). The same blocks are read
// for as long as the table's rows stay where the load put them; a row
// changed moves, and changes the sum when the sample held it.
func sampleSum(ctx context.Context, q querier, table string, pct float64) (string, error) {
	var sum string
	err := q.QueryRow(ctx, `SELECT md5(coalesce(string_agg(h, '' ORDER BY h), ''))
		FROM (SELECT md5(s::text) AS h FROM `+identifier(table).Sanitize()+` AS s
		      TABLESAMPLE SYSTEM ($1) REPEATABLE (1)) x`, pct).Scan(&sum)
	return sum, err
}

// verify says why a table marked loaded no longer holds what the load
// left ("" when it does): fewer or more rows, or different sampled rows.
func verify(ctx context.Context, q querier, table string, m loadMark) (string, error) {
	var rows int64
	if err := q.QueryRow(ctx, "SELECT count(*) FROM "+identifier(table).Sanitize()).Scan(&rows); err != nil {
		return "", fmt.Errorf("count the rows of %s: %w", table, err)
	}
	if rows != m.rows {
		return fmt.Sprintf("%s has %d rows, the load left %d", table, rows, m.rows), nil
	}
	if m.pct == 0 {
		return "", nil
	}
	sum, err := sampleSum(ctx, q, table, m.pct)
	if err != nil {
		return "", fmt.Errorf("checksum of %s: %w", table, err)
	}
	if sum != m.sum {
		return fmt.Sprintf("%s: the sampled rows differ from those the load left", table), nil
	}
	return "", nil
}

// querier is a connection or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}
