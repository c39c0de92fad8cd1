package loadgen

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pbenchd/pbenchd/internal/pace"
)

// OpenLoop is one action's open loop: arrivals at its pacer's schedule,
// whether or not earlier calls have returned, each timed from its
// intended start.
type OpenLoop struct {
	// Pacer gives the intended offsets; Rng draws its randomness.
	Pacer pace.Pacer
	Rng   *rand.Rand
	// MaxInflight caps the calls in flight: the workers of the action.
	MaxInflight int
	Run         Caller
	// NewSink gives each worker its sink, once, when the worker starts.
	NewSink func() Sink
	// Drop is told of every arrival that found no idle worker, on the
	// scheduler's goroutine (keep it cheap).
	Drop func(intended time.Time)

	pool atomic.Pointer[pool]
}

// Inflight returns how many of the loop's workers are in a call, and how
// many have been started (a live read; zero before the loop starts).
func (l *OpenLoop) Inflight() (busy, workers int) {
	if p := l.pool.Load(); p != nil {
		return p.inflight()
	}
	return 0, 0
}

// ClosedLoop is one action's closed loop: Workers workers that each start
// their next call when the previous one returns.
type ClosedLoop struct {
	Workers int
	Run     Caller
	NewSink func() Sink
}

// Phase is the loops of one load phase.
type Phase struct {
	// Start is the phase's time zero: offsets of the schedules are from
	// it. Duration is how long arrivals and calls start; calls still
	// running Drain after it are cancelled.
	Start           time.Time
	Duration, Drain time.Duration
	Open            []*OpenLoop
	Closed          []*ClosedLoop
}

// Run runs the phase: every open loop from one scheduler on the calling
// goroutine, which it locks to its OS thread, every closed loop on
// workers of its own. It returns when every call it started has finished;
// none starts after Start+Duration, whatever the rate, and none runs past
// Start+Duration+Drain. Calls that fail because ctx was cancelled are not
// recorded (pbenchd stopped them); calls cut by the drain deadline are,
// as timeouts (closed loops do not record them: the worker was not asked
// for them).
func Run(ctx context.Context, ph Phase) {
	end := ph.Start.Add(ph.Duration)
	callCtx, cancel := context.WithDeadline(ctx, end.Add(ph.Drain))
	defer cancel()
	var wg sync.WaitGroup
	for _, cl := range ph.Closed {
		for range max(cl.Workers, 1) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				closedWorker(ctx, callCtx, end, cl.Run, cl.NewSink())
			}()
		}
	}
	if len(ph.Open) > 0 {
		schedule(ctx, callCtx, ph)
	}
	wg.Wait()
}

// closedWorker makes calls until end. A call's latency is its service
// time. After a failed call it backs off, 1ms doubling to 1s, so that a
// target failing fast is not hammered; the wait is part of no call.
func closedWorker(ctx, callCtx context.Context, end time.Time, run Caller, sink Sink) {
	var backoff time.Duration
	for ctx.Err() == nil {
		begun := time.Now()
		if !begun.Before(end) {
			return
		}
		res := run.Call(callCtx)
		fin := time.Now()
		if callCtx.Err() != nil && res.Err != nil {
			return // stopped, or cut off after the phase
		}
		sink.Record(outcome(begun, begun, begun, fin, res))
		if res.Err == nil {
			backoff = 0
			continue
		}
		backoff = min(max(2*backoff, time.Millisecond), time.Second)
		if d := min(backoff, time.Until(end)); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
	}
}

// due is an open loop's next arrival: its offset from the phase start.
type due struct {
	at   time.Duration
	loop int
}

// loopState is the scheduler's cursor in one loop's schedule.
type loopState struct {
	l    *OpenLoop
	p    *pool
	n    uint64
	prev time.Duration
}

// next draws the loop's next offset.
func (s *loopState) next() time.Duration {
	off := s.l.Pacer.Next(s.n, s.prev, s.l.Rng)
	s.n++
	s.prev = off
	return off
}

// schedule paces every open loop of the phase from a heap of next
// arrivals, on one thread: it sleeps until the earliest arrival (see
// sleeper), then hands every arrival that is due to an idle worker of its
// action. Then it ends the workers and waits for them.
func schedule(ctx, callCtx context.Context, ph Phase) {
	end := ph.Start.Add(ph.Duration)
	loops := make([]loopState, len(ph.Open))
	var h arrivals
	for i, l := range ph.Open {
		p := &pool{
			run: l.Run, callCtx: callCtx, stopCtx: ctx, newSink: l.NewSink,
			max: max(l.MaxInflight, 1), dropped: l.Drop, end: end,
		}
		l.pool.Store(p)
		loops[i] = loopState{l: l, p: p}
		if off := loops[i].next(); off < ph.Duration {
			h.push(due{off, i})
		}
	}
	sl := newSleeper()
	for len(h) > 0 && ctx.Err() == nil {
		sl.until(ctx, ph.Start.Add(h[0].at))
		// Hand out every arrival now due (several, when the thread woke
		// late or arrivals are closer than a wake-up).
		for len(h) > 0 {
			handed := time.Now()
			if ctx.Err() != nil {
				h = h[:0]
				break
			}
			if !handed.Before(end) {
				// The hard deadline: no arrival starts after the phase.
				// Those due before it that the scheduler could not hand
				// out in time count as dropped.
				missed(ph, loops, h)
				h = h[:0]
				break
			}
			top := h[0]
			intended := ph.Start.Add(top.at)
			if intended.After(handed) {
				break
			}
			s := &loops[top.loop]
			s.p.dispatch(arrival{intended: intended, handed: handed})
			if off := s.next(); off < ph.Duration {
				h.replaceTop(due{off, top.loop})
			} else {
				h.pop()
			}
		}
	}
	for i := range loops {
		loops[i].p.close()
	}
}

// maxMissed bounds how many missed arrivals are counted one by one at the
// deadline: only a rate far beyond what can be paced leaves more.
const maxMissed = 1_000_000

// missed counts as dropped every arrival of the schedules still due
// before the end (up to maxMissed of them).
func missed(ph Phase, loops []loopState, h arrivals) {
	n := 0
	for _, d := range h {
		s := &loops[d.loop]
		for off := d.at; off < ph.Duration && n < maxMissed; off = s.next() {
			s.l.Drop(ph.Start.Add(off))
			n++
		}
	}
}

// arrivals is a binary min-heap of next arrivals by offset.
type arrivals []due

func (h *arrivals) push(d due) {
	*h = append(*h, d)
	a := *h
	i := len(a) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if a[parent].at <= a[i].at {
			break
		}
		a[parent], a[i] = a[i], a[parent]
		i = parent
	}
}

func (h *arrivals) pop() {
	a := *h
	last := len(a) - 1
	a[0] = a[last]
	*h = a[:last]
	h.down()
}

func (h *arrivals) replaceTop(d due) {
	(*h)[0] = d
	h.down()
}

func (h arrivals) down() {
	i := 0
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r].at < h[l].at {
			m = r
		}
		if h[i].at <= h[m].at {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
