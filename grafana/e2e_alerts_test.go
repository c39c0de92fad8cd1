package grafana

// The end-to-end test of alert delivery: real pbenchd daemons, a real
// Prometheus evaluating the shipped rules, and a real Alertmanager running
// the shipped alertmanager.yml, delivering to a webhook receiver inside the
// test. Time is compressed: every duration in the rules (ranges, for:,
// offsets, group intervals) is divided by ruleTimeScale, and Prometheus
// scrapes and evaluates every second, so that an hour of burn-rate window
// passes in a minute. The expressions are the shipped ones.

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pbenchd/pbenchd/internal/pgtest"
)

// ruleTimeScale divides every duration of the rules and of Alertmanager's
// group_wait in the test: 1h becomes 1m, 5m becomes 5s, for: 2m becomes 2s.
const ruleTimeScale = 60

// promDuration matches a Prometheus duration such as 5m, 1h30m, 7d.
var promDuration = regexp.MustCompile(`\b(\d+(?:ms|[smhdwy]))+\b`)

// scaleDurations divides each duration in the contexts where the rules and
// Alertmanager's routes use them: [range], [range:step], offset, for:,
// interval:, group_wait:. Durations inside template strings and names
// (rate1h) are left alone.
func scaleDurations(t *testing.T, text string, factor int64) string {
	t.Helper()
	scale := func(d string) string {
		dur, err := parsePromDuration(d)
		if err != nil {
			t.Fatalf("scaling %q: %v", d, err)
		}
		ms := max(dur.Milliseconds()/factor, 1)
		return strconv.FormatInt(ms, 10) + "ms"
	}
	ctx := regexp.MustCompile(`(\[|:|offset |for: |interval: |group_wait: )(\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*)`)
	return ctx.ReplaceAllStringFunc(text, func(m string) string {
		p := ctx.FindStringSubmatch(m)
		return p[1] + scale(p[2])
	})
}

func parsePromDuration(s string) (time.Duration, error) {
	units := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour,
		"d": 24 * time.Hour, "w": 7 * 24 * time.Hour, "y": 365 * 24 * time.Hour}
	part := regexp.MustCompile(`(\d+)(ms|[smhdwy])`)
	var total time.Duration
	rest := part.ReplaceAllStringFunc(s, func(p string) string {
		m := part.FindStringSubmatch(p)
		n, _ := strconv.Atoi(m[1])
		total += time.Duration(n) * units[m[2]]
		return ""
	})
	if rest != "" || total == 0 {
		return 0, fmt.Errorf("not a duration: %q", s)
	}
	return total, nil
}

func TestScaleDurations(t *testing.T) {
	in := `rate(x[5m]) offset 1h and y[1d:1m] for: 2m interval: 1m group_wait: 30s rate1h "10m"`
	want := `rate(x[5000ms]) offset 60000ms and y[1440000ms:1000ms] for: 2000ms interval: 1000ms group_wait: 500ms rate1h "10m"`
	if got := scaleDurations(t, in, 60); got != want {
		t.Errorf("scaleDurations:\n got %s\nwant %s", got, want)
	}
}

// notification is what Alertmanager's webhook sends.
type notification struct {
	Receiver    string            `json:"receiver"`
	Status      string            `json:"status"`
	GroupKey    string            `json:"groupKey"`
	GroupLabels map[string]string `json:"groupLabels"`
	Alerts      []struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"alerts"`
	received time.Time
}

// webhook is the receiver of the test: it records every notification.
type webhook struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []notification
}

func newWebhook(t *testing.T) *webhook {
	w := &webhook{}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var n notification
		if err == nil {
			err = json.Unmarshal(body, &n)
		}
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		n.received = time.Now()
		n.Receiver = r.URL.Path + " " + n.Receiver
		w.mu.Lock()
		w.got = append(w.got, n)
		w.mu.Unlock()
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhook) notifications() []notification {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.got)
}

// describe lists notifications for messages.
func describeNotifications(ns []notification) string {
	var s []string
	for _, n := range ns {
		var names []string
		for _, a := range n.Alerts {
			names = append(names, a.Labels["alertname"]+"{"+a.Labels["instance"]+" "+a.Labels["scenario"]+"/"+a.Labels["action"]+" "+a.Labels["stat"]+"}")
		}
		s = append(s, fmt.Sprintf("%s %s %s", n.Status, n.GroupLabels, strings.Join(names, ",")))
	}
	return "[" + strings.Join(s, "; ") + "]"
}

// tcpProxy forwards connections to a server until closed; then its port
// refuses connections, as a dead target's does.
type tcpProxy struct {
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t *testing.T, to string) *tcpProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{l: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go func() { _, _ = io.Copy(c, s); c.Close() }()
		}
	}()
	t.Cleanup(p.close)
	return p
}

func (p *tcpProxy) close() {
	p.l.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// startAlertmanager runs Alertmanager on the shipped configuration, its
// receivers pointed at the webhook and group_wait compressed like the
// rules; group_interval and repeat_interval stay as shipped, so that each
// group notifies once within the test.
func startAlertmanager(t *testing.T, dir, hook string) string {
	t.Helper()
	bin := requireTool(t, "prometheus-alertmanager")
	shipped, err := os.ReadFile(alertmanagerFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.ReplaceAll(string(shipped), "http://127.0.0.1:5001", hook)
	if cfg == string(shipped) {
		t.Fatalf("%s: no receiver URL http://127.0.0.1:5001 to point at the test's webhook", alertmanagerFile)
	}
	cfg = regexp.MustCompile(`group_wait: \S+`).ReplaceAllString(cfg, "group_wait: 1s")
	path := filepath.Join(dir, "alertmanager.yml")
	writeFile(t, path, cfg)
	listen := freeAddr(t)
	startProcess(t, "alertmanager", bin, "--config.file="+path, "--storage.path="+filepath.Join(dir, "am"),
		"--web.listen-address="+listen, "--cluster.listen-address=")
	waitFor(t, 20*time.Second, "Alertmanager to be ready", func() (bool, string) {
		code, body, err := httpGet("http://" + listen + "/-/ready")
		return err == nil && code == http.StatusOK, fmt.Sprintf("%d %s %v", code, body, err)
	})
	return listen
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// amAlert is an alert as Alertmanager's API v2 shows it.
type amAlert struct {
	Labels map[string]string `json:"labels"`
	Status struct {
		State       string   `json:"state"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
}

func amAlerts(addr string) ([]amAlert, error) {
	code, body, err := httpGet("http://" + addr + "/api/v2/alerts")
	if err != nil || code != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v2/alerts: %d %s %v", code, body, err)
	}
	var as []amAlert
	err = json.Unmarshal(body, &as)
	return as, err
}

// startDaemon runs pbenchd on one scenario file against dsn.
func startDaemon(t *testing.T, bin, dir, name, dsn, scenarioFile, duration string, flags ...string) string {
	t.Helper()
	cfg := filepath.Join(dir, name+".yaml")
	sc, err := filepath.Abs(scenarioFile)
	if err != nil {
		t.Fatal(err)
	}
	scName := strings.TrimSuffix(filepath.Base(scenarioFile), ".yaml")
	writeFile(t, cfg, fmt.Sprintf("targets:\n  pg: { kind: postgres, dsn: %q }\nscenario_files: [%q]\nrun:\n  scenarios: [%s]\n", dsn, sc, scName))
	args := append([]string{"run", "--config", cfg, "--web.listen-address", "127.0.0.1:0", "--duration", duration, "--pause", "0s"}, flags...)
	d := startProcess(t, name, bin, args...)
	listen := regexp.MustCompile(`msg="pbenchd started" .*listen=(\S+)`)
	var addr string
	waitFor(t, 20*time.Second, name+`'s "pbenchd started" log line`, func() (bool, string) {
		d.mustRun(t)
		m := listen.FindStringSubmatch(d.out.String())
		if m == nil {
			return false, d.out.tail()
		}
		addr = m[1]
		return true, ""
	})
	return addr
}

// guaranteeAlert reports whether an alert is about a per-iteration
// guarantee.
func guaranteeAlert(name string) bool {
	return strings.HasPrefix(name, "Pbenchd") && strings.HasSuffix(name, "GuaranteeBroken")
}

func TestEndToEndAlertmanager(t *testing.T) {
	t.Parallel()
	promBin := requireTool(t, "prometheus")
	pgtest.Connect(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "pbenchd")
	if out, err := execCommand("go", "build", "-o", bin, "github.com/pbenchd/pbenchd/cmd/pbenchd"); err != nil {
		t.Fatalf("go build pbenchd: %v\n%s", err, out)
	}
	prefix := pgtest.Name("pbenchd_am")
	t.Cleanup(func() { dropObjects(t, prefix) })

	pc, err := pgconn.ParseConfig(pgtest.DSN())
	if err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, net.JoinHostPort(pc.Host, strconv.Itoa(int(pc.Port))))
	proxied := fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=%s sslmode=disable connect_timeout=2",
		proxy.l.Addr().(*net.TCPAddr).Port, pc.User, pc.Database)

	hook := newWebhook(t)
	amAddr := startAlertmanager(t, dir, hook.srv.URL)

	// Daemon B: a broken guarantee, then a dead target. Daemon C: healthy,
	// then failing 5 % of its calls.
	addrB := startDaemon(t, bin, dir, "pbenchd-inhibit", proxied, "testdata/e2e_alerts/e2e_inhibit.yaml", "500ms", "--pause", "200ms")
	addrC := startDaemon(t, bin, dir, "pbenchd-healthy", pgtest.DSN(), "testdata/e2e_alerts/e2e_healthy.yaml", "1s",
		"--set", "e2e_healthy.prefix="+prefix+"_h")

	shipped, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(dir, "pbenchd.rules.yml")
	writeFile(t, rules, scaleDurations(t, string(shipped), ruleTimeScale))
	promListen := freeAddr(t)
	promCfg := filepath.Join(dir, "prometheus.yml")
	writeFile(t, promCfg, fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%q]
alerting:
  alertmanagers:
    - static_configs:
        - targets: [%q]
scrape_configs:
  - job_name: pbenchd
    static_configs:
      - targets: [%q, %q]
`, rules, amAddr, addrB, addrC))
	pp := startProcess(t, "prometheus", promBin, "--config.file="+promCfg, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+promListen, "--rules.alert.resend-delay=1s")
	prom := &promServer{proc: pp, base: "http://" + promListen}
	waitFor(t, 20*time.Second, "Prometheus to be ready", func() (bool, string) {
		prom.proc.mustRun(t)
		code, body, err := httpGet(prom.base + "/-/ready")
		return err == nil && code == http.StatusOK, fmt.Sprintf("%d %s %v", code, body, err)
	})

	var wg sync.WaitGroup
	wg.Add(2)
	// The healthy run and the failure that follows, on daemon C.
	go func() {
		defer wg.Done()
		t.Run("healthy run fires nothing, then 5 % failures fire the fast burn", func(t *testing.T) {
			healthyThenFailing(t, prom, hook, addrC, prefix+"_h")
		})
	}()
	// A broken guarantee notifies once per group; a dead target then
	// notifies target-down and inhibits the guarantee alert.
	go func() {
		defer wg.Done()
		t.Run("broken guarantee, then dead target", func(t *testing.T) {
			brokenThenDead(t, prom, hook, amAddr, addrB, proxy)
		})
	}()
	wg.Wait()
}

func execCommand(name string, args ...string) ([]byte, error) {
	return osexec.Command(name, args...).CombinedOutput()
}

// healthyThenFailing: at least 20 iterations that pass without a single
// alert of the instance (pending or firing) in Prometheus nor a
// notification from Alertmanager; then 5 % of the calls fail, and
// PbenchdErrorBudgetBurnFast (error_ratio, window 1h, compressed to 1m) must
// fire and be notified within that window.
func healthyThenFailing(t *testing.T, prom *promServer, hook *webhook, addr, prefix string) {
	const iterations = 20
	start := time.Now()
	var seen []string
	waitFor(t, 3*time.Minute, fmt.Sprintf("%d passing iterations of e2e_healthy", iterations), func() (bool, string) {
		alerts, err := prom.alerts()
		if err != nil {
			return false, err.Error()
		}
		for _, a := range alerts {
			if a.Labels["instance"] == addr {
				seen = append(seen, fmt.Sprintf("%s%v %s", a.Labels["alertname"], a.Labels, a.State))
			}
		}
		v, err := prom.vector(fmt.Sprintf(`sum by (result) (pbenchd_iterations_total{instance=%q})`, addr), time.Now())
		if err != nil {
			return false, err.Error()
		}
		var pass, other float64
		for _, s := range v {
			if s.Metric["result"] == "pass" {
				pass = s.value()
			} else {
				other += s.value()
			}
		}
		if other > 0 {
			t.Errorf("e2e_healthy: %v iterations did not pass: %v", other, v)
			return true, ""
		}
		return pass >= iterations, fmt.Sprintf("iterations %v", v)
	})
	if len(seen) > 0 {
		t.Errorf("the healthy run raised alerts: %s", strings.Join(slices.Compact(seen), "; "))
	}
	for _, n := range hook.notifications() {
		for _, a := range n.Alerts {
			if a.Labels["instance"] == addr {
				t.Errorf("the healthy run was notified: %s", describeNotifications([]notification{n}))
			}
		}
	}
	t.Logf("%d healthy iterations in %v", iterations, time.Since(start).Round(time.Second))

	// Now 5 % of the calls fail.
	c, err := pgx.Connect(t.Context(), pgtest.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(t.Context())
	if _, err := c.Exec(t.Context(), "UPDATE "+prefix+"_flag SET failing = true"); err != nil {
		t.Fatal(err)
	}
	failing := time.Now()
	// The 1h window, compressed to 1m, plus one rule evaluation, one
	// Alertmanager group_wait (1s) and the scrape: the workbook's promise
	// that a 50x burn pages within its long window.
	window := time.Hour / ruleTimeScale
	waitFor(t, window+10*time.Second, "PbenchdErrorBudgetBurnFast for e2e_healthy/call, notified", func() (bool, string) {
		for _, n := range hook.notifications() {
			for _, a := range n.Alerts {
				if a.Labels["alertname"] == "PbenchdErrorBudgetBurnFast" && a.Labels["instance"] == addr &&
					a.Labels["stat"] == "error_ratio" && a.Status == "firing" {
					if a.Labels["severity"] != "critical" || (a.Labels["window"] != "1h" && a.Labels["window"] != "6h") || !strings.Contains(n.Receiver, "/pages") {
						t.Errorf("burn alert %v went to %s; want severity critical, window 1h or 6h, the paging receiver", a.Labels, n.Receiver)
					}
					return true, ""
				}
			}
		}
		alerts, _ := prom.alerts()
		return false, describeAlerts(alerts)
	})
	t.Logf("fast burn notified %v after the calls started failing", time.Since(failing).Round(time.Second))
}

// brokenThenDead: the QPS guarantee of e2e_inhibit breaks in 3 iterations
// in a row and Alertmanager sends exactly one notification for its group,
// with the labels and links an on-call needs. Then the target's port
// closes: PbenchdTargetDown is notified, the guarantee alert (still firing
// on its last judged verdict) is inhibited, and no guarantee notification
// follows.
func brokenThenDead(t *testing.T, prom *promServer, hook *webhook, amAddr, addr string, proxy *tcpProxy) {
	isGuarantee := func(n notification) bool {
		for _, a := range n.Alerts {
			if a.Labels["instance"] == addr && guaranteeAlert(a.Labels["alertname"]) {
				return true
			}
		}
		return false
	}
	waitFor(t, 90*time.Second, "the QPS guarantee notification of e2e_inhibit", func() (bool, string) {
		return slices.ContainsFunc(hook.notifications(), isGuarantee), describeNotifications(hook.notifications())
	})
	// Wait a little for any duplicate to arrive (group_wait is 1s).
	time.Sleep(3 * time.Second)
	var guaranteeNotes []notification
	for _, n := range hook.notifications() {
		if isGuarantee(n) {
			guaranteeNotes = append(guaranteeNotes, n)
		}
	}
	if len(guaranteeNotes) != 1 {
		t.Errorf("%d guarantee notifications for e2e_inhibit, want exactly 1: %s", len(guaranteeNotes), describeNotifications(guaranteeNotes))
	}
	for _, n := range guaranteeNotes {
		if n.GroupLabels["scenario"] != "e2e_inhibit" || n.GroupLabels["action"] != "ping" || n.GroupLabels["instance"] != addr {
			t.Errorf("notification grouped by %v, want scenario e2e_inhibit, action ping, instance %s", n.GroupLabels, addr)
		}
		if !strings.Contains(n.Receiver, "/pages") {
			t.Errorf("critical guarantee alert went to %s, not the paging receiver", n.Receiver)
		}
		for _, a := range n.Alerts {
			for _, k := range []string{"alertname", "severity", "instance", "job", "scenario", "action"} {
				if a.Labels[k] == "" {
					t.Errorf("notified alert without label %s: %v", k, a.Labels)
				}
			}
			du := a.Annotations["dashboard_url"]
			if !strings.Contains(du, "/d/pbenchd-scenario/") || !strings.Contains(du, "var-scenario=e2e_inhibit") ||
				!strings.Contains(du, "var-action=ping") || !strings.Contains(du, "var-instance="+addr) {
				t.Errorf("dashboard_url %q does not link the Scenario dashboard of e2e_inhibit/ping on %s", du, addr)
			}
			if !strings.HasPrefix(a.Annotations["runbook_url"], "https://") || a.Annotations["summary"] == "" ||
				!strings.Contains(a.Annotations["description"], "its guarantee is at least 1e+09 calls/s") {
				t.Errorf("annotations %v lack a runbook, a summary or the guarantee", a.Annotations)
			}
		}
	}

	// The target dies. Until PbenchdTargetDown fires (its for: runs
	// first), nothing holds the other alerts back: one that began to
	// fire meanwhile (a regression judged on the last results, on a slow
	// machine) is rightly notified. From the moment Alertmanager has
	// PbenchdTargetDown, which is before it notifies it (group_wait),
	// every other alert of the instance is inhibited.
	proxy.close()
	died := time.Now()
	var downAt time.Time // when PbenchdTargetDown was notified
	waitFor(t, 90*time.Second, "the PbenchdTargetDown notification", func() (bool, string) {
		for _, n := range hook.notifications() {
			for _, a := range n.Alerts {
				if a.Labels["alertname"] == "PbenchdTargetDown" && a.Labels["instance"] == addr && a.Status == "firing" {
					downAt = n.received
					return true, ""
				}
			}
		}
		return false, describeNotifications(hook.notifications())
	})
	// The guarantee alert still fires in Prometheus on the last judged
	// verdict; Alertmanager holds it back.
	waitFor(t, 30*time.Second, "the guarantee alert inhibited in Alertmanager", func() (bool, string) {
		as, err := amAlerts(amAddr)
		if err != nil {
			return false, err.Error()
		}
		var state []string
		for _, a := range as {
			if a.Labels["instance"] == addr && guaranteeAlert(a.Labels["alertname"]) {
				if a.Status.State == "suppressed" && len(a.Status.InhibitedBy) > 0 {
					return true, ""
				}
				state = append(state, fmt.Sprintf("%s %s %v", a.Labels["alertname"], a.Status.State, a.Status.InhibitedBy))
			}
		}
		return false, strings.Join(state, "; ")
	})
	time.Sleep(3 * time.Second)
	for _, n := range hook.notifications() {
		if n.received.After(downAt) && isGuarantee(n) {
			t.Errorf("guarantee notification after the target was down: %s", describeNotifications([]notification{n}))
		}
		if n.received.After(downAt) && n.Status == "firing" {
			for _, a := range n.Alerts {
				if a.Labels["instance"] == addr && a.Labels["alertname"] != "PbenchdTargetDown" {
					t.Errorf("notified while the target is down: %v (want only PbenchdTargetDown)", a.Labels)
				}
			}
		}
	}
	t.Logf("PbenchdTargetDown notified %v after the target died", downAt.Sub(died).Round(time.Millisecond))
	// Errored iterations never re-counted the stale result.
	v, err := prom.vector(fmt.Sprintf(`pbenchd_iterations_total{instance=%q,result="error"}`, addr), time.Now())
	if err != nil || !v.hasData() || v[0].value() < 1 {
		t.Errorf("no errored iteration of e2e_inhibit after the target died: %v %v", v, err)
	}
}
