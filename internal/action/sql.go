package action

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/target"
)

func init() { Kinds.Register("sql", sqlKind{}) }

// SQLSpec is the settings of a `sql` action.
type SQLSpec struct {
	// Query is a statement whose rows are read to the end.
	Query string `koanf:"query"`
	// Exec is a statement run for its effect.
	Exec string `koanf:"exec"`
	// Transaction is a list of statements run as one transaction per call.
	Transaction []string `koanf:"transaction"`
	// Statements is a list of statements run one after another per call,
	// each in its own implicit transaction (for statements that refuse a
	// transaction block, such as ALTER SYSTEM).
	Statements []string `koanf:"statements"`
	// Args generate the positional arguments ($1, $2…) of each call; a
	// statement receives as many as its highest $n.
	Args []ArgSpec `koanf:"args"`
	// Conn is the connection model: reuse (default; one long-lived
	// connection per worker), standalone (connect, run, close: the connect
	// is measured) or pooled (a shared pool).
	Conn string `koanf:"conn"`
	// Connections is how many reused connections an open loop shares
	// (calls wait for a free one; the wait shows as schedule lag);
	// default: enough to carry the peak rate at the guarantees' latency
	// (config.DefaultConnections). Closed loops use one per worker.
	Connections int `koanf:"connections"`
	// PoolSize bounds a pooled action's pool; default: an open loop's
	// default connections (as Connections), a closed loop's concurrency.
	PoolSize int `koanf:"pool_size"`
	// Timeout bounds each call, retries included; default 30s.
	Timeout config.Duration `koanf:"timeout"`
	// Isolation is read committed, repeatable read or serializable, set
	// once per connection.
	Isolation string `koanf:"isolation"`
	// Set lists statements run once on each new connection (before the
	// phase, outside the measurement, except for standalone connections,
	// where connecting is what is measured).
	Set []string `koanf:"set"`
	// Retries bounds the retries of deadlocks (40P01) and serialization
	// failures (40001); default 10, 0 disables. Their time is part of the
	// call's time. A retry never repeats committed work: query, exec and
	// transaction re-run what was rolled back; statements re-runs only the
	// statement that failed, not those before it, which committed.
	Retries *int `koanf:"retries"`
	// Mode is the query protocol: prepared (default; statements are
	// prepared once per connection) or simple (the simple query protocol,
	// as proxies and some engines need).
	Mode string `koanf:"mode"`
	// Driver is auto (default: reused connections of one prepared query
	// or exec with text arguments are driven with blocking system calls,
	// see sql_raw.go; everything else through pgx) or pgx (always pgx and
	// the Go netpoller).
	Driver string `koanf:"driver"`
}

var (
	connModels = []string{"pooled", "reuse", "standalone"}
	isolations = map[string]string{
		"read committed":  "READ COMMITTED",
		"repeatable read": "REPEATABLE READ",
		"serializable":    "SERIALIZABLE",
	}
	sqlModes       = []string{"prepared", "simple"}
	sqlDrivers     = []string{"auto", "pgx"}
	placeholderRe  = regexp.MustCompile(`\$([0-9]+)`)
	defaultTimeout = 30 * time.Second
	defaultRetries = 10
)

type sqlKind struct{}

func (sqlKind) decode(raw any, path string) (*SQLSpec, error) {
	var s SQLSpec
	switch r := raw.(type) {
	case string:
		// `sql: SELECT 1` is short for `sql: {query: SELECT 1}`.
		s.Query = r
	case map[string]any, nil:
		if err := config.Decode(raw, path, &s); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%s: %v is neither a statement nor a mapping like {query: SELECT 1}", path, raw)
	}
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, key, fmt.Sprintf(format, args...)))
	}
	n := 0
	for _, set := range []bool{s.Query != "", s.Exec != "", len(s.Transaction) > 0, len(s.Statements) > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		errs = append(errs, fmt.Errorf("%s: needs exactly one of query, exec, transaction, statements (found %d)", path, n))
	}
	for _, st := range []struct{ key, sql string }{{"query", s.Query}, {"exec", s.Exec}} {
		if st.sql != "" && strings.TrimSpace(st.sql) == "" {
			bad(st.key, "empty statement: only white space")
		}
	}
	if s.Timeout.Given() && s.Timeout.D == 0 {
		bad("timeout", "%s would be no bound at all: give a positive duration, or leave it out for the default %s", s.Timeout, defaultTimeout)
	}
	for i, st := range s.Transaction {
		if strings.TrimSpace(st) == "" {
			bad(fmt.Sprintf("transaction[%d]", i), "empty statement")
		}
	}
	for i, st := range s.Statements {
		if strings.TrimSpace(st) == "" {
			bad(fmt.Sprintf("statements[%d]", i), "empty statement")
		}
	}
	if s.Conn == "" {
		s.Conn = "reuse"
	}
	if !slices.Contains(connModels, s.Conn) {
		bad("conn", "%q is not one of %s", s.Conn, strings.Join(connModels, ", "))
	}
	if s.Connections < 0 {
		bad("connections", "%d must not be negative", s.Connections)
	}
	if s.PoolSize < 0 {
		bad("pool_size", "%d must not be negative", s.PoolSize)
	}
	if s.Isolation != "" {
		if _, ok := isolations[strings.ToLower(s.Isolation)]; !ok {
			bad("isolation", "%q is not one of read committed, repeatable read, serializable (for other levels use set: [\"SET …\"])", s.Isolation)
		}
	}
	if s.Mode == "" {
		s.Mode = "prepared"
	}
	if !slices.Contains(sqlModes, s.Mode) {
		bad("mode", "%q is not one of %s", s.Mode, strings.Join(sqlModes, ", "))
	}
	if s.Driver == "" {
		s.Driver = "auto"
	}
	if !slices.Contains(sqlDrivers, s.Driver) {
		bad("driver", "%q is not one of %s", s.Driver, strings.Join(sqlDrivers, ", "))
	}
	if s.Retries != nil && *s.Retries < 0 {
		bad("retries", "%d must not be negative", *s.Retries)
	}
	if _, e := buildArgs(s.Args, path+".args"); e != nil {
		errs = append(errs, e...)
	}
	need := 0
	for _, st := range s.statements() {
		need = max(need, placeholders(st))
	}
	if n := len(s.Args); need > n {
		given := fmt.Sprintf("only %d args are given", n)
		switch n {
		case 0:
			given = "no args are given"
		case 1:
			given = "only 1 arg is given"
		}
		errs = append(errs, fmt.Errorf("%s.args: the statements use $%d but %s", path, need, given))
	}
	return &s, errors.Join(errs...)
}

func (s *SQLSpec) statements() []string {
	switch {
	case s.Query != "":
		return []string{s.Query}
	case s.Exec != "":
		return []string{s.Exec}
	case len(s.Statements) > 0:
		return s.Statements
	}
	return s.Transaction
}

// placeholders returns the highest $n in a statement.
func placeholders(st string) int {
	n := 0
	for _, m := range placeholderRe.FindAllStringSubmatch(st, -1) {
		v, _ := strconv.Atoi(m[1])
		n = max(n, v)
	}
	return n
}

// connections is what an open loop of this action holds: reused
// connections or a pool's size; a standalone action connects per call.
func (sqlKind) connections(spec any) (int, string) {
	s, ok := spec.(*SQLSpec)
	if !ok {
		return 0, ""
	}
	switch s.Conn {
	case "reuse":
		return s.Connections, "connections"
	case "pooled":
		return s.PoolSize, "pool_size"
	}
	return 0, ""
}

// eventLoop tells whether an action's calls go through raw connections
// driven by loadgen's event loop (see sql_raw.go), as Describe says.
func (sqlKind) eventLoop(spec any) bool {
	s, ok := spec.(*SQLSpec)
	return ok && rawEligible(s)
}

// Describe gives the connection model as Build would set it up: reuse
// with its number of connections, a pool and its size, or a connection
// per call; then the isolation level and the query protocol.
func (sqlKind) Describe(spec any, slots int, open bool) string {
	s := spec.(*SQLSpec)
	var conn string
	switch {
	case s.Conn == "pooled" && s.PoolSize > 0:
		conn = fmt.Sprintf("pooled, pool of %d", s.PoolSize)
	case s.Conn == "pooled":
		conn = "pooled (pool size: its default)"
	case s.Conn == "reuse" && !open:
		conn = fmt.Sprintf("reuse, %d connection(s), one a worker", max(slots, 1))
	case s.Conn == "reuse" && s.Connections > 0:
		conn = fmt.Sprintf("reuse, %d connection(s)", s.Connections)
	case s.Conn == "reuse":
		conn = "reuse (connections: their default)"
	default:
		conn = "standalone, a connection per call"
	}
	if rawEligible(s) {
		// Over a plain socket, on Linux: see sql_raw.go and Muxer.
		conn += ", driven by an event loop"
	}
	iso := "server's isolation"
	if s.Isolation != "" {
		iso = strings.ToLower(s.Isolation)
	}
	mode := s.Mode
	if mode == "" {
		mode = "prepared"
	}
	return conn + "; " + iso + "; " + mode
}

func (k sqlKind) Decode(raw any, path string, t config.Target) (any, error) {
	return decodeFor(k.decode, "sql", "postgres", raw, path, t)
}

func (sqlKind) Build(ctx context.Context, spec any, env Env) (Runner, error) {
	s := spec.(*SQLSpec)
	pg, err := env.Targets.Postgres(env.Target)
	if err != nil {
		return nil, err
	}
	args, _ := buildArgs(s.Args, "args")
	r := &sqlRunner{
		spec: s, pg: pg, args: args,
		timeout: s.Timeout.D,
		retries: defaultRetries,
		setup:   slices.Clone(s.Set),
		nargs:   make([]int, 0),
	}
	for _, st := range s.statements() {
		r.nargs = append(r.nargs, placeholders(st))
	}
	if r.timeout <= 0 {
		r.timeout = defaultTimeout
	}
	if s.Retries != nil {
		r.retries = *s.Retries
	}
	if lvl, ok := isolations[strings.ToLower(s.Isolation)]; ok {
		r.setup = append([]string{"SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL " + lvl}, r.setup...)
	}
	r.mode = pgx.QueryExecModeCacheStatement
	if s.Mode == "simple" {
		r.mode = pgx.QueryExecModeSimpleProtocol
	}
	if st := s.Query + s.Exec; s.Mode == "prepared" && st != "" && s.Conn != "standalone" {
		r.fast = newFastStatement(st, r.nargs[0])
	}
	r.rngs.New = func() any { return rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())) }
	switch s.Conn {
	case "pooled":
		size := s.PoolSize
		if size == 0 {
			size = env.Slots
			if env.Open && env.Connections > 0 {
				size = env.Connections
			}
		}
		r.pool, err = openPool(ctx, env, pg, size, r.setup)
		if err != nil {
			return nil, fmt.Errorf("pool for %s: %w", env.Action, err)
		}
	case "reuse":
		n := s.Connections
		if !env.Open || n == 0 {
			n = max(env.Slots, 1)
			if env.Open {
				n = max(env.Connections, 1)
			}
		}
		r.conns = make(chan *reusedConn, n)
		r.stopWatch = context.AfterFunc(ctx, r.abort)
		r.raw = r.fast != nil && rawEligible(s)
		conns := connectAll(ctx, env, pg, n, r.setup)
		adopted := make([]*reusedConn, len(conns))
		actx, cancel := setupCtx(ctx, env)
		var wg sync.WaitGroup
		for i, c := range conns {
			if c == nil {
				continue
			}
			wg.Go(func() {
				rc, err := r.adopt(actx, c)
				if err != nil && env.Log != nil {
					// Left for the calls to make again, as a reconnect.
					env.Log.Warn("connection not usable", "scenario", env.Scenario, "action", env.Action, "err", err)
				}
				adopted[i] = rc
			})
		}
		wg.Wait()
		cancel()
		for _, rc := range adopted {
			r.conns <- rc
		}
	}
	r.env = env
	return r, nil
}

type sqlRunner struct {
	spec    *SQLSpec
	pg      *target.Postgres
	args    func(*rand.Rand) []any
	nargs   []int
	timeout time.Duration
	retries int
	setup   []string
	mode    pgx.QueryExecMode
	rngs    sync.Pool
	// fast, when set, runs the one query or exec statement below pgx.
	fast *fastStatement

	pool  *pgxpool.Pool
	conns chan *reusedConn
	env   Env
	// raw tells whether reused connections are taken over from pgx (see
	// sql_raw.go); watched is the call context whose end cuts their calls
	// short.
	raw     bool
	watched atomic.Pointer[ctxWatch]

	mu        sync.Mutex
	live      []*reusedConn // for abort
	stopWatch func() bool
}

// reusedConn is a reused connection: pgx's, or taken over (raw).
type reusedConn struct {
	c   *pgx.Conn
	raw *rawConn
}

// ctxWatch is a call context watched for its end.
type ctxWatch struct {
	ctx  context.Context
	stop func() bool
}

// nextArgs draws a call's arguments.
func (r *sqlRunner) nextArgs() []any {
	rng := r.rngs.Get().(*rand.Rand)
	args := r.args(rng)
	r.rngs.Put(rng)
	return args
}

func (r *sqlRunner) Call(ctx context.Context) Result {
	args := r.nextArgs()
	if r.spec.Conn == "reuse" {
		return r.callReused(ctx, args)
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if r.spec.Conn == "standalone" {
		start := time.Now()
		c, err := r.pg.Connect(ctx, r.setup)
		if err != nil {
			return Result{Start: start, Err: err}
		}
		defer c.Close(context.Background())
		res := r.run(ctx, ctx, c, args)
		res.Start = start
		return res
	}
	pc, err := r.pool.Acquire(ctx)
	if err != nil {
		r.pg.Observe(err)
		return Result{Err: err}
	}
	start := time.Now()
	res := r.run(ctx, ctx, pc.Conn(), args)
	res.Start = start
	if res.Err != nil && target.IsConnectionError(res.Err) {
		pc.Hijack().Close(context.Background())
	} else {
		pc.Release()
	}
	return res
}

// Servers is how many calls the runner serves at once: its pool's or its
// reused connections; 0 (no limit) for standalone connections.
func (r *sqlRunner) Servers() int {
	switch {
	case r.pool != nil:
		return int(r.pool.Config().MaxConns)
	case r.conns != nil:
		return cap(r.conns)
	}
	return 0
}

// callReused makes a call on a reused connection: the hot path of closed
// loops. Its deadline (the call timeout, or ctx's deadline if sooner) is
// set on the connection's socket instead of given to pgx as a context:
// pgx watches a cancellable context with a goroutine handoff and
// allocations, and every call would register on the loop's shared
// context. A stop (ctx cancelled) reaches calls in flight through abort.
func (r *sqlRunner) callReused(ctx context.Context, args []any) Result {
	var c *reusedConn
	select {
	case c = <-r.conns:
	case <-ctx.Done():
		return Result{Err: ctx.Err()}
	}
	res := r.callOn(ctx, &c, args)
	r.conns <- c
	return res
}

// Bind gives a worker a reused connection of its own, if one is free:
// its calls need no hand-over through the runner's queue of connections,
// whose lock every call of every worker would take.
func (r *sqlRunner) Bind() (Caller, func()) {
	if r.conns == nil {
		return r, func() {}
	}
	select {
	case c := <-r.conns:
		b := &boundSQL{r: r, c: c}
		if !r.raw {
			return b, func() { r.conns <- b.c }
		}
		// The worker's calls block in the kernel on its thread (see
		// sql_raw.go): it needs a P of its own while it lives.
		addRawProcs(1)
		return b, func() {
			r.conns <- b.c
			addRawProcs(-1)
		}
	default:
		return r, func() {}
	}
}

// boundSQL is one worker's share of a runner: a reused connection.
type boundSQL struct {
	r *sqlRunner
	c *reusedConn
}

func (b *boundSQL) Call(ctx context.Context) Result {
	return b.r.callOn(ctx, &b.c, b.r.nextArgs())
}

// callOn makes a call on *cp, connecting again first if it is nil (or
// closed), and leaves nil there when the connection must be replaced.
func (r *sqlRunner) callOn(ctx context.Context, cp **reusedConn, args []any) Result {
	c := *cp
	if c != nil && c.c != nil && c.c.IsClosed() {
		r.untrack(c)
		c, *cp = nil, nil
	}
	if c == nil {
		// A reconnect: an event of its own, made before the call's
		// service time starts (it shows as the wait for a connection) and
		// bounded by the call's timeout.
		begun := time.Now()
		deadline := begun.Add(r.timeout)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		cctx, cancel := context.WithDeadline(ctx, deadline)
		pc, err := r.pg.Connect(cctx, r.setup)
		if err == nil {
			c, err = r.adopt(cctx, pc)
		}
		cancel()
		if err != nil {
			return Result{Start: begun, Err: err}
		}
		reconnected(r.env)
		*cp = c
	}
	if c.raw != nil {
		return r.callRaw(ctx, cp, args)
	}
	start := time.Now()
	deadline := start.Add(r.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	sock := c.c.PgConn().Conn()
	_ = sock.SetDeadline(deadline)
	if ctx.Err() != nil {
		// Stopped between taking the connection and arming it.
		_ = sock.SetDeadline(time.Now())
	}
	res := r.run(ctx, context.Background(), c.c, args)
	res.Start = start
	if res.Err != nil && (target.IsConnectionError(res.Err) || c.c.IsClosed() || ctx.Err() != nil || !time.Now().Before(deadline)) {
		// A connection whose call was cut off may be mid-protocol:
		// replace it rather than reuse it.
		r.untrack(c)
		c.c.Close(context.Background())
		*cp = nil
	} else {
		_ = sock.SetDeadline(time.Time{})
	}
	return res
}

// callRaw makes a call on a connection taken over from pgx, retrying
// deadlocks and serialization failures up to the limit. The end of ctx
// (a stop, the end of the phase's drain) shuts its socket down.
func (r *sqlRunner) callRaw(ctx context.Context, cp **reusedConn, args []any) Result {
	c := *cp
	r.watch(ctx)
	start := time.Now()
	rc := c.raw
	rc.busy.Store(true)
	var res Result
	if ctx.Err() != nil {
		// Stopped before the call began (abort may have missed it).
		res.Err = ctx.Err()
	} else {
		b := r.fast.bufs.Get().(*fastBuf)
		r.fast.encode(b, args) // rawEligible: every argument encodes
		for attempt := 0; ; attempt++ {
			err := rc.exec(b.params)
			r.pg.Observe(err)
			reason := target.RetryReason(err)
			if err == nil || reason == "" || attempt >= r.retries || ctx.Err() != nil {
				res.Err = err
				break
			}
			res.Retries = append(res.Retries, reason)
		}
		r.fast.bufs.Put(b)
	}
	rc.busy.Store(false)
	res.Start = start
	if res.Err != nil && (!isPgError(res.Err) || ctx.Err() != nil) {
		// Cut off, timed out or broken: the connection may be
		// mid-protocol; replace it.
		r.untrack(c)
		rc.close()
		*cp = nil
	}
	return res
}

// watch makes the end of ctx cut short the calls in flight on raw
// connections (pgx's connections are cut by their socket deadlines). The
// loops give every call of a phase the same context: it is watched once.
func (r *sqlRunner) watch(ctx context.Context) {
	if ctx.Done() == nil {
		return
	}
	w := r.watched.Load()
	if w != nil && w.ctx == ctx {
		return
	}
	nw := &ctxWatch{ctx: ctx}
	if r.watched.CompareAndSwap(w, nw) {
		nw.stop = context.AfterFunc(ctx, r.abort)
		if w != nil && w.stop != nil {
			w.stop()
		}
	}
}

// adopt makes c a reused connection of the runner, taken over from pgx
// when the runner's calls allow it and c is a plain socket, and tracks it.
func (r *sqlRunner) adopt(ctx context.Context, c *pgx.Conn) (*reusedConn, error) {
	rc := &reusedConn{c: c}
	if r.raw && plainSocket(c) {
		raw, err := takeOver(ctx, c, r.fast, r.timeout)
		if err != nil {
			return nil, err
		}
		rc = &reusedConn{raw: raw}
	}
	r.track(rc)
	return rc, nil
}

// track remembers a reused connection so that abort can reach it.
// Connections leave the list only through untrack, by the goroutine that
// holds them: asking other connections whether they are closed would read
// state that the calls using them write (a data race).
func (r *sqlRunner) track(c *reusedConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.live = append(r.live, c)
}

// untrack forgets a reused connection its holder is about to close.
func (r *sqlRunner) untrack(c *reusedConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := slices.Index(r.live, c); i >= 0 {
		r.live = slices.Delete(r.live, i, i+1)
	}
}

// abort cuts short every call in flight on a reused connection (a stop,
// or for raw connections the end of the phase's drain).
func (r *sqlRunner) abort() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.live {
		switch {
		case c.raw != nil && c.raw.busy.Load():
			c.raw.shutdown()
		case c.c != nil:
			_ = c.c.PgConn().Conn().SetDeadline(time.Now())
		}
	}
}

// run makes the call on one connection, retrying deadlocks and
// serialization failures up to the limit; pgx gets qctx, retries stop when
// ctx is done.
func (r *sqlRunner) run(ctx, qctx context.Context, c *pgx.Conn, args []any) Result {
	if len(r.spec.Statements) > 0 {
		return r.runStatements(ctx, qctx, c, args)
	}
	var res Result
	for attempt := 0; ; attempt++ {
		err := r.once(qctx, c, args)
		r.pg.Observe(err)
		reason := target.RetryReason(err)
		if err == nil || reason == "" || attempt >= r.retries || ctx.Err() != nil {
			res.Err = err
			return res
		}
		res.Retries = append(res.Retries, reason)
	}
}

// runStatements runs statements one after another, each in its own
// implicit transaction. A retry re-runs only the statement that failed
// (its transaction was rolled back); the ones before it committed and are
// never run again. The call's retries share one budget.
func (r *sqlRunner) runStatements(ctx, qctx context.Context, c *pgx.Conn, args []any) Result {
	var res Result
	for i, st := range r.spec.Statements {
		for {
			_, err := c.Exec(qctx, st, r.argv(i, args)...)
			r.pg.Observe(err)
			if err == nil {
				break
			}
			reason := target.RetryReason(err)
			if reason == "" || len(res.Retries) >= r.retries || ctx.Err() != nil {
				res.Err = err
				return res
			}
			res.Retries = append(res.Retries, reason)
		}
	}
	return res
}

func (r *sqlRunner) once(ctx context.Context, c *pgx.Conn, args []any) error {
	s := r.spec
	switch {
	case r.fast != nil:
		if ok, err := r.fast.run(ctx, c.PgConn(), args); ok {
			return err
		}
		fallthrough
	case s.Query != "":
		if s.Exec != "" {
			_, err := c.Exec(ctx, s.Exec, r.argv(0, args)...)
			return err
		}
		rows, err := c.Query(ctx, s.Query, r.argv(0, args)...)
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		rows.Close()
		return rows.Err()
	case s.Exec != "":
		_, err := c.Exec(ctx, s.Exec, r.argv(0, args)...)
		return err
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		return err
	}
	for i, st := range s.Transaction {
		if _, err := tx.Exec(ctx, st, r.argv(i, args)...); err != nil {
			_ = tx.Rollback(context.Background())
			return err
		}
	}
	return tx.Commit(ctx)
}

// argv gives statement i its arguments, led by the query exec mode.
func (r *sqlRunner) argv(i int, args []any) []any {
	if r.mode == pgx.QueryExecModeCacheStatement {
		// pgx's default mode: no need for a copy with the mode in front.
		return args[:r.nargs[i]]
	}
	out := make([]any, 0, r.nargs[i]+1)
	out = append(out, r.mode)
	return append(out, args[:r.nargs[i]]...)
}

func (r *sqlRunner) Close() {
	if r.stopWatch != nil {
		r.stopWatch()
	}
	if r.pool != nil {
		r.pool.Close()
	}
	if w := r.watched.Load(); w != nil && w.stop != nil {
		w.stop()
	}
	// abort must not reach a socket closed below (its number may be
	// reused at once).
	r.mu.Lock()
	r.live = nil
	r.mu.Unlock()
	if r.conns != nil {
		for {
			select {
			case c := <-r.conns:
				switch {
				case c == nil:
				case c.raw != nil:
					c.raw.close()
				default:
					c.c.Close(context.Background())
				}
			default:
				return
			}
		}
	}
}
