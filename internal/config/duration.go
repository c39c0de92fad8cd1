package config

import (
	"fmt"
	"time"
)

// Duration is a time.Duration parsed from text like "120s" or "1m30s" that
// prints back as the user wrote it.
type Duration struct {
	D    time.Duration
	text string
}

// Dur makes a Duration in code; it prints in Go's duration syntax.
func Dur(d time.Duration) Duration { return Duration{D: d} }

// UnmarshalText parses a Go duration. Negative durations are rejected.
func (d *Duration) UnmarshalText(b []byte) error {
	s := string(b)
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration like 120s or 500ms", s)
	}
	if v < 0 {
		return fmt.Errorf("%q: a duration must not be negative", s)
	}
	d.D, d.text = v, s
	return nil
}

// MarshalText returns the text the duration was parsed from.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// String returns the text the duration was parsed from, or Go's form.
func (d Duration) String() string {
	if d.text != "" {
		return d.text
	}
	return d.D.String()
}

// IsZero reports whether the duration is unset or zero.
func (d Duration) IsZero() bool { return d.D == 0 }

// Given reports whether the duration was written (as opposed to left
// out), so that an explicit 0 can be told from a default.
func (d Duration) Given() bool { return d.text != "" }
