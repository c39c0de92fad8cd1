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
// when every call it started has finished.
func openLoop(ctx context.Context, start time.Time, d time.Duration, p pace.Pacer, rng *rand.Rand,
	maxInflight int, run action.Runner, rec *metrics.Recorder) {
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
			res := run.Call(ctx)
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
// one returns, until start+d. A call's latency is its service time.
func closedLoop(ctx context.Context, start time.Time, d time.Duration, workers int,
	run action.Runner, rec *metrics.Recorder) {
	end := start.Add(d)
	inflight := rec.Inflight()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				begun := time.Now()
				if !begun.Before(end) {
					return
				}
				inflight.Inc()
				res := run.Call(ctx)
				fin := time.Now()
				inflight.Dec()
				if ctx.Err() != nil && res.Err != nil {
					// Stopped by pbenchd, not failed by the target.
					return
				}
				rec.Record(outcome(begun, begun, fin, res, false))
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
	o := metrics.Outcome{Intended: intended, Start: start, End: end, Retries: res.Retries, Open: open}
	if res.Err != nil {
		o.ErrClass = target.Classify(res.Err)
	}
	return o
}
