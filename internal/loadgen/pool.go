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
type Caller interface {
	Call(ctx context.Context) action.Result
}

// arrival is one arrival handed to a worker.
type arrival struct {
	intended, handed time.Time
}

// pool is the workers of one open-loop action. Workers are started on
// demand, up to max, and live until the phase ends; an idle worker waits
// on a channel of its own. The scheduler's goroutine is the only one that
// takes workers from the idle stack and the only one that starts them;
// workers put themselves back when their call is done.
type pool struct {
	run     Caller
	callCtx context.Context // deadline: the phase's end plus drain
	stopCtx context.Context // cancelled by a stop
	newSink func() Sink
	max     int
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
	if w == nil && len(p.workers) >= p.max {
		runtime.Gosched()
		if a.handed = time.Now(); !a.handed.Before(p.late) {
			p.dropped(a.intended, a.handed) // the phase ended meanwhile
			return false
		}
		w = p.pop()
	}
	if w != nil {
		w.busy.Store(true)
		w.wake <- a // never blocks: an idle worker's channel is empty
		return true
	}
	if len(p.workers) >= p.max {
		p.dropped(a.intended, a.handed)
		return false
	}
	w = &worker{p: p, wake: make(chan arrival, 1), sink: p.newSink()}
	w.busy.Store(true)
	p.mu.Lock()
	p.workers = append(p.workers, w)
	p.mu.Unlock()
	p.wg.Add(1)
	go w.loop(a)
	return true
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

// inflight counts the workers in a call (a live read: a sum of flags) and
// the workers started.
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
	return n, len(workers)
}

func (w *worker) loop(a arrival) {
	defer w.p.wg.Done()
	for {
		w.call(a)
		w.busy.Store(false)
		w.p.push(w)
		var ok bool
		if a, ok = <-w.wake; !ok {
			return
		}
	}
}

func (w *worker) call(a arrival) {
	called := time.Now()
	res := w.p.run.Call(w.p.callCtx)
	end := time.Now()
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
