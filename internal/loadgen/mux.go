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
// An open loop's connections may be dealt out over several schedulers,
// one per core (lanes: see schedule), each driving its share of them on a
// reactor of its own and taking its share of the arrivals. A loop starts
// on one lane with every connection and is split when that lane falls
// behind: the other lanes get their connections from it as their calls
// end (handover). The arrivals
// that wait for a connection then wait in one queue (muxQueue), the
// loop's, in the order they came, whichever lane took them; the first
// connection freed in any lane takes the oldest; and the cap on calls in
// flight is the loop's, over every lane.
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
	// moveTo, when above zero, is the lane (+1) the connection goes to
	// when its call ends (see lane.split).
	moveTo int8
}

// muxLoop is one action's calls on a reactor.
type muxLoop struct {
	m       action.Mux
	idx     int32
	open    bool
	sink    Sink
	gauge   Gauge
	timeout time.Duration
	slots   []mslot // by the mux's slot; those not slotOther are this loop's
	idle    []int32 // connected slots with no call
	down    []int32 // slots with no connection and no call
	// Open loops: the loop's queue (shared by its lanes) and this lane's
	// reactor; free is how many of this lane's connections have no call,
	// as of the reactor's last look (other lanes read it to wake this
	// one for a queued arrival).
	q    *muxQueue
	r    *reactor
	free atomic.Int32
	// Closed loops: no call starts at or after end.
	end time.Time
	// answerLag is how long after its answer reached the socket the
	// lane took the last call's (see lane.lagging).
	answerLag time.Duration
	// inflight counts this lane's calls in flight (for a closed loop,
	// a live read).
	inflight atomic.Int64
	// peers are a closed loop's loops on each of its reactors (this one
	// included) when its connections are steered between them (see
	// steer).
	peers []*muxLoop
}

// muxQueue is an open loop's arrivals waiting for a connection (a FIFO
// ring), and its count of calls in flight over all its lanes, queued
// ones included, which the cap bounds.
type muxQueue struct {
	mu      sync.Mutex
	ring    []arrival
	head, n int
	// queued is n, read without the lock.
	queued atomic.Int32
	// inflight counts calls in flight, queued ones included (at most
	// max; a live read); conns is the connections of all lanes.
	inflight atomic.Int64
	max      int64
	conns    int
	gauge    Gauge
	dropped  func(intended, now time.Time)
	lanes    []*muxLoop
	// mergeAt is the offset from which lane 0 takes every arrival
	// again (see lane.merge); never while the loop is split or was not.
	mergeAt atomic.Int64
}

func newMuxQueue(capIn, conns int, gauge Gauge, dropped func(intended, now time.Time)) *muxQueue {
	q := &muxQueue{ring: make([]arrival, capIn), max: int64(capIn), conns: conns, gauge: gauge, dropped: dropped}
	q.mergeAt.Store(never)
	return q
}

// admit counts an arrival in flight, unless the loop is at its cap.
func (q *muxQueue) admit() bool {
	for {
		v := q.inflight.Load()
		if v >= q.max {
			return false
		}
		if q.inflight.CompareAndSwap(v, v+1) {
			if q.gauge != nil {
				q.gauge.Inc()
			}
			return true
		}
	}
}

// done counts an admitted arrival out of flight.
func (q *muxQueue) done() {
	q.inflight.Add(-1)
	if q.gauge != nil {
		q.gauge.Dec()
	}
}

// push queues an admitted arrival (the ring holds as many as the cap).
func (q *muxQueue) push(a arrival) {
	q.mu.Lock()
	q.ring[(q.head+q.n)%len(q.ring)] = a
	q.n++
	q.queued.Store(int32(q.n))
	q.mu.Unlock()
}

// pop takes the oldest queued arrival, if any.
func (q *muxQueue) pop() (arrival, bool) {
	if q.queued.Load() == 0 {
		return arrival{}, false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return arrival{}, false
	}
	a := q.ring[q.head]
	q.head = (q.head + 1) % len(q.ring)
	q.n--
	q.queued.Store(int32(q.n))
	return a, true
}

// wake wakes the other lanes that have a connection free, or that sleep
// through their answers (see reactor.lazy: an answer there may have freed
// one), for an arrival just queued. A lane publishes its free connections
// before it last looks at the queue (see muxLoop.fill), and that it naps
// before it looks whether it may (see reactor.poll), so either it sees
// the arrival or this sees its connection or its nap.
func (q *muxQueue) wake(from *muxLoop) {
	for _, l := range q.lanes {
		if l != from && (l.free.Load() > 0 || l.r.napping.Load()) {
			l.r.wakeUp()
		}
	}
}

// wakeUp wakes the reactor's loop from another lane, unless it has
// closed its poller (whose descriptors may since name other files).
func (r *reactor) wakeUp() {
	r.mu.Lock()
	if !r.closed {
		r.p.wake()
	}
	r.mu.Unlock()
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
	// eager: wake for every answer (see lazy). napping is set while the
	// loop may be sleeping through answers (read by other lanes).
	eager   bool
	napping atomic.Bool
	// track: cpu is the CPU the loop's thread woke on at its last wait
	// (-1: not known), for steering (see muxLoop.steer).
	track bool
	cpu   atomic.Int32
	// y yields now and then: a goroutine that only blocks in system
	// calls never passes through the Go scheduler, and after 10 ms the
	// runtime takes its P away (and its monitor thread then wakes every
	// 20 µs), an order of magnitude dearer than yielding.
	y yielder

	mu      sync.Mutex
	arrived []connDone // reconnects done, for the loop
	handed  []handover // connections another lane gave this one
	closed  bool       // the poller is closed: nothing more is handed
	wg      sync.WaitGroup
	pending int // reconnects started and not taken back
}

// handover is a connection a lane gives another at a split or a merge
// (see muxLoop.deal): slot of the receiving reactor's loop, down when it
// has no connection.
type handover struct {
	loop, slot int32
	down       bool
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
	r.cpu.Store(-1)
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

// attach adds a loop driving the connections ids of m. False, with
// nothing added, when the poller refuses a socket.
func (r *reactor) attach(m action.Mux, ids []int, l *muxLoop) bool {
	l.m, l.idx, l.timeout = m, int32(len(r.loops)), m.Timeout()
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
			for _, j := range l.idle {
				r.p.remove(m.Fd(int(j)))
			}
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

// detach takes back l, the last loop attached, before any call.
func (r *reactor) detach(l *muxLoop) {
	for _, i := range l.idle {
		r.p.remove(l.m.Fd(int(i)))
	}
	r.loops = r.loops[:len(r.loops)-1]
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
		if (l.q != nil && l.q.queued.Load() > 0) || !l.m.Stamped() {
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
	if d > 0 {
		r.napping.Store(true)
		if r.lazy() {
			r.p.sleep(d)
			d = 0
		}
		r.napping.Store(false)
	}
	r.events, err = r.p.wait(d, r.events[:0])
	if r.track {
		r.cpu.Store(wokeOn())
	}
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
	// Last, so that the connections freed above (answers, cut calls)
	// take the arrivals queued in any lane before the loop sleeps.
	for _, l := range r.loops {
		if l.q != nil {
			l.fill(r)
		}
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

// accept counts a closed loop's call in flight (an open loop's arrival
// is counted by its queue's admit); release counts a call done.
func (l *muxLoop) accept() {
	l.inflight.Add(1)
	if l.gauge != nil {
		l.gauge.Inc()
	}
}

func (l *muxLoop) release() {
	l.inflight.Add(-1)
	if l.q != nil {
		l.q.done()
	} else if l.gauge != nil {
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
	handed := r.handed
	r.handed = nil
	r.mu.Unlock()
	for _, h := range handed {
		l := r.loops[h.loop]
		i := int(h.slot)
		s := &l.slots[i]
		s.state, s.out = slotIdle, false
		if !h.down && l.m.Fd(i) >= 0 {
			if err := r.p.add(l.m.Fd(i), l.idx, h.slot); err == nil {
				if !l.open {
					// Steered here (see steer): its next call.
					l.again(r, i, time.Now())
					continue
				}
				l.idle = append(l.idle, h.slot)
				continue
			}
			l.m.Cut(i)
		}
		s.state = slotDown
		if !l.open {
			l.again(r, i, time.Now())
			continue
		}
		l.down = append(l.down, h.slot)
	}
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
		l.answerLag = end.Sub(res.End)
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
		if l.steer(r, i, end) {
			return
		}
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
	if s.moveTo > 0 {
		t := int(s.moveTo) - 1
		s.moveTo = 0
		if !r.stopped() && time.Now().Before(r.cutAt) && l.handOver(r, i, l.q.lanes[t]) {
			return
		}
	}
	if a, ok := l.queuedNext(r); ok {
		l.start(r, i, a)
		return
	}
	if s.state == slotDown {
		l.down = append(l.down, int32(i))
	} else {
		l.idle = append(l.idle, int32(i))
	}
}

// queuedNext takes the oldest queued arrival, unless the phase is
// stopped or past its drain (the queue is then emptied by deadlines or
// abort).
func (l *muxLoop) queuedNext(r *reactor) (arrival, bool) {
	if l.q.queued.Load() == 0 || r.stopped() || !time.Now().Before(r.cutAt) {
		return arrival{}, false
	}
	return l.q.pop()
}

// start begins an admitted arrival's call on slot i, connecting it
// first when it is down. An arrival that was queued ended its generator
// lag when it was queued: its wait there is a wait for a connection.
func (l *muxLoop) start(r *reactor, i int, a arrival) {
	l.inflight.Add(1)
	if l.slots[i].state == slotDown {
		l.connect(r, i, a, a.handed)
	} else {
		l.begin(r, i, a, a.handed)
	}
}

// deal gives each of this lane's connections c to lane to(c), unless
// that is this lane (own): those with no call at once, the others when
// their call ends (following). A split deals lane 0's out over the
// loop's k lanes (c mod k), a merge gives another lane's back to lane 0
// (see lane.split, lane.merge).
func (l *muxLoop) deal(r *reactor, own int, to func(c int) int) {
	for c := range l.slots {
		t := to(c)
		s := &l.slots[c]
		switch {
		case t == own || s.state == slotOther:
		case s.state == slotIdle || s.state == slotDown:
			list := &l.idle
			if s.state == slotDown {
				list = &l.down
			}
			if j := slices.Index(*list, int32(c)); j >= 0 {
				*list = slices.Delete(*list, j, j+1)
			}
			if !l.handOver(r, c, l.q.lanes[t]) {
				*list = append(*list, int32(c))
			}
		default:
			s.moveTo = int8(t + 1)
		}
	}
	l.publish()
}

// handOver gives connection i, which has no call and is in neither of
// l's lists, to lane to. False, the connection left to l, when to has
// ended.
func (l *muxLoop) handOver(r *reactor, i int, to *muxLoop) bool {
	s := &l.slots[i]
	down := s.state == slotDown || l.m.Fd(i) < 0
	to.r.mu.Lock()
	defer to.r.mu.Unlock()
	if to.r.closed {
		return false
	}
	if !down {
		r.p.remove(l.m.Fd(i))
	}
	s.state, s.out = slotOther, false
	to.r.handed = append(to.r.handed, handover{to.idx, int32(i), down})
	// Under the lock: a lane that closed its poller has said so first.
	to.r.p.wake()
	return true
}

// steer gives closed loop connection i, whose call just ended at now, to
// the loop whose thread last woke on the CPU that took in the
// connection's answer (socketCPU), when that is another loop's. The
// loop's connections are to this host (see steerable), so that is the
// CPU the connection's server process ran on when it answered, and
// each loop comes to drive the connections whose server processes share
// its core: a query it writes wakes a process on its own core, and the
// answer wakes the loop there, with no interrupt sent across cores (as
// pgbench's thread per connection is woken on its server process's
// core). The kernel balances the server processes over the cores, and
// the connections follow. It tells whether i was given away; the peer
// starts its next call.
func (l *muxLoop) steer(r *reactor, i int, now time.Time) bool {
	if len(l.peers) < 2 || !now.Before(l.end) || r.stopped() {
		return false
	}
	fd := l.m.Fd(i)
	if fd < 0 {
		return false
	}
	c := steerCPU(fd)
	if c < 0 || c == r.cpu.Load() {
		return false
	}
	for _, p := range l.peers {
		if p != l && p.r.cpu.Load() == c {
			return l.handOver(r, i, p)
		}
	}
	return false
}

// steerCPU and wokeOn are steer's readings (variables for the tests).
var (
	steerCPU = socketCPU
	wokeOn   = currentCPU
)

// freeSlot takes a connection with no call: a connected one first.
func (l *muxLoop) freeSlot() (int, bool) {
	if n := len(l.idle); n > 0 {
		i := l.idle[n-1]
		l.idle = l.idle[:n-1]
		return int(i), true
	}
	if n := len(l.down); n > 0 {
		i := l.down[n-1]
		l.down = l.down[:n-1]
		return int(i), true
	}
	return 0, false
}

// fill gives this lane's free connections the oldest queued arrivals,
// then publishes how many are left free, and looks at the queue once
// more after publishing (see muxQueue.wake).
func (l *muxLoop) fill(r *reactor) {
	for pass := 0; pass < 2; pass++ {
		for len(l.idle)+len(l.down) > 0 {
			a, ok := l.queuedNext(r)
			if !ok {
				break
			}
			i, _ := l.freeSlot()
			l.start(r, i, a)
		}
		if l.publish() == 0 || l.q.queued.Load() == 0 {
			return
		}
	}
}

// publish stores how many of this lane's connections have no call, for
// the other lanes (see muxQueue.wake), and returns it.
func (l *muxLoop) publish() int32 {
	free := int32(len(l.idle) + len(l.down))
	l.free.Store(free)
	return free
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
	q := l.q
	if !q.admit() {
		q.dropped(a.intended, a.handed)
		return
	}
	if q.queued.Load() == 0 {
		if i, ok := l.freeSlot(); ok {
			l.start(r, i, a)
			l.publish()
			return
		}
	}
	// Behind the arrivals already queued, or no connection of this
	// lane is free: queued, for the first connection freed in any lane.
	q.push(a)
	l.fill(r)
	if q.queued.Load() > 0 {
		q.wake(l)
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
		if !now.Before(r.cutAt) && l.q != nil {
			for {
				a, ok := l.q.pop()
				if !ok {
					break
				}
				l.q.done()
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
		if l.q != nil {
			for _, ok := l.q.pop(); ok; _, ok = l.q.pop() {
				l.q.done()
			}
		}
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
		if l.inflight.Load() > 0 || (l.q != nil && l.q.queued.Load() > 0) {
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
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
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
	steered := len(l.peers) > 1
	if steered {
		r.track = true
		r.cpu.Store(wokeOn())
	}
	now := time.Now()
	l.idle, l.down = nil, nil
	for i := range l.slots {
		if l.slots[i].state != slotOther {
			l.again(r, i, now)
		}
	}
	// A steered loop runs until the end even with no connection left:
	// a peer may give it some.
	for (r.busy() || (steered && time.Now().Before(l.end))) && !r.stopped() {
		d := maxNap
		if until := time.Until(l.end); until > 0 && until < d {
			d = until
		}
		r.poll(d)
	}
	r.close()
}
