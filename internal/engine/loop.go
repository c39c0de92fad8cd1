package engine

import (
	"context"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/loadgen"
	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/pace"
)

// The loops live in loadgen: one scheduler for every open loop of a phase,
// long-lived workers grown up to the cap (an arrival that finds none idle
// is dropped, never queued; a runner that serves only so many calls at
// once gets that many workers, and its other arrivals wait queued up to
// the cap), and closed-loop workers. The engine gives them
// its runners and records what they measure in its Recorders, through
// recorder shards so that the calls of an action do not all take one lock.

// openLoop issues arrivals at the pacer's schedule from start until
// start+d, whether or not earlier calls have returned. Each call is timed
// from its intended start. At most maxInflight calls run at once; an
// arrival that finds the cap reached is dropped and counted. It returns
// when every call it started has finished, by start+d+drain whatever the
// rate: calls still running then are cancelled and count as drain_cut
// (they were due and not served), and if the generator itself fell so far
// behind its schedule that it had not issued every arrival by a grace
// after the end of the phase (half the drain, at most 1 s), the arrivals
// left are counted as missed (the generator's fault, not the target's).
func openLoop(ctx context.Context, start time.Time, d, drain time.Duration, p pace.Pacer, rng func() *rand.Rand,
	maxInflight int, run action.Runner, rec *metrics.Recorder) {
	loadgen.Run(ctx, loadgen.Phase{Start: start, Duration: d, Drain: drain,
		Open: []*loadgen.OpenLoop{openOf(p, rng, maxInflight, run, rec)}})
}

// seeded returns a maker of generators that all start from seed: a
// schedule drawn from one replays exactly from another.
func seeded(seed uint64) func() *rand.Rand {
	return func() *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
}

// closedLoop runs workers that each start their next call when the previous
// one returns, until start+d. A call's latency is its service time. A call
// still running drain past the end is cancelled and counts as drain_cut.
// After a failed call a worker backs off, 1ms doubling to 1s, so a target
// that fails fast is not hammered and does not starve the other actions;
// the wait is not part of any call.
func closedLoop(ctx context.Context, start time.Time, d, drain time.Duration, workers int,
	run action.Runner, rec *metrics.Recorder) {
	loadgen.Run(ctx, loadgen.Phase{Start: start, Duration: d, Drain: drain,
		Closed: []*loadgen.ClosedLoop{closedOf(workers, run, rec)}})
}

// openOf makes an open loop; rng, if set, makes its random generators
// (see seeded), nil for a shape that draws nothing.
func openOf(p pace.Pacer, rng func() *rand.Rand, maxInflight int, run action.Runner, rec *metrics.Recorder) *loadgen.OpenLoop {
	l := &loadgen.OpenLoop{
		Pacer: p, Fork: rng, MaxInflight: maxInflight,
		Run: run, Gauge: rec.Inflight(), NewSink: shards(rec),
		Drop: rec.Drop, Miss: rec.Miss, Lanes: rec.Lanes,
	}
	if rng != nil {
		l.Rng = rng()
	}
	if s, ok := run.(action.Servers); ok {
		l.Servers = s.Servers()
	}
	return l
}

func closedOf(workers int, run action.Runner, rec *metrics.Recorder) *loadgen.ClosedLoop {
	return &loadgen.ClosedLoop{Workers: workers, Run: run, Gauge: rec.Inflight(), NewSink: shards(rec)}
}

// shardsPerCore is how many recorder shards an action's workers share per
// core: a shard holds three exact histograms (about 800 kB), so ten
// thousand workers cannot have one each.
const shardsPerCore = 4

// shards deals an action's workers out over a few recorder shards.
func shards(rec *metrics.Recorder) func() loadgen.Sink {
	var mu sync.Mutex
	var made []*metrics.Shard
	n := 0
	return func() loadgen.Sink {
		mu.Lock()
		defer mu.Unlock()
		var sh *metrics.Shard
		// Cores, not Ps: GOMAXPROCS is raised for raw connections
		// (see action), and a shard is large.
		if len(made) < shardsPerCore*min(runtime.GOMAXPROCS(0), runtime.NumCPU()) {
			sh = rec.Shard()
			made = append(made, sh)
		} else {
			sh = made[n%len(made)]
		}
		n++
		return recSink{sh}
	}
}

// recSink records a worker's calls in its recorder shard.
type recSink struct{ sh *metrics.Shard }

func (s recSink) Record(o loadgen.Outcome) {
	s.sh.Record(metrics.Outcome{
		Intended: o.Intended, Dispatched: o.Called, Start: o.Start, End: o.End,
		ErrClass: o.ErrClass, Retries: o.Retries, Open: o.Open,
	})
}
