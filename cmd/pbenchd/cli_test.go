package main

import (
	"bytes"
	"net"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestVersionAndUsage runs the binary: exit codes are those of a process.
func TestVersionAndUsage(t *testing.T) {
	t.Parallel()
	versionRe := regexp.MustCompile(`^pbenchd ` + regexp.QuoteMeta(testVersion) + ` \(revision \S+, (go\S+)\)\n$`)
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     *regexp.Regexp // nil: must be empty
		stderr     []string       // each must appear
		wantGoVers bool
	}{
		{name: "version", args: []string{"version"}, code: 0, stdout: versionRe, wantGoVers: true},
		{name: "--version", args: []string{"--version"}, code: 0, stdout: versionRe, wantGoVers: true},
		{name: "no command", args: nil, code: 2, stderr: []string{"Usage:", "pbenchd run"}},
		{name: "unknown command", args: []string{"bogus"}, code: 2, stderr: []string{`pbenchd: unknown command "bogus"`, "Usage:"}},
		{name: "unexpected argument", args: []string{"once", "extra"}, code: 2, stderr: []string{`pbenchd once: unexpected argument "extra"`}},
		// A person who mistypes a flag must be told which one.
		{name: "unknown flag", args: []string{"run", "--bogus-flag"}, code: 2, stderr: []string{"--bogus-flag"}},
		{name: "unknown flag of check", args: []string{"check", "--web.listen-adress", ":1"}, code: 2, stderr: []string{"web.listen-adress"}},
		{name: "flag without value", args: []string{"once", "--duration"}, code: 2, stderr: []string{"duration"}},
		{name: "malformed --rate", args: []string{"check", "--rate", "fast"}, code: 2, stderr: []string{`pbenchd: --rate "fast" is not scenario.`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := startProc(t, nil, tt.args...)
			if code := p.exitCode(t, 10*time.Second); code != tt.code {
				t.Errorf("pbenchd %s: exit code %d, want %d", strings.Join(tt.args, " "), code, tt.code)
			}
			stdout, stderr := p.stdout.String(), p.stderr.String()
			switch {
			case tt.stdout == nil && stdout != "":
				t.Errorf("stdout = %q, want nothing", stdout)
			case tt.stdout != nil && !tt.stdout.MatchString(stdout):
				t.Errorf("stdout = %q, want a match of %s", stdout, tt.stdout)
			case tt.wantGoVers:
				if got := tt.stdout.FindStringSubmatch(stdout)[1]; got != runtime.Version() {
					t.Errorf("version prints Go %s, want %s", got, runtime.Version())
				}
			}
			if len(tt.stderr) == 0 && stderr != "" {
				t.Errorf("stderr = %q, want nothing", stderr)
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr does not say %q; it is:\n%s", s, stderr)
				}
			}
		})
	}
}

// countingListener accepts TCP connections on a local port, counts and
// closes them: a target that tells whether anyone tried to connect.
type countingListener struct {
	ln       net.Listener
	accepted atomic.Int64
	wg       sync.WaitGroup
}

func newCountingListener(t *testing.T) *countingListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{ln: ln}
	cl.wg.Add(1)
	go func() {
		defer cl.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			cl.accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		cl.wg.Wait()
	})
	return cl
}

// TestCheck is the CLI contract of `pbenchd check`: a valid config prints
// what would run and exits 0, a bad one prints every problem on stderr and
// exits 2, and neither connects to a target.
func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		config  string // testdata template; "" for a missing file
		code    int
		stdout  []string // lines that must appear, in order; nil: stdout must be empty
		stderr  []string // lines (prefixes) that must appear; nil: stderr must be empty
		nostdio bool
	}{
		{
			name:   "valid",
			config: "check_valid.yaml",
			code:   0,
			stdout: []string{
				"configuration ok: 1 scenario(s) would run, in this order",
				"",
				"scenario e2e_check (pg, from config)",
				"  a valid scenario that is never run",
				"  setup: 1 step(s), teardown: 1 step(s)",
				"  guarantees: select_1 qps≥9 p99≤100ms",
				"phase  duration  action    kind  loop                                                                                                                                                                                                       connections",
				"-----  --------  --------  ----  ---------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------  -------------------------------------------------------------",
				"load   5s        select_1  sql   open loop, periodic 10/s (peak 10/s), max in flight 16 (default: the peak rate × max(1s, 2 × the largest latency guarantee)), pool_size 1 (default: the peak rate × its smallest latency guarantee 100ms)  pooled (pool size: its default); server's isolation; prepared",
			},
		},
		{
			name:   "every problem",
			config: "check_invalid.yaml",
			code:   2,
			stderr: []string{
				"pbenchd: invalid configuration:",
				`  run.scenarios[1]: "no_such_scenario" is not a known scenario (`,
				`  scenarios[0].phases[0].load.actions[0].sql.conn: "sideways" is not one of pooled, reuse, standalone`,
				`  scenarios[0].guarantees.select_2: "select_2" is not an action of this scenario (select_1)`,
			},
		},
		{
			// DESIGN.md: "all problems at once", with this very rate
			// as its example.
			name:   "a bad value beside other problems",
			config: "check_mixed.yaml",
			code:   2,
			stderr: []string{
				"pbenchd: invalid configuration:",
				`  scenarios[0].phases[0].load.actions[0].open.rate: "fast" is not a rate like 100/s`,
				`  run.scenarios[1]: "no_such_scenario" is not a known scenario (`,
			},
		},
		{
			name:   "missing file",
			config: "",
			code:   2,
			stderr: []string{
				"pbenchd: invalid configuration:",
				"  ", // the path, checked below
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cl := newCountingListener(t)
			var path string
			if tt.config != "" {
				path = writeConfig(t, tt.config, map[string]string{"Addr": cl.ln.Addr().String()})
			} else {
				path = t.TempDir() + "/missing.yaml"
			}
			var stdout, stderr bytes.Buffer
			code := run([]string{"check", "--config", path}, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit code %d, want %d", code, tt.code)
			}
			if n := cl.accepted.Load(); n != 0 {
				t.Errorf("check connected to the target %d time(s); it must not connect", n)
			}
			checkLines(t, "stdout", stdout.String(), tt.stdout, true)
			checkLines(t, "stderr", stderr.String(), tt.stderr, false)
			if tt.config == "" && !strings.Contains(stderr.String(), path) {
				t.Errorf("stderr does not name the missing file %s:\n%s", path, stderr.String())
			}
		})
	}
}

// checkLines requires want's lines in out: exact and in order when exact,
// else each as the prefix of some line. An empty want requires empty out.
func checkLines(t *testing.T, what, out string, want []string, exact bool) {
	t.Helper()
	if len(want) == 0 {
		if out != "" {
			t.Errorf("%s = %q, want nothing", what, out)
		}
		return
	}
	lines := strings.Split(out, "\n")
	if exact {
		i := 0
		for _, l := range lines {
			if i < len(want) && l == want[i] {
				i++
			}
		}
		if i < len(want) {
			t.Errorf("%s lacks the line %q (lines expected in order: %q); it is:\n%s", what, want[i], want, out)
		}
		return
	}
	for _, w := range want {
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, w) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s lacks a line starting %q; it is:\n%s", what, w, out)
		}
	}
}

var (
	// summaryHeaderRe matches the header of the summary table (the plain
	// layout: output to a buffer is no terminal).
	summaryHeaderRe = regexp.MustCompile(`(?m)^action\s+calls\s+offered/s\s+served/s\s+qps\s+avg\s+p50\s+p95\s+p99\s+max\s+errors\s+retries\s+dropped\s+guarantees$`)
	// selectRowRe matches the select_1 row: calls, (offered, served) qps,
	// then the errors and dropped columns.
	selectRowRe = regexp.MustCompile(`(?m)^select_1\s+(\d+)\s+\S+\s+\S+\s+([\d.]+)\s+\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+(\d+)\s+\d+\s+(\d+)\s`)
)

// TestOnce runs `pbenchd once` in-process against the real PostgreSQL: a
// scenario within its guarantees exits 0, one that breaks them exits 1,
// and both print the summary table with the verdicts.
func TestOnce(t *testing.T) {
	t.Parallel()
	pg := pgConn(t)
	table := uniqueTable()
	dropTable(t, table)
	cfg := writeConfig(t, "once.yaml", map[string]string{"DSN": testDSN(), "Table": table})

	tests := []struct {
		scenario string
		code     int
		result   string
		verdicts []*regexp.Regexp
	}{
		{
			scenario: "e2e_once_pass", code: 0, result: "PASS",
			verdicts: []*regexp.Regexp{
				regexp.MustCompile(`qps [\d.]+ ≥ 10 ok`),
				regexp.MustCompile(`p99 \S+ ≤ 5s ok`),
				regexp.MustCompile(`error_ratio 0 ≤ 0 ok`),
			},
		},
		{
			scenario: "e2e_once_fail", code: 1, result: "FAIL",
			verdicts: []*regexp.Regexp{
				regexp.MustCompile(`qps [\d.]+ ≥ 1e\+08 FAIL`),
				regexp.MustCompile(`error_ratio 0 ≤ 0 ok`),
				// The limit is printed as configured: 1ns, not rounded
				// away to 0s.
				regexp.MustCompile(`p99 \S+ ≤ 1ns FAIL`),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run([]string{"once", "--config", cfg, "--scenarios", tt.scenario, "--duration", "2s", "--warmup", "0s"}, &stdout, &stderr)
			out := stdout.String()
			if code != tt.code {
				t.Errorf("exit code %d, want %d", code, tt.code)
			}
			title := regexp.MustCompile(`(?m)^scenario ` + tt.scenario + `: ` + tt.result + ` \((\S+)\)$`)
			m := title.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no line %q in the summary:\n%s\nstderr:\n%s", title, out, stderr.String())
			}
			if d, err := time.ParseDuration(m[1]); err != nil || d < 1500*time.Millisecond || d > 10*time.Second {
				t.Errorf("the iteration took %s; a 2s phase should take about 2s", m[1])
			}
			if !summaryHeaderRe.MatchString(out) {
				t.Errorf("no header row in the summary:\n%s", out)
			}
			row := selectRowRe.FindStringSubmatch(out)
			if row == nil {
				t.Fatalf("no select_1 row in the summary:\n%s", out)
			}
			calls, _ := strconv.Atoi(row[1])
			qps, _ := strconv.ParseFloat(row[2], 64)
			if calls < 20 || qps < 10 {
				t.Errorf("select_1: %d calls at %.1f/s in 2s; want at least 20 calls at 10/s", calls, qps)
			}
			if row[3] != "0" || row[4] != "0" {
				t.Errorf("select_1: %s errors and %s dropped, want 0 and 0", row[3], row[4])
			}
			for _, v := range tt.verdicts {
				if !v.MatchString(out) {
					t.Errorf("the summary has no verdict matching %q:\n%s", v, out)
				}
			}
		})
	}
	t.Run("target down", func(t *testing.T) {
		t.Parallel()
		// A DSN with a password, to a port where nothing listens.
		cl := newCountingListener(t)
		addr := cl.ln.Addr().String()
		cl.ln.Close()
		cfg := writeConfig(t, "once.yaml", map[string]string{
			"DSN":   "postgres://postgres:s3cr3t-e2e@" + addr + "/test?sslmode=disable",
			"Table": uniqueTable(),
		})
		var stdout, stderr bytes.Buffer
		code := run([]string{"once", "--config", cfg, "--scenarios", "e2e_once_pass", "--duration", "2s", "--warmup", "0s"}, &stdout, &stderr)
		if code != exitError {
			t.Errorf("exit code %d, want %d (an iteration error)", code, exitError)
		}
		checkLines(t, "stdout", stdout.String(), []string{"scenario e2e_once_pass: ERROR (", "  error: target down: pg: "}, false)
		if !strings.Contains(stdout.String(), "connection refused") {
			t.Errorf("the summary does not say the connection was refused:\n%s", stdout.String())
		}
		if strings.Contains(stdout.String()+stderr.String(), "s3cr3t-e2e") {
			t.Errorf("the password of the DSN was printed:\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	})
	t.Cleanup(func() {
		// After both subtests: e2e_once_pass created the table in its setup
		// and its teardown must have dropped it.
		if tableExists(t, pg, table) {
			t.Errorf("table %s still exists after `pbenchd once`: teardown did not run", table)
		}
	})
}

// TestOnceInterrupted stops `pbenchd once` after a scenario has broken its
// guarantees: the run must exit 130, interrupted (a CI job killed on a
// timeout must neither report success nor pass for a verdict on every
// scenario), and the interrupted scenario's teardown must run.
func TestOnceInterrupted(t *testing.T) {
	t.Parallel()
	pg := pgConn(t)
	table := uniqueTable()
	dropTable(t, table)
	cfg := writeConfig(t, "once.yaml", map[string]string{"DSN": testDSN(), "Table": table})
	p := startProc(t, nil, "once", "--config", cfg, "--scenarios", "e2e_once_fail,e2e_once_pass", "--duration", "2s", "--warmup", "0s")
	eventually(t, 15*time.Second, "e2e_once_fail's summary, then e2e_once_pass's setup", func() (bool, string) {
		if p.exited() {
			t.Fatalf("pbenchd once exited early:\n%s", p.stdout.String())
		}
		return strings.Contains(p.stdout.String(), "scenario e2e_once_fail: FAIL") && tableExists(t, pg, table), p.stdout.String()
	})
	p.signal(t, syscall.SIGTERM)
	if code := p.exitCode(t, 5*time.Second); code != exitInterrup {
		t.Errorf("pbenchd once, stopped after a scenario failed: exit code %d, want %d\nstdout:\n%s", code, exitInterrup, p.stdout.String())
	}
	if tableExists(t, pg, table) {
		t.Errorf("table %s still exists after SIGTERM: teardown did not run", table)
	}
}
