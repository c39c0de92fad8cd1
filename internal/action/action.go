// Package action owns the kinds of measured work (sql, …): a registry of
// kinds by name; each kind's settings, decoded and checked once (at config
// validation) into its typed spec; and the runners, built from that spec,
// that make one call at a time for the engine's loops. One file per kind.
package action

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/pbenchd/pbenchd/internal/config"
	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/target"
)

// Kind is a registered kind of action.
type Kind interface {
	// Decode validates an action's settings (decoded YAML) for a target of
	// the given settings, returning every problem prefixed by path, and
	// gives them back as the kind's typed spec (*SQLSpec, *NullSpec…),
	// defaults filled in. Config validation decodes each action once and
	// keeps the spec in config.Action.Spec.
	Decode(raw any, path string, t config.Target) (any, error)
	// Build makes a runner from a spec that Decode returned without error.
	Build(ctx context.Context, spec any, env Env) (Runner, error)
}

// Env is what a kind needs to build a runner.
type Env struct {
	Scenario, Action string
	// Target is the name of the action's target.
	Target  string
	Targets *target.Set
	// Slots is how many calls may be in flight at once: the closed loop's
	// concurrency, or the open loop's cap.
	Slots int
	// Open tells whether the action runs in an open loop.
	Open bool
	// Connections is how many connections an open loop's calls should
	// share when the kind's settings do not say (config.DefaultConnections:
	// enough to carry its peak rate at its guarantees' latency); 0 means
	// one per slot.
	Connections int
	// SetupTimeout bounds the opening of connections before the phase
	// (run.setup_timeout); 0 means no bound beyond the target's own
	// connect timeout.
	SetupTimeout time.Duration
	Log          *slog.Logger
	// Metrics, if set, receives what a kind measures beside the calls
	// (end-to-end latency of Kafka records, freshness lag…).
	Metrics *metrics.Metrics
}

// Runner makes calls. Call is safe for concurrent use by up to Env.Slots
// goroutines.
type Runner interface {
	// Call makes one call. It never panics on a failure of the system under
	// test: failures come back in Result.Err.
	Call(ctx context.Context) Result
	// Close releases connections.
	Close()
}

// Caller makes calls: a Runner, or one worker's share of one (Binder).
type Caller interface {
	Call(ctx context.Context) Result
}

// Binder is implemented by a runner whose connections can each be given to
// one worker for as long as it runs: Bind returns a caller that makes the
// worker's calls on a connection of its own (one call at a time), with no
// hand-over of connections between workers, and release, which gives the
// connection back when the worker ends. When none is free, Bind returns
// the runner itself.
type Binder interface {
	Bind() (c Caller, release func())
}

// Servers is implemented by a runner that can serve only so many calls at
// once (its connections, or a concurrency limit). More calls than that
// would only wait for one to be free, so an open loop keeps its extra
// arrivals queued, each a few bytes, rather than as calls parked waiting.
// 0 means no limit.
type Servers interface {
	Servers() int
}

// Muxer is implemented by a runner whose calls one thread can drive many
// at a time, as pgbench drives its connections: each connection is a
// socket that an event loop (loadgen's) polls, writing a call's request
// when it begins and reading the answer as it comes, with no thread per
// call in flight. Mux takes every connection of the runner for one loop
// and gives them back on Release; ok is false when they cannot be driven
// that way (some connection is not a plain socket, or is in use), and the
// loop then uses workers.
type Muxer interface {
	Mux() (m Mux, ok bool)
}

// Mux is a runner's connections, taken by event loops: slots, each
// serving one call at a time. A slot is driven by one loop's goroutine;
// calls on different slots may come from different goroutines at once
// (loops that share the connections out), and Connect comes from a
// goroutine of its own, never while the loop uses that slot. Release is
// called once, when every loop is done.
type Mux interface {
	// Slots is how many connections there are.
	Slots() int
	// Fd is slot's socket, or -1 when it has none: a call on it must
	// Connect first.
	Fd(slot int) int
	// Begin starts a call on slot, which has a socket: it draws the
	// call's arguments and writes its request, or what of it the socket
	// takes (Pending). An error ends the call there: it is its outcome.
	Begin(slot int) error
	// Pending tells whether slot has request bytes left to write (the
	// loop waits for its socket to be writable, then calls Flush).
	Pending(slot int) bool
	// Flush writes more of slot's request. An error ends the call.
	Flush(slot int) error
	// Advance reads what slot's socket has; done is true when the call's
	// answer is complete, res its outcome (Start and End are the loop's).
	// After a failure that leaves the connection out of step with the
	// server it is closed (Fd is -1).
	Advance(slot int) (done bool, res Result)
	// Idle reads what the server said on slot with no call in flight (a
	// notice, or its goodbye before it closes the connection): no call's
	// outcome. A connection found gone is closed (Fd is -1).
	Idle(slot int)
	// Cut ends the call in flight on slot (its deadline passed, the
	// phase's drain ended, pbenchd stopped): its connection is closed.
	Cut(slot int)
	// Connect makes a new connection for slot (a reconnect), bounded by
	// the call timeout and ctx.
	Connect(ctx context.Context, slot int) error
	// Timeout is how long a call may take.
	Timeout() time.Duration
	// Stamped tells whether answers carry the time they reached the
	// socket (Result.End), so that a loop may read them late without
	// timing them late.
	Stamped() bool
	// Release gives the connections back to the runner.
	Release()
}

// Result is the outcome of one call as the runner saw it.
type Result struct {
	// Start is when the call began its work, after waiting for a free
	// connection of its own; zero means when Call was entered.
	Start time.Time
	// From, when set, is when the interval the call measures began, if
	// not at the call's start: a freshness probe measures from its
	// marker's commit, after a random wait and the write that are not part
	// of the lag. The call's latency and service time then run from From.
	From time.Time
	// End, when set, is when the call's answer reached pbenchd (the
	// kernel's receive time of its last bytes), if before the call
	// returned; zero means when it returned.
	End time.Time
	// Err is the failure, if any, after retries.
	Err error
	// Retries lists the reasons of retries made inside the call.
	Retries []string
	// Censored is true when the end of the phase cut the call off before
	// its outcome could be known through no doing of the target (a
	// freshness probe whose marker no refresh within the phase could
	// show): it is not an event, neither good nor bad.
	Censored bool
}

// Registry maps kind names to kinds. It implements config.KindChecker, so
// validation and the engine ask the same list, and validation keeps the
// spec that the engine builds from.
type Registry struct {
	mu    sync.RWMutex
	kinds map[string]Kind
}

// Kinds is the registry every kind registers itself in.
var Kinds = &Registry{kinds: map[string]Kind{}}

// Register adds a kind; registering a name twice is a programming error.
func (r *Registry) Register(name string, k Kind) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.kinds[name]; dup {
		panic(fmt.Sprintf("action kind %q registered twice", name))
	}
	r.kinds[name] = k
}

// Names lists the registered kinds, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.kinds))
	for n := range r.kinds {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Lookup returns the kind of that name.
func (r *Registry) Lookup(name string) (Kind, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	k, ok := r.kinds[name]
	return k, ok
}

// Decode validates an action's settings with its kind and returns its
// typed spec (see Kind.Decode).
func (r *Registry) Decode(name string, raw any, path string, t config.Target) (any, error) {
	k, ok := r.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("%s: %q is not an action kind", path, name)
	}
	return k.Decode(raw, path, t)
}

// Spec returns an action's typed spec: the one config validation kept in
// a.Spec or, for an action made in code that never went through
// validation (tests, tools), its settings decoded now.
func (r *Registry) Spec(a *config.Action, path string) (any, error) {
	if a.Spec != nil {
		return a.Spec, nil
	}
	return r.Decode(a.Kind, a.Kinds[a.Kind], path, config.Target{})
}

// Build makes a runner for an action from its spec (see Spec).
func (r *Registry) Build(ctx context.Context, a *config.Action, env Env) (Runner, error) {
	k, ok := r.Lookup(a.Kind)
	if !ok {
		return nil, fmt.Errorf("unknown kind %q", a.Kind)
	}
	spec, err := r.Spec(a, env.Scenario+"."+env.Action)
	if err != nil {
		return nil, err
	}
	return k.Build(ctx, spec, env)
}

// NeedsTarget tells whether actions of the kind talk to a target; a kind
// says it does not by a method NeedsTarget() bool returning false.
func (r *Registry) NeedsTarget(name string) bool {
	k, ok := r.Lookup(name)
	if !ok {
		return true
	}
	if n, ok := k.(interface{ NeedsTarget() bool }); ok {
		return n.NeedsTarget()
	}
	return true
}

var (
	_ config.KindChecker  = (*Registry)(nil)
	_ config.TargetNeeder = (*Registry)(nil)
)

var _ config.ConnectionCounter = (*Registry)(nil)

// connectionCounter is a kind that holds a configurable number of
// connections for an open loop.
type connectionCounter interface {
	connections(spec any) (n int, key string)
}

// Connections returns the connections an open-loop action of kind name
// holds as its spec says, and the key that sets them (see
// config.ConnectionCounter).
func (r *Registry) Connections(name string, spec any) (int, string) {
	k, ok := r.Lookup(name)
	if !ok {
		return 0, ""
	}
	if cc, ok := k.(connectionCounter); ok {
		return cc.connections(spec)
	}
	return 0, ""
}

// EventLoop tells whether an action of kind name with settings spec (as
// Spec decodes them) would be driven by an event loop (loadgen's): a
// kind with a method eventLoop(spec) bool saying so.
func (r *Registry) EventLoop(name string, spec any) bool {
	k, ok := r.Lookup(name)
	if !ok {
		return false
	}
	el, ok := k.(interface{ eventLoop(spec any) bool })
	return ok && el.eventLoop(spec)
}

// needTarget checks that an action of kind runs against a target of the
// kind it speaks (an unknown target kind is reported by config itself).
func needTarget(kind, want, path string, t config.Target) error {
	if t.Kind != "" && t.Kind != want {
		return fmt.Errorf("%s: a %s action needs a %s target, not %s", path, kind, want, t.Kind)
	}
	return nil
}

// decodeFor is what the Decode of every kind that talks to a target does:
// check the target's kind, then read the settings with decode.
func decodeFor[S any](decode func(any, string) (S, error), kind, want string, raw any, path string, t config.Target) (any, error) {
	if err := needTarget(kind, want, path, t); err != nil {
		return nil, err
	}
	s, err := decode(raw, path)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Describer is an optional capability of a Kind: a short account of an
// action's spec for `pbenchd check` (connection model, pool size,
// isolation…). slots is the action's workers or its cap on calls in
// flight; open tells an open loop from a closed one.
type Describer interface {
	Describe(spec any, slots int, open bool) string
}

// Describe returns the kind's account of an action's settings, or "" for
// a kind that gives none or settings that do not decode.
func (r *Registry) Describe(a *config.Action, slots int, open bool) string {
	k, ok := r.Lookup(a.Kind)
	if !ok {
		return ""
	}
	d, ok := k.(Describer)
	if !ok {
		return ""
	}
	spec, err := r.Spec(a, "")
	if err != nil {
		return ""
	}
	return d.Describe(spec, slots, open)
}

// Figure is a figure of an action kind's own, beyond calls and their
// latency: Kafka's end-to-end latency and record counts.
type Figure struct {
	// Name is the figure's key in results and guarantees (e2e_p99, missing…).
	Name string `json:"name"`
	// Value is in seconds when Seconds is set, else a count.
	Value   float64 `json:"value"`
	Seconds bool    `json:"seconds,omitempty"`
}

// Figurer is an optional capability of a Runner: figures of its own for
// the phase, read after Close.
type Figurer interface {
	Figures() []Figure
}
