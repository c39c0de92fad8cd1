package loadgen

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/pace"
)

// OpenLoop is one action's open loop: arrivals at its pacer's schedule,
// whether or not earlier calls have returned, each timed from its
// intended start.
type OpenLoop struct {
	// Pacer gives the intended offsets; Rng draws its randomness (nil
	// for a shape that draws none). Fork, if set, returns a generator
	// seeded as Rng was: the schedule can then be replayed by several
	// scheduler threads, each taking its share of the arrivals (see
	// schedule). Without it, a loop with an Rng stays on one thread.
	Pacer pace.Pacer
	Rng   *rand.Rand
	Fork  func() *rand.Rand
	// MaxInflight caps the calls in flight: the workers of the action.
	MaxInflight int
	// Servers, when above zero and below MaxInflight, is how many calls
	// Run can serve at once (its connections): only that many workers
	// start, and arrivals that find them all busy wait queued, in flight
	// and timed from their intended start like calls waiting for a
	// connection, until MaxInflight are in flight.
	Servers int
	Run     Caller
	// Gauge, if set, counts the calls in flight, queued ones included.
	Gauge Gauge
	// NewSink gives each worker its sink, once, when the worker starts.
	NewSink func() Sink
	// Drop is told of every arrival that found no idle worker, at now;
	// Miss of the n arrivals, due from from on, that the generator could
	// not issue in time (see Run). Both are called on the scheduler's
	// goroutine: keep them cheap.
	Drop func(intended, now time.Time)
	Miss func(from time.Time, n int64)
	// Lanes, if set, is told how many scheduler threads hand out the
	// loop's arrivals: 1 when the phase starts, k at a split, 1 again
	// when a merge is done, 0 when the phase ends. Called on lane 0.
	Lanes func(n int)

	pool atomic.Pointer[pool]
	mux  atomic.Pointer[muxQueue]
}

// lanes tells Lanes, if set, that n lanes hand out the loop's arrivals.
func (l *OpenLoop) lanes(n int) {
	if l.Lanes != nil {
		l.Lanes(n)
	}
}

// Inflight returns how many of the loop's calls are in flight, queued
// ones included, and how many workers (or, for an action driven by the
// event loop, connections) serve them (a live read; zero before the loop
// starts).
func (l *OpenLoop) Inflight() (busy, workers int) {
	if q := l.mux.Load(); q != nil {
		return int(q.inflight.Load()), q.conns
	}
	if p := l.pool.Load(); p != nil {
		return p.inflight()
	}
	return 0, 0
}

// ClosedLoop is one action's closed loop: Workers workers that each start
// their next call when the previous one returns (or, for an action whose
// runner is an action.Muxer, Workers of its connections driven by one
// event loop: see mux.go).
type ClosedLoop struct {
	Workers int
	Run     Caller
	NewSink func() Sink
	// Gauge, if set, counts the calls in flight.
	Gauge Gauge
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
// goroutine (and, for the actions driven by the event loop, one more per
// core: see schedule), every closed loop on workers of its own. It returns when
// every call it started has finished, by Start+Duration+Drain whatever the
// rate. Arrivals due before Start+Duration are still handed out a little
// after it (a grace of half the drain, at most 1 s: a generator a few
// microseconds or a descheduling late is not behind its schedule); those
// still due then are missed, counted by the schedule's expectation (walking
// them one by one could take longer than the phase did). Calls that fail
// because ctx was cancelled are not recorded (pbenchd stopped them); calls
// cut by the drain deadline are, as ClassDrainCut.
func Run(ctx context.Context, ph Phase) {
	end := ph.Start.Add(ph.Duration)
	callCtx, cancel := context.WithDeadline(ctx, end.Add(ph.Drain))
	defer cancel()
	var wg sync.WaitGroup
	for _, cl := range ph.Closed {
		if closedMuxRun(ctx, callCtx, ph, cl, &wg) {
			continue
		}
		for range max(cl.Workers, 1) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				closedWorker(ctx, callCtx, end, cl.Run, cl.NewSink(), cl.Gauge)
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
func closedWorker(ctx, callCtx context.Context, end time.Time, run Caller, sink Sink, gauge Gauge) {
	run, release := bind(run)
	defer release()
	var backoff time.Duration
	var y yielder
	for ctx.Err() == nil {
		begun := time.Now()
		if !begun.Before(end) {
			return
		}
		if gauge != nil {
			gauge.Inc()
		}
		res := run.Call(callCtx)
		fin := time.Now()
		if gauge != nil {
			gauge.Dec()
		}
		y.maybe(fin)
		if (ctx.Err() != nil && res.Err != nil) || res.Censored {
			return // stopped by pbenchd, or censored: no event
		}
		o := outcome(begun, begun, begun, fin, res, false)
		if res.Err != nil && callCtx.Err() != nil {
			// Cut off at the end of the drain: a call the worker made and
			// the target did not serve in time.
			o.ErrClass = ClassDrainCut
			sink.Record(o)
			return
		}
		sink.Record(o)
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

// yieldEvery is how long a worker runs before it yields its P.
const yieldEvery = 5 * time.Millisecond

// yielder makes a worker yield now and then. A worker whose calls block in
// system calls on its own thread (a raw connection: see action) never
// passes through the Go scheduler, so after 10 ms the runtime preempts it
// with a signal, an order of magnitude dearer than yielding (a third of a
// closed loop's throughput, measured).
type yielder struct{ last time.Time }

func (y *yielder) maybe(now time.Time) {
	if now.Sub(y.last) >= yieldEvery {
		if !y.last.IsZero() {
			runtime.Gosched()
		}
		y.last = now
	}
}

// due is an open loop's next arrival: its offset from the phase start.
type due struct {
	at   time.Duration
	loop int
}

// closedMux runs a closed loop whose runner can be driven by event loops
// on reactors of its own, one per core at most, its connections dealt
// out over them (a reactor's thread then shares its core with fewer
// servers' processes; on one thread, the servers would wait for it), and
// then steered between them (see muxLoop.steer). It returns false,
// having started nothing, when the runner cannot be.
func closedMuxRun(ctx, callCtx context.Context, ph Phase, cl *ClosedLoop, wg *sync.WaitGroup) bool {
	m, ok := muxOf(cl.Run)
	if !ok {
		return false
	}
	end := ph.Start.Add(ph.Duration)
	n := min(max(cl.Workers, 1), m.Slots())
	k := min(closedLoops(), n)
	var rs []*reactor
	var ls []*muxLoop
	for t := range k {
		var ids []int
		for i := t; i < n; i += k {
			ids = append(ids, i)
		}
		r := newReactor(ctx, callCtx, end.Add(ph.Drain))
		l := &muxLoop{gauge: cl.Gauge, end: end, r: r}
		if r == nil || !r.attach(m, ids, l) {
			if r != nil {
				r.close()
			}
			for _, r := range rs {
				r.close()
			}
			m.Release()
			return false
		}
		rs, ls = append(rs, r), append(ls, l)
	}
	if steerable(m, n) {
		for _, l := range ls {
			l.peers = ls
		}
	}
	var all sync.WaitGroup
	for t := range rs {
		ls[t].sink = cl.NewSink()
		all.Go(func() { closedMux(rs[t], ls[t]) })
	}
	wg.Go(func() {
		all.Wait()
		m.Release()
	})
	return true
}

// steerable tells whether a closed loop's connections (the first n of
// m) may be steered between its event loops (see muxLoop.steer): when
// they are connected to this host. Where the server is elsewhere, the
// core that takes in an answer is the network card's receive queue's,
// and a card with one queue would gather every connection on one loop;
// that is not measured, so such connections stay where they are dealt.
func steerable(m action.Mux, n int) bool {
	some := false
	for i := range n {
		fd := m.Fd(i)
		if fd < 0 {
			continue
		}
		if !sameHost(fd) {
			return false
		}
		some = true
	}
	return some
}

// loopState is a lane's cursor in one loop's schedule: its arrivals go
// to its workers (p) or, for an action driven by the event loop, to its
// connections (m). A loop dealt out over lanes lanes is replayed whole by
// each of them (the same pacer, drawing from generators seeded alike),
// and lane takes arrivals lane, lane+lanes, lane+2·lanes, …
type loopState struct {
	l           *OpenLoop
	p           *pool
	m           *muxLoop
	rng         *rand.Rand
	n           uint64
	prev        time.Duration
	lane, lanes uint64
	end         time.Duration
	// planned is how many lanes the loop may be split over (lane 0 only;
	// see lane.split); replay is how many offsets a lane started by a
	// split draws, on its own thread, before its share begins.
	planned, replay uint64
	// merging: lane 0 takes every arrival from mergeAt on (see
	// lane.merge), and the loop is on one lane again once it draws one.
	mergeAt time.Duration
	merging bool
}

// draw draws the loop's next offset.
func (s *loopState) draw() time.Duration {
	off := s.l.Pacer.Next(s.n, s.prev, s.rng)
	s.n++
	s.prev = off
	return off
}

// next draws the offset of the lane's next arrival (at or past end when
// the schedule ends first).
func (s *loopState) next() time.Duration {
	for {
		n := s.n
		off := s.draw()
		if s.merging && off >= s.mergeAt {
			s.merging, s.lanes = false, 1
			s.l.lanes(1)
		}
		if s.lanes <= 1 || n%s.lanes == s.lane || off >= s.end {
			return off
		}
	}
}

// lane is one scheduler thread: its share of the open loops' arrivals,
// the connections it drives (on r) and the workers it hands arrivals to
// (lane 0 only).
type lane struct {
	loops   []loopState // by loop; zero for the loops not in this lane
	h       arrivals
	r       *reactor
	workers bool
	// Lane 0 of a phase whose loops may be split: the other lanes, how
	// to start one, and since when it has been behind (see split).
	others  []*lane
	start   func(*lane)
	started bool
	behind  time.Time
	// Lane 0: whether its loops are split or merging back (see merge),
	// when it last split, how many merges the phase has had, and what
	// mergeable reads of the lanes' threads.
	state   laneState
	splitAt time.Time
	merges  int
	look    laneLook
	// other: a lane a split starts. Its thread, for lane 0's look, and
	// what lane 0 posts it once it runs (under mu): its loops again, for
	// a split after a merge, or the end of the phase (quit); parked: it
	// has handed out its last arrival (a merge, or its schedule's end).
	other  bool
	tid    atomic.Int32
	mu     sync.Mutex
	post   []loopState
	quit   bool
	parked bool
}

// laneState is where lane 0's loops stand: on lane 0 alone, split over
// their lanes, or merging back (the other lanes hand out their last
// arrivals before the merge and give their connections back).
type laneState uint8

const (
	laneOne laneState = iota
	laneSplit
	laneMerging
)

// maxLanes is how many lanes a phase may have: one per core. laneRate is
// the arrivals per second above which a loop may be dealt out over one
// more lane, when its first falls behind (see lane.split). Both are
// variables for the tests.
//
// Lanes cost CPU: each wakes for its own arrivals, and on a machine whose
// cores sleep whenever they can, more of the wake-ups find a core asleep.
// Measured on 2 cores (SELECT 1 over 8 connections; README): at 10,000/s
// two lanes spend 42–57 µs of client CPU per call against one lane's 36;
// at 20,000/s 31–32 against 27, for a p95 of 1 ms against 2–3; at
// 30,000/s 20 against 24 with the same p95 on a busy machine, and 20
// against 24 with a p95 of 0.18 ms against 0.28 on a quiet one; at
// 40,000/s one lane falls behind its schedule on a busy machine (its
// thread issues every call and reads every answer, and the servers'
// processes take its core) where two keep up; on a quiet machine one
// lane keeps up at 40,000/s and costs 16.2 µs against two lanes' 19.0,
// the server's processes preempting each of two lanes on its own core
// (hence the split only when behind).
var (
	maxLanes = runtime.NumCPU
	laneRate = 30000.0
)

// closedLoops is how many event loops a closed loop may run on: one per
// core (a variable for the tests).
var closedLoops = runtime.NumCPU

// laneCount is how many lanes loop l (driven by the event loop over
// slots connections) is dealt out over: one per laneRate of its mean rate over the phase, at
// most one per core and per connection, and one when its schedule cannot
// be replayed.
func laneCount(ph Phase, l *OpenLoop, slots int) int {
	if !splittable(l) {
		return 1
	}
	n, _ := PlannedLanes(pace.MeanRate(l.Pacer, 0, ph.Duration), l.MaxInflight, slots)
	return n
}

// PlannedLanes is how many lanes an open loop driven by the event loop,
// at a mean rate of rate/s with a cap of capacity calls in flight over
// slots connections, is dealt out over on this machine (for `pbenchd
// check`), and the rate per lane that adds one.
func PlannedLanes(rate float64, capacity, slots int) (int, float64) {
	want := int(math.Ceil(rate / laneRate))
	return max(1, min(want, maxLanes(), max(capacity, 1), slots)), laneRate
}

// splittable tells whether l's schedule can be replayed by several lanes.
func splittable(l *OpenLoop) bool { return l.Rng == nil || l.Fork != nil }

// schedule paces every open loop of the phase from heaps of next
// arrivals: it sleeps until the earliest arrival (see sleeper), then
// hands every arrival that is due to an idle worker, or a connection, of
// its action. An action driven by the event loop at a high rate may have
// its connections dealt out over lanes, one per core at most (each lane
// a thread of its own, with a reactor of its own, taking every k-th
// arrival of the loop's schedule): a single thread issuing every call
// and reading every answer falls behind once the servers' processes take
// its core (see laneRate). It starts on lane 0, the calling goroutine,
// and splits only when lane 0 falls behind (see lane.split): where one
// thread keeps up, one costs less. Lane 0 also drives the loops run by
// workers. Then it ends the workers and waits for them.
func schedule(ctx, callCtx context.Context, ph Phase) {
	end := ph.Start.Add(ph.Duration)
	late := end.Add(min(ph.Drain/2, time.Second))
	muxes := make([]action.Mux, len(ph.Open))
	k := 0
	for i, l := range ph.Open {
		if m, ok := muxOf(l.Run); ok {
			muxes[i] = m
			k = max(k, laneCount(ph, l, m.Slots()))
		}
	}
	lanes := []*lane{{loops: make([]loopState, len(ph.Open))}}
	for t := range k {
		if t > 0 {
			lanes = append(lanes, &lane{loops: make([]loopState, len(ph.Open))})
		}
		if lanes[t].r = newReactor(ctx, callCtx, end.Add(ph.Drain)); lanes[t].r == nil {
			// No event loop here: every loop runs on workers.
			for _, ln := range lanes {
				if ln.r != nil {
					ln.r.close()
				}
			}
			lanes = lanes[:1]
			lanes[0].r = nil
			break
		}
	}
	var attached []action.Mux
	var pools []*pool
	for i, l := range ph.Open {
		if m := muxes[i]; m != nil {
			if lanes[0].r != nil && attachLanes(ph, lanes, i, l, m) {
				attached = append(attached, m)
				continue
			}
			m.Release()
		}
		p := &pool{
			run: l.Run, callCtx: callCtx, stopCtx: ctx, newSink: l.NewSink,
			max: max(l.MaxInflight, 1), dropped: l.Drop, late: late, gauge: l.Gauge,
		}
		p.workCap = p.max
		if l.Servers > 0 && l.Servers < p.max {
			p.workCap = l.Servers
			p.q = &queue{ring: make([]arrival, p.max-l.Servers)}
		}
		l.pool.Store(p)
		pools = append(pools, p)
		ln := lanes[0]
		ln.workers = true
		ln.loops[i] = loopState{l: l, p: p, rng: l.Rng, end: ph.Duration}
		if off := ln.loops[i].next(); off < ph.Duration {
			ln.h.push(due{off, i})
		}
	}
	var wg sync.WaitGroup
	lanes[0].others = lanes[1:]
	for _, ln := range lanes[1:] {
		ln.other = true
	}
	lanes[0].start = func(ln *lane) {
		ln.started = true
		wg.Go(func() { ln.run(ctx, ph, late) })
	}
	for _, l := range ph.Open {
		l.lanes(1)
	}
	lanes[0].run(ctx, ph, late)
	wg.Wait()
	for _, l := range ph.Open {
		l.lanes(0)
	}
	for _, ln := range lanes[1:] {
		if !ln.started {
			ln.r.close()
		}
	}
	for _, m := range attached {
		m.Release()
	}
	for _, p := range pools {
		p.close()
	}
}

// attachLanes gives loop i's connections (at most its cap on calls in
// flight) to lane 0 and starts its schedule there; the other lanes it
// may be split over (see laneCount) get a loop with no connection yet,
// which a split fills (see lane.split). False, with nothing attached,
// when a poller refuses a socket.
func attachLanes(ph Phase, lanes []*lane, i int, l *OpenLoop, m action.Mux) bool {
	capIn := max(l.MaxInflight, 1)
	n := min(capIn, m.Slots())
	k := min(len(lanes), laneCount(ph, l, m.Slots()))
	q := newMuxQueue(capIn, n, l.Gauge, l.Drop)
	for t := range k {
		var ids []int
		if t == 0 {
			for c := range n {
				ids = append(ids, c)
			}
		}
		ml := &muxLoop{open: true, q: q, r: lanes[t].r}
		if !lanes[t].r.attach(m, ids, ml) {
			for _, done := range q.lanes {
				done.r.detach(done)
			}
			return false
		}
		ml.sink = l.NewSink()
		ml.publish()
		q.lanes = append(q.lanes, ml)
	}
	l.mux.Store(q)
	rng := l.Rng
	if k > 1 && l.Fork != nil {
		rng = l.Fork() // as the lanes of a split will draw
	}
	ln := lanes[0]
	ln.loops[i] = loopState{l: l, m: q.lanes[0], rng: rng, lanes: 1, planned: uint64(k), end: ph.Duration}
	if off := ln.loops[i].next(); off < ph.Duration {
		ln.h.push(due{off, i})
	}
	return true
}

// Lane 0 is behind when it hands out an arrival more than splitLag after
// its time, took the last answer more than splitLag after it reached the
// socket (the kernel's stamp), or finds more arrivals queued than the
// loop has connections; behind for splitAfter in a row (every arrival
// meanwhile), it splits its loops over their lanes. A queue counts too:
// on a machine too busy for one lane (two CPU hogs beside a loop at
// 40,000/s, on 2 cores) the lane hands out arrivals and takes answers on
// time while its queue grows to hundreds of milliseconds, and two lanes
// serve it in a few (README). A split is for the rest of the phase, so a
// burst (20 ms of queue, or 50 ms of a stalled thread, split quiet runs
// at 40,000/s) must not be taken for that: the window is 200 ms.
// Variables for the tests (a negative splitLag: every arrival is
// behind).
var (
	splitLag   = time.Millisecond
	splitAfter = 200 * time.Millisecond
)

// lagging tells whether lane 0, handing out an arrival of s intended at
// intended at handed, is behind, and whether it has been for
// splitAfter.
func (ln *lane) lagging(s *loopState, intended, handed time.Time) bool {
	if ln.start == nil || s.m == nil || s.planned <= s.lanes {
		return false
	}
	if !s.behind(intended, handed) {
		ln.behind = time.Time{}
		return false
	}
	if ln.behind.IsZero() {
		ln.behind = handed
	}
	return handed.Sub(ln.behind) >= splitAfter && ln.settled()
}

// behind tells whether an arrival of s intended at intended and handed
// out at handed finds its lane behind: handed more than splitLag late,
// the last answer taken more than splitLag after it came, or more
// arrivals queued than the loop has connections.
func (s *loopState) behind(intended, handed time.Time) bool {
	return handed.Sub(intended) > splitLag || s.m.answerLag > splitLag || int(s.m.q.queued.Load()) > s.m.q.conns
}

// handBack gives every connection of s on this lane (another than lane
// 0) back to lane 0 (see merge).
func (s *loopState) handBack(r *reactor) {
	s.m.deal(r, int(s.lane), func(int) int { return 0 })
}

// settled tells whether every lane started has parked since the last
// merge (a lane still handing out arrivals before the merge's point
// would take arrivals a new split deals out anew).
func (ln *lane) settled() bool {
	for _, nl := range ln.others {
		if nl.started {
			nl.mu.Lock()
			parked := nl.parked
			nl.mu.Unlock()
			if !parked {
				return false
			}
		}
	}
	return true
}

// split deals lane 0's loops out over the lanes planned for them (see
// laneCount), and starts those lanes (or, after a merge, posts them their
// loops again). From the next arrival each lane takes every k-th arrival
// of a loop's schedule, as if it had been dealt out from the start: a
// lane started now draws the schedule again up to there (replay), from a
// generator seeded as lane 0's; a lane that ran before goes on drawing
// from where its last arrival left it. Connection c goes to lane c mod
// k: at once when it has no call, else when its call ends (see
// muxLoop.following). Lane 0 locks its thread while split, so that
// mergeable can read its load.
func (ln *lane) split(now time.Time) {
	start := ln.start
	ln.behind = time.Time{}
	posts := make([][]loopState, len(ln.others))
	for i := range ln.loops {
		s := &ln.loops[i]
		if s.m == nil || s.planned <= 1 || s.lanes > 1 {
			continue
		}
		k := s.planned
		s.m.q.mergeAt.Store(never)
		for t := uint64(1); t < k; t++ {
			var rng *rand.Rand // a shape that draws nothing
			if s.l.Fork != nil {
				rng = s.l.Fork()
			}
			nl := ln.others[t-1]
			ps := loopState{l: s.l, m: s.m.q.lanes[t], rng: rng, lane: t, lanes: k, end: s.end, replay: s.n}
			if !nl.started {
				nl.loops[i] = ps
				continue
			}
			if posts[t-1] == nil {
				posts[t-1] = make([]loopState, len(ln.loops))
			}
			posts[t-1][i] = ps
		}
		s.lanes = k
		s.l.lanes(int(k))
		s.m.deal(ln.r, 0, func(c int) int { return c % int(k) })
	}
	for t, nl := range ln.others {
		switch {
		case posts[t] != nil:
			nl.mu.Lock()
			nl.post, nl.parked = posts[t], false
			nl.mu.Unlock()
			nl.r.wakeUp()
		case !nl.started && slices.ContainsFunc(nl.loops, func(s loopState) bool { return s.l != nil }):
			start(nl)
		}
	}
	ln.state, ln.splitAt, ln.look = laneSplit, now, laneLook{}
	if ln.r != nil && !ln.r.p.locked {
		runtime.LockOSThread()
		ln.r.p.setLocked(true)
	}
	ln.tid.Store(threadID())
}

// merge takes lane 0's loops back from their lanes: each lane hands out
// its arrivals due before the merge's point, a millisecond from now and
// past lane 0's next arrival (so that lane 0 has skipped none after it),
// then gives its connections back, at once when they have no call, else
// when the call ends; lane 0 takes every arrival from that point on. The
// arrivals issued are still exactly those one thread would issue.
func (ln *lane) merge(now, start time.Time) {
	for i := range ln.loops {
		s := &ln.loops[i]
		if s.m == nil || s.lanes <= 1 {
			continue
		}
		at := max(now.Sub(start)+mergeMargin, s.prev+1)
		s.mergeAt, s.merging = at, true
		s.m.q.mergeAt.Store(int64(at))
		for c := range s.m.slots {
			s.m.slots[c].moveTo = 0 // a call the split dealt out stays
		}
	}
	ln.state, ln.look = laneMerging, laneLook{}
	ln.merges++
}

// merged ends a merge once every loop is on lane 0 alone again.
func (ln *lane) merged() {
	for i := range ln.loops {
		if ln.loops[i].lanes > 1 {
			return
		}
	}
	ln.state, ln.behind = laneOne, time.Time{}
	if ln.r != nil && ln.r.p.locked {
		ln.r.p.setLocked(false)
		runtime.UnlockOSThread()
	}
}

// Lanes merge back when, looked at every mergeLook for mergeAfter in a
// row (doubled at each merge of the phase, up to mergeMax), lane 0 handed
// out at most mergeLate of its arrivals behind (by the measures of
// lagging: at 15,000/s on 2 lanes, after the CPU hogs that split them
// had stopped, 0–17 % of lane 0's arrivals were in a look, mostly under
// 5 %) and the lanes' threads ran for less than mergeRun of a
// core between them while the machine had at least mergeIdle of a core
// idle: one lane could then carry them, on a core of its own (and one
// lane costs less than two). The lanes' time waiting for a core is no
// measure here: on a virtual machine a thread woken on an idle core
// waits for the core to wake too. Lanes at 15,000/s (8 connections, 2
// cores, laneRate lowered to split them) waited 0.6–1.0 of a core
// between them after the CPU hogs that split them had stopped, while
// they ran 0.5–0.8 and the machine had 0.4–0.6 idle; with three hogs
// beside them it had none idle. mergeMargin is how far ahead of now a
// merge's point is: the other lanes hand out nothing past it, and do not
// reach it before they see it. mergeWhen is the rule, and threadCPU and
// idleCPU its readings (variables for the tests).
var (
	mergeLook   = 250 * time.Millisecond
	mergeRun    = 0.8
	mergeIdle   = 0.25
	mergeLate   = 0.05
	mergeAfter  = time.Second
	mergeMax    = time.Minute
	mergeMargin = time.Millisecond
	mergeWhen   = (*lane).mergeable
	threadCPU   = threadRun
	idleCPU     = machineIdle
)

// never is a merge point no arrival reaches.
const never = math.MaxInt64

// laneLook is lane 0's last look at its lanes' threads and the machine.
type laneLook struct {
	at          time.Time
	ok          bool
	run         time.Duration // the lanes' CPU time, summed
	idle, total int64         // the machine's idle and all time, in ticks
	quiet       time.Time     // since when the lanes could have merged
	// lane 0's arrivals since, and those behind (by lagging's measures)
	arrivals, late int
}

// mergeable tells whether lane 0, handing out an arrival of s intended at
// intended at handed, may merge its lanes back (see mergeRun).
func (ln *lane) mergeable(s *loopState, intended, handed time.Time) bool {
	ln.look.arrivals++
	if s.behind(intended, handed) {
		ln.look.late++
	}
	if handed.Sub(ln.look.at) < mergeLook {
		return false
	}
	prev := ln.look
	ln.look = laneLook{at: handed, quiet: prev.quiet}
	run, ok := threadCPU(ln.tid.Load())
	for _, l := range ln.others {
		if l.started && ok {
			var r time.Duration
			r, ok = threadCPU(l.tid.Load())
			run += r
		}
	}
	if !ok {
		return false
	}
	ln.look.run = run
	idle, total, ok := idleCPU()
	if !ok {
		return false
	}
	ln.look.idle, ln.look.total, ln.look.ok = idle, total, true
	wall := handed.Sub(prev.at)
	if !prev.ok || total <= prev.total || wall <= 0 {
		return false
	}
	used := float64(ln.look.run-prev.run) / float64(wall)
	idleCores := float64(idle-prev.idle) / float64(total-prev.total) * float64(runtime.NumCPU())
	if used >= mergeRun || idleCores < mergeIdle || float64(prev.late) > mergeLate*float64(prev.arrivals) {
		ln.look.quiet = time.Time{}
		return false
	}
	if ln.look.quiet.IsZero() {
		ln.look.quiet = prev.at
	}
	return handed.Sub(ln.look.quiet) >= min(mergeAfter<<min(ln.merges, 16), mergeMax)
}

// run hands out the lane's arrivals until the end of their schedules (or
// the hard deadline, late), then waits for its connections' calls. A lane
// a split started parks when it has handed out its last arrival (a merge,
// or the end of its schedule) until lane 0 posts it its loops again or
// ends.
func (ln *lane) run(ctx context.Context, ph Phase, late time.Time) {
	r := ln.r
	sl := newSleeper()
	// Lane 0 is not locked to a thread, even when it runs nothing but
	// the event loop (until it splits: see split): it yields every few
	// milliseconds (see reactor.y), and a locked goroutine's yield hands
	// its P to another thread and back, two futex wake-ups where an
	// unlocked one has at most one. Measured at 2,000/s (SELECT 1, 8
	// connections, runs alternated): 45.7–47.9 µs of client CPU per call
	// against 48.8–49.2 locked, futex calls 378/s against 990/s; no
	// difference at 10,000 and 40,000/s. The lanes a split starts are:
	// unlocked, a lane woken for a queued arrival could wait for a P
	// while the others spin to their next arrival (seen with 3 lanes on 2
	// cores under the race detector: arrivals queued to the cap beside a
	// lane's free connection).
	sl.useReactor(r, ln.workers)
	if r != nil && ln.other {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		r.p.setLocked(true)
		ln.tid.Store(threadID())
	}
	for i := range ln.loops {
		ln.resume(i, ph)
	}
	for {
		ln.hand(ctx, ph, late, sl)
		if !ln.other || !ln.park(ctx, ph) {
			break
		}
	}
	if !ln.other {
		// The phase's schedule is over: so are the parked lanes.
		for _, nl := range ln.others {
			if nl.started {
				nl.mu.Lock()
				nl.quit = true
				nl.mu.Unlock()
				nl.r.wakeUp()
			}
		}
	}
	if r != nil {
		r.eager = true // the phase ends when its last answer comes
		for r.busy() && !r.stopped() {
			r.poll(maxNap)
		}
		r.close()
		if r.p.locked && !ln.other {
			r.p.setLocked(false)
			runtime.UnlockOSThread()
		}
	}
}

// resume puts loop i's next arrival in the lane's heap: for a lane a
// split gave the loop, after drawing the schedule up to the split.
func (ln *lane) resume(i int, ph Phase) {
	s := &ln.loops[i]
	if s.l == nil || s.replay == 0 {
		return
	}
	for s.n < s.replay {
		s.draw()
	}
	s.replay = 0
	if off := s.next(); off < ph.Duration {
		ln.h.push(due{off, i})
	}
}

// hand hands out the lane's arrivals as they come due.
func (ln *lane) hand(ctx context.Context, ph Phase, late time.Time, sl *sleeper) {
	r := ln.r
	h := &ln.h
	for len(*h) > 0 && ctx.Err() == nil {
		sl.until(ctx, ph.Start.Add((*h)[0].at))
		// Hand out every arrival now due (several, when the thread woke
		// late or arrivals are closer than a wake-up).
		for len(*h) > 0 {
			handed := time.Now()
			if ctx.Err() != nil {
				*h = (*h)[:0]
				break
			}
			if !handed.Before(late) {
				// The hard deadline: the arrivals left, due before the
				// end of the phase, were never issued.
				missed(ph, ln.loops, *h)
				*h = (*h)[:0]
				break
			}
			top := (*h)[0]
			intended := ph.Start.Add(top.at)
			if intended.After(handed) {
				break
			}
			s := &ln.loops[top.loop]
			if s.m != nil {
				if ln.other && int64(top.at) >= s.m.q.mergeAt.Load() {
					// Merged back into lane 0 from this arrival on
					// (see merge): its connections go back there.
					s.handBack(r)
					h.pop()
					continue
				}
				switch ln.state {
				case laneOne:
					if ln.lagging(s, intended, handed) {
						ln.split(handed)
					}
				case laneSplit:
					if mergeWhen(ln, s, intended, handed) {
						ln.merge(handed, ph.Start)
					}
				}
				s.m.dispatch(r, arrival{intended: intended, handed: handed})
			} else {
				s.p.dispatch(arrival{intended: intended, handed: handed})
			}
			if off := s.next(); off < ph.Duration {
				h.replaceTop(due{off, top.loop})
			} else {
				h.pop()
			}
			if ln.state == laneMerging {
				ln.merged()
			}
		}
	}
}

// park waits, once a lane a split started has handed out its last
// arrival, for lane 0 to post it its loops again (true) or to end
// (false), taking the answers to its calls in flight meanwhile and
// giving their connections back to lane 0 as they come.
func (ln *lane) park(ctx context.Context, ph Phase) bool {
	r := ln.r
	r.eager = true
	defer func() { r.eager = false }()
	for ctx.Err() == nil {
		ln.mu.Lock()
		post, quit := ln.post, ln.quit
		ln.post = nil
		if post == nil && !quit {
			ln.parked = true
		}
		ln.mu.Unlock()
		if quit {
			return false
		}
		if post == nil {
			// A connection lane 0 gave this lane just before the merge
			// may have come since: it goes back too. (A split resets
			// mergeAt before it gives any.)
			for i := range ln.loops {
				if s := &ln.loops[i]; s.m != nil && s.m.q.mergeAt.Load() != never {
					s.handBack(r)
				}
			}
			r.poll(maxNap)
			continue
		}
		for i, ps := range post {
			if ps.l == nil {
				continue
			}
			s := &ln.loops[i]
			if s.l != nil && s.n <= ps.replay {
				// Its generator is where its last arrival left it.
				s.lane, s.lanes, s.replay = ps.lane, ps.lanes, ps.replay
			} else {
				*s = ps
			}
			// A call the merge sent back to lane 0 when it ends, on a
			// connection this split deals here, stays.
			for c := range s.m.slots {
				if sl := &s.m.slots[c]; sl.moveTo == 1 && uint64(c)%s.lanes == s.lane {
					sl.moveTo = 0
				}
			}
			ln.resume(i, ph)
		}
		return true
	}
	return false
}

// missed counts, for each loop still in the heap, its arrival due and
// the rest of its schedule by expectation (a lane's share of it).
func missed(ph Phase, loops []loopState, h arrivals) {
	for _, d := range h {
		s := &loops[d.loop]
		n := 1 + math.Round(pace.ExpectedArrivals(s.l.Pacer, d.at, ph.Duration))
		if s.lanes > 1 {
			n = max(1, math.Round(n/float64(s.lanes)))
		}
		s.l.Miss(ph.Start.Add(d.at), int64(n))
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
