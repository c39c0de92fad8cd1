package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestExitNothingSelected runs the binary with every scenario left out:
// nothing ran, which is an error a CI sees (exit 5), not a pass, and the
// daemon does not wait forever for a reload that a unit file never sends.
func TestExitNothingSelected(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, "reload.yaml", reloadConfig{Scenario: "e2e_reload_a", Pause: "0s"})
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"once", []string{"once", "--config", cfg, "--scenarios", "e2e_reload_a", "--exclude", "e2e_reload_a"},
			"pbenchd once: nothing selected: run.scenarios (--scenarios) e2e_reload_a, less run.exclude (--exclude) e2e_reload_a, leaves no scenario\n"},
		{"check", []string{"check", "--config", cfg, "--scenarios", "e2e_reload_a", "--exclude", "e2e_reload_a"},
			"pbenchd check: nothing selected: run.scenarios (--scenarios) e2e_reload_a, less run.exclude (--exclude) e2e_reload_a, leaves no scenario\n"},
		{"run", []string{"run", "--config", cfg, "--web.listen-address", "127.0.0.1:0", "--scenarios", "e2e_reload_a", "--exclude", "e2e_reload_a"},
			"pbenchd run: nothing selected: run.scenarios (--scenarios) e2e_reload_a, less run.exclude (--exclude) e2e_reload_a, leaves no scenario\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := startProc(t, []string{"PBENCHD_TARGETS__PG__DSN=" + testDSN()}, tt.args...)
			if code := p.exitCode(t, 20*time.Second); code != exitNothing {
				t.Errorf("exit code %d, want %d", code, exitNothing)
			}
			if got := p.stderr.String(); got != tt.want {
				t.Errorf("stderr:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestExitCodesDocumented checks that --help of every command and the
// README give the same table of exit codes as the code returns.
func TestExitCodesDocumented(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"run", "once", "check"} {
		p := startProc(t, nil, cmd, "--help")
		if code := p.exitCode(t, 10*time.Second); code != 0 {
			t.Errorf("pbenchd %s --help: exit code %d", cmd, code)
		}
		if !strings.Contains(p.stderr.String(), exitCodes) {
			t.Errorf("pbenchd %s --help does not list the exit codes:\n%s", cmd, p.stderr.String())
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```\n"+exitCodes+"```\n") {
		t.Errorf("README.md does not give the table of exit codes that --help prints:\n%s", exitCodes)
	}
	for code, word := range map[int]string{exitOK: "0 ", exitFailed: "1 ", exitUsage: "2 ", exitRuntime: "3 ", exitError: "4 ", exitNothing: "5 ", exitInterrup: "130 "} {
		if !strings.Contains(exitCodes, "\n  "+word) {
			t.Errorf("exit code %d is not in the table:\n%s", code, exitCodes)
		}
	}
}
