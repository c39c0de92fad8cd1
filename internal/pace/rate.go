package pace

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rate is a number of events per unit of time, such as 100/s.
//
// It is parsed once, at config load, from text like "100/s", "5/m", "0.5/s",
// "2/h", "10/ms", "1/5s" or "250" (a bare number is per second), and prints
// back as written. The zero Rate means "not set".
type Rate struct {
	// count events every unit, kept apart rather than as one float so that
	// "5/m" schedules arrival n at exactly n·60s/5 with no rounding of 5/60.
	count float64
	unit  time.Duration
	text  string // as the user wrote it; empty for a Rate made in code
}

// ParseRate parses a rate written as NUMBER or NUMBER/UNIT, where UNIT is a
// time.ParseDuration unit with or without a count ("s", "ms", "m", "h", "5s").
// A bare number is per second. The rate must be positive.
func ParseRate(s string) (Rate, error) {
	num, per, hasUnit := strings.Cut(s, "/")
	unit := time.Second
	if hasUnit {
		// Accept "s" as well as "1s", as vegeta does with "100/1s".
		if per != "" && (per[0] < '0' || per[0] > '9') && per[0] != '.' {
			per = "1" + per
		}
		var err error
		if unit, err = time.ParseDuration(per); err != nil || unit <= 0 {
			return Rate{}, notARate(s)
		}
	}
	// ParseFloat alone would also take "Inf", "NaN", "0x1p4" and "1_000".
	if num == "" || strings.TrimLeft(num, "0123456789.eE+-") != "" {
		return Rate{}, notARate(s)
	}
	count, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return Rate{}, notARate(s)
	}
	if count <= 0 {
		return Rate{}, fmt.Errorf("%q: a rate must be positive", s)
	}
	return Rate{count: count, unit: unit, text: s}, nil
}

func notARate(s string) error {
	return fmt.Errorf("%q is not a rate like 100/s", s)
}

// PerSecond returns a Rate of f events per second, for code and tests.
// PerSecond(0) is the zero Rate. It prints as f followed by "/s".
func PerSecond(f float64) Rate {
	if f == 0 {
		return Rate{}
	}
	return Rate{count: f, unit: time.Second}
}

// PerSecond returns the rate in events per second; 0 for the zero Rate.
func (r Rate) PerSecond() float64 {
	if r.unit == 0 {
		return 0
	}
	return r.count * float64(time.Second) / float64(r.unit)
}

// Interval returns the time between two events, 1/rate, rounded to the
// nanosecond; 0 for the zero Rate.
func (r Rate) Interval() time.Duration {
	if r.IsZero() {
		return 0
	}
	return nanos(r.gap())
}

// gap is the interval in nanoseconds, unrounded, for arithmetic that must not
// accumulate the rounding of Interval.
func (r Rate) gap() float64 {
	return float64(r.unit) / r.count
}

// in returns the number of events expected in d, computed from the count
// and unit as written so that "20/m" over 30s is exactly 10.
func (r Rate) in(d time.Duration) float64 {
	return float64(d) * r.count / float64(r.unit)
}

// String returns the rate as it was written, or as "100/s" for a Rate made in
// code. The zero Rate prints as "0/s".
func (r Rate) String() string {
	if r.text != "" {
		return r.text
	}
	return strconv.FormatFloat(r.PerSecond(), 'g', -1, 64) + "/s"
}

// IsZero reports whether r is the zero Rate, that is, not set.
func (r Rate) IsZero() bool {
	return r.count == 0
}

// UnmarshalText parses b with ParseRate, so that config decoders produce a
// Rate. Empty text leaves the zero Rate, so that an unset key is reported as
// missing by New, with its name, rather than as a parse error here.
func (r *Rate) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*r = Rate{}
		return nil
	}
	p, err := ParseRate(string(b))
	if err != nil {
		return err
	}
	*r = p
	return nil
}

// MarshalText returns the text of String, or empty text for the zero Rate so
// that it reads back as the zero Rate through UnmarshalText.
func (r Rate) MarshalText() ([]byte, error) {
	if r.IsZero() {
		return []byte{}, nil
	}
	return []byte(r.String()), nil
}
