package grafana

// The end-to-end test of what pbenchd ships for Prometheus and Grafana: a
// real pbenchd runs short scenarios against the test PostgreSQL and the
// embedded Kafka cluster, a real Prometheus scrapes it and evaluates the
// shipped rules, and every expression of every dashboard panel, dashboard
// variable and rule is evaluated through Prometheus's HTTP API, on a
// Prometheus that ingests classic histograms and on one that ingests native
// ones. Each panel must show data for every scenario (and action) that has
// the series it reads. It proves that the dashboards show data and that the
// alerts fire, without Grafana. Alert delivery through Alertmanager is
// e2e_alerts_test.go.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pbenchd/pbenchd/internal/pgtest"
)

// The scenarios of testdata/e2e and the built-in Kafka one, in the order
// the daemon runs them.
const (
	scenarioOpen   = "e2e_open"   // broken guarantees, errors, drops, a failing check
	scenarioClosed = "e2e_closed" // everything met: load step, freshness, sweep, a matching check
	scenarioKafka  = "kafka_produce_consume"
)

var e2eScenarios = []string{scenarioOpen, scenarioClosed, scenarioKafka}

const (
	// e2eDuration replaces every load phase's duration and sweep step
	// (--duration), so that a whole cycle of the three scenarios takes
	// about 7 seconds.
	e2eDuration = "1s"
	// e2eBudget bounds the wait for the daemon and Prometheus, from the
	// daemon's start until the guarantee alerts fire (3 iterations of
	// e2e_open, about 3 cycles).
	e2eBudget = 50 * time.Second
	// e2eWindow is the range of the range queries, as a dashboard's time
	// picker would give.
	e2eWindow = time.Minute
)

// alertWant is an alert the run must produce, matched by a subset of its
// labels, in one of the given states.
type alertWant struct {
	labels map[string]string
	states []string // firing, pending
	// description must contain these (the annotations' queries work).
	description []string
}

// wantAlerts are the alerts e2e_open must raise. The guarantee alerts and
// PbenchdViewMismatch have no `for:`, so they fire as soon as the breach
// persisted for 3 iterations (the shipped threshold) or the counter rose;
// PbenchdLoadGeneratorSaturated has `for: 2m`, longer than the test, so it
// must be at least pending.
var wantAlerts = []alertWant{
	{labels: map[string]string{"alertname": "PbenchdQPSGuaranteeBroken", "scenario": scenarioOpen, "action": "slow_read"},
		states: []string{"firing"}, description: []string{"its guarantee is at least 1000 calls/s", "Iterations in a row below it:"}},
	{labels: map[string]string{"alertname": "PbenchdLatencyGuaranteeBroken", "scenario": scenarioOpen, "action": "slow_read", "stat": "p50"},
		states: []string{"firing"}, description: []string{"its guarantee is at most 1ms"}},
	{labels: map[string]string{"alertname": "PbenchdErrorRatioGuaranteeBroken", "scenario": scenarioOpen, "action": "flaky"},
		states: []string{"firing"}, description: []string{"its guarantee is at most 0%"}},
	{labels: map[string]string{"alertname": "PbenchdViewMismatch", "scenario": scenarioOpen, "view": "e2e_open_view"},
		states: []string{"firing"}},
	{labels: map[string]string{"alertname": "PbenchdLoadGeneratorSaturated", "scenario": scenarioOpen, "action": "slow_read", "reason": "dropped"},
		states: []string{"pending", "firing"}},
}

// unwantedAlert reports whether an active alert must not be there: anything
// about the healthy scenario, and the alerts about the daemon itself.
func unwantedAlert(ls map[string]string) bool {
	switch ls["alertname"] {
	case "PbenchdDown", "PbenchdTargetDown", "PbenchdConfigReloadFailed", "PbenchdIterationsStalled",
		"PbenchdIterationsErroring", "PbenchdRegression", "PbenchdLatencySlopeGuaranteeBroken":
		return true
	}
	return ls["scenario"] == scenarioClosed
}

// wantGuaranteeOK is pbenchd_guarantee_ok of the PostgreSQL scenarios: of
// each stat, some guarantees met and, in e2e_open, some broken.
var wantGuaranteeOK = map[string]float64{
	scenarioOpen + "/slow_read/qps":            0,
	scenarioOpen + "/slow_read/p50":            0,
	scenarioOpen + "/slow_read/p95":            0,
	scenarioOpen + "/slow_read/p99":            0,
	scenarioOpen + "/slow_read/max":            0,
	scenarioOpen + "/slow_read/avg":            0,
	scenarioOpen + "/slow_read/slope":          1,
	scenarioOpen + "/flaky/qps":                1,
	scenarioOpen + "/flaky/error_ratio":        0,
	scenarioClosed + "/point_read/qps":         1,
	scenarioClosed + "/point_read/p50":         1,
	scenarioClosed + "/point_read/p95":         1,
	scenarioClosed + "/point_read/p99":         1,
	scenarioClosed + "/point_read/max":         1,
	scenarioClosed + "/point_read/avg":         1,
	scenarioClosed + "/point_read/slope":       1,
	scenarioClosed + "/point_read/error_ratio": 1,
	scenarioClosed + "/fresh/qps":              1,
	scenarioClosed + "/fresh/p99":              1,
	scenarioClosed + "/fresh/error_ratio":      1,
}

// The test loads the shipped rules with one change: the pbenchd-baseline
// group loses its `interval: 5m`, so it runs at the 1s evaluation interval
// like the others. Otherwise Prometheus would first evaluate it at some
// offset within a minute, and its series (the 7-day medians the regression
// rules read) would not exist while the test runs. No expression changes.
const (
	baselineGroup     = "  - name: pbenchd-baseline\n    interval: 1m\n"
	baselineGroupTest = "  - name: pbenchd-baseline\n"
)

// Expressions that need more history than a test has get their guard
// relaxed before they are evaluated, by rule name.
var relaxedRules = map[string]struct{ from, to, why string }{
	"scenario_action_stat:pbenchd_regression:ratio": {
		from: "scenario:pbenchd_iterations:increase7d >= 10",
		to:   "scenario:pbenchd_iterations:increase7d >= 1",
		why:  "needs 10 finished iterations in 7 days; the test has about 3",
	},
}

// emptyRecords are recorded series that stay empty in the test, and why.
var emptyRecords = map[string]string{
	"scenario_action_stat:pbenchd_regression:ratio": "needs 10 finished iterations in 7 days",
}

func TestEndToEndWithPrometheus(t *testing.T) {
	t.Parallel()
	promBin := requireTool(t, "prometheus")
	promtoolBin := requireTool(t, "promtool")
	pgtest.Connect(t) // fails the test, naming the DSN, if PostgreSQL does not answer
	began := time.Now()

	dir := t.TempDir()
	bin := filepath.Join(dir, "pbenchd")
	build := exec.Command("go", "build", "-o", bin, "github.com/pbenchd/pbenchd/cmd/pbenchd")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build pbenchd: %v\n%s", err, out)
	}
	built := time.Since(began)

	// Every object the scenarios create starts with prefix; they drop
	// them in teardown, and this drops what a killed run left.
	prefix := pgtest.Name("pbenchd_gf")
	t.Cleanup(func() { dropObjects(t, prefix) })

	scenarioDir, err := filepath.Abs(filepath.Join("testdata", "e2e"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "pbenchd.yaml")
	writeFile(t, cfg, fmt.Sprintf(`targets:
  pg: { kind: postgres, dsn: %q }
  kafka: { kind: kafka, brokers: [] }
scenario_files: [%q]
run:
  scenarios: [%s]
`, pgtest.DSN(), filepath.Join(scenarioDir, "*.yaml"), strings.Join(e2eScenarios, ", ")))

	started := time.Now()
	d := startProcess(t, "pbenchd", bin, "run", "--config", cfg,
		"--web.listen-address", "127.0.0.1:0", "--duration", e2eDuration, "--pause", "0s",
		"--set", scenarioOpen+".prefix="+prefix+"_o", "--set", scenarioClosed+".prefix="+prefix+"_c")
	var addr string
	listen := regexp.MustCompile(`msg="pbenchd started" .*listen=(\S+)`)
	waitFor(t, 10*time.Second, `pbenchd's "pbenchd started" log line`, func() (bool, string) {
		d.mustRun(t)
		m := listen.FindStringSubmatch(d.out.String())
		if m == nil {
			return false, d.out.tail()
		}
		addr = m[1]
		return true, ""
	})

	prom := startPrometheus(t, promBin, dir, addr)
	// A second Prometheus ingests native histograms (and so drops their
	// classic buckets): every panel and rule must work there too.
	nativeDir := filepath.Join(dir, "native")
	if err := os.Mkdir(nativeDir, 0o755); err != nil {
		t.Fatal(err)
	}
	promNative := startPrometheus(t, promBin, nativeDir, addr, "--enable-feature=native-histograms")
	for _, p := range []*promServer{prom, promNative} {
		waitFor(t, 20*time.Second, "Prometheus to be ready", func() (bool, string) {
			p.proc.mustRun(t)
			code, body, err := httpGet(p.base + "/-/ready")
			return err == nil && code == http.StatusOK, fmt.Sprintf("%d %s %v", code, body, err)
		})
	}
	ready := time.Since(started)

	// Every scenario finished an iteration, as Prometheus sees it.
	waitFor(t, e2eBudget-time.Since(started), "an iteration of every scenario in Prometheus", func() (bool, string) {
		d.mustRun(t)
		v, err := prom.vector(`sum by (scenario) (pbenchd_iterations_total{job="pbenchd"})`, time.Now())
		if err != nil {
			return false, err.Error()
		}
		done := map[string]bool{}
		for _, s := range v {
			done[s.Metric["scenario"]] = s.value() >= 1
		}
		for _, sc := range e2eScenarios {
			if !done[sc] {
				return false, fmt.Sprintf("iterations by scenario: %v", v)
			}
		}
		return true, ""
	})
	cycled := time.Since(started)

	// The alerts e2e_open must raise, on both servers: each evaluates the
	// rules on its own clock, and the recorded series checked below need
	// the same streaks on the native one.
	waitFor(t, e2eBudget-time.Since(started), "the alerts of e2e_open", func() (bool, string) {
		d.mustRun(t)
		var missing, active []string
		for _, p := range []*promServer{prom, promNative} {
			alerts, err := p.alerts()
			if err != nil {
				return false, err.Error()
			}
			for _, w := range wantAlerts {
				if findAlert(alerts, w) == nil {
					missing = append(missing, fmt.Sprintf("%v %v on %s", w.labels, w.states, p.base))
				}
			}
			active = append(active, p.base+": "+describeAlerts(alerts))
		}
		return len(missing) == 0, fmt.Sprintf("missing %s; active: %s", strings.Join(missing, ", "), strings.Join(active, "; "))
	})
	fired := time.Since(started)

	t.Run("alerts", func(t *testing.T) {
		alerts, err := prom.alerts()
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range wantAlerts {
			a := findAlert(alerts, w)
			if a == nil {
				t.Errorf("alert %v is no longer %v", w.labels, w.states)
				continue
			}
			for _, s := range w.description {
				if !strings.Contains(a.Annotations["description"], s) {
					t.Errorf("alert %v: description %q does not contain %q", w.labels, a.Annotations["description"], s)
				}
			}
		}
		for _, a := range alerts {
			if unwantedAlert(a.Labels) {
				t.Errorf("alert %v is %s; nothing is wrong there", a.Labels, a.State)
			}
			for k, v := range a.Annotations {
				if strings.Contains(v, "<no value>") || strings.Contains(v, "error expanding template") {
					t.Errorf("alert %v: annotation %s did not render: %q", a.Labels, k, v)
				}
			}
		}
	})

	t.Run("rules", func(t *testing.T) {
		groups, err := prom.rules()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, g := range groups {
			for _, r := range g.Rules {
				n++
				if r.Health != "ok" || r.LastError != "" {
					t.Errorf("rule group %q %s %s: health %q, last error %q", g.Name, r.Type, r.Name, r.Health, r.LastError)
				}
			}
		}
		if want := len(readRules(t)); n != want {
			t.Errorf("Prometheus loaded %d rules, the rules file has %d", n, want)
		}
	})

	t.Run("guarantee verdicts", func(t *testing.T) {
		v, err := prom.vector(`pbenchd_guarantee_ok{job="pbenchd"}`, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, s := range v {
			if sc := s.Metric["scenario"]; sc == scenarioOpen || sc == scenarioClosed {
				got[sc+"/"+s.Metric["action"]+"/"+s.Metric["stat"]] = s.value()
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(wantGuaranteeOK) {
			t.Errorf("pbenchd_guarantee_ok = %v\nwant %v", got, wantGuaranteeOK)
		}
	})

	// Every expression, with values of this run.
	exprs, err := Expressions(".")
	if err != nil {
		t.Fatal(err)
	}
	// Evaluate at the last successful scrape that both servers have: on a
	// loaded machine a scrape may time out, and its staleness marker would
	// empty every instant query after it.
	end := time.Now()
	for _, p := range []*promServer{prom, promNative} {
		v, err := p.vector(fmt.Sprintf(`max_over_time((timestamp(up{job="pbenchd",instance=%q} == 1))[30s:1s])`, addr), end)
		if err != nil || !v.hasData() {
			t.Fatalf("no successful scrape of pbenchd by %s: %v %v", p.base, v, err)
		}
		if ts := time.UnixMilli(int64(v[0].value() * 1000)); ts.Before(end) {
			end = ts
		}
	}
	cands, err := prom.candidates(addr, end)
	if err != nil {
		t.Fatal(err)
	}
	evalStart := time.Now()
	t.Run("native histograms ingested", func(t *testing.T) {
		// The native server has the native form and not the classic buckets;
		// the classic one the other way round.
		for _, c := range []struct {
			p          *promServer
			q          string
			wantSeries bool
		}{
			{prom, `pbenchd_action_latency_seconds_bucket`, true},
			{promNative, `pbenchd_action_latency_seconds_bucket`, false},
			{promNative, `histogram_quantile(0.5, pbenchd_action_latency_seconds)`, true},
		} {
			v, err := c.p.vector(c.q, end)
			if err != nil || v.hasData() != c.wantSeries {
				t.Errorf("%s on %s: data %v, want %v (%v)", c.q, c.p.base, v.hasData(), c.wantSeries, err)
			}
		}
	})
	for _, srv := range []struct {
		name string
		p    *promServer
	}{{"classic histograms", prom}, {"native histograms", promNative}} {
		t.Run("expressions with "+srv.name, func(t *testing.T) {
			for _, e := range exprs {
				checkExpression(t, srv.p, e, cands, end)
			}
		})
		t.Run("recorded series with "+srv.name, func(t *testing.T) {
			for _, r := range readRules(t) {
				if r.Record == "" || emptyRecords[r.Record] != "" {
					continue
				}
				q := fmt.Sprintf(`%s{job="pbenchd",instance=%q}`, r.Record, addr)
				v, err := srv.p.vector(q, time.Now())
				if err != nil {
					t.Errorf("%s: %v", q, err)
				} else if !v.hasData() {
					t.Errorf("recording rule %s recorded nothing: %s is empty", r.Record, q)
				}
			}
		})
	}
	evaluated := time.Since(evalStart)

	text := scrapeText(t, addr)
	t.Run("promtool check metrics", func(t *testing.T) {
		cmd := exec.Command(promtoolBin, "check", "metrics")
		cmd.Stdin = bytes.NewReader(text)
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("promtool check metrics on a scrape of pbenchd's /metrics: %v\n%s", err, out)
		}
	})
	t.Run("every metric in the contract and on a dashboard", func(t *testing.T) {
		checkExported(t, text, exprs)
	})

	kinds := map[Kind]int{}
	for _, e := range exprs {
		kinds[e.Kind]++
	}
	t.Logf("pbenchd built in %v; from its start: Prometheus ready after %v, every scenario iterated after %v, "+
		"alerts firing after %v; %d panel targets, %d variables, %d recording and %d alerting rules evaluated in %v; %v in all",
		built.Round(time.Millisecond), ready.Round(time.Millisecond), cycled.Round(time.Millisecond), fired.Round(time.Millisecond),
		kinds[Panel], kinds[Variable], kinds[Record], kinds[Alert], evaluated.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

// requireTool returns the path of a program the test needs, failing the
// test (never skipping it) if it is missing.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not on PATH: run `make test-deps` "+
			"(apt-get install -y --no-install-recommends prometheus): %v", name, err)
	}
	return p
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds, failing the test after timeout with
// what cond saw last.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v still waiting for %s; last seen: %s", timeout.Round(time.Second), what, state)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// dropObjects drops the tables and functions whose names start with
// prefix, in case a run was killed before its teardown.
func dropObjects(t *testing.T, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, pgtest.DSN())
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer c.Close(context.Background())
	for _, q := range []string{
		`SELECT 'DROP TABLE IF EXISTS ' || string_agg(oid::regclass::text, ', ') || ' CASCADE'
		 FROM pg_class WHERE relkind IN ('r', 'p') AND left(relname, length($1)) = $1`,
		`SELECT 'DROP FUNCTION IF EXISTS ' || string_agg(oid::regprocedure::text, ', ') || ' CASCADE'
		 FROM pg_proc WHERE left(proname, length($1)) = $1`,
	} {
		var stmt *string
		if err := c.QueryRow(ctx, q, prefix).Scan(&stmt); err != nil {
			t.Logf("cleanup: %v", err)
			continue
		}
		if stmt == nil {
			continue
		}
		t.Logf("cleanup: teardown left objects behind: %s", *stmt)
		if _, err := c.Exec(ctx, *stmt); err != nil {
			t.Logf("cleanup: %s: %v", *stmt, err)
		}
	}
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// tail returns the last lines of the output, for messages.
func (l *lockedBuffer) tail() string {
	s := l.String()
	if len(s) > 4000 {
		s = "…" + s[len(s)-4000:]
	}
	return s
}

// process is a program the test started; it is stopped (SIGTERM, then
// SIGKILL after 15s) when the test ends, and its output logged if the test
// failed.
type process struct {
	name string
	cmd  *exec.Cmd
	out  lockedBuffer
	done chan struct{}
	err  error
}

func startProcess(t *testing.T, name, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(15 * time.Second):
				t.Errorf("%s did not stop within 15s of SIGTERM; killing it", name)
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() {
			t.Logf("%s %s\noutput:\n%s", name, strings.Join(args, " "), p.out.tail())
		}
	})
	return p
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// mustRun fails the test if the process has exited.
func (p *process) mustRun(t *testing.T) {
	t.Helper()
	if p.exited() {
		t.Fatalf("%s exited: %v\n%s", p.name, p.err, p.out.tail())
	}
}

// promServer is a Prometheus server the test started, and its HTTP API.
type promServer struct {
	proc *process
	base string // http://host:port
}

// startPrometheus starts Prometheus scraping pbenchd at target every
// second and evaluating (a test copy of) the shipped rules every second.
func startPrometheus(t *testing.T, bin, dir, target string, flags ...string) *promServer {
	t.Helper()
	shipped, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(shipped), baselineGroup); n != 1 {
		t.Fatalf("%s: found %q %d times, want once: update the test copy of the rules in e2e_test.go", rulesFile, baselineGroup, n)
	}
	rules := filepath.Join(dir, "pbenchd.rules.yml")
	writeFile(t, rules, strings.Replace(string(shipped), baselineGroup, baselineGroupTest, 1))

	// A free port for Prometheus, which cannot report one it picked.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := l.Addr().String()
	l.Close()

	cfg := filepath.Join(dir, "prometheus.yml")
	writeFile(t, cfg, fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: pbenchd
    static_configs:
      - targets: [%q]
`, rules, target))
	p := startProcess(t, "prometheus", bin, append([]string{"--config.file=" + cfg,
		"--storage.tsdb.path=" + filepath.Join(dir, "tsdb"), "--web.listen-address=" + listen}, flags...)...)
	return &promServer{proc: p, base: "http://" + listen}
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

func httpGet(u string) (int, []byte, error) {
	resp, err := httpClient.Get(u)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// apiResponse is the envelope of Prometheus's HTTP API.
type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
}

// call POSTs a form to an API path and returns the data of a successful
// answer; an error says what Prometheus said otherwise.
func (p *promServer) call(path string, form url.Values) (json.RawMessage, error) {
	resp, err := httpClient.PostForm(p.base+path, form)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("HTTP %d, not the API's JSON: %s", resp.StatusCode, body)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("status %q: %s: %s", r.Status, r.ErrorType, r.Error)
	}
	if len(r.Warnings) > 0 {
		return nil, fmt.Errorf("warnings: %s", strings.Join(r.Warnings, "; "))
	}
	return r.Data, nil
}

func (p *promServer) get(path string) (json.RawMessage, error) {
	code, body, err := httpGet(p.base + path)
	if err != nil {
		return nil, err
	}
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil || r.Status != "success" {
		return nil, fmt.Errorf("GET %s: HTTP %d: %s", path, code, body)
	}
	return r.Data, nil
}

// sample is one series of a query result: a vector has one point, a
// matrix several.
type sample struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value"`  // [time, "value"]
	Values [][]any           `json:"values"` // of a matrix
	// Histogram and Histograms hold native histogram samples (a heatmap
	// of a native histogram), which Prometheus returns apart from floats.
	Histogram  []any   `json:"histogram"`
	Histograms [][]any `json:"histograms"`
}

// value is the value of a vector sample (NaN if unreadable).
func (s sample) value() float64 { return pointValue(s.Value) }

func pointValue(pt []any) float64 {
	if len(pt) != 2 {
		return math.NaN()
	}
	str, _ := pt[1].(string)
	v, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

// result is the series a query returned.
type result []sample

// hasData reports whether the result has at least one point that is a
// number: a panel whose every point is NaN shows nothing either.
func (r result) hasData() bool {
	for _, s := range r {
		if s.Value != nil && !math.IsNaN(s.value()) || len(s.Histogram) > 0 || len(s.Histograms) > 0 {
			return true
		}
		for _, pt := range s.Values {
			if !math.IsNaN(pointValue(pt)) {
				return true
			}
		}
	}
	return false
}

// decodeResult reads the data of /api/v1/query or /api/v1/query_range.
func decodeResult(data json.RawMessage) (result, error) {
	var d struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, err
	}
	switch d.ResultType {
	case "vector", "matrix":
		var r result
		err := json.Unmarshal(d.Result, &r)
		return r, err
	case "scalar", "string":
		var pt []any
		if err := json.Unmarshal(d.Result, &pt); err != nil {
			return nil, err
		}
		return result{{Value: pt}}, nil
	}
	return nil, fmt.Errorf("unknown result type %q", d.ResultType)
}

func promTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

// vector runs an instant query at ts.
func (p *promServer) vector(q string, ts time.Time) (result, error) {
	data, err := p.call("/api/v1/query", url.Values{"query": {q}, "time": {promTime(ts)}})
	if err != nil {
		return nil, err
	}
	return decodeResult(data)
}

// matrix runs a range query over the window before end, one point a second.
func (p *promServer) matrix(q string, end time.Time) (result, error) {
	data, err := p.call("/api/v1/query_range", url.Values{"query": {q},
		"start": {promTime(end.Add(-e2eWindow))}, "end": {promTime(end)}, "step": {"1"}})
	if err != nil {
		return nil, err
	}
	return decodeResult(data)
}

type alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
}

// alerts returns the active (pending or firing) alerts.
func (p *promServer) alerts() ([]alert, error) {
	data, err := p.get("/api/v1/alerts")
	if err != nil {
		return nil, err
	}
	var d struct {
		Alerts []alert `json:"alerts"`
	}
	err = json.Unmarshal(data, &d)
	return d.Alerts, err
}

func findAlert(alerts []alert, w alertWant) *alert {
	for i, a := range alerts {
		match := slices.Contains(w.states, a.State)
		for k, v := range w.labels {
			match = match && a.Labels[k] == v
		}
		if match {
			return &alerts[i]
		}
	}
	return nil
}

func describeAlerts(alerts []alert) string {
	var s []string
	for _, a := range alerts {
		s = append(s, fmt.Sprintf("%s%v %s", a.Labels["alertname"], a.Labels, a.State))
	}
	sort.Strings(s)
	return "[" + strings.Join(s, "; ") + "]"
}

type ruleGroup struct {
	Name  string `json:"name"`
	Rules []struct {
		Name      string `json:"name"`
		Type      string `json:"type"`
		Health    string `json:"health"`
		LastError string `json:"lastError"`
	} `json:"rules"`
}

func (p *promServer) rules() ([]ruleGroup, error) {
	data, err := p.get("/api/v1/rules")
	if err != nil {
		return nil, err
	}
	var d struct {
		Groups []ruleGroup `json:"groups"`
	}
	err = json.Unmarshal(data, &d)
	return d.Groups, err
}

// candidates are the values of the template variables to try for an
// expression, all of them values that exist in this run: job and instance
// of the daemon, and the scenarios and (scenario, action) pairs it runs.
type candidates struct {
	base      map[string]string
	scenarios []string
	pairs     [][2]string
}

func (p *promServer) candidates(instance string, at time.Time) (candidates, error) {
	c := candidates{base: map[string]string{"job": "pbenchd", "instance": instance}}
	v, err := p.vector(fmt.Sprintf(`group by (scenario, action) (pbenchd_action_calls_total{job="pbenchd",instance=%q})`, instance), at)
	if err != nil {
		return c, err
	}
	seen := map[string]bool{}
	for _, s := range v {
		sc, a := s.Metric["scenario"], s.Metric["action"]
		c.pairs = append(c.pairs, [2]string{sc, a})
		if !seen[sc] {
			seen[sc] = true
			c.scenarios = append(c.scenarios, sc)
		}
	}
	slices.SortFunc(c.pairs, func(a, b [2]string) int { return strings.Compare(a[0]+"/"+a[1], b[0]+"/"+b[1]) })
	slices.Sort(c.scenarios)
	for _, sc := range e2eScenarios {
		if !seen[sc] {
			return c, fmt.Errorf("no pbenchd_action_calls_total of scenario %s: %v", sc, v)
		}
	}
	return c, nil
}

// varSets returns the variable values to try for an expression: one set
// if it has no $scenario or $action, else one per scenario or per pair.
func (c candidates) varSets(raw string) []map[string]string {
	names := varNames(raw)
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range c.base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	var sets []map[string]string
	switch {
	case slices.Contains(names, "action"):
		for _, p := range c.pairs {
			sets = append(sets, with("scenario", p[0], "action", p[1]))
		}
	case slices.Contains(names, "scenario"):
		for _, sc := range c.scenarios {
			sets = append(sets, with("scenario", sc))
		}
	default:
		sets = append(sets, with())
	}
	return sets
}

// checkExpression evaluates e with each candidate set of variables until
// one gives data. Every expression must parse and evaluate; panels,
// variables and recording rules must give data for at least one set;
// alerts only need to evaluate (they are empty when nothing is wrong:
// which must fire is checked separately).
func checkExpression(t *testing.T, prom *promServer, e Expr, c candidates, end time.Time) {
	t.Helper()
	raw := e.Raw
	if e.Kind == Record {
		name := e.Source[strings.LastIndex(e.Source, " ")+1:]
		if r, ok := relaxedRules[name]; ok {
			if !strings.Contains(raw, r.from) {
				t.Errorf("%s: no %q to relax (it %s): update relaxedRules in e2e_test.go", e.Source, r.from, r.why)
				return
			}
			raw = strings.Replace(raw, r.from, r.to, 1)
		}
	}
	withRaw := Expr{Raw: raw}
	var tried []string
	feeding := feedingSets(t, prom, e, c, end)
	for _, vars := range c.varSets(raw) {
		q, err := withRaw.With(vars)
		if err != nil {
			t.Errorf("%s: %v", e.Source, err)
			return
		}
		var res result
		switch {
		case e.Kind == Panel && !e.Instant, e.Kind == Variable:
			res, err = prom.matrix(q, end)
		default:
			res, err = prom.vector(q, end)
		}
		if err != nil {
			t.Errorf("%s: Prometheus cannot evaluate it: %v\n\t%s", e.Source, err, q)
			return
		}
		key := vars["scenario"] + "/" + vars["action"]
		if e.Kind == Alert || res.hasData() {
			delete(feeding, key)
			if len(feeding) == 0 {
				return
			}
			continue
		}
		if feeding[key] {
			t.Errorf("%s: no data for scenario=%q action=%q, which has every series it reads\n\t%s", e.Source, vars["scenario"], vars["action"], q)
			delete(feeding, key)
		}
		if sc, ok := vars["scenario"]; ok {
			tried = append(tried, fmt.Sprintf("scenario=%q action=%q", sc, vars["action"]))
		}
	}
	if len(tried) < len(c.varSets(raw)) {
		return // some set had data
	}
	if len(tried) > 0 {
		t.Errorf("%s: no data in this run for any of %s\n\t%s", e.Source, strings.Join(tried, ", "), raw)
	} else {
		t.Errorf("%s: no data in this run\n\t%s", e.Source, raw)
	}
}

// scrapeText fetches pbenchd's /metrics in the text format.
func scrapeText(t *testing.T, addr string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("scraping pbenchd: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scraping pbenchd: HTTP %d, %v", resp.StatusCode, err)
	}
	if ft := expfmt.ResponseFormat(resp.Header).FormatType(); ft != expfmt.TypeTextPlain {
		t.Fatalf("scraping pbenchd as text: Content-Type %q", resp.Header.Get("Content-Type"))
	}
	return body
}

// checkExported requires that every pbenchd metric of a scrape is in the
// contract with its labels, and that some dashboard panel reads it.
func checkExported(t *testing.T, text []byte, exprs []Expr) {
	t.Helper()
	tp := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := tp.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("parsing the scrape: %v", err)
	}
	onPanel := map[string]bool{}
	for _, e := range exprs {
		if e.Kind != Panel {
			continue
		}
		sels, err := selectors(e.Query)
		if err != nil {
			continue // reported by TestExpressionsParseAndUseContractMetrics
		}
		for _, s := range sels {
			onPanel[s.Name] = true
		}
	}
	var names []string
	for name := range mfs {
		if strings.HasPrefix(name, "pbenchd_") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		mf := mfs[name]
		series := []string{name}
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			series = []string{name + "_bucket", name + "_sum", name + "_count"}
		}
		want, ok := contract[series[0]]
		if !ok {
			t.Errorf("pbenchd exports %s, which is not in the metric contract of grafana_test.go", series[0])
		} else {
			want = slices.DeleteFunc(slices.Clone(want), func(l string) bool { return l == "le" })
			slices.Sort(want)
			for _, m := range mf.GetMetric() {
				var got []string
				for _, lp := range m.GetLabel() {
					got = append(got, lp.GetName())
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("pbenchd exports %s with labels %q; the contract says %q", name, got, want)
					break
				}
			}
		}
		if !slices.ContainsFunc(series, func(s string) bool { return onPanel[s] }) {
			t.Errorf("no dashboard panel reads %s (%s)", name, strings.Join(series, ", "))
		}
	}
	if len(names) == 0 {
		t.Error(errors.New("the scrape has no pbenchd_ metric"))
	}
}

// feedingSets returns the scenario/action keys (as varSets makes them) of
// the candidates that have every pbenchd series a panel reads, by the
// selectors' names and fixed matchers (a histogram by its native or classic
// form, whichever this server has): a panel must show data for each of
// them, not only for one.
func feedingSets(t *testing.T, prom *promServer, e Expr, c candidates, end time.Time) map[string]bool {
	out := map[string]bool{}
	if e.Kind != Panel {
		return out
	}
	sels, err := selectors(e.Query)
	if err != nil {
		return out
	}
	names := varNames(e.Raw)
	by := ""
	switch {
	case slices.Contains(names, "action"):
		by = "scenario, action"
	case slices.Contains(names, "scenario"):
		by = "scenario"
	default:
		return out
	}
	var have map[string]bool
	for _, s := range sels {
		if !strings.HasPrefix(s.Name, "pbenchd_") {
			continue
		}
		var ms []string
		for _, m := range s.Matchers {
			if m.Name == "scenario" || m.Name == "action" || m.Name == "job" || m.Name == "instance" || strings.Contains(m.Value, "$") {
				continue
			}
			ms = append(ms, fmt.Sprintf("%s%s%q", m.Name, m.Op, m.Value))
		}
		ms = append(ms, fmt.Sprintf("instance=%q", c.base["instance"]))
		base := strings.TrimSuffix(s.Name, "_bucket")
		q := fmt.Sprintf(`group by (%s) (last_over_time({__name__=~%q,%s}[%ds]))`, by, base+"|"+base+"_bucket", strings.Join(ms, ","), int(e2eWindow.Seconds()))
		if !histograms[base] {
			q = fmt.Sprintf(`group by (%s) (last_over_time(%s{%s}[%ds]))`, by, s.Name, strings.Join(ms, ","), int(e2eWindow.Seconds()))
		}
		v, err := prom.vector(q, end)
		if err != nil {
			t.Errorf("%s: which scenarios feed it: %v", e.Source, err)
			return map[string]bool{}
		}
		got := map[string]bool{}
		for _, smp := range v {
			k := smp.Metric["scenario"] + "/"
			if by != "scenario" {
				k += smp.Metric["action"]
			}
			got[k] = true
		}
		if have == nil {
			have = got
		} else {
			for k := range have {
				if !got[k] {
					delete(have, k)
				}
			}
		}
	}
	for k := range have {
		out[k] = true
	}
	return out
}
