package action_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knadh/koanf/parsers/yaml"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
)

func nullRaw(t *testing.T, doc string) any {
	t.Helper()
	m, err := yaml.Parser().Unmarshal([]byte(doc))
	if err != nil {
		t.Fatalf("bad test YAML %q: %v", doc, err)
	}
	return m["noop"]
}

// TestNullCheck checks the noop kind's settings through the registry, as
// config validation sees them.
func TestNullCheck(t *testing.T) {
	const path = "s.yaml: phases[0].load.actions[0].noop"
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{name: "empty", yaml: `noop:`},
		{name: "empty mapping", yaml: `noop: {}`},
		{name: "every setting", yaml: `noop: {sleep: 2ms, concurrency: 4, fail_ratio: 0.25}`},
		{name: "not a mapping", yaml: `noop: 5ms`, want: []string{path + `: 5ms is not a mapping like {sleep: 1ms}`}},
		{name: "bad sleep", yaml: `noop: {sleep: soon}`, want: []string{path + `.sleep: "soon" is not a duration like 120s or 500ms`}},
		{name: "sleep too long", yaml: `noop: {sleep: 2h}`, want: []string{path + `.sleep: 2h is longer than 1h0m0s`}},
		{
			name: "bad concurrency and ratio", yaml: `noop: {concurrency: -1, fail_ratio: 1.5}`,
			want: []string{
				path + `.concurrency: -1 is not between 0 (no limit) and 1000000`,
				path + `.fail_ratio: 1.5 is not between 0 and 1`,
			},
		},
		{name: "unknown key", yaml: `noop: {slep: 1ms}`, want: []string{path + `: unknown key "slep"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Any target, or none: the action talks to nothing.
			for _, tg := range []config.Target{{}, {Kind: "postgres"}, {Kind: "kafka"}} {
				_, err := action.Kinds.Decode("noop", nullRaw(t, tc.yaml), path, tg)
				var got []string
				if err != nil {
					got = strings.Split(err.Error(), "\n")
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("target %q: got\n%s\nwant\n%s", tg.Kind, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
				}
			}
		})
	}
	if action.Kinds.NeedsTarget("noop") || !action.Kinds.NeedsTarget("sql") {
		t.Errorf("NeedsTarget: noop %v, sql %v; want false, true", action.Kinds.NeedsTarget("noop"), action.Kinds.NeedsTarget("sql"))
	}
}

func buildNull(t *testing.T, doc string) action.Runner {
	t.Helper()
	k, _ := action.Kinds.Lookup("noop")
	spec, err := k.Decode(nullRaw(t, doc), "a", config.Target{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := k.Build(context.Background(), spec, action.Env{Scenario: "s", Action: "a"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// TestNullCall: a call sleeps at least its sleep; with a concurrency
// limit, calls wait for a slot, and the wait is outside the service time;
// fail_ratio 0 and 1 fail no call and every call; a cancelled call stops.
func TestNullCall(t *testing.T) {
	t.Run("sleep", func(t *testing.T) {
		r := buildNull(t, `noop: {sleep: 5ms}`)
		t0 := time.Now()
		res := r.Call(context.Background())
		if d := time.Since(t0); d < 5*time.Millisecond || res.Err != nil {
			t.Errorf("call took %v, err %v; want at least 5ms and no error", d, res.Err)
		}
	})
	t.Run("concurrency limit", func(t *testing.T) {
		// 10 calls at once through 2 slots of 20ms each: the k-th call
		// to get a slot (counting from 0) cannot get it before k/2 (integer
		// division) sleeps have ended, since sleeps never end early. Only
		// lower bounds: a loaded machine makes calls later, never earlier.
		const n, slots, sleep = 10, 2, 20 * time.Millisecond
		r := buildNull(t, `noop: {sleep: 20ms, concurrency: 2}`)
		t0 := time.Now()
		starts := make([]time.Time, n)
		ends := make([]time.Time, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := r.Call(context.Background())
				starts[i], ends[i] = res.Start, time.Now()
			}()
		}
		wg.Wait()
		slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
		for k, s := range starts {
			if s.IsZero() {
				t.Fatalf("call %d: Result.Start not set: the wait for a slot would count as service", k)
			}
			if min := time.Duration(k/slots) * sleep; s.Sub(t0) < min {
				t.Errorf("start %d at %v after the first call, before %v: more than %d calls ran at once", k, s.Sub(t0), min, slots)
			}
		}
		if last := slices.MaxFunc(ends, func(a, b time.Time) int { return a.Compare(b) }); last.Sub(t0) < n/slots*sleep {
			t.Errorf("10 calls over 2 slots ended after %v, want at least %v", last.Sub(t0), n/slots*sleep)
		}
	})
	t.Run("fail ratio", func(t *testing.T) {
		none, all := buildNull(t, `noop: {fail_ratio: 0}`), buildNull(t, `noop: {fail_ratio: 1}`)
		for range 1000 {
			if err := none.Call(context.Background()).Err; err != nil {
				t.Fatalf("fail_ratio 0: %v", err)
			}
			if err := all.Call(context.Background()).Err; !errors.Is(err, action.ErrNullFailure) {
				t.Fatalf("fail_ratio 1: err %v, want ErrNullFailure", err)
			}
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		r := buildNull(t, `noop: {sleep: 1h, concurrency: 1}`)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range 2 { // one holds the slot, one waits for it
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = r.Call(ctx).Err }()
		}
		wg.Wait()
		for i, err := range errs {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("call %d: err %v, want the deadline", i, err)
			}
		}
	})
}
