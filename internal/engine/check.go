package engine

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pbenchd/pbenchd/internal/config"
)

// CheckResult is the outcome of one check.
type CheckResult struct {
	Name string
	// Match is true when both queries returned the same multiset of rows.
	Match bool
	// Rows counts the rows of the reference query.
	Rows int
	// Missing are rows of expect not in actual, Extra rows of actual not in
	// expect (at most maxShown each).
	Missing, Extra []string
	// Err is set when a query failed (then Match is false).
	Err error
}

const maxShown = 10

// runChecks runs the scenario's checks after its phases.
func (e *Engine) runChecks(ctx context.Context, sc *config.Scenario) []CheckResult {
	var out []CheckResult
	for _, ch := range sc.Checks {
		r := e.check(ctx, sc, ch)
		if !r.Match {
			e.m.ViewMismatch.WithLabelValues(sc.Name, ch.Name).Inc()
		}
		out = append(out, r)
	}
	return out
}

func (e *Engine) check(ctx context.Context, sc *config.Scenario, ch config.Check) CheckResult {
	res := CheckResult{Name: ch.Name}
	timeout := ch.Timeout.D
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	name := ch.Target
	if name == "" {
		name = sc.Target
	}
	pg, err := e.targets.Postgres(name)
	if err != nil {
		res.Err = err
		return res
	}
	c, err := pg.Connect(ctx, nil)
	if err != nil {
		res.Err = err
		return res
	}
	defer c.Close(context.Background())
	for _, q := range ch.Prepare {
		if _, err := c.PgConn().Exec(ctx, q).ReadAll(); err != nil {
			res.Err = fmt.Errorf("prepare: %w", err)
			return res
		}
	}
	want, err := rowSet(ctx, c, ch.Expect)
	if err != nil {
		res.Err = fmt.Errorf("expect: %w", err)
		return res
	}
	got, err := rowSet(ctx, c, ch.Actual)
	if err != nil {
		res.Err = fmt.Errorf("actual: %w", err)
		return res
	}
	res.Rows = len(want)
	res.Missing, res.Extra = diff(want, got)
	res.Match = len(res.Missing) == 0 && len(res.Extra) == 0
	return res
}

// hiddenColumn reports whether a result column is an implementation's
// bookkeeping rather than part of the view: pg_ivm keeps a view's counts in
// columns named __ivm_… (__ivm_count__, __ivm_count_sum_qty__, …) that a
// SELECT * returns but the view's query does not have.
func hiddenColumn(name string) bool { return strings.HasPrefix(name, "__ivm_") }

// rowSet runs a query and returns each row's visible columns (not
// hiddenColumn's) in canonical text form.
func rowSet(ctx context.Context, c *pgx.Conn, q string) ([]string, error) {
	rows, err := c.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var visible []int
	for i, f := range rows.FieldDescriptions() {
		if !hiddenColumn(f.Name) {
			visible = append(visible, i)
		}
	}
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		parts := make([]string, len(visible))
		for j, i := range visible {
			parts[j] = canonical(vals[i])
		}
		out = append(out, "("+strings.Join(parts, ", ")+")")
	}
	return out, rows.Err()
}

// canonical renders a value so that equal values render equally: numbers
// by exact value (numeric 1.50 and 1.5 agree), times in UTC.
func canonical(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case pgtype.Numeric:
		if !v.Valid {
			return "NULL"
		}
		if v.NaN {
			return "NaN"
		}
		r := new(big.Rat).SetInt(v.Int)
		exp := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(v.Exp))), nil)
		if v.Exp >= 0 {
			r.Mul(r, new(big.Rat).SetInt(exp))
		} else {
			r.Quo(r, new(big.Rat).SetInt(exp))
		}
		return ratString(r)
	case int16, int32, int64, int:
		return fmt.Sprint(v)
	case float32:
		return ratString(new(big.Rat).SetFloat64(float64(v)))
	case float64:
		if r := new(big.Rat).SetFloat64(v); r != nil {
			return ratString(r)
		}
		return fmt.Sprint(v)
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case string:
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprint(v)
}

func ratString(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	// Enough digits for any numeric(38, 18); trailing zeros trimmed.
	s := r.FloatString(24)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func abs(n int32) int32 {
	if n < 0 {
		return -n
	}
	return n
}

// diff compares two multisets of rows.
func diff(want, got []string) (missing, extra []string) {
	count := map[string]int{}
	for _, r := range want {
		count[r]++
	}
	for _, r := range got {
		count[r]--
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for n := count[k]; n > 0 && len(missing) < maxShown; n-- {
			missing = append(missing, k)
		}
		for n := count[k]; n < 0 && len(extra) < maxShown; n++ {
			extra = append(extra, k)
		}
	}
	return missing, extra
}
