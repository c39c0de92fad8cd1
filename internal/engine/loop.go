package engine

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/metrics"
	"github.com/pbenchd/pbenchd/internal/pace"
	"github.com/pbenchd/pbenchd/internal/target"
)

// openLoop issues arrivals at the pacer's schedule from start until
// start+d, whether or not earlier calls have returned. Each call is timed
// from its intended start. At most maxInflight calls run at once; an
// arrival that finds the cap reached is dropped and counted. It returns
// when every call it started has finished: calls still running drain past
// the end of the phase are cancelled and count as timeouts (they were due
// and not served).
func openLoop(ctx context.Context, start time.Time, d, drain time.Duration, p pace.Pacer, rng *rand.Rand,
	maxInflight int, run action.Runner, rec *metrics.Recorder) {
	callCtx, cancel := context.WithDeadline(ctx, start.Add(d+drain))
	defer cancel()
	sem := make(chan struct{}, maxInflight)
	inflight := rec.Inflight()
	var wg sync.WaitGroup
	defer precise()()
	var prev time.Duration
	for n := uint64(0); ; n++ {
		off := p.Next(n, prev, rng)
		prev = off
		if off >= d {
			break
		}
		intended := start.Add(off)
		sleepUntil(ctx, intended)
		if ctx.Err() != nil {
			break
		}
		select {
		case sem <- struct{}{}:
		default:
			rec.Drop(intended)
			continue
		}
		wg.Add(1)
		inflight.Inc()
		go func() {
			defer wg.Done()
			called := time.Now()
			res := run.Call(callCtx)
			end := time.Now()
			inflight.Dec()
			<-sem
			if ctx.Err() != nil && res.Err != nil {
				return // stopped by pbenchd, not failed by the target
			}
			rec.Record(outcome(intended, called, end, res, true))
		}()
	}
	wg.Wait()
}

// closedLoop runs workers that each start their next call when the previous
// one returns, until start+d. A call's latency is its service time. A call
// still running drain past the end is cancelled and not recorded (the
// worker was not asked for it). After a failed call a worker backs off,
// 1ms doubling to 1s, so a target that fails fast is not hammered and does
// not starve the other actions; the wait is not part of any call.
func closedLoop(ctx context.Context, start time.Time, d, drain time.Duration, workers int,
	run action.Runner, rec *metrics.Recorder) {
	end := start.Add(d)
	callCtx, cancel := context.WithDeadline(ctx, end.Add(drain))
	defer cancel()
	inflight := rec.Inflight()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var backoff time.Duration
			for ctx.Err() == nil {
				begun := time.Now()
				if !begun.Before(end) {
					return
				}
				inflight.Inc()
				res := run.Call(callCtx)
				fin := time.Now()
				inflight.Dec()
				if callCtx.Err() != nil && res.Err != nil {
					// Stopped by pbenchd or cut off after the phase, not
					// failed by the target.
					return
				}
				rec.Record(outcome(begun, begun, fin, res, false))
				if res.Err == nil {
					backoff = 0
					continue
				}
				backoff = min(max(2*backoff, time.Millisecond), time.Second)
				sleep(ctx, min(backoff, time.Until(end)))
			}
		}()
	}
	wg.Wait()
}

func outcome(intended, called, end time.Time, res action.Result, open bool) metrics.Outcome {
	start := res.Start
	if start.IsZero() {
		start = called
	}
	if !res.From.IsZero() {
		// The kind measures an interval of its own (see action.Result.From).
		intended, start = res.From, res.From
	}
	o := metrics.Outcome{Intended: intended, Start: start, End: end, Retries: res.Retries, Open: open}
	if res.Err != nil {
		o.ErrClass = target.Classify(res.Err)
	}
	return o
}
