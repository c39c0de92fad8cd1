package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"

	"github.com/pbenchd/pbenchd/internal/metrics"
)

// TestRunMetrics runs the daemon on pool_read and checks what Prometheus
// and a person see: the metric contract of DESIGN.md in both exposition
// formats, the health, readiness and results endpoints, and a clean stop on
// SIGTERM with the scenario's teardown done.
func TestRunMetrics(t *testing.T) {
	t.Parallel()
	pg := pgConn(t)
	table := uniqueTable()
	dropTable(t, table)
	cfg := writeConfig(t, "run_pool_read.yaml", map[string]string{"Table": table})
	begin := time.Now()
	d := startDaemon(t, testDSN(), "--config", cfg, "--scenarios", "pool_read", "--duration", "3s", "--pause", "0s")

	if code, _, body := d.get(t, "/-/healthy"); code != http.StatusOK {
		t.Errorf("GET /-/healthy: %d %s, want 200", code, body)
	}
	eventually(t, 10*time.Second, "/-/ready to answer 200", func() (bool, string) {
		code, _, body := d.get(t, "/-/ready")
		return code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
	})
	eventually(t, 10*time.Second, "the setup to create "+table, func() (bool, string) {
		return tableExists(t, pg, table), "no table"
	})
	pool := labels("scenario", "pool_read", "action", "select_1")
	// Before the first iteration ends there is no result to show: an
	// action that has not finished an iteration must not look like QPS 0.
	f := d.scrape(t, false)
	var finished float64
	for _, m := range f.find("pbenchd_iterations_total", labels("scenario", "pool_read")) {
		finished += m.GetCounter().GetValue()
	}
	if finished == 0 {
		for _, name := range []string{"pbenchd_result_qps", "pbenchd_result_latency_seconds", "pbenchd_guarantee_ok"} {
			if ms := f.find(name, pool); len(ms) > 0 {
				t.Errorf("%s%v is exported before the first iteration ended", name, pool)
			}
		}
	}
	eventually(t, 20*time.Second, `pbenchd_iterations_total{scenario="pool_read",result="pass"} ≥ 1`, func() (bool, string) {
		f := d.scrape(t, false)
		for _, r := range []string{"fail", "error"} {
			if n, _ := f.value("pbenchd_iterations_total", labels("scenario", "pool_read", "result", r)); n > 0 {
				t.Fatalf("an iteration of pool_read ended in %s; want pass", r)
			}
		}
		n, _ := f.value("pbenchd_iterations_total", labels("scenario", "pool_read", "result", "pass"))
		return n >= 1, fmt.Sprint(n)
	})

	for _, proto := range []bool{true, false} {
		format := map[bool]string{true: "protobuf", false: "text"}[proto]
		t.Run(format, func(t *testing.T) {
			f := d.scrape(t, proto)
			checkContract(t, f)
			checkNoSecretsInLabels(t, f, table)

			// Histograms: classic buckets in both formats, native ones in
			// protobuf (the text format cannot carry them).
			for _, h := range []struct {
				name   string
				labels map[string]string
			}{
				{"pbenchd_action_latency_seconds", labels("scenario", "pool_read", "action", "select_1", "outcome", "ok")},
				{"pbenchd_action_service_seconds", pool},
				{"pbenchd_schedule_lag_seconds", pool},
			} {
				checkHistogram(t, f, h.name, h.labels, proto)
			}

			// The last iteration's exact results.
			qps, ok := f.value("pbenchd_result_qps", pool)
			// 100/s periodic over a 3s window without warm-up offers
			// exactly 300 calls: no more than 100/s can succeed.
			if !ok || qps < 50 || qps > 100+1e-9 {
				t.Errorf("pbenchd_result_qps%v = %v (present %v), want 50 to 100", pool, qps, ok)
			}
			stats := map[string]float64{}
			for _, m := range f.find("pbenchd_result_latency_seconds", pool) {
				stats[labelsOf(m)["stat"]] = m.GetGauge().GetValue()
			}
			if got := sortedKeys(stats); !slices.Equal(got, []string{"avg", "max", "p50", "p95", "p99"}) {
				t.Errorf("pbenchd_result_latency_seconds has stats %q, want avg, max, p50, p95, p99", got)
			}
			if !(0 < stats["p50"] && stats["p50"] <= stats["p95"] && stats["p95"] <= stats["p99"] && stats["p99"] <= stats["max"] && stats["avg"] <= stats["max"]) {
				t.Errorf("pbenchd_result_latency_seconds: p50 %v, p95 %v, p99 %v, max %v, avg %v are not ordered", stats["p50"], stats["p95"], stats["p99"], stats["max"], stats["avg"])
			}
			if v, ok := f.value("pbenchd_result_error_ratio", pool); !ok || v != 0 {
				t.Errorf("pbenchd_result_error_ratio%v = %v (present %v), want 0", pool, v, ok)
			}

			// The configured guarantees, exactly as written in the config.
			for _, g := range []struct {
				name   string
				labels map[string]string
				want   float64
			}{
				{"pbenchd_guarantee_qps_min", pool, 50},
				{"pbenchd_guarantee_latency_seconds_max", labels("scenario", "pool_read", "action", "select_1", "stat", "p99"), 2},
				{"pbenchd_guarantee_latency_seconds_max", labels("scenario", "pool_read", "action", "select_1", "stat", "max"), 5},
				{"pbenchd_guarantee_latency_seconds_max", labels("scenario", "pool_read", "action", "select_1", "stat", "avg"), 0.05},
				{"pbenchd_guarantee_latency_slope_max", pool, 10},
				{"pbenchd_guarantee_error_ratio_max", pool, 0},
			} {
				if v, ok := f.value(g.name, g.labels); !ok || v != g.want {
					t.Errorf("%s%v = %v (present %v), want %v", g.name, g.labels, v, ok, g.want)
				}
			}
			if n := len(f.find("pbenchd_guarantee_latency_seconds_max", pool)); n != 3 {
				t.Errorf("pbenchd_guarantee_latency_seconds_max has %d series for pool_read, want 3 (p99, max, avg: those configured)", n)
			}
			verdicts := map[string]float64{}
			for _, m := range f.find("pbenchd_guarantee_ok", pool) {
				verdicts[labelsOf(m)["stat"]] = m.GetGauge().GetValue()
			}
			want := map[string]float64{"qps": 1, "p99": 1, "max": 1, "avg": 1, "slope": 1, "error_ratio": 1}
			if fmt.Sprint(verdicts) != fmt.Sprint(want) {
				t.Errorf("pbenchd_guarantee_ok for pool_read = %v, want %v", verdicts, want)
			}

			// Daemon state.
			if v, ok := f.value("pbenchd_target_up", labels("target", "pg")); !ok || v != 1 {
				t.Errorf(`pbenchd_target_up{target="pg"} = %v (present %v), want 1`, v, ok)
			}
			if v, ok := f.value("pbenchd_last_iteration_timestamp_seconds", labels("scenario", "pool_read")); !ok ||
				v < float64(begin.Unix()) || v > float64(time.Now().Unix()+1) {
				t.Errorf(`pbenchd_last_iteration_timestamp_seconds{scenario="pool_read"} = %v, want a time since the test began (%d)`, v, begin.Unix())
			}
			if _, ok := f.value("pbenchd_phase_active", labels("scenario", "pool_read", "phase", "load")); !ok {
				t.Errorf(`no pbenchd_phase_active{scenario="pool_read",phase="load"}`)
			}
			if v, ok := f.value("pbenchd_config_last_reload_successful", nil); !ok || v != 1 {
				t.Errorf("pbenchd_config_last_reload_successful = %v (present %v), want 1", v, ok)
			}
			builds := f.find("pbenchd_build_info", nil)
			if len(builds) != 1 {
				t.Fatalf("%d pbenchd_build_info series, want 1", len(builds))
			}
			bl := labelsOf(builds[0])
			if bl["version"] != testVersion || bl["goversion"] != runtime.Version() || bl["revision"] == "" || builds[0].GetGauge().GetValue() != 1 {
				t.Errorf("pbenchd_build_info%v = %v, want version %s, goversion %s, a revision, value 1", bl, builds[0].GetGauge().GetValue(), testVersion, runtime.Version())
			}
			for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
				if f[name] == nil {
					t.Errorf("no %s: the Go and process collectors must be registered", name)
				}
			}
		})
	}

	// The JSON API of the last results.
	code, h, body := d.get(t, "/api/v1/results")
	if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/v1/results: %d, Content-Type %q", code, h.Get("Content-Type"))
	}
	var doc struct {
		Build struct {
			Version string `json:"version"`
		} `json:"build"`
		Results map[string]struct {
			Scenario string
			Result   string
			Actions  []struct {
				Action   string
				Reported bool
				Calls    int64
				QPS      float64 `json:"qps"`
				P99      float64 `json:"p99"`
			}
			Verdicts []json.RawMessage
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("GET /api/v1/results: %v\n%s", err, body)
	}
	if doc.Build.Version != testVersion {
		t.Errorf("/api/v1/results build version %q, want %q", doc.Build.Version, testVersion)
	}
	r, ok := doc.Results["pool_read"]
	switch {
	case !ok:
		t.Errorf("/api/v1/results has no pool_read:\n%s", body)
	case r.Scenario != "pool_read" || r.Result != "pass" || len(r.Actions) != 1 || len(r.Verdicts) != 6:
		t.Errorf("/api/v1/results pool_read: scenario %q, result %q, %d actions, %d verdicts; want pool_read, pass, 1, 6:\n%s",
			r.Scenario, r.Result, len(r.Actions), len(r.Verdicts), body)
	default:
		a := r.Actions[0]
		if a.Action != "select_1" || !a.Reported || a.Calls < 150 || a.QPS < 50 || a.P99 <= 0 {
			t.Errorf("/api/v1/results pool_read action: %+v; want select_1, reported, ≥150 calls, qps ≥ 50, p99 > 0", a)
		}
	}

	d.stop(t)
	if tableExists(t, pg, table) {
		t.Errorf("table %s still exists after SIGTERM: teardown did not run", table)
	}
}

// contract lists the metrics of DESIGN.md that a daemon running one
// healthy open-loop scenario must export, with their types and labels.
var contract = []struct {
	name   string
	typ    dto.MetricType
	labels []string
}{
	{"pbenchd_action_latency_seconds", dto.MetricType_HISTOGRAM, []string{"action", "outcome", "scenario"}},
	{"pbenchd_action_service_seconds", dto.MetricType_HISTOGRAM, []string{"action", "scenario"}},
	{"pbenchd_schedule_lag_seconds", dto.MetricType_HISTOGRAM, []string{"action", "scenario"}},
	{"pbenchd_action_dropped_total", dto.MetricType_COUNTER, []string{"action", "scenario"}},
	{"pbenchd_action_inflight", dto.MetricType_GAUGE, []string{"action", "scenario"}},
	{"pbenchd_result_qps", dto.MetricType_GAUGE, []string{"action", "scenario"}},
	{"pbenchd_result_latency_seconds", dto.MetricType_GAUGE, []string{"action", "scenario", "stat"}},
	{"pbenchd_result_latency_slope", dto.MetricType_GAUGE, []string{"action", "scenario"}},
	{"pbenchd_result_error_ratio", dto.MetricType_GAUGE, []string{"action", "scenario"}},
	{"pbenchd_guarantee_qps_min", dto.MetricType_GAUGE, []string{"action", "scenario"}},
	{"pbenchd_guarantee_latency_seconds_max", dto.MetricType_GAUGE, []string{"action", "scenario", "stat"}},
	{"pbenchd_guarantee_latency_slope_max", dto.MetricType_GAUGE, []string{"action", "scenario"}},
	{"pbenchd_guarantee_error_ratio_max", dto.MetricType_GAUGE, []string{"action", "scenario"}},
	{"pbenchd_guarantee_ok", dto.MetricType_GAUGE, []string{"action", "scenario", "stat"}},
	{"pbenchd_iterations_total", dto.MetricType_COUNTER, []string{"result", "scenario"}},
	{"pbenchd_last_iteration_timestamp_seconds", dto.MetricType_GAUGE, []string{"scenario"}},
	{"pbenchd_phase_active", dto.MetricType_GAUGE, []string{"phase", "scenario"}},
	{"pbenchd_target_up", dto.MetricType_GAUGE, []string{"target"}},
	{"pbenchd_config_last_reload_successful", dto.MetricType_GAUGE, nil},
	{"pbenchd_config_last_reload_success_timestamp_seconds", dto.MetricType_GAUGE, nil},
	{"pbenchd_build_info", dto.MetricType_GAUGE, []string{"goversion", "revision", "version"}},
}

// checkContract checks the type and the label names of every series of
// the contract's metrics.
func checkContract(t *testing.T, f families) {
	t.Helper()
	for _, c := range contract {
		mf := f[c.name]
		if mf == nil {
			t.Errorf("no metric %s", c.name)
			continue
		}
		if mf.GetType() != c.typ {
			t.Errorf("%s is a %v, want a %v", c.name, mf.GetType(), c.typ)
		}
		for _, m := range mf.GetMetric() {
			if got := sortedKeys(labelsOf(m)); !slices.Equal(got, c.labels) {
				t.Errorf("%s has labels %q, want %q", c.name, got, c.labels)
				break
			}
		}
	}
}

// checkNoSecretsInLabels requires that no label value carries the DSN, a
// host address, SQL text or the table name.
func checkNoSecretsInLabels(t *testing.T, f families, extra ...string) {
	t.Helper()
	banned := append([]string{testDSN(), "postgres://", "postgresql://", "127.0.0.1", "5432", "SELECT 1", "CREATE TABLE", "DROP TABLE"}, extra...)
	for name, mf := range f {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				for _, b := range banned {
					if strings.Contains(lp.GetValue(), b) {
						t.Errorf("%s{%s=%q}: a label value contains %q (DSNs and SQL text must never be labels)", name, lp.GetName(), lp.GetValue(), b)
					}
				}
			}
		}
	}
}

// checkHistogram requires one histogram series with exactly these labels,
// observations, the classic LatencyBuckets and, in protobuf, the native
// histogram fields.
func checkHistogram(t *testing.T, f families, name string, want map[string]string, native bool) {
	t.Helper()
	var h *dto.Histogram
	for _, m := range f.find(name, want) {
		if len(labelsOf(m)) == len(want) {
			h = m.GetHistogram()
		}
	}
	if h == nil {
		t.Errorf("no histogram %s%v", name, want)
		return
	}
	if h.GetSampleCount() == 0 || h.GetSampleSum() <= 0 {
		t.Errorf("%s%v: count %d, sum %v; want observations", name, want, h.GetSampleCount(), h.GetSampleSum())
	}
	var bounds []float64
	for _, b := range h.GetBucket() {
		if !math.IsInf(b.GetUpperBound(), +1) {
			bounds = append(bounds, b.GetUpperBound())
		}
	}
	if len(bounds) != len(metrics.LatencyBuckets) {
		t.Errorf("%s%v: %d classic buckets, want %d", name, want, len(bounds), len(metrics.LatencyBuckets))
	} else {
		for i, b := range bounds {
			if math.Abs(b-metrics.LatencyBuckets[i]) > 1e-12*metrics.LatencyBuckets[i] {
				t.Errorf("%s%v: bucket %d ends at %v, want %v", name, want, i, b, metrics.LatencyBuckets[i])
				break
			}
		}
	}
	if !native {
		return
	}
	if h.Schema == nil || h.ZeroThreshold == nil {
		t.Errorf("%s%v: no native histogram (schema %v, zero threshold %v)", name, want, h.Schema, h.ZeroThreshold)
		return
	}
	// A bucket factor of 1.1 asks for schema 3 (factor 2^(2^-3) ≈ 1.09).
	if h.GetSchema() != 3 {
		t.Errorf("%s%v: native schema %d, want 3 (bucket factor 1.1)", name, want, h.GetSchema())
	}
	var inSpans uint32
	for _, s := range h.GetPositiveSpan() {
		inSpans += s.GetLength()
	}
	if inSpans == 0 || int(inSpans) != len(h.GetPositiveDelta()) {
		t.Errorf("%s%v: native spans cover %d buckets, with %d deltas; want the same, not 0", name, want, inSpans, len(h.GetPositiveDelta()))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestRunSIGTERMTeardown stops the daemon at different moments and requires
// each time a quick exit 0 and the scenario's table dropped by teardown.
func TestRunSIGTERMTeardown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		setupMode string // run.setup
		slowSetup bool   // a setup step that sleeps 20s after creating the table
		duration  string
		// ready waits until the moment to stop.
		ready func(t *testing.T, d *daemon, table string)
	}{
		{
			name: "mid-setup", setupMode: "iteration", slowSetup: true, duration: "2s",
			ready: func(t *testing.T, d *daemon, table string) {
				// The table exists: the first step is done, the second
				// sleeps for 20s.
				pg := pgConn(t)
				eventually(t, 10*time.Second, "the first setup step to create "+table, func() (bool, string) {
					return tableExists(t, pg, table), "no table"
				})
			},
		},
		{
			name: "mid-phase", setupMode: "iteration", duration: "60s",
			ready: func(t *testing.T, d *daemon, table string) {
				eventually(t, 10*time.Second, "the load phase to run with calls made", func() (bool, string) {
					f := d.scrape(t, false)
					active, _ := f.value("pbenchd_phase_active", labels("scenario", "e2e_term", "phase", "load"))
					lat := f.find("pbenchd_action_latency_seconds", labels("scenario", "e2e_term", "action", "count", "outcome", "ok"))
					return active == 1 && len(lat) == 1 && lat[0].GetHistogram().GetSampleCount() > 0, fmt.Sprintf("phase_active %v", active)
				})
			},
		},
		{
			// Setup runs once; the table lives across iterations and
			// teardown runs when the daemon stops.
			name: "setup once", setupMode: "once", duration: "1s",
			ready: func(t *testing.T, d *daemon, table string) {
				pg := pgConn(t)
				passes := func(n float64) func() (bool, string) {
					return func() (bool, string) {
						v, _ := d.metric(t, "pbenchd_iterations_total", labels("scenario", "e2e_term", "result", "pass"))
						return v >= n, fmt.Sprintf("%v passes", v)
					}
				}
				eventually(t, 15*time.Second, "a first pass", passes(1))
				oid := tableOID(t, pg, table)
				eventually(t, 15*time.Second, "a third pass", passes(3))
				if again := tableOID(t, pg, table); again != oid {
					t.Errorf("with run.setup: once, the table was made again (oid %d, then %d)", oid, again)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pg := pgConn(t)
			table := uniqueTable()
			dropTable(t, table)
			cfg := writeConfig(t, "sigterm.yaml", map[string]any{"Table": table, "SetupMode": tt.setupMode, "SlowSetup": tt.slowSetup})
			d := startDaemon(t, testDSN(), "--config", cfg, "--scenarios", "e2e_term", "--duration", tt.duration, "--pause", "0s")
			tt.ready(t, d, table)
			for _, r := range []string{"fail", "error"} {
				if n, _ := d.metric(t, "pbenchd_iterations_total", labels("scenario", "e2e_term", "result", r)); n > 0 {
					t.Errorf("%v iteration(s) of e2e_term ended in %s before the stop; want none", n, r)
				}
			}
			d.signal(t, syscall.SIGTERM)
			start := time.Now()
			if code := d.exitCode(t, 5*time.Second); code != 0 {
				t.Fatalf("after SIGTERM pbenchd exited with %d, want 0", code)
			}
			t.Logf("exited 0, %v after SIGTERM", time.Since(start).Round(time.Millisecond))
			if tableExists(t, pg, table) {
				t.Errorf("table %s still exists after SIGTERM: teardown did not run", table)
			}
		})
	}
}

// tableOID returns the OID of a table, which changes if it is made again.
func tableOID(t *testing.T, pg *pgx.Conn, table string) uint32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var oid uint32
	if err := pg.QueryRow(ctx, "SELECT $1::regclass::oid", table).Scan(&oid); err != nil {
		t.Fatalf("the OID of %s: %v", table, err)
	}
	return oid
}

// TestRunSystemdNotify runs the daemon as systemd's Type=notify would:
// READY=1 once /metrics is served, WATCHDOG=1 while it runs, STOPPING=1 on
// SIGTERM.
func TestRunSystemdNotify(t *testing.T) {
	t.Parallel()
	pgConn(t)
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	next := func(what string) string {
		t.Helper()
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatalf("the notify socket closed while waiting for %s", what)
			}
			return m
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s from pbenchd on NOTIFY_SOCKET within 10s", what)
		}
		return ""
	}

	cfg := writeConfig(t, "reload.yaml", reloadConfig{Scenario: "e2e_reload_a", Pause: "0s"})
	p := startProc(t, []string{"PBENCHD_TARGETS__PG__DSN=" + testDSN(), "NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=400000"},
		"run", "--web.listen-address", "127.0.0.1:0", "--config", cfg, "--duration", "1s")
	if m := next("READY=1"); m != "READY=1" {
		t.Fatalf("first message on NOTIFY_SOCKET: %q, want READY=1", m)
	}
	// READY=1 promises that /metrics is served. The log line that tells
	// the port comes through a pipe, and may trail the datagram.
	d := &daemon{proc: p}
	eventually(t, 5*time.Second, `the "pbenchd started" line`, func() (bool, string) {
		m := listenRe.FindStringSubmatch(p.stderr.String())
		if m == nil {
			return false, p.stderr.String()
		}
		d.addr = m[1]
		return true, ""
	})
	if code, _, _ := d.get(t, "/metrics"); code != http.StatusOK {
		t.Errorf("GET /metrics right after READY=1: %d, want 200", code)
	}
	// WATCHDOG_USEC=400ms: pbenchd must pet the watchdog more often.
	for i := 0; i < 2; i++ {
		if m := next("WATCHDOG=1"); m != "WATCHDOG=1" {
			t.Fatalf("message on NOTIFY_SOCKET while running: %q, want WATCHDOG=1", m)
		}
	}
	d.stop(t)
	for {
		m := next("STOPPING=1")
		if m == "STOPPING=1" {
			break
		}
		if m != "WATCHDOG=1" {
			t.Fatalf("message on NOTIFY_SOCKET at stop: %q, want STOPPING=1", m)
		}
	}
}

// TestRunPortInUse: a listen address that is taken is reported, with a
// non-zero exit that is not the code of a bad config (systemd restarts on
// it, since the port may be free later).
func TestRunPortInUse(t *testing.T) {
	t.Parallel()
	cl := newCountingListener(t)
	cfg := writeConfig(t, "reload.yaml", reloadConfig{Scenario: "e2e_reload_a", Pause: "0s"})
	p := startProc(t, []string{"PBENCHD_TARGETS__PG__DSN=" + testDSN()},
		"run", "--config", cfg, "--web.listen-address", cl.ln.Addr().String())
	if code := p.exitCode(t, 10*time.Second); code != exitRuntime {
		t.Errorf("exit code %d with the listen address taken, want %d", code, exitRuntime)
	}
	if s := p.stderr.String(); !strings.Contains(s, "cannot serve HTTP") || !strings.Contains(s, "address already in use") {
		t.Errorf("stderr does not say the address is in use:\n%s", s)
	}
}
