package engine

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pbenchd/pbenchd/internal/config"
)

// TestRedact checks that a message never carries a password: a configured
// one wherever it appears, and anything spelled like one.
func TestRedact(t *testing.T) {
	cfg := &config.Config{Targets: map[string]config.Target{
		"pg":    {Kind: "postgres", DSN: "postgres://bench:s3cr3t@db:5432/x"},
		"kafka": {Kind: "kafka", SASL: &config.SASL{Mechanism: "PLAIN", Username: "u", Password: "hunter2"}},
	}}
	secrets := secretsOf(cfg)
	for in, want := range map[string]string{
		"failed to connect to `user=bench database=x`: s3cr3t rejected": "failed to connect to `user=bench database=x`: [redacted] rejected",
		"dial postgres://bench:other@db:5432/x: refused":                "dial postgres://bench:[redacted]@db:5432/x: refused",
		"bad option password=abc host=db":                               "bad option password=[redacted] host=db",
		"SASL authentication failed for hunter2":                        "SASL authentication failed for [redacted]",
		`ERROR: relation "t" does not exist (SQLSTATE 42P01)`:           `ERROR: relation "t" does not exist (SQLSTATE 42P01)`,
	} {
		if got := redact(in, secrets); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMessageLogBounds checks the bounds: one message per class and
// action, at most maxClassesKept classes, each cut to maxMessageLen.
func TestMessageLogBounds(t *testing.T) {
	m := newMessageLog(&config.Config{}, slog.New(slog.DiscardHandler))
	long := strings.Repeat("x", 1000)
	for i := range 20 {
		m.add("s", "a", &pgconn.PgError{Code: fmt.Sprintf("P%04d", i), Message: long})
		m.add("s", "a", &pgconn.PgError{Code: fmt.Sprintf("P%04d", i), Message: "second of its class"})
	}
	got := m.take()
	if len(got) != maxClassesKept {
		t.Fatalf("%d messages kept, want %d", len(got), maxClassesKept)
	}
	for _, msg := range got {
		if n := len([]rune(msg.Message)); n != maxMessageLen || strings.Contains(msg.Message, "second") {
			t.Errorf("message of %s: %d runes (want %d), the first of its class: %.40q", msg.Class, n, maxMessageLen, msg.Message)
		}
	}
	if len(m.take()) != 0 {
		t.Error("take did not start afresh")
	}
}
