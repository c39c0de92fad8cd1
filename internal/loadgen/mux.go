package loadgen

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pbenchd/pbenchd/internal/action"
)

// An action whose runner is an action.Muxer (reused raw PostgreSQL
// connections) is driven without workers, as pgbench drives its
// connections: one thread polls every connection's socket (epoll), writes
// a call's request when it begins and reads the answer as it comes. An
// open loop's arrivals are handed out by the scheduler itself, whose
// sleep until the next arrival is that same wait, so an arrival costs no
// thread hand-off and an answer no thread wake-up of its own; a closed
// loop runs its calls on a goroutine of its own. Calls are timed as the
// workers time them (see worker.call): an arrival that finds every
// connection busy waits queued, in flight, and its generator lag ends
// when it is queued.
//
// A call's deadline is the whole call's (its start plus the call timeout,
// or the end of the phase's drain if sooner), checked by the loop: a call
// that passes it is cut (its connection closed) and fails as a timeout,
// or as drain_cut at the end of the drain. A connection that broke is
// made again, on a goroutine of its own so that the other connections'
// calls go on, for the next call that needs it: that call waits for it,
// as a worker's call waits for its reconnect.

// slotState is what a connection of a mux loop is doing.
type slotState uint8

const (
	slotIdle       slotState = iota // connected, no call
	slotBusy                        // a call in flight
	slotDown                        // no connection, no call
	slotConnecting                  // a call waiting for its reconnect
	slotResting                     // closed loop: backing off after a failure
	slotOther                       // driven by another loop
)

// mslot is a connection of a mux loop and its call.
type mslot struct {
	state         slotState
	a             arrival   // the call's arrival
	called, start time.Time // see Outcome.Called, Outcome.Start
	deadline      time.Time
	out           bool          // its socket's writability is watched
	backoff       time.Duration // closed loop: the wait after a failure
	until         time.Time     // resting until
}

// muxLoop is one action's calls on a reactor.
type muxLoop struct {
	m       action.Mux
	idx     int32
	open    bool
	sink    Sink
	gauge   Gauge
	timeout time.Duration
	slots   []mslot // by the mux's slot; own of them are this loop's
	own     int
	idle    []int32 // connected slots with no call
	down    []int32 // slots with no connection and no call
	// Open loops: arrivals waiting for a connection (a FIFO ring), the
	// cap on calls in flight, and the drop counter.
	ring       []arrival
	head, size int
	max        int
	dropped    func(intended, now time.Time)
	// Closed loops: no call starts at or after end.
	end time.Time
	// inflight counts calls in flight, queued ones included (a live read).
	inflight atomic.Int64
}

// reactor is an event loop over the connections of some mux loops, run
// by one goroutine.
type reactor struct {
	p       *poller
	loops   []*muxLoop
	stopCtx context.Context // cancelled by a stop: calls are cut, not recorded
	callCtx context.Context // reconnects are bounded by it
	cutAt   time.Time       // the end of the phase's drain
	check   time.Time       // no deadline nor rest ends before it
	events  []pollEvent
	unwake  func() bool
	// eager: wake for every answer (see lazy).
	eager bool
	// y yields now and then: a goroutine that only blocks in system
	// calls never passes through the Go scheduler, and after 10 ms the
	// runtime takes its P away (and its monitor thread then wakes every
	// 20 µs), an order of magnitude dearer than yielding.
	y yielder

	mu      sync.Mutex
	arrived []connDone // reconnects done, for the loop
	wg      sync.WaitGroup
	pending int // reconnects started and not taken back
}

// connDone is a reconnect's outcome.
type connDone struct {
	loop, slot int32
	err        error
}

// farFuture is a check time no deadline reaches.
var farFuture = time.Unix(1<<40, 0)

// newReactor makes a reactor for a phase; nil when this system has no
// event loop (the loops then use workers).
func newReactor(stopCtx, callCtx context.Context, cutAt time.Time) *reactor {
	p, err := newPoller()
	if err != nil {
		return nil
	}
	r := &reactor{p: p, stopCtx: stopCtx, callCtx: callCtx, cutAt: cutAt, check: farFuture}
	r.unwake = context.AfterFunc(stopCtx, p.wake)
	return r
}

// muxOf takes run's connections for an event loop, if run can be driven
// by one.
func muxOf(run Caller) (action.Mux, bool) {
	if mx, ok := run.(action.Muxer); ok {
		return mx.Mux()
	}
	return nil, false
}

// attach adds a loop driving the connections ids of m. False when the
// poller refuses a socket.
func (r *reactor) attach(m action.Mux, ids []int, l *muxLoop) bool {
	l.m, l.idx, l.timeout, l.own = m, int32(len(r.loops)), m.Timeout(), len(ids)
	l.slots = make([]mslot, m.Slots())
	for i := range l.slots {
		l.slots[i].state = slotOther
	}
	for _, i := range ids {
		l.slots[i].state = slotIdle
		fd := m.Fd(i)
		if fd < 0 {
			l.slots[i].state = slotDown
			l.down = append(l.down, int32(i))
			continue
		}
		if err := r.p.add(fd, l.idx, int32(i)); err != nil {
			return false
		}
		l.idle = append(l.idle, int32(i))
	}
	// Idle slots are taken from the end: the first connections first.
	slices.Reverse(l.idle)
	slices.Reverse(l.down)
	r.loops = append(r.loops, l)
	return true
}

func (r *reactor) stopped() bool { return r.stopCtx.Err() != nil }

// lazy tells whether the loop may sleep through answers and read them
// when it wakes for its next arrival: only an open loop's reactor
// (eager, for closed loops and a drain, is false), whose answers carry
// the kernel's receive time (so reading them late does not time them
// late), with no arrival waiting queued for a connection an answer would
// free and no reconnect under way. An answer then costs no wake-up of
// its own: at a low rate, half the wake-ups.
func (r *reactor) lazy() bool {
	if r.eager || r.pending > 0 {
		return false
	}
	for _, l := range r.loops {
		if l.size > 0 || !l.m.Stamped() {
			return false
		}
	}
	return true
}

// poll waits at most d (forever when d < 0, but never past the next
// deadline) for answers, reconnects and deadlines, and handles them. It
// tells whether it slept the whole of d (nothing was ready, and no
// deadline came first).
func (r *reactor) poll(d time.Duration) (slept bool) {
	slept = true
	if until := time.Until(r.check); d < 0 || until < d {
		d, slept = max(until, 0), false
	}
	var err error
	if d > 0 && r.lazy() {
		r.p.sleep(d)
		d = 0
	}
	r.events, err = r.p.wait(d, r.events[:0])
	if err != nil {
		// Not expected of epoll on a valid set; do not spin on it.
		nanosleep(min(d, time.Millisecond))
	}
	for _, e := range r.events {
		if e.wake {
			r.reconnects()
			continue
		}
		l := r.loops[e.loop]
		l.ready(r, int(e.slot), e.in, e.out)
	}
	now := time.Now()
	r.y.maybe(now)
	if r.stopped() {
		r.abort()
	} else if !now.Before(r.check) || !now.Before(r.cutAt) {
		r.deadlines(now)
	}
	return slept && len(r.events) == 0
}

// ready handles a socket's readiness.
func (l *muxLoop) ready(r *reactor, i int, in, out bool) {
	s := &l.slots[i]
	switch s.state {
	case slotBusy:
		if out && l.m.Pending(i) {
			if err := l.m.Flush(i); err != nil {
				l.finish(r, i, action.Result{Err: err})
				return
			}
			if !l.m.Pending(i) {
				l.watchOut(r, i, false)
			}
		}
		if in {
			if done, res := l.m.Advance(i); done {
				l.finish(r, i, res)
			}
		}
	case slotIdle, slotResting:
		if in {
			// Something the server said unasked (a notice, or a
			// goodbye before it closes the connection): read it, and
			// take a closed connection out of the idle ones.
			l.m.Idle(i)
			if l.m.Fd(i) < 0 && s.state == slotIdle {
				if k := slices.Index(l.idle, int32(i)); k >= 0 {
					l.idle = slices.Delete(l.idle, k, k+1)
				}
				s.state = slotDown
				l.down = append(l.down, int32(i))
			}
		}
	}
}

func (l *muxLoop) watchOut(r *reactor, i int, out bool) {
	if s := &l.slots[i]; s.out != out {
		s.out = out
		_ = r.p.watch(l.m.Fd(i), l.idx, int32(i), out)
	}
}

// accept counts a call in flight; release counts one done.
func (l *muxLoop) accept() {
	l.inflight.Add(1)
	if l.gauge != nil {
		l.gauge.Inc()
	}
}

func (l *muxLoop) release() {
	l.inflight.Add(-1)
	if l.gauge != nil {
		l.gauge.Dec()
	}
}

// begin starts a's call on connected slot i.
func (l *muxLoop) begin(r *reactor, i int, a arrival, called time.Time) {
	s := &l.slots[i]
	s.state, s.a, s.called = slotBusy, a, called
	s.start = time.Now()
	s.deadline = s.start.Add(l.timeout)
	if r.cutAt.Before(s.deadline) {
		s.deadline = r.cutAt
	}
	if s.deadline.Before(r.check) {
		r.check = s.deadline
	}
	if err := l.m.Begin(i); err != nil {
		l.finish(r, i, action.Result{Err: err})
		return
	}
	if l.m.Pending(i) {
		l.watchOut(r, i, true)
	}
}

// connect makes slot i a new connection for a's call, on a goroutine.
func (l *muxLoop) connect(r *reactor, i int, a arrival, called time.Time) {
	s := &l.slots[i]
	s.state, s.a, s.called, s.out = slotConnecting, a, called, false
	s.start = time.Now()
	r.pending++
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		err := l.m.Connect(r.callCtx, i)
		r.mu.Lock()
		r.arrived = append(r.arrived, connDone{l.idx, int32(i), err})
		r.mu.Unlock()
		r.p.wake()
	}()
}

// reconnects takes the reconnects that are done.
func (r *reactor) reconnects() {
	r.mu.Lock()
	done := r.arrived
	r.arrived = nil
	r.mu.Unlock()
	for _, d := range done {
		r.pending--
		l := r.loops[d.loop]
		i := int(d.slot)
		s := &l.slots[i]
		if d.err == nil {
			if err := r.p.add(l.m.Fd(i), l.idx, d.slot); err != nil {
				l.m.Cut(i)
				d.err = err
			}
		}
		if d.err != nil {
			l.finish(r, i, action.Result{Err: d.err})
			continue
		}
		if r.stopped() {
			l.finish(r, i, action.Result{Err: r.stopCtx.Err()})
			continue
		}
		if l.open {
			l.begin(r, i, s.a, s.called)
			continue
		}
		// A closed loop's call begins when its connection is there: the
		// reconnect was its own wait, not the call's.
		now := time.Now()
		l.begin(r, i, arrival{intended: now, handed: now}, now)
	}
}

// finish records slot i's call and gives the slot its next call, if any.
func (l *muxLoop) finish(r *reactor, i int, res action.Result) {
	end := time.Now()
	s := &l.slots[i]
	l.release()
	if res.Start.IsZero() {
		res.Start = s.start
	}
	if !res.End.IsZero() && res.End.Before(end) {
		// The kernel's receive time of the answer: the loop's own
		// wake-up, or a lazy wait (see reactor.lazy), is not the call's.
		end = res.End
		if end.Before(res.Start) {
			end = res.Start
		}
	}
	if !(res.Err != nil && r.stopped()) {
		o := outcome(s.a.intended, s.a.handed, s.called, end, res, l.open)
		if res.Err != nil && !end.Before(r.cutAt) {
			o.ErrClass = ClassDrainCut
		}
		l.sink.Record(o)
	}
	s.state = slotIdle
	if l.m.Fd(i) < 0 {
		s.state = slotDown
	}
	if l.open {
		l.following(r, i)
		return
	}
	if res.Err == nil {
		s.backoff = 0
	} else {
		s.backoff = min(max(2*s.backoff, time.Millisecond), time.Second)
		if wait := min(s.backoff, l.end.Sub(end)); wait > 0 && !r.stopped() {
			s.state, s.until = slotResting, end.Add(wait)
			if s.until.Before(r.check) {
				r.check = s.until
			}
			return
		}
	}
	l.again(r, i, end)
}

// following gives open loop slot i the oldest queued arrival, if any;
// else the slot waits for the next arrival.
func (l *muxLoop) following(r *reactor, i int) {
	s := &l.slots[i]
	if l.size > 0 && !r.stopped() && time.Now().Before(r.cutAt) {
		a := l.ring[l.head]
		l.head = (l.head + 1) % len(l.ring)
		l.size--
		// Its generator lag ended when it was queued: its wait in the
		// queue is a wait for a connection.
		if s.state == slotDown {
			l.connect(r, i, a, a.handed)
		} else {
			l.begin(r, i, a, a.handed)
		}
		return
	}
	if s.state == slotDown {
		l.down = append(l.down, int32(i))
	} else {
		l.idle = append(l.idle, int32(i))
	}
}

// again starts closed loop slot i's next call, unless the phase is over.
func (l *muxLoop) again(r *reactor, i int, now time.Time) {
	s := &l.slots[i]
	if !now.Before(l.end) || r.stopped() {
		if s.state != slotDown {
			s.state = slotIdle
		}
		return
	}
	l.accept()
	a := arrival{intended: now, handed: now}
	if s.state == slotDown || l.m.Fd(i) < 0 {
		l.connect(r, i, a, now)
		return
	}
	l.begin(r, i, a, now)
}

// dispatch hands an open loop's arrival to a connection with no call,
// makes one again for it if none is connected and one is down, queues
// it, or drops it when the loop is at its cap. When every connection
// seems busy it first takes the answers that are already there: a
// scheduler behind its schedule hands out arrivals without waiting in
// between, and would otherwise queue them behind answers it has not
// read. Scheduler only.
func (l *muxLoop) dispatch(r *reactor, a arrival) {
	if len(l.idle) == 0 && len(l.down) == 0 {
		r.poll(0)
	}
	switch {
	case len(l.idle) > 0:
		i := l.idle[len(l.idle)-1]
		l.idle = l.idle[:len(l.idle)-1]
		l.accept()
		l.begin(r, int(i), a, a.handed)
	case len(l.down) > 0:
		i := l.down[len(l.down)-1]
		l.down = l.down[:len(l.down)-1]
		l.accept()
		l.connect(r, int(i), a, a.handed)
	case l.size < len(l.ring):
		l.ring[(l.head+l.size)%len(l.ring)] = a
		l.size++
		l.accept()
	default:
		l.dropped(a.intended, a.handed)
	}
}

// deadlines cuts the calls past their deadline, ends the rests that are
// over and, at the end of the drain, fails the arrivals still queued;
// then it sets the next check.
func (r *reactor) deadlines(now time.Time) {
	next := farFuture
	for _, l := range r.loops {
		for i := range l.slots {
			s := &l.slots[i]
			switch s.state {
			case slotBusy:
				if !now.Before(s.deadline) {
					l.m.Cut(i)
					l.finish(r, i, action.Result{Err: context.DeadlineExceeded})
				}
			case slotResting:
				if !now.Before(s.until) {
					if l.m.Fd(i) < 0 {
						s.state = slotDown
					}
					l.again(r, i, now)
				}
			}
			// A call begun above has a deadline of its own.
			switch s.state {
			case slotBusy:
				if s.deadline.Before(next) {
					next = s.deadline
				}
			case slotResting:
				if s.until.Before(next) {
					next = s.until
				}
			}
		}
		if !now.Before(r.cutAt) {
			for ; l.size > 0; l.size-- {
				a := l.ring[l.head]
				l.head = (l.head + 1) % len(l.ring)
				l.release()
				l.sink.Record(Outcome{Intended: a.intended, Handed: a.handed, Called: a.handed, Start: now, End: now,
					ErrClass: ClassDrainCut, Open: true})
			}
		}
	}
	r.check = next
}

// abort cuts every call in flight after a stop: none is recorded.
func (r *reactor) abort() {
	for _, l := range r.loops {
		for i := range l.slots {
			switch l.slots[i].state {
			case slotBusy:
				l.m.Cut(i)
				l.finish(r, i, action.Result{Err: r.stopCtx.Err()})
			case slotResting:
				l.slots[i].state = slotIdle
				if l.m.Fd(i) < 0 {
					l.slots[i].state = slotDown
				}
			}
		}
		for ; l.size > 0; l.size-- {
			l.release()
		}
		l.head = 0
	}
	r.check = farFuture
}

// busy tells whether any call is in flight, queued, resting or waiting
// for its connection.
func (r *reactor) busy() bool {
	if r.pending > 0 {
		return true
	}
	for _, l := range r.loops {
		if l.inflight.Load() > 0 {
			return true
		}
		for i := range l.slots {
			if l.slots[i].state == slotResting {
				return true
			}
		}
	}
	return false
}

// drain runs the loop until no call is in flight.
func (r *reactor) drain() {
	for r.busy() {
		r.poll(maxNap)
	}
}

// close waits for the reconnects still running and closes the poller;
// the loops' owner then gives their connections back (Release). After a stop, the calls still
// in flight are cut first: a connection given back mid-call would answer
// its next call with this one's answer.
func (r *reactor) close() {
	r.unwake()
	if r.stopped() {
		r.abort()
	}
	r.wg.Wait()
	r.reconnects()
	r.p.close()
}

// closedMux runs a closed loop's calls on a reactor of its own until end,
// then waits for the calls in flight.
func closedMux(r *reactor, l *muxLoop) {
	r.eager = true // the next call begins when the answer comes
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r.p.locked = true
	now := time.Now()
	l.idle, l.down = nil, nil
	for i := range l.slots {
		if l.slots[i].state != slotOther {
			l.again(r, i, now)
		}
	}
	for r.busy() && !r.stopped() {
		d := maxNap
		if until := time.Until(l.end); until > 0 && until < d {
			d = until
		}
		r.poll(d)
	}
	r.close()
}
