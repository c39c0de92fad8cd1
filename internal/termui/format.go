package termui

import (
	"math"
	"time"
)

// Seconds shows a latency given in seconds as a rounded duration (see
// Duration): ∞ for a latency of bad events (slower than any limit), - for
// none (NaN or 0).
func Seconds(sec float64) string {
	switch {
	case math.IsInf(sec, 1):
		return "∞"
	case math.IsNaN(sec):
		return "-"
	}
	return Duration(time.Duration(sec * 1e9))
}

// Duration shows a duration to three or four significant digits: to the
// millisecond from a second, to 10 µs from a millisecond, else to the
// microsecond; - for 0.
func Duration(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}
