package engine

import (
	"context"
	"math"
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
// when every call it started has finished, by start+d+drain whatever the
// rate: calls still running then are cancelled and count as drain_cut
// (they were due and not served), and if the generator itself fell so far
// behind its schedule that it had not issued every arrival by a grace
// after the end of the phase (half the drain, at most 1 s), the arrivals
// left are counted as missed (the generator's fault, not the target's).
func openLoop(ctx context.Context, start time.Time, d, drain time.Duration, p pace.Pacer, rng *rand.Rand,
	maxInflight int, run action.Runner, rec *metrics.Recorder) {
	end := start.Add(d)
	callCtx, cancel := context.WithDeadline(ctx, end.Add(drain))
	defer cancel()
	// Arrivals due before the end are still issued a little after it (a
	// generator a few microseconds or a descheduling late is not behind
	// its schedule), until late: then the rest are missed.
	late := end.Add(min(drain/2, time.Second))
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
		now := sleepUntil(ctx, intended)
		if ctx.Err() != nil {
			break
		}
		if !now.Before(late) {
			// Well past the end of the phase, this arrival, due before
			// it, was never issued: the generator could not keep up.
			// Count it and those left (by the schedule's expectation:
			// walking them one by one could take longer than the phase
			// did).
			rec.Miss(intended, 1+int64(math.Round(expectedArrivals(p, off, d))))
			break
		}
		select {
		case sem <- struct{}{}:
		default:
			rec.Drop(intended, now)
			continue
		}
		wg.Add(1)
		inflight.Inc()
		go func() {
			defer wg.Done()
			called := time.Now()
			res := run.Call(callCtx)
			fin := time.Now()
			inflight.Dec()
			<-sem
			if (ctx.Err() != nil && res.Err != nil) || res.Censored {
				return // stopped by pbenchd, not failed by the target
			}
			o := outcome(intended, called, fin, res, true)
			if res.Err != nil && callCtx.Err() != nil {
				o.ErrClass = metrics.ClassDrainCut
			}
			rec.Record(o)
		}()
	}
	wg.Wait()
}

// expectedArrivals is the number of arrivals p's schedule expects in the
// offsets [from, to).
func expectedArrivals(p pace.Pacer, from, to time.Duration) float64 {
	if to <= from {
		return 0
	}
	return meanRate(p, from, to) * (to - from).Seconds()
}

// meanRate is p's mean rate over the offsets [from, to): the average of
// Mean at the midpoints of 1024 equal steps, exact for a constant rate
// (the configured figure comes back bit for bit) and for linear pieces but
// for the steps that straddle a kink or a jump.
func meanRate(p pace.Pacer, from, to time.Duration) float64 {
	const steps = 1024
	h := float64(to-from) / steps
	var sum float64
	for i := range steps {
		sum += p.Mean(from + time.Duration((float64(i)+0.5)*h))
	}
	return sum / steps
}

// closedLoop runs workers that each start their next call when the previous
// one returns, until start+d. A call's latency is its service time. A call
// still running drain past the end is cancelled and counts as drain_cut. After a failed call a worker backs off,
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
				if (ctx.Err() != nil && res.Err != nil) || res.Censored {
					return // stopped by pbenchd, not failed by the target
				}
				o := outcome(begun, begun, fin, res, false)
				if res.Err != nil && callCtx.Err() != nil {
					// Cut off at the end of the drain: a call the worker
					// made and the target did not serve in time.
					o.ErrClass = metrics.ClassDrainCut
					rec.Record(o)
					return
				}
				rec.Record(o)
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
		intended, called, start = res.From, res.From, res.From
	}
	o := metrics.Outcome{Intended: intended, Dispatched: called, Start: start, End: end, Retries: res.Retries, Open: open}
	if res.Err != nil {
		o.ErrClass = target.Classify(res.Err)
	}
	return o
}
