package loader

import (
	"encoding/binary"
	"math/big"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Decimal is an exact decimal Units × 10^-Scale, the value generators give
// numeric columns. pgx encodes it through pgtype.NumericValuer anywhere;
// on the loader's own connections a codec encodes it without big.Int, which
// matters when a table has millions of numeric cells.
type Decimal struct {
	// Units is the value in units of 10^-Scale: 1234 at scale 2 is 12.34.
	Units int64
	// Scale is the number of digits after the point.
	Scale int16
}

var pow10 = [...]int64{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000}

// NumericValue implements pgtype.NumericValuer.
func (d Decimal) NumericValue() (pgtype.Numeric, error) {
	return pgtype.Numeric{Int: big.NewInt(d.Units), Exp: -int32(d.Scale), Valid: true}, nil
}

// String prints d with exactly Scale fractional digits, e.g. "-0.05".
func (d Decimal) String() string {
	s := strconv.FormatInt(d.Units, 10)
	if d.Scale <= 0 {
		if d.Units != 0 {
			s += strings.Repeat("0", int(-d.Scale))
		}
		return s
	}
	neg := d.Units < 0
	if neg {
		s = s[1:]
	}
	for len(s) <= int(d.Scale) {
		s = "0" + s
	}
	s = s[:len(s)-int(d.Scale)] + "." + s[len(s)-int(d.Scale):]
	if neg {
		s = "-" + s
	}
	return s
}

// decimalCodec is pgtype.NumericCodec with a fast binary encoder for Decimal.
type decimalCodec struct {
	pgtype.NumericCodec
}

func (c decimalCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if _, ok := value.(Decimal); ok && format == pgtype.BinaryFormatCode {
		return decimalBinaryPlan{}
	}
	return c.NumericCodec.PlanEncode(m, oid, format, value)
}

type decimalBinaryPlan struct{}

// Encode writes PostgreSQL's binary numeric: ndigits, weight, sign, dscale,
// then base-10000 digits, most significant first, with the decimal point on
// a digit boundary.
func (decimalBinaryPlan) Encode(value any, buf []byte) ([]byte, error) {
	d := value.(Decimal)
	if d.Scale < 0 || d.Units == -1<<63 {
		return encodeDecimalSlow(d, buf)
	}
	u := uint64(d.Units)
	var sign uint16
	if d.Units < 0 {
		u = uint64(-d.Units)
		sign = 0x4000
	}
	pad := (4 - int(d.Scale)%4) % 4
	// Align the point on a base-10000 boundary; fall back if that overflows.
	if pad > 0 {
		p := uint64(pow10[pad])
		if u > (1<<64-1)/p {
			return encodeDecimalSlow(d, buf)
		}
		u *= p
	}
	fracGroups := (int(d.Scale) + pad) / 4
	var digits [6]uint16 // 2^64 has 20 decimal digits: 5 groups; 6 for safety
	n := 0
	for u > 0 {
		digits[n] = uint16(u % 10000)
		u /= 10000
		n++
	}
	// digits[0] is the least significant group; its weight is -fracGroups.
	lo := 0
	for lo < n && digits[lo] == 0 {
		lo++
	}
	if lo == n { // zero
		buf = binary.BigEndian.AppendUint16(buf, 0)
		buf = binary.BigEndian.AppendUint16(buf, 0)
		buf = binary.BigEndian.AppendUint16(buf, 0)
		return binary.BigEndian.AppendUint16(buf, uint16(d.Scale)), nil
	}
	weight := n - 1 - fracGroups
	buf = binary.BigEndian.AppendUint16(buf, uint16(n-lo))
	buf = binary.BigEndian.AppendUint16(buf, uint16(int16(weight)))
	buf = binary.BigEndian.AppendUint16(buf, sign)
	buf = binary.BigEndian.AppendUint16(buf, uint16(d.Scale))
	for i := n - 1; i >= lo; i-- {
		buf = binary.BigEndian.AppendUint16(buf, digits[i])
	}
	return buf, nil
}

func encodeDecimalSlow(d Decimal, buf []byte) ([]byte, error) {
	n, _ := d.NumericValue()
	return pgtype.NumericCodec{}.PlanEncode(nil, pgtype.NumericOID, pgtype.BinaryFormatCode, n).Encode(n, buf)
}

// RegisterTypes installs the loader's encoders on conn's type map. Load
// calls it on its own connections; call it on a connection of your own to
// copy [Decimal] values faster.
func RegisterTypes(conn *pgx.Conn) {
	conn.TypeMap().RegisterType(&pgtype.Type{Name: "numeric", OID: pgtype.NumericOID, Codec: decimalCodec{}})
}
