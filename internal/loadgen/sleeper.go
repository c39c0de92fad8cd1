package loadgen

import (
	"context"
	"runtime"
	"time"
)

// Bounds of the sleeper's estimate of how late a sleep wakes, and the
// step it moves by.
const (
	maxSlack  = 20 * time.Microsecond
	slackStep = 250 * time.Nanosecond
	// maxNap bounds one sleep, so that a stop is seen within it.
	maxNap = 20 * time.Millisecond
)

// sleeper waits until a time, sleeping as long as it can and spinning as
// little as it must: it first yields its thread to the goroutines that
// are ready (the workers it has just handed arrivals to run there and
// then, with no thread switch), then sleeps until slack before the time,
// where slack tracks the median of how late the kernel wakes it (a step
// up after each late wake-up, a step down after each early one), then
// spins to the time. So about half of the wake-ups spin a few
// microseconds and half are a few microseconds late. It is not locked to
// an OS thread: a locked thread cannot run the workers, and handing them
// to another thread costs a futex wake-up per arrival. Used by one
// goroutine.
//
// When some of the loops are driven by an event loop (r), the sleep is its
// wait: answers that come meanwhile are taken as they come. yield is
// false when no loop has workers: there is nothing to yield to.
type sleeper struct {
	slack time.Duration
	r     *reactor
	yield bool
}

func newSleeper() *sleeper { return &sleeper{slack: 5 * time.Microsecond, yield: true} }

// useReactor makes the sleeps r's waits. They do not spin: the event loop
// drives calls over the network, whose own latency is tens of
// microseconds or more, and spinning before every arrival would cost the
// client as much CPU as the call itself on a machine whose thread
// wake-ups are slow (see the README's performance section); an arrival
// handed out late by a wake-up's lateness is counted in its generator lag
// and timed from its intended start all the same.
func (s *sleeper) useReactor(r *reactor, workers bool) {
	s.r, s.yield = r, workers
	if r != nil {
		s.slack = 0
	}
}

// until returns at t, or later when the thread was not woken in time, or
// when ctx is done (checked between sleeps).
func (s *sleeper) until(ctx context.Context, t time.Time) {
	if s.yield {
		runtime.Gosched()
	}
	for {
		now := time.Now()
		d := t.Sub(now) - s.slack
		if d <= 0 {
			break
		}
		if ctx.Err() != nil {
			return
		}
		nap := min(d, maxNap)
		if s.r != nil {
			s.r.poll(nap)
			continue // no spin: see below
		}
		nanosleep(nap)
		if over := time.Since(now) - nap; over > s.slack {
			s.slack = min(s.slack+slackStep, maxSlack)
		} else {
			s.slack = max(s.slack-slackStep, 0)
		}
	}
	// The spin yields: on one core a worker would otherwise wait for it.
	for time.Now().Before(t) {
		if s.yield {
			runtime.Gosched()
		}
	}
}
