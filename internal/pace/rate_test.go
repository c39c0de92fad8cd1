package pace

import (
	"testing"
	"time"
)

// mustRate parses a rate that a test knows to be valid.
func mustRate(s string) Rate {
	r, err := ParseRate(s)
	if err != nil {
		panic(err)
	}
	return r
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		perSecond float64
		interval  time.Duration
	}{
		{"per second", "100/s", 100, 10 * time.Millisecond},
		{"per minute", "5/m", 5.0 / 60, 12 * time.Second},
		{"fraction", "0.5/s", 0.5, 2 * time.Second},
		{"per hour", "2/h", 2.0 / 3600, 30 * time.Minute},
		{"per millisecond", "10/ms", 10_000, 100 * time.Microsecond},
		{"per microsecond", "1/us", 1e6, time.Microsecond},
		{"bare number is per second", "250", 250, 4 * time.Millisecond},
		{"unit with a count", "1/5s", 0.2, 5 * time.Second},
		{"vegeta's form", "50/1s", 50, 20 * time.Millisecond},
		{"fractional unit", "3/1.5s", 2, 500 * time.Millisecond},
		{"exponent", "1e3/s", 1000, time.Millisecond},
		{"interval rounds to the nanosecond", "3/s", 3, 333333333 * time.Nanosecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRate(tt.in)
			if err != nil {
				t.Fatalf("ParseRate(%q): %v", tt.in, err)
			}
			if got := r.PerSecond(); got != tt.perSecond {
				t.Errorf("PerSecond() = %v, want %v", got, tt.perSecond)
			}
			if got := r.Interval(); got != tt.interval {
				t.Errorf("Interval() = %v, want %v", got, tt.interval)
			}
			if got := r.String(); got != tt.in {
				t.Errorf("String() = %q, want it as written, %q", got, tt.in)
			}
			if r.IsZero() {
				t.Error("IsZero() = true for a parsed rate")
			}
		})
	}
}

func TestParseRateErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"word", "fast", `"fast" is not a rate like 100/s`},
		{"empty", "", `"" is not a rate like 100/s`},
		{"zero", "0/s", `"0/s": a rate must be positive`},
		{"bare zero", "0", `"0": a rate must be positive`},
		{"negative", "-5/s", `"-5/s": a rate must be positive`},
		{"no number", "/s", `"/s" is not a rate like 100/s`},
		{"no unit after the slash", "100/", `"100/" is not a rate like 100/s`},
		{"unknown unit", "100/d", `"100/d" is not a rate like 100/s`},
		{"zero unit", "1/0s", `"1/0s" is not a rate like 100/s`},
		{"negative unit", "1/-1s", `"1/-1s" is not a rate like 100/s`},
		{"two slashes", "1/s/s", `"1/s/s" is not a rate like 100/s`},
		{"space", "100 /s", `"100 /s" is not a rate like 100/s`},
		{"infinity", "Inf/s", `"Inf/s" is not a rate like 100/s`},
		{"not a number", "NaN", `"NaN" is not a rate like 100/s`},
		{"hexadecimal", "0x10/s", `"0x10/s" is not a rate like 100/s`},
		{"out of range", "1e400/s", `"1e400/s" is not a rate like 100/s`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRate(tt.in)
			if err == nil {
				t.Fatalf("ParseRate(%q) = %v, want error %q", tt.in, r, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("ParseRate(%q) error = %q, want %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestRateInCode(t *testing.T) {
	tests := []struct {
		name     string
		rate     Rate
		str      string
		zero     bool
		interval time.Duration
	}{
		{"whole", PerSecond(100), "100/s", false, 10 * time.Millisecond},
		{"fraction", PerSecond(0.5), "0.5/s", false, 2 * time.Second},
		{"PerSecond(0) is unset", PerSecond(0), "0/s", true, 0},
		{"zero value is unset", Rate{}, "0/s", true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rate.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			if got := tt.rate.IsZero(); got != tt.zero {
				t.Errorf("IsZero() = %v, want %v", got, tt.zero)
			}
			if got := tt.rate.Interval(); got != tt.interval {
				t.Errorf("Interval() = %v, want %v", got, tt.interval)
			}
		})
	}
}

func TestRateText(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Rate
		wantErr string
	}{
		{"as written", "5/m", mustRate("5/m"), ""},
		{"bare number", "250", mustRate("250"), ""},
		{"empty is unset", "", Rate{}, ""},
		{"bad", "fast", Rate{}, `"fast" is not a rate like 100/s`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := PerSecond(7) // overwritten, never merged
			err := r.UnmarshalText([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("UnmarshalText(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("UnmarshalText(%q): %v", tt.in, err)
			}
			if r != tt.want {
				t.Errorf("UnmarshalText(%q) = %#v, want %#v", tt.in, r, tt.want)
			}
			b, err := r.MarshalText()
			if err != nil {
				t.Fatalf("MarshalText: %v", err)
			}
			if string(b) != tt.in {
				t.Errorf("MarshalText() = %q, want the round trip %q", b, tt.in)
			}
		})
	}
}
