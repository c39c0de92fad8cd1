package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/pgtest"
	"github.com/pbenchd/pbenchd/internal/tpch"
)

// TestPgIvmSetupError runs the pg_ivm scenarios where pg_ivm cannot work and
// checks that setup refuses with an error saying why and how to fix it. On a
// server without the extension that is the test server itself; on one with
// it, a database of the test server that does not preload it, or, when the
// server preloads pg_ivm for every database (shared_preload_libraries), a
// private server started from the same installation without it. Either
// way nothing is created: the check comes before the data load.
func TestPgIvmSetupError(t *testing.T) {
	c := pgtest.Connect(t)
	var dsn, db, want string
	switch {
	case !hasPgIvm(t, c):
		dsn, db = pgtest.Database(t, "pbenchd_ivm_setup"), "pbenchd_ivm_setup"
		want = "needs the pg_ivm extension, which this server does not have: build it from https://github.com/sraoss/pg_ivm"
		t.Log("the server has no pg_ivm: setup must say it is missing")
	case preloadedEverywhere(t, c):
		dsn, db = privateServer(t), "postgres"
		want = "needs pg_ivm preloaded"
		t.Log("the server preloads pg_ivm everywhere: a private server without the preload must be refused")
	default:
		dsn, db = pgtest.Database(t, "pbenchd_ivm_setup"), "pbenchd_ivm_setup"
		pgtest.Exec(t, c, "ALTER DATABASE pbenchd_ivm_setup RESET session_preload_libraries")
		want = "needs pg_ivm preloaded"
		t.Log("the server has pg_ivm: a database that does not preload it must be refused")
	}
	fix := fmt.Sprintf("ALTER DATABASE %s SET session_preload_libraries = 'pg_ivm'", db)
	cfg := loadCatalog(t, dsn, nil)
	for _, name := range pgIvmScenarios() {
		t.Run(name, func(t *testing.T) {
			sc := cfg.Scenario(name)
			if sc == nil {
				t.Fatalf("no scenario %s in the catalog", name)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			it := New(cfg, metrics.New(prometheus.NewRegistry()), quiet).Iterate(ctx, sc, Stage{Setup: true, Teardown: true})
			if it.Result != Error || it.Err == nil {
				t.Fatalf("result %s (%v), want an error at setup", it.Result, it.Err)
			}
			msg := it.Err.Error()
			if !strings.Contains(msg, "setup[0]") || !strings.Contains(msg, want) || !strings.Contains(msg, fix) {
				t.Errorf("error %q, want one from the first setup step saying %q and how to fix it (%q)", msg, want, fix)
			}
			if len(it.Results) != 0 {
				t.Errorf("%d actions ran after the setup error", len(it.Results))
			}
		})
	}
}

// preloadedEverywhere reports whether the server loads pg_ivm into every
// session through shared_preload_libraries.
func preloadedEverywhere(t *testing.T, c *pgx.Conn) bool {
	t.Helper()
	var libs string
	if err := c.QueryRow(context.Background(), "SHOW shared_preload_libraries").Scan(&libs); err != nil {
		t.Fatalf("SHOW shared_preload_libraries: %v", err)
	}
	return regexp.MustCompile(`(^|,)\s*"?(\$libdir/)?pg_ivm(\.so)?"?\s*(,|$)`).MatchString(libs)
}

// privateServer starts a PostgreSQL of the installation pg_config names
// (so with the same extensions installed) on a free port, with default
// settings, and stops it when the test ends. As root, it runs as the
// postgres OS user, since PostgreSQL refuses to run as root.
func privateServer(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("pg_config", "--bindir").Output()
	if err != nil {
		t.Fatalf("pg_config --bindir (the server development package): %v", err)
	}
	bin := strings.TrimSpace(string(out))
	dir, err := os.MkdirTemp("", "pbenchd-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var as []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running PostgreSQL as root needs a postgres OS user: %v", err)
		}
		if err := exec.Command("chown", u.Username, dir).Run(); err != nil {
			t.Fatalf("chown %s: %v", dir, err)
		}
		as = []string{"runuser", "-u", u.Username, "--"}
	}
	run := func(name string, args ...string) {
		t.Helper()
		argv := append(append(as[:len(as):len(as)], filepath.Join(bin, name)), args...)
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	data := filepath.Join(dir, "data")
	run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync")
	run("pg_ctl", "-D", data, "-w", "-l", filepath.Join(dir, "log"), "-o",
		fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off", port, dir), "start")
	t.Cleanup(func() { run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop") })
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
}

// TestIVMUpdateDistribution runs 1,100 paired refresh streams on SF 0.01
// (15 orders each: more than the 15,000 loaded orders turn over, so RF2
// ends up deleting orders RF1 inserted), then the IVM scenarios' one-row
// update, exactly as configured, 20,000 times, and checks which rows it
// hit: always line 1 of an order present, spread uniformly over the
// orders present, with no hot row. (Drawing a key from [0, max key), as
// the update once did, put 2/3 of the turned-over share on the first
// order after the gap RF2 leaves.)
func TestIVMUpdateDistribution(t *testing.T) {
	connect, conn, schema := pgtest.Schema(t)
	ctx := context.Background()
	g, err := tpch.New(0.01, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Load(ctx, connect, tpch.LoadOptions{Workers: 2}); err != nil {
		t.Fatalf("load: %v", err)
	}
	const streams = 1100
	r := g.NewRefresher(schema)
	if err := r.Resume(ctx, conn); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for range streams - 1 {
		if _, err := r.RF1(ctx, conn); err != nil {
			t.Fatal(err)
		}
		if _, err := r.RF2(ctx, conn); err != nil {
			t.Fatal(err)
		}
	}
	// The last pair from a new Refresher: it resumes after the others.
	r = g.NewRefresher(schema)
	if err := r.Resume(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if res, err := r.RF1(ctx, conn); err != nil || res.Stream != streams {
		t.Fatalf("resumed RF1: %+v, %v; want stream %d", res, err, streams)
	}
	if res, err := r.RF2(ctx, conn); err != nil || res.Stream != streams || res.Orders != g.RefreshOrders() {
		t.Fatalf("resumed RF2: %+v, %v; want stream %d deleting %d orders", res, err, streams, g.RefreshOrders())
	}
	t.Logf("%d refresh stream pairs in %v", streams, time.Since(start).Round(time.Millisecond))
	present := g.Orders()
	lo := streams * g.RefreshOrders() // the index of the oldest order left
	if n := pgtest.Int(t, conn, "SELECT count(*) FROM orders"); n != present {
		t.Fatalf("%d orders after the streams, want %d", n, present)
	}
	if k := pgtest.Int(t, conn, "SELECT min(l_orderkey) FROM lineitem"); k != tpch.OrderKey(lo) {
		t.Fatalf("lowest order key %d, want %d", k, tpch.OrderKey(lo))
	}

	cfg := loadCatalog(t, pgtest.DSN(), map[string]any{"vars.ivm_tpch_none.schema": schema})
	update, lowArg, highArg := scenarioUpdate(t, cfg.Scenario("ivm_tpch_none"), "lineitem_update")
	const m = 20000
	hits := make(map[int64]int, present)
	rng := rand.New(rand.NewPCG(1, 2))
	for sent := 0; sent < m; {
		var b pgx.Batch
		for ; b.Len() < 500 && sent < m; sent++ {
			b.Queue(update, lowArg+rng.Int64N(highArg-lowArg+1))
		}
		br := conn.SendBatch(ctx, &b)
		for range b.Len() {
			var key int64
			if err := br.QueryRow().Scan(&key); err != nil {
				br.Close()
				t.Fatalf("the update hit no row: %v", err)
			}
			hits[key]++
		}
		if err := br.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Hits per order are Binomial(m, 1/present), about Poisson(λ = 4/3).
	// P(X ≥ 14) ≈ e^-λ λ^14 / 14! ≈ 1.7e-10 for one order, 2.6e-6 for any
	// of the 15,000: a fair draw never reaches 14, a hot row (the drift
	// seen before: 13 % to 27 % of the updates) reaches thousands.
	// Split the orders present into ten runs of 1,500 by index: each run's
	// hits are Binomial(m, 0.1), mean 2,000, sd √(m·0.1·0.9) = 42.4; six sd
	// (255) is exceeded with probability 2e-9 per run. The modulo that maps
	// the argument onto the run of indexes biases by at most 15,000 / 2·10^9.
	var runs [10]int
	hot, hotKey := 0, int64(0)
	for key, n := range hits {
		var i int64 = -1
		if (key-1)%32 < 8 {
			i = (key-1)/32*8 + (key-1)%32
		}
		if i < lo || i >= lo+present {
			t.Fatalf("the update hit order %d (index %d), not one of the orders present (indexes %d to %d)", key, i, lo, lo+present-1)
		}
		runs[(i-lo)*10/present] += n
		if n > hot {
			hot, hotKey = n, key
		}
	}
	t.Logf("%d updates over %d of %d orders; most hits on one order: %d (order %d); per tenth of the orders: %v", m, len(hits), present, hot, hotKey, runs)
	if hot >= 14 {
		t.Errorf("order %d took %d of %d updates: a hot row (a fair draw reaches 14 with probability below 3e-6)", hotKey, hot, m)
	}
	for k, n := range runs {
		if n < 2000-255 || n > 2000+255 {
			t.Errorf("tenth %d of the orders present took %d updates, want 2000 ± 255 (6 sd)", k, n)
		}
	}
}

// scenarioUpdate returns an action's statement and the range of its one
// uniform_int argument, as the scenario configures them.
func scenarioUpdate(t *testing.T, sc *config.Scenario, action string) (string, int64, int64) {
	t.Helper()
	if sc == nil {
		t.Fatal("scenario not in the catalog")
	}
	for _, ph := range sc.Phases {
		if ph.Load == nil {
			continue
		}
		for _, a := range ph.Load.Actions {
			if a.Name != action {
				continue
			}
			spec, _ := a.Kinds["sql"].(map[string]any)
			exec, _ := spec["exec"].(string)
			args, _ := spec["args"].([]any)
			if exec == "" || len(args) != 1 {
				t.Fatalf("%s: want an exec statement with one argument, got %v", action, spec)
			}
			arg, _ := args[0].(map[string]any)
			if arg["kind"] != "uniform_int" {
				t.Fatalf("%s: argument %v, want a uniform_int", action, arg)
			}
			return exec, toInt64(t, arg["min"]), toInt64(t, arg["max"])
		}
	}
	t.Fatalf("scenario %s has no action %s", sc.Name, action)
	return "", 0, 0
}

func toInt64(t *testing.T, v any) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscan(fmt.Sprint(v), &n); err != nil {
		t.Fatalf("%v is not an integer: %v", v, err)
	}
	return n
}

// TestFreshnessHalfPeriod measures the freshness lag of a materialized
// view refreshed every P = 300 ms, as the IVM scenarios do: markers written
// at random offsets within the period must wait, on average, half of it.
//
// The derivation. The probe sees marker k right after the refresh that
// showed it, waits u ~ U[0, P), writes marker k+1, and that marker shows
// at the next refresh, one gap G later: its lag is G − u (plus the poll
// step, mean 2.5 ms, and one read; the refreshes' own durations cancel,
// as both ends are refresh commits). G is P, or 2P when a refresh overran
// its period on a loaded machine and the next arrival was dropped (a
// share q = dropped/refreshes of the gaps), so the mean lag is
// P/2 + q·P and its sd P·√(1/12 + q(1−q)) (86.6 ms with q = 0). A probe
// takes about P (the wait, then the lag), so the 15 s phase yields about
// 50; at least 30 are required. The mean is accepted within four sd of
// the mean below and four sd plus 50 ms (poll step, reads, scheduling
// delays) above. The old probe, writing right after a refresh, waited a
// whole period (G, 300 ms) and fails; a lag counted from before the wait
// or the write would add P/2.
func TestFreshnessHalfPeriod(t *testing.T) {
	c := pgtest.Connect(t)
	tbl, mv := pgtest.Name("pbenchd_fresh"), pgtest.Name("pbenchd_fresh_mv")
	pgtest.Exec(t, c, "CREATE TABLE "+tbl+" (m bigint)")
	pgtest.Exec(t, c, "CREATE MATERIALIZED VIEW "+mv+" AS SELECT coalesce(max(m), 0) AS m FROM "+tbl)
	t.Cleanup(func() {
		pgtest.Exec(t, pgtest.Connect(t), "DROP MATERIALIZED VIEW IF EXISTS "+mv+"; DROP TABLE IF EXISTS "+tbl)
	})
	file := filepath.Join(t.TempDir(), "fresh.yaml")
	yaml := fmt.Sprintf(`
targets:
  pg: { kind: postgres, dsn: %q }
run: { scenarios: [fresh] }
scenarios:
  - name: fresh
    description: a view refreshed every 300 ms and its freshness lag
    target: pg
    phases:
      - load:
          duration: 15s
          drain: 1s
          actions:
            - name: refresher
              open: { rate: 1/300ms, max_inflight: 1 }
              report: false
              sql: { exec: "REFRESH MATERIALIZED VIEW %s" }
            - name: probe
              closed: { concurrency: 1 }
              sql_freshness:
                write: "INSERT INTO %s VALUES ($1)"
                read: "SELECT 1 FROM %s WHERE m >= $1"
                spread: 300ms
                interval: 5ms
`, pgtest.DSN(), mv, tbl, mv)
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.Options{Files: []string{file}, Kinds: action.Kinds, NoBuiltinScenarios: true,
		Set: map[string]any{"run.warmup": "0s"}})
	if err != nil {
		t.Fatal(err)
	}
	it := New(cfg, metrics.New(prometheus.NewRegistry()), quiet).Iterate(context.Background(), cfg.Scenario("fresh"), Stage{})
	var probe, refresher *ActionJSON
	out := it.JSON()
	for i, a := range out.Actions {
		switch a.Action {
		case "probe":
			probe = &out.Actions[i]
		case "refresher":
			refresher = &out.Actions[i]
		}
	}
	if probe == nil || refresher == nil {
		t.Fatalf("results %+v: want the probe's and the refresher's", out.Actions)
	}
	t.Logf("%d markers: lag mean %.1f ms, p50 %.1f ms, p99 %.1f ms, max %.1f ms; %d refreshes, %d overran their period",
		probe.Calls, probe.Avg*1e3, probe.P50*1e3, probe.P99*1e3, probe.Max*1e3, refresher.Calls, refresher.Dropped)
	if probe.Failed > 0 || probe.Calls < 30 {
		t.Fatalf("%d markers, %d failed: want at least 30, none failed", probe.Calls, probe.Failed)
	}
	const p = 0.3
	q := float64(refresher.Dropped) / float64(max(refresher.Calls, 1))
	want := p/2 + q*p
	sd := p * math.Sqrt(1.0/12+q*(1-q)) / math.Sqrt(float64(probe.Calls))
	if lo, hi := want-4*sd, want+4*sd+0.05; float64(probe.Avg) < lo || float64(probe.Avg) > hi {
		t.Errorf("mean lag %.1f ms, want about half the 300 ms period (%.1f ms with %.0f%% of the refreshes overrun): %.1f to %.1f ms",
			float64(probe.Avg)*1e3, want*1e3, q*100, lo*1e3, hi*1e3)
	}
}
