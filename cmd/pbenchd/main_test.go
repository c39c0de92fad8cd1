package main

// End-to-end tests of the pbenchd command. TestMain builds the binary once;
// tests that need signals, exit codes of a process or the HTTP server run
// it, the others call run() directly. Tests that need PostgreSQL read
// PBENCHD_TEST_DSN and fail (never skip) when it does not answer.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/pbenchd/pbenchd/internal/pgtest"
)

// testVersion is linked into the test binary, so that `version` and
// pbenchd_build_info can be checked exactly.
const testVersion = "v0.0.0-e2e"

// binPath is the pbenchd binary TestMain built.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pbenchd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "pbenchd")
	build := exec.Command("go", "build", "-o", binPath,
		"-ldflags", "-X github.com/pbenchd/pbenchd/internal/metrics.Version="+testVersion, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building pbenchd: %v\n", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		// run() is called in-process by some tests: it must not leave
		// goroutines behind (pools, probes, timers).
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines leaked by run(): %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// testDSN is the PostgreSQL the tests use.
func testDSN() string { return pgtest.DSN() }

// pgConn connects to the test PostgreSQL, failing the test if it does not
// answer.
func pgConn(t *testing.T) *pgx.Conn { return pgtest.Connect(t) }

// tableExists reports whether a table of that name is visible.
func tableExists(t *testing.T, c *pgx.Conn, table string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var ok bool
	if err := c.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&ok); err != nil {
		t.Fatalf("asking PostgreSQL whether %s exists: %v", table, err)
	}
	return ok
}

// dropTable removes a test table if a test failed before pbenchd could.
func dropTable(t *testing.T, table string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, testDSN())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(ctx, "DROP TABLE IF EXISTS "+table)
	})
}

// uniqueTable returns a table name no other test, and no other engineer's
// test run on the same server, uses.
func uniqueTable() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return pgtest.Name("pbenchd_e2e_" + hex.EncodeToString(b))
}

// writeConfig renders testdata/name (a text/template) with data into a
// file in a fresh temporary directory and returns its path.
func writeConfig(t *testing.T, name string, data any) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pbenchd.yaml")
	renderConfig(t, name, data, path)
	return path
}

// renderConfig renders testdata/name with data into path (replacing it).
func renderConfig(t *testing.T, name string, data any, path string) {
	t.Helper()
	tmpl, err := template.ParseFiles(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	// Write then rename, so that a reload never reads half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond until it holds or the timeout passes; state tells
// what was seen last, for the failure message.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (ok bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v still waiting for %s; last seen: %s", timeout, what, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for a process writing while a test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a pbenchd process.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr syncBuffer
	done           chan struct{}
	err            error // of Wait, once done is closed
}

// startProc starts pbenchd with extra environment variables (KEY=value).
// The process is killed when the test ends, and its stderr logged if the
// test failed.
func startProc(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{done: make(chan struct{})}
	p.cmd = exec.Command(binPath, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting pbenchd: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("pbenchd %s\nstderr:\n%s", strings.Join(args, " "), p.stderr.String())
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitCode waits up to timeout for the process to end and returns its exit
// code.
func (p *proc) exitCode(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("pbenchd did not exit within %v", timeout)
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("pbenchd was killed by %v", ws.Signal())
		}
		return ee.ExitCode()
	}
	t.Fatalf("waiting for pbenchd: %v", p.err)
	return -1
}

// signal sends sig to the process.
func (p *proc) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("sending %v to pbenchd: %v", sig, err)
	}
}

// stop sends SIGTERM and requires a clean exit (code 0) within 5s.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.signal(t, syscall.SIGTERM)
	start := time.Now()
	if code := p.exitCode(t, 5*time.Second); code != 0 {
		t.Fatalf("after SIGTERM pbenchd exited with %d, want 0", code)
	}
	t.Logf("pbenchd exited 0, %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(p.stderr.String(), `msg="pbenchd stopped"`) {
		t.Errorf("no \"pbenchd stopped\" log line after SIGTERM")
	}
}

// daemon is a `pbenchd run` process with its HTTP address.
type daemon struct {
	*proc
	addr string // host:port
}

var listenRe = regexp.MustCompile(`msg="pbenchd started" .*listen=(\S+)`)

// startDaemon starts `pbenchd run` on a free port with the given
// arguments, pointing target pg at dsn through the environment, and waits
// for the "pbenchd started" line that tells the port.
func startDaemon(t *testing.T, dsn string, args ...string) *daemon {
	t.Helper()
	args = append([]string{"run", "--web.listen-address", "127.0.0.1:0"}, args...)
	p := startProc(t, []string{"PBENCHD_TARGETS__PG__DSN=" + dsn}, args...)
	d := &daemon{proc: p}
	eventually(t, 10*time.Second, `the "pbenchd started" log line`, func() (bool, string) {
		if p.exited() {
			t.Fatalf("pbenchd exited before it started: %v\n%s", p.err, p.stderr.String())
		}
		m := listenRe.FindStringSubmatch(p.stderr.String())
		if m == nil {
			return false, p.stderr.String()
		}
		d.addr = m[1]
		return true, ""
	})
	return d
}

// alive fails the test if the daemon has exited.
func (d *daemon) alive(t *testing.T) {
	t.Helper()
	if d.exited() {
		t.Fatalf("pbenchd exited (%v); it must keep running", d.err)
	}
}

var httpClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// get fetches a path and returns the status and body.
func (d *daemon) get(t *testing.T, path string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	return d.do(t, http.MethodGet, path, header...)
}

func (d *daemon) do(t *testing.T, method, path string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+d.addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		d.alive(t)
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, body
}

// protoAccept asks for the delimited protobuf exposition, the only one
// that carries native histograms.
const protoAccept = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"

// scrape fetches /metrics as protobuf (proto) or as the text format, and
// parses it with expfmt.
func (d *daemon) scrape(t *testing.T, proto bool) families {
	t.Helper()
	accept := "text/plain;version=0.0.4"
	if proto {
		accept = protoAccept
	}
	code, h, body := d.get(t, "/metrics", "Accept", accept)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d\n%s", code, body)
	}
	format := expfmt.ResponseFormat(h)
	out := families{}
	if proto {
		if format.FormatType() != expfmt.TypeProtoDelim {
			t.Fatalf("GET /metrics with Accept %s: Content-Type %q, want delimited protobuf", protoAccept, h.Get("Content-Type"))
		}
		dec := expfmt.NewDecoder(bytes.NewReader(body), format)
		for {
			mf := &dto.MetricFamily{}
			if err := dec.Decode(mf); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("decoding the protobuf exposition: %v", err)
			}
			out[mf.GetName()] = mf
		}
		return out
	}
	if format.FormatType() != expfmt.TypeTextPlain {
		t.Fatalf("GET /metrics as text: Content-Type %q, want text/plain", h.Get("Content-Type"))
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing the text exposition: %v", err)
	}
	return mfs
}

// families are the metric families of one scrape, by name.
type families map[string]*dto.MetricFamily

// labelsOf returns a metric's labels as a map.
func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

// find returns the series of the family whose labels include want, in
// exposition order.
func (f families) find(name string, want map[string]string) []*dto.Metric {
	var out []*dto.Metric
	mf := f[name]
	if mf == nil {
		return nil
	}
next:
	for _, m := range mf.GetMetric() {
		ls := labelsOf(m)
		for k, v := range want {
			if ls[k] != v {
				continue next
			}
		}
		out = append(out, m)
	}
	return out
}

// value returns the value of the one series with exactly the labels
// want (a gauge or counter), and whether it exists.
func (f families) value(name string, want map[string]string) (float64, bool) {
	for _, m := range f.find(name, want) {
		if len(labelsOf(m)) != len(want) {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// metric scrapes and returns one series' value (0, false when absent).
func (d *daemon) metric(t *testing.T, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	return d.scrape(t, false).value(name, labels)
}

// labels is shorthand for a label set: labels("a", "1", "b", "2").
func labels(kv ...string) map[string]string {
	out := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}
