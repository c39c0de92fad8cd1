package loadgen

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/target"
)

// Caller makes one call; action.Runner is one. Call is safe for as many
// goroutines at once as the loop has workers.
type Caller = action.Caller

// bind gives a worker its own caller: run's Bind, when it is a Binder.
func bind(run Caller) (Caller, func()) {
	if b, ok := run.(action.Binder); ok {
		return b.Bind()
	}
	return run, func() {}
}

// arrival is one arrival handed to a worker.
type arrival struct {
	intended, handed time.Time
}

// Gauge is told of every call in flight: Inc when an arrival is accepted
// (handed to a worker or queued), Dec when its call is done.
// prometheus.Gauge is one.
type Gauge interface {
	Inc()
	Dec()
}

// queue is the arrivals of a pool whose calls can only be served so many
// at a time (its servers), waiting for a worker: a FIFO ring of arrivals
// instead of goroutines parked on a connection, so a call waiting costs
// 48 bytes, not a goroutine and its stack. It is taken only by a pool
// that has servers, and then only once all its workers are started.
type queue struct {
	mu         sync.Mutex
	ring       []arrival
	head, size int
}

func (q *queue) put(a arrival) bool {
	if q.size == len(q.ring) {
		return false
	}
	q.ring[(q.head+q.size)%len(q.ring)] = a
	q.size++
	return true
}

func (q *queue) take() (arrival, bool) {
	if q.size == 0 {
		return arrival{}, false
	}
	a := q.ring[q.head]
	q.head = (q.head + 1) % len(q.ring)
	q.size--
	return a, true
}

// pool is the workers of one open-loop action. Workers are started on
// demand, up to max, and live until the phase ends; an idle worker waits
// on a channel of its own. The scheduler's goroutine is the only one that
// takes workers from the idle stack and the only one that starts them;
// workers put themselves back when their call is done.
//
// A pool whose runner can serve only servers calls at once (fewer than
// max) starts only servers workers; the arrivals that find them all busy
// wait in the queue, up to max in flight in all, and a worker done with
// a call takes the oldest before it goes idle. A worker goes idle, and
// the scheduler finds none idle and queues, both under the queue's lock,
// so no arrival is left queued while a worker sleeps.
type pool struct {
	run     Caller
	callCtx context.Context // deadline: the phase's end plus drain
	stopCtx context.Context // cancelled by a stop
	newSink func() Sink
	max     int
	workCap int    // workers started at most: max, or servers
	q       *queue // nil: no servers limit, nothing is queued
	gauge   Gauge
	late    time.Time // no call is handed out at or after it
	idle    atomic.Pointer[worker]
	wg      sync.WaitGroup
	dropped func(intended, now time.Time)

	// workers are appended by the scheduler, under mu only for live
	// readers (Inflight): it is taken once per worker started, never per
	// call.
	mu      sync.Mutex
	workers []*worker
}

// worker is a long-lived goroutine making one call at a time.
type worker struct {
	p    *pool
	run  Caller  // the pool's, bound to the worker (see bind)
	next *worker // in the idle stack
	wake chan arrival
	sink Sink
	busy atomic.Bool
}

// dispatch hands an arrival to an idle worker, starts one if there is
// none and the cap allows, or drops the arrival. Before it drops, it
// yields once: workers whose calls are done but who have not yet had a
// thread to put themselves back (after the generator was descheduled, or
// on one core) are not the target's fault. Scheduler only.
func (p *pool) dispatch(a arrival) bool {
	w := p.pop()
	if w == nil && len(p.workers) >= p.workCap {
		if p.q != nil && p.enqueue(a) {
			return true
		}
		runtime.Gosched()
		if a.handed = time.Now(); !a.handed.Before(p.late) {
			p.dropped(a.intended, a.handed) // the phase ended meanwhile
			return false
		}
		w = p.pop()
		if w == nil && p.q != nil && p.enqueue(a) {
			return true
		}
	}
	if w != nil {
		p.accepted()
		w.busy.Store(true)
		w.wake <- a // never blocks: an idle worker's channel is empty
		return true
	}
	if len(p.workers) >= p.workCap {
		p.dropped(a.intended, a.handed)
		return false
	}
	p.accepted()
	w = &worker{p: p, wake: make(chan arrival, 1), sink: p.newSink()}
	w.busy.Store(true)
	p.mu.Lock()
	p.workers = append(p.workers, w)
	p.mu.Unlock()
	p.wg.Add(1)
	go w.loop(a)
	return true
}

// enqueue queues an arrival that found every worker busy, or hands it to
// a worker that went idle meanwhile; false when the cap is reached.
// Scheduler only.
func (p *pool) enqueue(a arrival) bool {
	p.q.mu.Lock()
	if w := p.pop(); w != nil {
		p.q.mu.Unlock()
		p.accepted()
		w.busy.Store(true)
		w.wake <- a
		return true
	}
	ok := p.workCap+p.q.size < p.max && p.q.put(a)
	p.q.mu.Unlock()
	if ok {
		p.accepted()
	}
	return ok
}

func (p *pool) accepted() {
	if p.gauge != nil {
		p.gauge.Inc()
	}
}

// pop takes a worker from the idle stack (Treiber's stack; with a single
// popper no ABA can occur: an entry leaves the stack only here).
func (p *pool) pop() *worker {
	for {
		w := p.idle.Load()
		if w == nil {
			return nil
		}
		if p.idle.CompareAndSwap(w, w.next) {
			w.next = nil
			return w
		}
	}
}

// push puts an idle worker on the stack. Any worker.
func (p *pool) push(w *worker) {
	for {
		top := p.idle.Load()
		w.next = top
		if p.idle.CompareAndSwap(top, w) {
			return
		}
	}
}

// close ends every worker once its call is done and waits for them.
// Scheduler only, after the last dispatch.
func (p *pool) close() {
	for _, w := range p.workers {
		close(w.wake)
	}
	p.wg.Wait()
}

// inflight counts the calls in flight (a live read: a sum of flags, and
// the arrivals queued) and the workers started.
func (p *pool) inflight() (busy, started int) {
	p.mu.Lock()
	workers := p.workers
	p.mu.Unlock()
	n := 0
	for _, w := range workers {
		if w.busy.Load() {
			n++
		}
	}
	if p.q != nil {
		p.q.mu.Lock()
		n += p.q.size
		p.q.mu.Unlock()
	}
	return n, len(workers)
}

func (w *worker) loop(a arrival) {
	defer w.p.wg.Done()
	run, release := bind(w.p.run)
	defer release()
	w.run = run
	queued := false
	var y yielder
	for {
		w.call(a, queued)
		if queued {
			// Taking queued arrivals one after another never parks.
			y.maybe(time.Now())
		}
		if a, queued = w.following(); queued {
			continue
		}
		var ok bool
		if a, ok = <-w.wake; !ok {
			return
		}
	}
}

// following takes the oldest queued arrival, if any; else the worker goes idle.
func (w *worker) following() (arrival, bool) {
	p := w.p
	if p.q == nil {
		w.busy.Store(false)
		p.push(w)
		return arrival{}, false
	}
	p.q.mu.Lock()
	a, ok := p.q.take()
	if !ok {
		w.busy.Store(false)
		p.push(w)
	}
	p.q.mu.Unlock()
	return a, ok
}

// call makes the arrival's call. A queued arrival's generator lag ended
// when it was queued: its wait in the queue is a wait for a connection.
func (w *worker) call(a arrival, queued bool) {
	called := time.Now()
	res := w.run.Call(w.p.callCtx)
	end := time.Now()
	if queued {
		if res.Start.IsZero() {
			res.Start = called // the call's service began when it was taken up
		}
		called = a.handed
	}
	if w.p.gauge != nil {
		w.p.gauge.Dec()
	}
	if (res.Err != nil && w.p.stopCtx.Err() != nil) || res.Censored {
		return // stopped by pbenchd, or censored: no event
	}
	o := outcome(a.intended, a.handed, called, end, res, true)
	if res.Err != nil && w.p.callCtx.Err() != nil {
		o.ErrClass = ClassDrainCut
	}
	w.sink.Record(o)
}

func outcome(intended, handed, called, end time.Time, res action.Result, open bool) Outcome {
	start := res.Start
	if start.IsZero() {
		start = called
	}
	if !res.From.IsZero() {
		// The kind measures an interval of its own (see action.Result.From):
		// a freshness probe's lag runs from its marker's commit. The
		// generator's lag has no meaning there: it is left at zero.
		intended, handed, called, start = res.From, res.From, res.From, res.From
	}
	o := Outcome{Intended: intended, Handed: handed, Called: called, Start: start, End: end, Retries: res.Retries, Open: open}
	if res.Err != nil {
		o.ErrClass = target.Classify(res.Err)
	}
	return o
}
