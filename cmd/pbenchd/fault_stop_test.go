package main

import (
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTeardownStepDeadlines: a teardown step that hangs gets its own 2s
// deadline and the next step still runs, after an iteration and after a
// stop, with `setup: iteration` and `setup: once`.
func TestTeardownStepDeadlines(t *testing.T) {
	for _, mode := range []string{"iteration", "once"} {
		t.Run(mode, func(t *testing.T) {
			c := pgConn(t)
			table := uniqueTable()
			dropTable(t, table)
			cfg := writeConfig(t, "slow_teardown.yaml", map[string]any{
				"SetupMode": mode, "Table": table, "Total": "30s", "Duration": "1s"})
			d := startDaemon(t, testDSN(), "--config", cfg)
			if mode == "iteration" {
				eventually(t, 30*time.Second, "a teardown that failed on its first step only", func() (bool, string) {
					s := d.stderr.String()
					return strings.Contains(s, `msg="teardown failed"`) && strings.Contains(s, "teardown[0]"), s
				})
				if strings.Contains(d.stderr.String(), "teardown[1]") {
					t.Errorf("the DROP after the slow step failed too: it did not get its own deadline:\n%s", d.stderr.String())
				}
				if tableExists(t, c, table) {
					// It may be that the next iteration made it again.
					eventually(t, 10*time.Second, "the table dropped", func() (bool, string) { return !tableExists(t, c, table), "exists" })
				}
			} else {
				eventually(t, 30*time.Second, "an iteration", func() (bool, string) {
					return strings.Contains(d.stderr.String(), `msg="iteration finished"`), d.stderr.String()
				})
			}
			d.signal(t, syscall.SIGTERM)
			// 5s for calls + 30s teardown budget; the steps take 2s and
			// an instant. 15s is slack for a loaded machine.
			if code := d.exitCode(t, 50*time.Second); code != 0 {
				t.Fatalf("exit %d after SIGTERM, want 0", code)
			}
			if tableExists(t, c, table) {
				t.Errorf("table %s still exists after the stop: the step after the slow one did not run:\n%s", table, d.stderr.String())
			}
		})
	}
}

// TestStopSignals: during a teardown that hangs, a second SIGTERM is
// answered with what the stop waits for, and a third ends the process at
// once, by that signal.
func TestStopSignals(t *testing.T) {
	table := uniqueTable()
	dropTable(t, table)
	cfg := writeConfig(t, "slow_teardown.yaml", map[string]any{
		"SetupMode": "iteration", "Table": table, "Total": "60s", "Duration": "60s"})
	d := startDaemon(t, testDSN(), "--config", cfg)
	eventually(t, 30*time.Second, "the phase", func() (bool, string) {
		return strings.Contains(d.stderr.String(), `msg="phase started"`), d.stderr.String()
	})
	d.signal(t, syscall.SIGTERM)
	eventually(t, 10*time.Second, "the slow teardown step", func() (bool, string) {
		return strings.Contains(d.stderr.String(), `msg="stopping:`), d.stderr.String()
	})
	time.Sleep(500 * time.Millisecond) // into the teardown's first step
	d.signal(t, syscall.SIGTERM)
	eventually(t, 5*time.Second, "the answer to a second SIGTERM", func() (bool, string) {
		s := d.stderr.String()
		return strings.Contains(s, `msg="still stopping;`) && strings.Contains(s, "teardown of scenario slow_teardown, teardown[0]"), s
	})
	d.signal(t, syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(5 * time.Second):
		t.Fatal("still running 5s after a third SIGTERM")
	}
	var ee *exec.ExitError
	if !errors.As(d.err, &ee) {
		t.Fatalf("exit after the third SIGTERM: %v, want death by SIGTERM", d.err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("exit after the third SIGTERM: %v, want death by SIGTERM", d.err)
	}
	if !strings.Contains(d.stderr.String(), `msg="exiting at once on a third signal`) {
		t.Errorf("no line about the third signal:\n%s", d.stderr.String())
	}
}
