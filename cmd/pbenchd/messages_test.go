package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestServerMessages runs a scenario whose every call fails on a missing
// table: the server's text is logged once (not once a call), kept in the
// results JSON, and shown as a footnote under once's table.
func TestServerMessages(t *testing.T) {
	t.Parallel()
	table := uniqueTable() // never created
	cfg := writeConfig(t, "messages.yaml", map[string]string{"DSN": testDSN(), "Table": table})
	results := filepath.Join(t.TempDir(), "results.json")
	var stdout, stderr bytes.Buffer
	code := run([]string{"once", "--config", cfg, "--scenarios", "e2e_messages", "--warmup", "0s", "--progress", "0s", "--results", results}, &stdout, &stderr)
	// Not one call succeeded: an iteration error, not a verdict.
	if code != exitError {
		t.Errorf("exit code %d, want %d\n%s", code, exitError, stderr.String())
	}
	text := `ERROR: relation "` + table + `" does not exist (SQLSTATE 42P01)`
	foot := regexp.MustCompile(`(?m)^\[1\] select_missing sqlstate_42P01: ` + regexp.QuoteMeta(text) + `$`)
	if !foot.MatchString(stdout.String()) {
		t.Errorf("no footnote %q under the table:\n%s", foot, stdout.String())
	}
	if !strings.Contains(stdout.String(), "sqlstate_42P01=") || !regexp.MustCompile(`sqlstate_42P01=\d+ \[1\]`).MatchString(stdout.String()) {
		t.Errorf("the error class does not point at its footnote:\n%s", stdout.String())
	}
	if n := strings.Count(stderr.String(), "call failed (first of its class in this iteration)"); n != 1 {
		t.Errorf("the message is logged %d times, want once:\n%s", n, stderr.String())
	}
	b, err := os.ReadFile(results)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Results map[string]struct {
			Messages []struct{ Action, Class, Message string }
		}
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	ms := r.Results["e2e_messages"].Messages
	if len(ms) != 1 || ms[0].Action != "select_missing" || ms[0].Class != "sqlstate_42P01" || ms[0].Message != text {
		t.Errorf("messages in the results: %+v, want the one of sqlstate_42P01: %s", ms, text)
	}
}
