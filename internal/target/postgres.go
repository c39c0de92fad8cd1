// Package target owns connections to the systems under test: resolving a
// target's settings into a connection config (never logging its secrets),
// opening connections and pools, and telling whether the target is up.
package target

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pbenchd/pbenchd/internal/config"
)

// Postgres is a PostgreSQL-wire target.
type Postgres struct {
	// Name is the target's name in the config.
	Name string
	// Flavor is the engine behind the protocol (postgres, materialize…).
	Flavor string

	cfg     *pgx.ConnConfig
	timeout time.Duration
	up      prometheus.Gauge
	// state is the value last written to up (-1: none yet), so that the
	// hot path writes the shared gauge only when the state changes.
	state  atomic.Int32
	health *Health
}

// NewPostgres resolves a target's connection settings. An empty DSN uses
// the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD)
// and then libpq's defaults. up, if not nil, is set to 1 or 0 as calls
// succeed or fail to reach the target.
func NewPostgres(name string, t config.Target, up prometheus.Gauge) (*Postgres, error) {
	cfg, err := pgx.ParseConfig(t.DSN)
	if err != nil {
		return nil, fmt.Errorf("target %s: dsn: %w", name, err)
	}
	if t.PasswordFile != "" {
		b, err := os.ReadFile(t.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("target %s: password_file: %w", name, err)
		}
		cfg.Password = strings.TrimRight(string(b), "\r\n")
	}
	timeout := t.ConnectTimeout.D
	if timeout <= 0 {
		timeout = config.DefaultConnectTimeout
	}
	cfg.ConnectTimeout = timeout
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "pbenchd"
	}
	p := &Postgres{Name: name, Flavor: t.Flavor, cfg: cfg, timeout: timeout, up: up}
	p.state.Store(-1)
	return p, nil
}

// ConnConfig returns a copy of the resolved connection settings.
func (p *Postgres) ConnConfig() *pgx.ConnConfig { return p.cfg.Copy() }

// Describe returns host, port, database and user, for logs: never the
// password.
func (p *Postgres) Describe() string {
	return fmt.Sprintf("host=%s port=%d dbname=%s user=%s", p.cfg.Host, p.cfg.Port, p.cfg.Database, p.cfg.User)
}

// Connect opens one connection and runs the setup statements on it.
func (p *Postgres) Connect(ctx context.Context, setup []string) (*pgx.Conn, error) {
	return p.connect(ctx, p.cfg.Copy(), setup)
}

// ConnectCancelling opens one connection whose statements, when their
// context ends, are cancelled on the server (a cancel request) and
// waited for, wait at most, before they return: what runs next, on any
// connection, sees their outcome. (On a connection from Connect a
// statement returns at once and the server goes on with it: a setup's
// CREATE TABLE cut by a stop could commit after the teardown's DROP
// TABLE had run.) With no wait it is Connect's.
func (p *Postgres) ConnectCancelling(ctx context.Context, wait time.Duration) (*pgx.Conn, error) {
	if wait <= 0 {
		return p.Connect(ctx, nil)
	}
	cfg := p.cfg.Copy()
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: wait}
	}
	return p.connect(ctx, cfg, nil)
}

func (p *Postgres) connect(ctx context.Context, cfg *pgx.ConnConfig, setup []string) (*pgx.Conn, error) {
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		p.Observe(err)
		return nil, err
	}
	for _, s := range setup {
		if _, err := c.Exec(ctx, s); err != nil {
			c.Close(context.Background())
			return nil, fmt.Errorf("connection setup %q: %w", s, err)
		}
	}
	p.Observe(nil)
	return c, nil
}

// Pool opens a pool of size connections, each of which runs the setup
// statements once when it is made (outside any measurement). The pool
// keeps size connections (it replaces a broken one in the background) and
// never retires a healthy one for its age or idleness, so a phase sees no
// reconnect of its own making. afterConnect, if not nil, is called after
// each connection is made and set up. Pool connects nothing itself: see
// Fill.
func (p *Postgres) Pool(ctx context.Context, size int, setup []string, afterConnect func()) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, err
	}
	pc.ConnConfig = p.cfg.Copy()
	pc.MaxConns = int32(max(size, 1))
	pc.MinConns = 0 // Fill opens them, in parallel and under a deadline
	pc.MaxConnLifetime = forever
	pc.MaxConnIdleTime = forever
	pc.HealthCheckPeriod = 5 * time.Second
	pc.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		for _, s := range setup {
			if _, err := c.Exec(ctx, s); err != nil {
				return fmt.Errorf("connection setup %q: %w", s, err)
			}
		}
		if afterConnect != nil {
			afterConnect()
		}
		return nil
	}
	return pgxpool.NewWithConfig(ctx, pc)
}

// forever is a connection lifetime no phase reaches.
const forever = 100 * 365 * 24 * time.Hour

// Fill opens n of the pool's connections at once, each running its setup
// statements, and returns them to the pool; it returns when all are made
// or ctx is done, with the first error (one cause is enough: the others
// are alike).
func Fill(ctx context.Context, pool *pgxpool.Pool, n int) error {
	conns := make([]*pgxpool.Conn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conns[i], errs[i] = pool.Acquire(ctx)
		}()
	}
	wg.Wait()
	for _, c := range conns {
		if c != nil {
			c.Release()
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Ping opens a connection, runs an empty query and closes it, bounded by
// the connect timeout; it updates the up gauge.
func (p *Postgres) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, p.cfg.Copy())
	if err == nil {
		defer c.Close(context.Background())
		err = c.Ping(ctx)
	}
	p.observePing(err)
	return err
}

// observePing is Observe for a ping: there a time-out also means down
// (a server that accepts and never answers).
func (p *Postgres) observePing(err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	if err != nil && IsDown(err) && !IsConnectionError(err) {
		if p.state.Swap(0) != 0 {
			if p.up != nil {
				p.up.Set(0)
			}
			p.health.Report(p.Name, false, err)
		}
		return
	}
	p.Observe(err)
}

// IsDown reports whether a failed ping or pre-check says the target is
// down: no connection could be made, it broke, or the target did not
// answer in time.
func IsDown(err error) bool {
	return err != nil && (IsConnectionError(err) || Classify(err) == "timeout")
}

// Observe updates the up gauge from the outcome of a call: success means
// up; a failure to connect or a lost connection means down; any other
// error (a failed statement) says the server answered, so up.
func (p *Postgres) Observe(err error) {
	if p.up == nil && p.health == nil {
		return
	}
	var v int32
	switch {
	case errors.Is(err, context.Canceled):
		return // pbenchd stopped the call: says nothing of the target
	case err == nil:
		v = 1
	case IsConnectionError(err):
		v = 0
	default:
		return
	}
	if p.state.Swap(v) != v {
		if p.up != nil {
			p.up.Set(float64(v))
		}
		p.health.Report(p.Name, v == 1, err)
	}
}

// IsConnectionError reports whether err means the server could not be
// reached or the connection broke (as opposed to a statement failing).
func IsConnectionError(err error) bool {
	switch Classify(err) {
	case "connect", "connection_lost", "sqlstate_class_08", "sqlstate_57P01", "sqlstate_57P03":
		return true
	}
	return false
}

// Set is every target of a config, opened lazily.
type Set struct {
	mu      sync.Mutex
	cfg     map[string]config.Target
	pg      map[string]*Postgres
	upGauge func(name string) prometheus.Gauge
	health  *Health
}

// NewSet makes the targets of cfg available by name; upGauge returns the
// gauge to keep a target's state in (nil for none).
func NewSet(targets map[string]config.Target, upGauge func(name string) prometheus.Gauge) *Set {
	return &Set{cfg: targets, pg: map[string]*Postgres{}, upGauge: upGauge}
}

// ErrUnknownTarget is returned for a target name the config lacks.
var ErrUnknownTarget = errors.New("unknown target")

// Postgres returns the PostgreSQL-wire target of that name.
func (s *Set) Postgres(name string) (*Postgres, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.pg[name]; ok {
		return p, nil
	}
	t, ok := s.cfg[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownTarget, name)
	}
	if t.Kind != "postgres" {
		return nil, fmt.Errorf("target %q is of kind %s, not postgres", name, t.Kind)
	}
	var up prometheus.Gauge
	if s.upGauge != nil {
		up = s.upGauge(name)
	}
	p, err := NewPostgres(name, t, up)
	if err != nil {
		return nil, err
	}
	p.health = s.health
	s.pg[name] = p
	return p, nil
}

// Config returns the settings of a target.
func (s *Set) Config(name string) (config.Target, bool) {
	t, ok := s.cfg[name]
	return t, ok
}
