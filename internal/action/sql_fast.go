package action

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"runtime"
	"strconv"
	"sync"
	"weak"

	"github.com/jackc/pgx/v5/pgconn"
)

// fastStatement runs one `query` or `exec` statement of the prepared mode
// through pgconn, below pgx's convenience layer, the way pgbench -M
// prepared does: the statement is prepared once per connection under a
// name of its own, each call sends its arguments as text and reads the
// rows to the end without decoding them. That leaves out pgx's statement
// cache lookup, its encoding of arguments by reflection and its row
// machinery, which cost as much client CPU per call as the wire protocol
// itself on a point select. Arguments of a type it does not encode
// (anything but integers, floats, strings and booleans) send the call
// through pgx instead; the result is the same either way: the server
// parses text parameters into the types it inferred when preparing, as it
// does for pgx's text-format parameters.
type fastStatement struct {
	sql, name string
	nargs     int
	// prepared holds the connections the statement is prepared on, by
	// weak pointer: an entry leaves when its connection is collected. A
	// connection is used by one call at a time, so a miss is never raced
	// on the same connection.
	prepared sync.Map // weak.Pointer[pgconn.PgConn] → struct{}
	bufs     sync.Pool
}

// fastBuf is one call's parameters, reused.
type fastBuf struct {
	params [][]byte
	text   []byte
}

func newFastStatement(sql string, nargs int) *fastStatement {
	sum := sha256.Sum256([]byte(sql))
	f := &fastStatement{sql: sql, name: "pbenchd_" + hex.EncodeToString(sum[:8]), nargs: nargs}
	f.bufs.New = func() any { return &fastBuf{params: make([][]byte, nargs)} }
	return f
}

// encode writes args as text parameters into b; ok is false when an
// argument's type is not one it encodes.
func (f *fastStatement) encode(b *fastBuf, args []any) (ok bool) {
	b.text = b.text[:0]
	// Encode into one buffer, then slice it: appending may move it.
	var ends [16]int
	cut := ends[:0]
	for _, a := range args[:f.nargs] {
		var ok bool
		if b.text, ok = appendText(b.text, a); !ok {
			return false
		}
		cut = append(cut, len(b.text))
	}
	from := 0
	for i, to := range cut {
		b.params[i] = b.text[from:to:to]
		from = to
	}
	return true
}

// appendText appends v as a text parameter; ok is false for a type the
// fast path leaves to pgx.
func appendText(b []byte, v any) ([]byte, bool) {
	switch v := v.(type) {
	case int64:
		return strconv.AppendInt(b, v, 10), true
	case int:
		return strconv.AppendInt(b, int64(v), 10), true
	case string:
		return append(b, v...), true
	case float64:
		return strconv.AppendFloat(b, v, 'g', -1, 64), true
	case bool:
		return strconv.AppendBool(b, v), true
	}
	return b, false
}

// run makes the call; ok is false when an argument's type is not one it
// encodes (nothing was sent: the caller goes through pgx).
func (f *fastStatement) run(ctx context.Context, c *pgconn.PgConn, args []any) (ok bool, err error) {
	b := f.bufs.Get().(*fastBuf)
	defer f.bufs.Put(b)
	if !f.encode(b, args) {
		return false, nil
	}
	key := weak.Make(c)
	if _, done := f.prepared.Load(key); !done {
		if _, err := c.Prepare(ctx, f.name, f.sql, nil); err != nil {
			return true, err
		}
		f.prepared.Store(key, struct{}{})
		runtime.AddCleanup(c, func(k weak.Pointer[pgconn.PgConn]) { f.prepared.Delete(k) }, key)
	}
	_, err = c.ExecPrepared(ctx, f.name, b.params, nil, nil).Close()
	return true, err
}
