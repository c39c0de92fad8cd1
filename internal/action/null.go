package action

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pbenchd/pbenchd/internal/config"
)

// The null action is registered as `noop`: `null` itself is YAML's null, so
// `null: {}` would be read as a key that is not there.
func init() { Kinds.Register("noop", nullKind{}) }

// NullSpec is the settings of a `noop` action: a call that does nothing,
// or sleeps, against no system at all, so pbenchd's own cost, its metrics,
// dashboards and alerts can be tried without a database.
type NullSpec struct {
	// Sleep is how long each call takes; zero (the default) returns at once.
	Sleep config.Duration `koanf:"sleep"`
	// Concurrency, if positive, is how many calls may be inside Sleep at
	// once, like a pool of that many connections: a call that finds them
	// all taken waits for one, and the wait is part of its latency but not
	// of its service time. Zero means no limit.
	Concurrency int `koanf:"concurrency"`
	// FailRatio is the fraction of calls, between 0 and 1, that fail (after
	// their sleep), for trying error-ratio alerts; default 0.
	FailRatio float64 `koanf:"fail_ratio"`
}

// ErrNullFailure is the failure a `noop` action makes for its fail_ratio.
var ErrNullFailure = errors.New("noop: failure asked for by fail_ratio")

// maxNullSleep bounds sleep: a call longer than this is a mistake, not a
// model of a target.
const maxNullSleep = time.Hour

type nullKind struct{}

// Decode accepts any target: the action talks to none.
func (nullKind) Decode(raw any, path string, _ config.Target) (any, error) {
	var s NullSpec
	if raw != nil {
		if _, ok := raw.(map[string]any); !ok {
			return nil, fmt.Errorf("%s: %v is not a mapping like {sleep: 1ms}", path, raw)
		}
		if err := config.Decode(raw, path, &s); err != nil {
			return nil, err
		}
	}
	var errs []error
	if s.Sleep.D > maxNullSleep {
		errs = append(errs, fmt.Errorf("%s.sleep: %s is longer than %s", path, s.Sleep, maxNullSleep))
	}
	if s.Concurrency < 0 || s.Concurrency > 1_000_000 {
		errs = append(errs, fmt.Errorf("%s.concurrency: %d is not between 0 (no limit) and 1000000", path, s.Concurrency))
	}
	if !(s.FailRatio >= 0 && s.FailRatio <= 1) {
		errs = append(errs, fmt.Errorf("%s.fail_ratio: %v is not between 0 and 1", path, s.FailRatio))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &s, nil
}

// NeedsTarget tells config that a scenario of only `noop` actions needs no
// target.
func (nullKind) NeedsTarget() bool { return false }

func (nullKind) Build(_ context.Context, spec any, _ Env) (Runner, error) {
	s := spec.(*NullSpec)
	r := &nullRunner{sleep: s.Sleep.D, failRatio: s.FailRatio}
	if s.Concurrency > 0 {
		r.slots = make(chan struct{}, s.Concurrency)
	}
	return r, nil
}

type nullRunner struct {
	sleep     time.Duration
	failRatio float64
	slots     chan struct{} // nil: no limit
}

func (r *nullRunner) Call(ctx context.Context) Result {
	var res Result
	if r.slots != nil {
		select {
		case r.slots <- struct{}{}:
			defer func() { <-r.slots }()
			res.Start = time.Now()
		case <-ctx.Done():
			res.Err = ctx.Err()
			return res
		}
	}
	if r.sleep > 0 {
		t := time.NewTimer(r.sleep)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			res.Err = ctx.Err()
			return res
		}
	}
	if r.failRatio > 0 && rand.Float64() < r.failRatio {
		res.Err = ErrNullFailure
	}
	return res
}

// Servers is the concurrency limit: 0, none, when unset.
func (r *nullRunner) Servers() int { return cap(r.slots) }

func (*nullRunner) Close() {}
