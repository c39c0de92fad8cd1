package engine

import (
	"context"
	"fmt"
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

	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/pgtest"
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
