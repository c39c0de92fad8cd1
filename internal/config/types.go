package config

import (
	"github.com/pbenchd/pbenchd/internal/loader"
	"github.com/pbenchd/pbenchd/internal/pace"
	"github.com/pbenchd/pbenchd/internal/tpch"
)

// Config is the whole configuration of a pbenchd process: the merged
// defaults, files, environment and flags, plus every scenario it loaded.
type Config struct {
	// Targets are the systems under test, by name.
	Targets map[string]Target `koanf:"targets"`
	// Run says which scenarios run, in which order, and how the loop behaves.
	Run Run `koanf:"run"`
	// Web is the HTTP server for /metrics and the API.
	Web Web `koanf:"web"`
	// Log configures logging.
	Log Log `koanf:"log"`
	// Results configures the results log.
	Results Results `koanf:"results"`
	// ScenarioFiles are glob patterns of scenario YAML files, one scenario a
	// file, read in addition to the built-in catalog. Relative patterns are
	// resolved against the directory of the config file that named them.
	ScenarioFiles []string `koanf:"scenario_files"`
	// Scenarios written inline in a config file, in addition to files.
	// Decoded into Catalog (after variables and flavours are resolved).
	Scenarios []any `koanf:"scenarios"`
	// Vars overrides scenario variables: scenario → variable → value.
	Vars map[string]map[string]any `koanf:"vars"`

	// Catalog is every scenario known (built-in, files, inline) in load
	// order; filled by Load, not decoded.
	Catalog []*Scenario `koanf:"-"`
	// broken names the scenarios that did not decode: known, so that
	// run.scenarios naming one is not a second problem.
	broken map[string]bool
	// warnings are things Load accepted that a person should hear about.
	warnings []string
}

// Warnings lists what Load accepted but a person should know (a built-in
// scenario replaced, an old template syntax, a guarantee that an override
// makes unreachable), one a line with its key path. `pbenchd check`
// prints them; run and once log them.
func (c *Config) Warnings() []string {
	out := append([]string{}, c.warnings...)
	for _, sc := range c.Catalog {
		out = append(out, sc.Warnings...)
	}
	return out
}

// Target is a named connection to a system under test.
type Target struct {
	// Kind is "postgres" (any PostgreSQL-wire server) or "kafka".
	Kind string `koanf:"kind"`
	// DSN is a libpq URL or keyword/value string. Empty means the libpq
	// environment (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD) and then
	// the local default. Never logged or exported.
	DSN string `koanf:"dsn"`
	// PasswordFile, when set, holds the password (trailing newline trimmed).
	PasswordFile string `koanf:"password_file"`
	// Flavor names the engine behind the wire protocol: postgres (default),
	// materialize, cockroach, risingwave… Scenarios pick statements by it.
	Flavor string `koanf:"flavor"`
	// ConnectTimeout bounds each connection attempt; default 5s.
	ConnectTimeout Duration `koanf:"connect_timeout"`

	// Brokers are a kafka target's seed brokers (host:port). Empty: an
	// embedded in-process Kafka-protocol cluster is started, so Kafka
	// scenarios run with no broker installed.
	Brokers []string `koanf:"brokers"`
	// ClientID is the Kafka client id; default "pbenchd".
	ClientID string `koanf:"client_id"`
	// TLS enables TLS to the brokers.
	TLS *TLS `koanf:"tls"`
	// SASL authenticates to the brokers.
	SASL *SASL `koanf:"sasl"`
	// Producer tunes produce requests.
	Producer Producer `koanf:"producer"`
}

// TLS configures a TLS client.
type TLS struct {
	// CAFile verifies the server; empty means the system roots.
	CAFile string `koanf:"ca_file"`
	// CertFile and KeyFile present a client certificate.
	CertFile string `koanf:"cert_file"`
	KeyFile  string `koanf:"key_file"`
	// ServerName overrides the name checked in the server certificate.
	ServerName string `koanf:"server_name"`
	// InsecureSkipVerify disables verification (test setups only).
	InsecureSkipVerify bool `koanf:"insecure_skip_verify"`
}

// SASL configures SASL authentication to Kafka.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism string `koanf:"mechanism"`
	Username  string `koanf:"username"`
	// Password, or PasswordFile holding it; never logged or exported.
	Password     string `koanf:"password"`
	PasswordFile string `koanf:"password_file"`
}

// Producer holds the produce settings that matter for latency.
type Producer struct {
	// Acks is all (default), leader or none.
	Acks string `koanf:"acks"`
	// Linger is how long to wait to fill a batch; default 0 (send at once).
	Linger Duration `koanf:"linger"`
	// Compression is none (default), gzip, snappy, lz4 or zstd.
	Compression string `koanf:"compression"`
	// Idempotent enables the idempotent producer; default true (requires
	// acks all).
	Idempotent *bool `koanf:"idempotent"`
}

// Run controls the daemon loop.
type Run struct {
	// Scenarios names the scenarios to run, in order. Empty: every scenario
	// in the catalog whose target is configured, in catalog order.
	Scenarios []string `koanf:"scenarios"`
	// Exclude names scenarios to leave out.
	Exclude []string `koanf:"exclude"`
	// Pause between two scenario runs; default 5s.
	Pause Duration `koanf:"pause"`
	// Setup is "iteration" (setup and teardown around every iteration, the
	// default) or "once" (setup on the first iteration after start, teardown
	// when the daemon stops).
	Setup string `koanf:"setup"`
	// TeardownTimeout bounds one scenario's whole teardown; default 30s.
	// After a stop signal it bounds everything teardown still does, the
	// teardowns of `setup: once` scenarios included: the process exits at
	// most 5s (calls in flight returning) plus this after the signal, which
	// the shipped unit's TimeoutStopSec=90s leaves room for.
	TeardownTimeout Duration `koanf:"teardown_timeout"`
	// TeardownStepTimeout bounds each teardown step on its own, so that a
	// slow step leaves time for the next ones; default 10s. A step never
	// runs past TeardownTimeout.
	TeardownStepTimeout Duration `koanf:"teardown_step_timeout"`
	// SetupTimeout bounds the whole setup of a scenario; default 10m.
	SetupTimeout Duration `koanf:"setup_timeout"`
	// Duration, when set, replaces the duration of every load phase.
	Duration Duration `koanf:"duration"`
	// Warmup, when set, replaces the warm-up of every load phase.
	Warmup *Duration `koanf:"warmup"`
	// Progress is how often a running load phase logs its figures so far
	// (an info line; a redrawn block on a terminal in once); default 10s,
	// 0 turns it off.
	Progress Duration `koanf:"progress"`
	// Iterations stops the daemon after this many passes over the scenario
	// list; 0 loops forever.
	Iterations int `koanf:"iterations"`
	// Rates overrides open-loop rates: scenario → action → rate.
	Rates map[string]map[string]pace.Rate `koanf:"rates"`
}

// Web configures the HTTP server.
type Web struct {
	// ListenAddress is where /metrics is served; default ":9731".
	ListenAddress string `koanf:"listen_address"`
	// ConfigFile is an exporter-toolkit web config (TLS, basic auth).
	ConfigFile string `koanf:"config_file"`
	// EnableLifecycle allows POST /-/reload (as Prometheus's
	// --web.enable-lifecycle does); SIGHUP always reloads.
	EnableLifecycle bool `koanf:"enable_lifecycle"`

	snapshot []byte // ConfigFile as it validated (see WebSnapshot)
}

// Results configures where iteration results are kept.
type Results struct {
	// File, when set, gets every finished iteration appended as one JSON
	// line (synced to disk), so history survives restarts without
	// Prometheus.
	File string `koanf:"file"`
}

// Log configures the logger.
type Log struct {
	// Level is debug, info, warn or error; default info.
	Level string `koanf:"level"`
	// Format is logfmt or json; default logfmt.
	Format string `koanf:"format"`
}

// Scenario is one benchmark: a target, setup, phases, guarantees, teardown.
type Scenario struct {
	// Name identifies the scenario in metrics and on the command line.
	Name string `koanf:"name"`
	// Description says what the scenario measures.
	Description string `koanf:"description"`
	// Target names the default target of every step and action.
	Target string `koanf:"target"`
	// Setup runs before the phases.
	Setup []Step `koanf:"setup"`
	// Phases run in order.
	Phases []Phase `koanf:"phases"`
	// Guarantees are the limits per action that an iteration must meet.
	Guarantees map[string]Guarantee `koanf:"guarantees"`
	// Regression overrides, per action, the factors by which a run may be
	// worse than a baseline (`pbenchd once --baseline`) before it is a
	// regression: {action: {p99: 1.5}}; 0 turns a stat's check off.
	Regression map[string]map[string]float64 `koanf:"regression"`
	// Checks compare results after the phases of every iteration; a
	// mismatch fails the iteration.
	Checks []Check `koanf:"checks"`
	// Teardown always runs after the phases, with a deadline.
	Teardown []Step `koanf:"teardown"`
	// Vars are the scenario's variables, referenced as {{ .name }}, with
	// overrides applied.
	Vars map[string]any `koanf:"vars"`

	// Source is where the scenario was read from (for messages).
	Source string `koanf:"-"`
	// Path is the key path prefix used in messages about this scenario.
	Path string `koanf:"-"`
	// FlavorGaps lists by_flavor choices with nothing for the target's
	// flavour: the scenario cannot run there.
	FlavorGaps []string `koanf:"-"`
	// Warnings are what loading accepted in this scenario but a person
	// should know, with key paths.
	Warnings []string `koanf:"-"`
	// zeros are explicit zeros that decoding cannot tell from absent
	// keys, found in the raw YAML and reported by validation.
	zeros []error
}

// Step is one setup or teardown step: SQL, a Kafka topic, or a data load.
type Step struct {
	// Topic creates a Kafka topic on a kafka target (setup), deleted again
	// at teardown if setup created it.
	Topic *Topic `koanf:"topic"`
	// Load bulk-loads generated tables (see internal/loader).
	Load *loader.Spec `koanf:"load"`
	// TPCH loads the eight TPC-H-shaped tables at a scale factor.
	TPCH *tpch.Spec `koanf:"tpch"`
	// SQL is a string run as one simple-protocol call (several statements
	// allowed, run as one implicit transaction), or a list of such strings
	// run one after another (for statements that refuse a transaction
	// block, such as ALTER SYSTEM).
	SQL []string `koanf:"sql"`
	// Target overrides the scenario's target for this step.
	Target string `koanf:"target"`
	// IgnoreErrors makes a failing step a warning rather than an error.
	IgnoreErrors bool `koanf:"ignore_errors"`
}

// Check compares the rows of two queries as multisets (order ignored;
// numbers compared by value, so 1.50 equals 1.5), for example a view's
// contents against the query it maintains.
type Check struct {
	// Name labels the check (the `view` label of pbenchd_view_mismatch_total).
	Name string `koanf:"name"`
	// Prepare runs first, each a simple-protocol call (e.g. a REFRESH).
	Prepare []string `koanf:"prepare"`
	// Expect is the reference query; Actual the one that must agree.
	Expect string `koanf:"expect"`
	Actual string `koanf:"actual"`
	// Target overrides the scenario's target.
	Target string `koanf:"target"`
	// Timeout bounds the check; default 10m.
	Timeout Duration `koanf:"timeout"`
}

// Topic is a Kafka topic a setup step makes sure exists.
type Topic struct {
	Name string `koanf:"name"`
	// Partitions defaults to 1.
	Partitions int `koanf:"partitions"`
	// Replication defaults to 1.
	Replication int `koanf:"replication"`
	// Configs are topic configs such as cleanup.policy.
	Configs map[string]string `koanf:"configs"`
}

// Phase is a load phase (actions that run concurrently for a duration), a
// sweep (one closed-loop action at a list of concurrencies) or a probe (the
// highest rate one open-loop action serves inside its SLO).
type Phase struct {
	// Name labels the phase in metrics; default "load" (then load2, …).
	Name string `koanf:"name"`
	// Load is the load phase body.
	Load *LoadPhase `koanf:"load"`
	// Sweep is the sweep phase body.
	Sweep *SweepPhase `koanf:"sweep"`
	// Probe is the probe phase body.
	Probe *ProbePhase `koanf:"probe"`
}

// SweepPhase runs one action in a closed loop at each concurrency in turn,
// for a fixed time each, and records throughput and latency per step: the
// curve of throughput against connections.
type SweepPhase struct {
	// Concurrency lists the worker counts, in order (e.g. 1, 2, 4, 8, 16).
	Concurrency []int `koanf:"concurrency"`
	// Step is how long each concurrency runs, warm-up included.
	Step Duration `koanf:"step"`
	// Warmup at the start of each step, excluded from its result.
	Warmup Duration `koanf:"warmup"`
	// Action is the action swept; it takes no open or closed loop.
	Action Action `koanf:"action"`
}

// LoadPhase is the body of a load phase.
type LoadPhase struct {
	// Duration of the phase, warm-up included.
	Duration Duration `koanf:"duration"`
	// Warmup at the start of the phase, excluded from results.
	Warmup Duration `koanf:"warmup"`
	// Drain is how long calls still running at the end may finish before
	// they are cancelled and counted as bad events of class drain_cut;
	// default 10s. The phase ends at duration + drain whatever the rate.
	Drain *Duration `koanf:"drain"`
	// Actions run concurrently for the duration.
	Actions []Action `koanf:"actions"`
}

// Action is one measured unit of work and the loop that drives it. Exactly
// one action kind key (sql, …) carries the kind's own settings.
type Action struct {
	// Name identifies the action in metrics and guarantees.
	Name string `koanf:"name"`
	// Open runs the action in an open loop at a schedule.
	Open *OpenLoop `koanf:"open"`
	// Closed runs the action in a closed loop of workers.
	Closed *ClosedLoop `koanf:"closed"`
	// Target overrides the scenario's target.
	Target string `koanf:"target"`
	// Report false: measured and exported, but not checked by guarantees.
	Report *bool `koanf:"report"`
	// Kinds holds the remaining keys: exactly one action kind.
	Kinds map[string]any `koanf:",remain"`

	// Kind is the action kind found in Kinds, set by validation.
	Kind string `koanf:"-"`
	// Spec is the kind's settings, Kinds[Kind], as the kind decoded them
	// into its own typed spec (action.SQLSpec…), set by validation (see
	// KindChecker.Decode) so that they are decoded once and the engine
	// builds the action from them.
	Spec any `koanf:"-"`
}

// Reported reports whether the action takes part in guarantee checks.
func (a *Action) Reported() bool { return a.Report == nil || *a.Report }

// OpenLoop is an arrival schedule with a cap on calls in flight.
type OpenLoop struct {
	pace.Spec `koanf:",squash"`
	// MaxInflight caps calls in flight; arrivals beyond it are dropped.
	// Default (DefaultMaxInflight): the peak rate over the phase times the
	// longer of 1 s and twice the largest latency guarantee, between 16
	// and 10000.
	MaxInflight int `koanf:"max_inflight"`
	// Seed makes random arrivals repeatable; 0 picks one per run.
	Seed uint64 `koanf:"seed"`
}

// ClosedLoop is a number of workers that each wait for their previous call.
type ClosedLoop struct {
	// Concurrency is the number of workers; default 1.
	Concurrency int `koanf:"concurrency"`
}

// Guarantee bounds one action's iteration results. Zero fields are unset.
type Guarantee struct {
	// QPS is the minimum throughput: for an open loop, the share of the
	// arrivals its schedule offered that were served successfully, times
	// its configured mean rate; for a closed loop, successful calls per
	// second.
	QPS float64 `koanf:"qps"`
	// P50, P95, P99, Max and Avg are latency maxima over every arrival
	// (open loop) or call (closed loop) after warm-up, failed, dropped and
	// cut-off ones counted as slower than any limit.
	P50 Duration `koanf:"p50"`
	P95 Duration `koanf:"p95"`
	P99 Duration `koanf:"p99"`
	Max Duration `koanf:"max"`
	Avg Duration `koanf:"avg"`
	// Slope is the maximum latency drift over the phase, in seconds of
	// latency per second of phase (a linear fit).
	Slope *float64 `koanf:"slope"`
	// ErrorRatio is the maximum share of bad events (failed, dropped,
	// cut-off), 0..1.
	ErrorRatio *float64 `koanf:"error_ratio"`

	// E2EP50, E2EP99 and E2EMax bound a kafka_consume action's end-to-end
	// latency (send to arrival) over the phase.
	E2EP50 Duration `koanf:"e2e_p50"`
	E2EP99 Duration `koanf:"e2e_p99"`
	E2EMax Duration `koanf:"e2e_max"`
	// Missing, Duplicate and Foreign are the most records a kafka_consume
	// action may find never consumed, consumed twice, or not pbenchd's.
	Missing   *float64 `koanf:"missing"`
	Duplicate *float64 `koanf:"duplicate"`
	Foreign   *float64 `koanf:"foreign"`
}

// FigureLimits are the guarantees on an action kind's own figures, by
// figure name (e2e_p99, missing…), in seconds or counts.
func (g Guarantee) FigureLimits() map[string]float64 {
	out := map[string]float64{}
	for name, d := range map[string]Duration{"e2e_p50": g.E2EP50, "e2e_p99": g.E2EP99, "e2e_max": g.E2EMax} {
		if d.D > 0 {
			out[name] = d.D.Seconds()
		}
	}
	for name, n := range map[string]*float64{"missing": g.Missing, "duplicate": g.Duplicate, "foreign": g.Foreign} {
		if n != nil {
			out[name] = *n
		}
	}
	return out
}
